package blob

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// OpenStore opens the store a URL names:
//
//	/abs/path, rel/path        a Local store in that folder (created if needed)
//	file:///abs/path           the same
//	s3://bucket[/prefix][?endpoint=http://host:port&region=r&path-style=true]
//	                           an S3 store; the rest comes from the environment
//	                           as S3ConfigFromEnv describes; query values win
//	gs://bucket[/prefix][?endpoint=http://host:port]
//	                           a Google Cloud Storage store (GCS): Application
//	                           Default Credentials, or STORAGE_EMULATOR_HOST
//	                           or an http:// endpoint for an emulator
//	mem://name                 an in-memory store, shared by all OpenStore
//	                           calls with the same name in this process
//	az://container[/prefix][?account=name&endpoint=URL]
//	                           an Azure Blob Storage store (azblob:// is the
//	                           same); credentials from the environment as
//	                           AzureConfigFromEnv describes
//	wasbs://container@account.blob.core.windows.net[/prefix]
//	abfss://container@account.dfs.core.windows.net[/prefix]
//	                           the same, in the forms MLflow and Hadoop use
//
// gs:// and az:// stores (and the other Azure forms) are served by the
// program mlgit-blob-cloud (CloudProgram), which OpenStore starts on first
// use; the store it returns has a Close method that ends the program when
// no other store uses it. Without the program, OpenStore fails with an
// error wrapping ErrUnavailable that says how to install it.
//
// Errors wrap ErrInvalidURL for URLs it cannot parse, and for S3, GCS and
// Azure whatever NewS3, or cloud.NewGCS or cloud.NewAzure (package
// blob/cloud) reports when the bucket or container cannot be reached.
func OpenStore(ctx context.Context, rawURL string) (Store, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("%w: empty store URL", ErrInvalidURL)
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		if strings.ContainsRune(rawURL, 0) {
			return nil, fmt.Errorf("%w: %q contains a NUL byte", ErrInvalidURL, rawURL)
		}
		return NewLocal(rawURL)
	}
	switch strings.ToLower(scheme) {
	case "file":
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
		}
		if (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("%w: %q: want file:///absolute/path", ErrInvalidURL, rawURL)
		}
		return NewLocal(u.Path)
	case "mem":
		if rest == "" || strings.ContainsAny(rest, "/?#") {
			return nil, fmt.Errorf("%w: %q: want mem://name", ErrInvalidURL, rawURL)
		}
		return namedMem(rest), nil
	case "s3":
		cfg, err := ParseS3URL(rawURL)
		if err != nil {
			return nil, err
		}
		return NewS3(ctx, cfg)
	case "gs":
		cfg, err := ParseGCSURL(rawURL)
		if err != nil {
			return nil, err
		}
		return openCloudStore(ctx, rawURL, "gs://"+cfg.Bucket+"/"+cfg.Prefix)
	case "az", "azblob", "wasbs", "wasb", "abfss", "abfs":
		cfg, err := ParseAzureURL(rawURL)
		if err != nil {
			return nil, err
		}
		// Credentials that cannot work fail here, without the program.
		auth, err := cfg.ResolveAuth()
		if err != nil {
			return nil, err
		}
		return openCloudStore(ctx, rawURL, "az://"+cfg.Container+"/"+cfg.Prefix+"?account="+auth.Account)
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q (want a path, file://, s3://, gs://, az:// or mem://)", ErrInvalidURL, rawURL, scheme)
}

// ParseS3URL turns s3://bucket/prefix?query into an S3Config, starting from
// S3ConfigFromEnv and applying the query: endpoint, region, path-style
// (true/false) and profile. Unknown query keys are an error.
func ParseS3URL(rawURL string) (S3Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return S3Config{}, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if u.Scheme != "s3" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return S3Config{}, fmt.Errorf("%w: %q: want s3://bucket[/prefix][?endpoint=...&region=...&path-style=true]", ErrInvalidURL, rawURL)
	}
	q := u.Query()
	cfg := S3ConfigFromEnv(u.Host, u.Path)
	if p := q.Get("profile"); p != "" {
		// The profile decides which config section supplies the defaults.
		cfg = s3ConfigFromEnvProfile(u.Host, u.Path, p)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "endpoint":
			cfg.Endpoint = v
		case "region":
			cfg.Region = v
		case "profile":
			cfg.Profile = v
		case "path-style":
			switch strings.ToLower(v) {
			case "", "1", "true", "yes", "on":
				cfg.PathStyle = true
			case "0", "false", "no", "off":
				cfg.PathStyle = false
			default:
				return S3Config{}, fmt.Errorf("%w: %q: path-style=%q is not true or false", ErrInvalidURL, rawURL, v)
			}
		default:
			return S3Config{}, fmt.Errorf("%w: %q: unknown option %q (known: endpoint, region, path-style, profile)", ErrInvalidURL, rawURL, k)
		}
	}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			return S3Config{}, fmt.Errorf("%w: %q: prefix: %v", ErrInvalidURL, rawURL, err)
		}
	}
	return cfg, nil
}

// ParseAzureURL turns an Azure store URL into an AzureConfig, starting from
// AzureConfigFromEnv:
//
//	az://container[/prefix][?account=name&endpoint=URL]   (azblob:// alike)
//	wasbs://container@account.blob.core.windows.net[/prefix]
//	abfss://container@account.dfs.core.windows.net[/prefix]
//
// The query of an az:// URL sets the account (which picks the account of
// a connection string only if it is the same one) and the blob service
// endpoint; unknown query keys are an error. The wasbs and abfss forms
// (and wasb, abfs) name the account in the host and take no query; an
// abfss URL is read through the account's blob endpoint. Errors wrap
// ErrInvalidURL.
func ParseAzureURL(rawURL string) (AzureConfig, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return AzureConfig{}, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	scheme := strings.ToLower(u.Scheme)
	var cfg AzureConfig
	switch scheme {
	case "az", "azblob":
		if u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
			return AzureConfig{}, fmt.Errorf("%w: %q: want az://container[/prefix][?account=NAME&endpoint=URL]", ErrInvalidURL, rawURL)
		}
		cfg = AzureConfigFromEnv(u.Host, u.Path)
		for k, vs := range u.Query() {
			v := vs[len(vs)-1]
			switch k {
			case "account":
				if !validAzureAccount(v) {
					return AzureConfig{}, fmt.Errorf("%w: %q: account %q is not a storage account name (3 to 24 lowercase letters and digits)", ErrInvalidURL, rawURL, v)
				}
				cfg.Account = v
			case "endpoint":
				eu, err := url.Parse(v)
				if err != nil || eu.Host == "" || (eu.Scheme != "http" && eu.Scheme != "https") || eu.RawQuery != "" || eu.Fragment != "" {
					return AzureConfig{}, fmt.Errorf("%w: %q: endpoint %q must look like https://host[:port][/account]", ErrInvalidURL, rawURL, v)
				}
				cfg.Endpoint = strings.TrimRight(v, "/")
			default:
				return AzureConfig{}, fmt.Errorf("%w: %q: unknown option %q (known: account, endpoint)", ErrInvalidURL, rawURL, k)
			}
		}
	case "wasbs", "wasb", "abfss", "abfs":
		want := "want " + scheme + "://container@account.blob.core.windows.net[/path]"
		if strings.HasPrefix(scheme, "abfs") {
			want = "want " + scheme + "://container@account.dfs.core.windows.net[/path]"
		}
		if u.User == nil || u.Host == "" || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return AzureConfig{}, fmt.Errorf("%w: %q: %s", ErrInvalidURL, rawURL, want)
		}
		if _, hasPass := u.User.Password(); hasPass {
			return AzureConfig{}, fmt.Errorf("%w: %q: %s", ErrInvalidURL, rawURL, want)
		}
		host := strings.ToLower(u.Hostname())
		account, rest, _ := strings.Cut(host, ".")
		service, suffix, _ := strings.Cut(rest, ".")
		if !validAzureAccount(account) || (service != "blob" && service != "dfs") || suffix == "" {
			return AzureConfig{}, fmt.Errorf("%w: %q: %s", ErrInvalidURL, rawURL, want)
		}
		cfg = AzureConfigFromEnv(u.User.Username(), u.Path)
		cfg.Account = account
		if suffix != "core.windows.net" {
			// Another cloud (core.chinacloudapi.cn, ...): its blob endpoint.
			proto := "https"
			if scheme == "wasb" || scheme == "abfs" {
				proto = "http"
			}
			cfg.Endpoint = proto + "://" + account + ".blob." + suffix
		}
	default:
		return AzureConfig{}, fmt.Errorf("%w: %q: not an Azure URL (az://, azblob://, wasbs://, abfss://)", ErrInvalidURL, rawURL)
	}
	if err := validateAzureContainer(cfg.Container); err != nil {
		return AzureConfig{}, err
	}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			return AzureConfig{}, fmt.Errorf("%w: %q: prefix: %v", ErrInvalidURL, rawURL, err)
		}
	}
	return cfg, nil
}

// ParseGCSURL turns gs://bucket/prefix?endpoint=... into a GCSConfig. The
// bucket name follows Google's rules (3 to 222 characters of lower-case
// letters, digits, "-", "_" and ".", starting and ending with a letter or
// digit); the prefix must be a valid key; endpoint is the only query key.
func ParseGCSURL(rawURL string) (GCSConfig, error) {
	const want = "want gs://bucket[/prefix][?endpoint=http://host:port]"
	u, err := url.Parse(rawURL)
	if err != nil {
		return GCSConfig{}, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if !strings.EqualFold(u.Scheme, "gs") || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return GCSConfig{}, fmt.Errorf("%w: %q: %s", ErrInvalidURL, rawURL, want)
	}
	if err := checkGCSBucket(u.Host); err != nil {
		return GCSConfig{}, fmt.Errorf("%w: %q: %v", ErrInvalidURL, rawURL, err)
	}
	cfg := GCSConfig{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	for k, vs := range u.Query() {
		switch k {
		case "endpoint":
			cfg.Endpoint = vs[len(vs)-1]
			eu, err := url.Parse(cfg.Endpoint)
			if err != nil || eu.Host == "" || (eu.Scheme != "http" && eu.Scheme != "https") || (eu.Path != "" && eu.Path != "/") || eu.RawQuery != "" || eu.User != nil {
				return GCSConfig{}, fmt.Errorf("%w: %q: endpoint %q must look like http://host:port or https://host[:port]", ErrInvalidURL, rawURL, cfg.Endpoint)
			}
		default:
			return GCSConfig{}, fmt.Errorf("%w: %q: unknown option %q (known: endpoint)", ErrInvalidURL, rawURL, k)
		}
	}
	if cfg.Prefix != "" {
		if err := ValidateKey(cfg.Prefix); err != nil {
			return GCSConfig{}, fmt.Errorf("%w: %q: prefix: %v", ErrInvalidURL, rawURL, err)
		}
	}
	return cfg, nil
}

// checkGCSBucket checks a bucket name against Google's naming rules.
func checkGCSBucket(name string) error {
	if len(name) < 3 || len(name) > 222 {
		return fmt.Errorf("bucket name %q must have 3 to 222 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("bucket name %q may hold only lower-case letters, digits, \"-\", \"_\" and \".\"", name)
		}
	}
	first, last := name[0], name[len(name)-1]
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if !alnum(first) || !alnum(last) {
		return fmt.Errorf("bucket name %q must start and end with a letter or digit", name)
	}
	for part := range strings.SplitSeq(name, ".") {
		if len(part) == 0 || len(part) > 63 {
			return fmt.Errorf("bucket name %q has a dot-separated part that is empty or longer than 63 characters", name)
		}
	}
	return nil
}

var (
	memStoresMu sync.Mutex
	memStores   = map[string]*Mem{}
)

// namedMem returns the process-wide Mem store called name.
func namedMem(name string) *Mem {
	memStoresMu.Lock()
	defer memStoresMu.Unlock()
	m := memStores[name]
	if m == nil {
		m = NewMem(name)
		memStores[name] = m
	}
	return m
}
