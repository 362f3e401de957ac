package blob

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// AzureConfig says where an Azure Blob Storage store lives and how to reach
// it. OpenStore fills it from an az:// URL and the environment (see
// AzureConfigFromEnv).
type AzureConfig struct {
	// Container is the container name.
	Container string
	// Prefix is prepended to every key ("" or "a/b", without slashes at
	// the ends).
	Prefix string
	// Account is the storage account name. Empty means the AccountName of
	// ConnectionString.
	Account string
	// Key is the account's shared key (base64), used with Account.
	Key string
	// ConnectionString is an account connection string as the Azure
	// portal shows it ("DefaultEndpointsProtocol=https;AccountName=...;
	// AccountKey=...;EndpointSuffix=core.windows.net") or as Azurite
	// documents it (with BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1).
	// It is used when Account is empty or names the same account.
	ConnectionString string
	// Endpoint is the blob service URL, e.g. https://acct.blob.core.windows.net
	// or http://127.0.0.1:10000/devstoreaccount1. Empty means the
	// connection string's, else https://<Account>.blob.core.windows.net.
	Endpoint string
	// BlockSize is the size of the blocks a large object is uploaded in
	// (default 8 MiB); objects up to this size go up in one request.
	BlockSize int64
	// Parallel is how many blocks of one object are uploaded at once
	// (default 4). Memory per upload is about (Parallel+1) * BlockSize.
	Parallel int
	// MaxRetries bounds retries of a failing request (default 3).
	MaxRetries int
	// DialTimeout bounds connecting to the endpoint (default 5s).
	DialTimeout time.Duration
	// ResponseTimeout bounds the wait for response headers after a
	// request was sent (default 60s).
	ResponseTimeout time.Duration
}

// AzureConfigFromEnv returns a config for container and prefix with the
// credentials the Azure CLI reads: AZURE_STORAGE_CONNECTION_STRING, and
// AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY. Without a key or a
// connection string for the account, NewAzure signs in with Azure's
// default credential chain (environment, workload identity, managed
// identity, Azure CLI).
func AzureConfigFromEnv(container, prefix string) AzureConfig {
	return AzureConfig{
		Container:        container,
		Prefix:           strings.Trim(prefix, "/"),
		Account:          os.Getenv("AZURE_STORAGE_ACCOUNT"),
		Key:              os.Getenv("AZURE_STORAGE_KEY"),
		ConnectionString: os.Getenv("AZURE_STORAGE_CONNECTION_STRING"),
	}
}

// azureConnString is what mlgit reads of a connection string: the account
// and where its blob service is.
type azureConnString struct {
	Account  string
	Endpoint string // blob service URL
	Key      string // AccountKey
	HasKey   bool
	HasSAS   bool
}

// azuriteAccount and azuriteKey are the emulator's well-known development
// account, which "UseDevelopmentStorage=true" stands for.
const (
	azuriteAccount  = "devstoreaccount1"
	azuriteKey      = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	azuriteEndpoint = "http://127.0.0.1:10000/devstoreaccount1"
)

// parseAzureConnString reads the parts of a connection string mlgit needs.
func parseAzureConnString(s string) (azureConnString, error) {
	kv := map[string]string{}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return azureConnString{}, fmt.Errorf("connection string: %q is not key=value", redactPart(part))
		}
		kv[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if strings.EqualFold(kv["usedevelopmentstorage"], "true") {
		return azureConnString{Account: azuriteAccount, Endpoint: azuriteEndpoint, Key: azuriteKey, HasKey: true}, nil
	}
	cs := azureConnString{Account: kv["accountname"], Key: kv["accountkey"], HasKey: kv["accountkey"] != "", HasSAS: kv["sharedaccesssignature"] != ""}
	cs.Endpoint = strings.TrimRight(kv["blobendpoint"], "/")
	if cs.Endpoint == "" {
		if cs.Account == "" {
			return azureConnString{}, errors.New("connection string has neither AccountName nor BlobEndpoint")
		}
		proto := firstNonEmpty(kv["defaultendpointsprotocol"], "https")
		suffix := firstNonEmpty(kv["endpointsuffix"], "core.windows.net")
		cs.Endpoint = proto + "://" + cs.Account + ".blob." + suffix
	}
	if cs.Account == "" {
		// A SAS connection string may name only the endpoint.
		if u, err := url.Parse(cs.Endpoint); err == nil {
			cs.Account, _, _ = strings.Cut(u.Hostname(), ".")
		}
	}
	return cs, nil
}

// redactPart keeps a secret out of an error message.
func redactPart(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// azureAuthMode is how a config signs in.
type azureAuthMode int

const (
	azureAuthConnString azureAuthMode = iota
	azureAuthSharedKey
	azureAuthToken
)

// resolveAzureAuth decides how cfg signs in and where the blob service
// is: the connection string when it is for cfg's account (or cfg names
// none), else the account key, else a token from the default credential
// chain.
func resolveAzureAuth(cfg AzureConfig) (mode azureAuthMode, account, endpoint string, err error) {
	if cfg.ConnectionString != "" {
		cs, perr := parseAzureConnString(cfg.ConnectionString)
		if perr != nil {
			if cfg.Account == "" {
				return 0, "", "", fmt.Errorf("%w: AZURE_STORAGE_CONNECTION_STRING: %v", ErrInvalidURL, perr)
			}
		} else if cfg.Account == "" || strings.EqualFold(cfg.Account, cs.Account) {
			return azureAuthConnString, cs.Account, firstNonEmpty(cfg.Endpoint, cs.Endpoint), nil
		}
	}
	if cfg.Account == "" {
		return 0, "", "", fmt.Errorf("%w: no Azure storage account: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT (with AZURE_STORAGE_KEY, or signed in with az login), or add ?account=NAME to the URL", ErrInvalidURL)
	}
	if !validAzureAccount(cfg.Account) {
		return 0, "", "", fmt.Errorf("%w: %q is not a storage account name (3 to 24 lowercase letters and digits)", ErrInvalidURL, cfg.Account)
	}
	endpoint = firstNonEmpty(cfg.Endpoint, "https://"+cfg.Account+".blob.core.windows.net")
	if cfg.Key != "" {
		return azureAuthSharedKey, cfg.Account, endpoint, nil
	}
	return azureAuthToken, cfg.Account, endpoint, nil
}

// AzureAuthMode is how an Azure store signs in.
type AzureAuthMode int

// The ways of signing in, in the order AzureConfig.ResolveAuth tries them.
const (
	// AzureAuthConnString signs with the connection string: its
	// AccountKey, or its SharedAccessSignature.
	AzureAuthConnString AzureAuthMode = AzureAuthMode(azureAuthConnString)
	// AzureAuthSharedKey signs with Account and Key.
	AzureAuthSharedKey AzureAuthMode = AzureAuthMode(azureAuthSharedKey)
	// AzureAuthToken gets a token from Azure's default credential chain.
	AzureAuthToken AzureAuthMode = AzureAuthMode(azureAuthToken)
)

// AzureAuth is how a store of an AzureConfig signs in and where its blob
// service is.
type AzureAuth struct {
	Mode AzureAuthMode
	// Account is the storage account.
	Account string
	// Endpoint is the blob service URL, without a trailing slash.
	Endpoint string
	// Key is the shared key to sign with (the connection string's
	// AccountKey, or Key); "" for a shared access signature or a token.
	Key string
}

// ResolveAuth checks the container name and decides how cfg signs in:
// the connection string when it is for cfg's account (or cfg names none),
// else the account key, else a token from the default credential chain.
// Errors wrap ErrInvalidURL.
func (cfg AzureConfig) ResolveAuth() (AzureAuth, error) {
	if err := validateAzureContainer(cfg.Container); err != nil {
		return AzureAuth{}, err
	}
	mode, account, endpoint, err := resolveAzureAuth(cfg)
	if err != nil {
		return AzureAuth{}, err
	}
	eu, err := url.Parse(endpoint)
	if err != nil || eu.Host == "" || (eu.Scheme != "http" && eu.Scheme != "https") || eu.RawQuery != "" {
		return AzureAuth{}, fmt.Errorf("%w: Azure blob endpoint %q must look like https://host[:port][/account]", ErrInvalidURL, endpoint)
	}
	a := AzureAuth{Mode: AzureAuthMode(mode), Account: account, Endpoint: strings.TrimRight(endpoint, "/")}
	switch mode {
	case azureAuthConnString:
		cs, _ := parseAzureConnString(cfg.ConnectionString)
		a.Key = cs.Key
	case azureAuthSharedKey:
		a.Key = cfg.Key
	}
	return a, nil
}

// validAzureAccount reports whether s is a storage account name.
func validAzureAccount(s string) bool {
	if len(s) < 3 || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// validateAzureContainer checks Azure's rules for container names: 3 to
// 63 lowercase letters, digits and hyphens, starting and ending with a
// letter or digit, no two hyphens in a row ("$root" aside).
func validateAzureContainer(name string) error {
	if name == "$root" {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%w: %q is not an Azure container name: %s", ErrInvalidURL, name, why)
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("it must have 3 to 63 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if i == 0 || i == len(name)-1 || name[i-1] == '-' {
				return bad("a hyphen may not start or end it, nor follow another")
			}
		default:
			return bad("only lowercase letters, digits and hyphens are allowed")
		}
	}
	return nil
}

// IsAzureURL reports whether s has the scheme of an Azure store URL
// (az://, azblob://, wasbs://, wasb://, abfss://, abfs://), the forms
// OpenStore reads as Azure Blob Storage.
func IsAzureURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "az", "azblob", "wasbs", "wasb", "abfss", "abfs":
		return true
	}
	return false
}
