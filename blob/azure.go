package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	azblobpkg "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
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

// Azure is a Store in an Azure Blob Storage container, below an optional
// key prefix. Objects are block blobs.
//
// Every write is conditional ("If-None-Match: *"), so an existing blob is
// never rewritten. Objects up to BlockSize go up in one request from a
// buffer, so a failed request can be retried; larger ones, after a check
// that the blob is not there yet, are streamed as blocks, Parallel at a time, and
// committed with one block list: the blob appears only then, whole, and an
// upload that fails leaves no blob (uncommitted blocks are dropped by the
// service). Reads stream, resuming an interrupted download at the byte it
// stopped at. Every request is retried on throttling, server errors and
// network failures.
type Azure struct {
	cc        *container.Client
	container string
	prefix    string // "" or "p/"
	account   string
	endpoint  string // blob service URL, for messages
	auth      string // how it signs in, for advice in errors
	blockSize int64
	parallel  int
	retries   int
	bufPool   sync.Pool
}

var _ Store = (*Azure)(nil)

// Azure's limits on block blobs.
const (
	azureMaxBlocks        = 50000
	azureDefaultBlockSize = 8 << 20
)

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

// NewAzure connects to the container described by cfg and checks that it
// is reachable with the credentials, failing within a few seconds with an
// error wrapping ErrUnavailable, ErrAccessDenied or ErrNotFound (no such
// container).
func NewAzure(ctx context.Context, cfg AzureConfig) (*Azure, error) {
	if err := validateAzureContainer(cfg.Container); err != nil {
		return nil, err
	}
	mode, account, endpoint, err := resolveAzureAuth(cfg)
	if err != nil {
		return nil, err
	}
	eu, err := url.Parse(endpoint)
	if err != nil || eu.Host == "" || (eu.Scheme != "http" && eu.Scheme != "https") || eu.RawQuery != "" {
		return nil, fmt.Errorf("%w: Azure blob endpoint %q must look like https://host[:port][/account]", ErrInvalidURL, endpoint)
	}
	endpoint = strings.TrimRight(endpoint, "/")
	s := &Azure{container: cfg.Container, account: account, endpoint: endpoint,
		blockSize: cfg.BlockSize, parallel: cfg.Parallel, retries: cfg.MaxRetries}
	if s.blockSize <= 0 {
		s.blockSize = azureDefaultBlockSize
	}
	if s.parallel <= 0 {
		s.parallel = 4
	}
	if s.retries <= 0 {
		s.retries = 3
	}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			return nil, fmt.Errorf("%w: Azure prefix %q: %v", ErrInvalidURL, cfg.Prefix, err)
		}
		s.prefix = p + "/"
	}
	opts := &container.ClientOptions{}
	opts.Retry = policy.RetryOptions{MaxRetries: int32(s.retries)}
	opts.Transport = azureHTTPClient(cfg)
	opts.Telemetry.Disabled = true
	containerURL := endpoint + "/" + cfg.Container
	switch mode {
	case azureAuthConnString:
		s.auth = "AZURE_STORAGE_CONNECTION_STRING"
		cs, _ := parseAzureConnString(cfg.ConnectionString)
		if cs.Key != "" {
			// Sign with the string's key at the endpoint resolved above (an
			// explicit one wins over the string's; UseDevelopmentStorage
			// is Azurite's account).
			var cred *container.SharedKeyCredential
			cred, err = container.NewSharedKeyCredential(cs.Account, cs.Key)
			if err == nil {
				s.cc, err = container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
			}
		} else {
			s.cc, err = container.NewClientFromConnectionString(cfg.ConnectionString, cfg.Container, opts)
		}
	case azureAuthSharedKey:
		s.auth = "AZURE_STORAGE_ACCOUNT/AZURE_STORAGE_KEY"
		var cred *container.SharedKeyCredential
		cred, err = container.NewSharedKeyCredential(account, cfg.Key)
		if err == nil {
			s.cc, err = container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
		}
	case azureAuthToken:
		s.auth = "the Azure default credential (AZURE_CLIENT_ID/AZURE_TENANT_ID/..., managed identity, az login)"
		var cred *azidentity.DefaultAzureCredential
		cred, err = azidentity.NewDefaultAzureCredential(nil)
		if err == nil {
			s.cc, err = container.NewClient(containerURL, azureCredential{cred}, opts)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: Azure container %s at %s: %v", ErrInvalidURL, cfg.Container, endpoint, err)
	}
	// Probe with a one-blob LIST: its errors name the problem (no such
	// container, bad key), and GC and Exists need the list permission
	// anyway. Fewer retries than usual, so a wrong endpoint fails fast.
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	pctx = policy.WithRetryOptions(pctx, policy.RetryOptions{MaxRetries: 2, RetryDelay: 300 * time.Millisecond, MaxRetryDelay: time.Second})
	pager := s.cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: to.Ptr(s.prefix), MaxResults: to.Ptr[int32](1)})
	if _, err := pager.NextPage(pctx); err != nil {
		if ctx.Err() == nil && pctx.Err() != nil {
			return nil, fmt.Errorf("open %s: %w: no answer from %s within 15s", s.Location(), ErrUnavailable, s.endpoint)
		}
		return nil, s.wrapErr(ctx, "open", "", err)
	}
	return s, nil
}

// azureHTTPClient is the client's transport: bounded connect and
// response-header waits, enough idle connections for parallel transfers.
func azureHTTPClient(cfg AzureConfig) *http.Client {
	dial := cfg.DialTimeout
	if dial <= 0 {
		dial = 5 * time.Second
	}
	respTimeout := cfg.ResponseTimeout
	if respTimeout <= 0 {
		respTimeout = 60 * time.Second
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: respTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
	}}
}

// azureCredential marks the errors of getting a token, so they are
// reported as access denied with advice.
type azureCredential struct{ azcore.TokenCredential }

type azureCredError struct{ err error }

func (e *azureCredError) Error() string { return e.err.Error() }
func (e *azureCredError) Unwrap() error { return e.err }

func (c azureCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.TokenCredential.GetToken(ctx, opts)
	if err != nil && ctx.Err() == nil {
		err = &azureCredError{err}
	}
	return tok, err
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

// Location returns "az://container/prefix", with "?account=" when the
// account is not the one the environment names.
func (s *Azure) Location() string {
	loc := "az://" + s.container + "/" + strings.TrimSuffix(s.prefix, "/")
	if s.account != "" {
		loc += "?account=" + s.account
	}
	return loc
}

// Client returns the underlying container client, for tests and tools.
func (s *Azure) Client() *container.Client { return s.cc }

// BlobName returns the blob name that holds key (prefix + key).
func (s *Azure) BlobName(key string) string { return s.prefix + key }

// Endpoint returns the blob service URL the store talks to.
func (s *Azure) Endpoint() string { return s.endpoint }

// azureAuthCodes are error codes that mean "these credentials will not do".
var azureAuthCodes = map[bloberror.Code]bool{
	bloberror.AuthenticationFailed:              true,
	bloberror.AuthorizationFailure:              true,
	bloberror.AuthorizationPermissionMismatch:   true,
	bloberror.AuthorizationResourceTypeMismatch: true,
	bloberror.AuthorizationServiceMismatch:      true,
	bloberror.AuthorizationSourceIPMismatch:     true,
	bloberror.AuthorizationProtocolMismatch:     true,
	bloberror.InsufficientAccountPermissions:    true,
	bloberror.AccountIsDisabled:                 true,
}

// wrapErr turns an Azure SDK error into one wrapping our sentinels, with
// advice. ctx is the caller's context: if it is done, that is the cause,
// not the network.
func (s *Azure) wrapErr(ctx context.Context, op, key string, err error) error {
	what := s.Location()
	if key != "" {
		what = key
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", op, what, context.Cause(ctx))
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code := bloberror.Code(re.ErrorCode)
		switch {
		case re.StatusCode == http.StatusForbidden || azureAuthCodes[code]:
			return fmt.Errorf("%s %s: %w by %s (%s); check %s and the account's access rules",
				op, what, ErrAccessDenied, s.endpoint, firstNonEmpty(re.ErrorCode, http.StatusText(re.StatusCode)), s.auth)
		case code == bloberror.ContainerNotFound || code == bloberror.ContainerBeingDeleted:
			return fmt.Errorf("%s %s: container %q does not exist at %s: %w", op, what, s.container, s.endpoint, ErrNotFound)
		case code == bloberror.BlobNotFound || (re.StatusCode == http.StatusNotFound && key != ""):
			return fmt.Errorf("%s %s: %w", op, what, ErrNotFound)
		case code == bloberror.ResourceNotFound || re.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s %s: %w: %s answers 404 (%s); check the account and the endpoint",
				op, what, ErrNotFound, s.endpoint, firstNonEmpty(re.ErrorCode, "not found"))
		}
		return fmt.Errorf("%s %s: %s answered %d %s", op, what, s.endpoint, re.StatusCode, firstNonEmpty(re.ErrorCode, http.StatusText(re.StatusCode)))
	}
	var ce *azureCredError
	if errors.As(err, &ce) {
		return fmt.Errorf("%s %s: %w: cannot get an Azure token (%v); set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY, or sign in (az login)",
			op, what, ErrAccessDenied, ce.err)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s %s: %w: cannot reach %s (%v); check the endpoint (BlobEndpoint of AZURE_STORAGE_CONNECTION_STRING, or ?endpoint= of the store URL)",
			op, what, ErrUnavailable, s.endpoint, err)
	}
	return fmt.Errorf("%s %s: %w", op, what, err)
}

// azureExists reports whether err says the blob is there already: a
// conditional write lost to another writer.
func azureExists(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.ErrorCode == string(bloberror.BlobAlreadyExists) || re.ErrorCode == string(bloberror.ConditionNotMet) ||
		re.StatusCode == http.StatusConflict || re.StatusCode == http.StatusPreconditionFailed
}

// ifAbsent is the condition of every write: only if no blob is there.
func ifAbsent() *azblobpkg.AccessConditions {
	return &azblobpkg.AccessConditions{ModifiedAccessConditions: &azblobpkg.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}}
}

var octetStream = &azblobpkg.HTTPHeaders{BlobContentType: to.Ptr("application/octet-stream")}

// Put implements Store.
func (s *Azure) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s: %w: negative size %d", key, ErrSizeMismatch, size)
	}
	er := newExactReader(ctxReader{ctx, r}, size)
	bb := s.cc.NewBlockBlobClient(s.prefix + key)
	var err error
	if size <= s.blockSize {
		// One request: the write is conditional, so an existing blob is
		// left alone without asking first. Only when the reader fails does
		// it matter whether the blob is there (then Put is a no-op).
		err = s.putOnce(ctx, bb, er, key)
		if err != nil && er.err != nil && !errors.Is(er.err, io.EOF) && ctx.Err() == nil {
			if _, serr := s.Stat(ctx, key); serr == nil {
				return nil
			}
		}
	} else {
		// Many requests: ask first, so a stored object is not sent again.
		if _, err := s.Stat(ctx, key); err == nil {
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		err = s.putBlocks(ctx, bb, er, size)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrSizeMismatch):
		return fmt.Errorf("put %s: %w", key, err)
	case er.err != nil && !errors.Is(er.err, io.EOF) && ctx.Err() == nil:
		return fmt.Errorf("put %s: %w", key, er.err) // the reader failed, not Azure
	case azureExists(err):
		return nil // someone stored it meanwhile
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.ErrorCode == string(bloberror.InvalidBlockList) {
		// A concurrent writer committed the blob, which dropped our
		// uncommitted blocks.
		if _, serr := s.Stat(ctx, key); serr == nil {
			return nil
		}
	}
	return s.wrapErr(ctx, "put", key, err)
}

// putOnce uploads a small object in one request from a buffer, which the
// client can send again when a try fails.
func (s *Azure) putOnce(ctx context.Context, bb *blockblob.Client, er *exactReader, key string) error {
	bp, _ := s.bufPool.Get().(*bytes.Buffer)
	if bp == nil {
		bp = new(bytes.Buffer)
	}
	bp.Reset()
	defer s.bufPool.Put(bp)
	if _, err := bp.ReadFrom(er); err != nil {
		if errors.Is(err, ErrSizeMismatch) {
			return err
		}
		return fmt.Errorf("put %s: %w", key, err)
	}
	_, err := bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(bp.Bytes())), &blockblob.UploadOptions{
		HTTPHeaders:      octetStream,
		AccessConditions: ifAbsent(),
	})
	return err
}

// putBlocks streams a large object as blocks, s.parallel in flight, and
// commits them. The block IDs carry a random tag, so concurrent uploads of
// the same key never mix their blocks; the first commit wins.
func (s *Azure) putBlocks(ctx context.Context, bb *blockblob.Client, er *exactReader, size int64) error {
	bs := max(s.blockSize, (size+azureMaxBlocks-1)/azureMaxBlocks)
	n := int((size + bs - 1) / bs)
	var tag [8]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return err
	}
	ids := make([]string, n)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	free := make(chan []byte, s.parallel+1)
	for range s.parallel + 1 {
		free <- nil // buffers are made on first use
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		failErr error
	)
	fail := func(err error) {
		mu.Lock()
		if failErr == nil {
			failErr = err
			cancel(err)
		}
		mu.Unlock()
	}
	for i := range n {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if buf == nil {
			buf = make([]byte, bs)
		}
		part := buf[:min(bs, size-int64(i)*bs)]
		if _, err := io.ReadFull(er, part); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: reader ended early", ErrSizeMismatch)
			}
			fail(err)
			break
		}
		ids[i] = base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s-%08d", hex.EncodeToString(tag[:]), i))
		id := ids[i]
		wg.Go(func() {
			defer func() { free <- buf }()
			if _, err := bb.StageBlock(ctx, id, streaming.NopCloser(bytes.NewReader(part)), nil); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	if failErr != nil {
		return failErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := bb.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{
		HTTPHeaders:      octetStream,
		AccessConditions: ifAbsent(),
	})
	return err
}

// Get implements Store. The reader resumes an interrupted download from
// where it stopped (at most MaxRetries times), pinned to the blob's ETag.
func (s *Azure) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	resp, err := s.cc.NewBlobClient(s.prefix+key).DownloadStream(ctx, nil)
	if err != nil {
		return nil, s.wrapErr(ctx, "get", key, err)
	}
	rr := resp.NewRetryReader(ctx, &azblobpkg.RetryReaderOptions{MaxRetries: int32(s.retries)})
	return &azureReader{rc: rr, s: s, key: key, ctx: ctx}, nil
}

// azureReader maps errors of a streaming GET.
type azureReader struct {
	ctx context.Context
	rc  io.ReadCloser
	s   *Azure
	key string
}

func (r *azureReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = r.s.wrapErr(r.ctx, "read", r.key, err)
	}
	return n, err
}

func (r *azureReader) Close() error { return r.rc.Close() }

// Stat implements Store.
func (s *Azure) Stat(ctx context.Context, key string) (int64, error) {
	if err := ValidateKey(key); err != nil {
		return 0, err
	}
	props, err := s.cc.NewBlobClient(s.prefix+key).GetProperties(ctx, nil)
	if err != nil {
		return 0, s.wrapErr(ctx, "stat", key, err)
	}
	if props.ContentLength == nil {
		return 0, fmt.Errorf("stat %s: %s sent no Content-Length", key, s.endpoint)
	}
	return *props.ContentLength, nil
}

// Exists implements Store. Keys are grouped by their folder ("chunks/ab/");
// a folder holding at least 8 of the keys is answered by one LIST of it,
// the rest by parallel HEAD requests.
func (s *Azure) Exists(ctx context.Context, keys []string) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	groups := map[string][]string{}
	for _, k := range keys {
		if err := ValidateKey(k); err != nil {
			return nil, err
		}
		out[k] = false
		dir := ""
		if i := strings.LastIndexByte(k, '/'); i >= 0 {
			dir = k[:i+1]
		}
		groups[dir] = append(groups[dir], k)
	}
	var heads, lists []string
	for dir, ks := range groups {
		if len(keys) > s3HeadLimit && len(ks) >= 8 && dir != "" { // never list the whole store
			lists = append(lists, dir)
		} else {
			heads = append(heads, ks...)
		}
	}
	var mu sync.Mutex
	err := forEach(ctx, len(lists), 4, func(ctx context.Context, i int) error {
		dir := lists[i]
		want := map[string]bool{}
		for _, k := range groups[dir] {
			want[k] = true
		}
		return s.List(ctx, dir, func(key string, _ int64, _ time.Time) error {
			if want[key] {
				mu.Lock()
				out[key] = true
				mu.Unlock()
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	err = forEach(ctx, len(heads), 16, func(ctx context.Context, i int) error {
		_, err := s.Stat(ctx, heads[i])
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		mu.Lock()
		out[heads[i]] = err == nil
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// List implements Store, in lexical key order. Folder markers (zero-length
// blobs of accounts with a hierarchical namespace, hdi_isfolder=true) and
// names that are not keys are skipped.
func (s *Azure) List(ctx context.Context, prefix string, fn func(key string, size int64, modTime time.Time) error) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	pager := s.cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
		Prefix:  to.Ptr(s.prefix + prefix),
		Include: container.ListBlobsInclude{Metadata: true},
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return s.wrapErr(ctx, "list", path.Join(s.prefix, prefix), err)
		}
		for _, item := range page.Segment.BlobItems {
			if item == nil || item.Name == nil || item.Properties == nil {
				continue
			}
			if isAzureFolder(item.Metadata) {
				continue
			}
			key := strings.TrimPrefix(*item.Name, s.prefix)
			if strings.HasSuffix(key, "/") || ValidateKey(key) != nil {
				continue // folder markers and foreign blobs
			}
			var size int64
			if item.Properties.ContentLength != nil {
				size = *item.Properties.ContentLength
			}
			var mod time.Time
			if item.Properties.LastModified != nil {
				mod = *item.Properties.LastModified
			}
			if err := fn(key, size, mod); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// isAzureFolder reports whether blob metadata marks a folder of an account
// with a hierarchical namespace.
func isAzureFolder(md map[string]*string) bool {
	for k, v := range md {
		if strings.EqualFold(k, "hdi_isfolder") && v != nil && strings.EqualFold(*v, "true") {
			return true
		}
	}
	return false
}

// Delete implements Store. Snapshots of the blob go with it.
func (s *Azure) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	_, err := s.cc.NewBlobClient(s.prefix+key).Delete(ctx, &azblobpkg.DeleteOptions{
		DeleteSnapshots: to.Ptr(azblobpkg.DeleteSnapshotsOptionTypeInclude),
	})
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound) {
			return nil
		}
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound && re.ErrorCode == "" {
			return nil
		}
		return s.wrapErr(ctx, "delete", key, err)
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
