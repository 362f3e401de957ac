package cloud

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
	"path"
	"strings"
	"sync"
	"time"

	"github.com/mlgit/mlgit/blob"

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

var _ blob.Store = (*Azure)(nil)

// Azure's limits on block blobs.
const (
	azureMaxBlocks        = 50000
	azureDefaultBlockSize = 8 << 20
)

// NewAzure connects to the container described by cfg and checks that it
// is reachable with the credentials, failing within a few seconds with an
// error wrapping blob.ErrUnavailable, blob.ErrAccessDenied or blob.ErrNotFound (no such
// container).
func NewAzure(ctx context.Context, cfg blob.AzureConfig) (*Azure, error) {
	auth, err := cfg.ResolveAuth()
	if err != nil {
		return nil, err
	}
	account, endpoint := auth.Account, auth.Endpoint
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
		if err := blob.ValidateKey(p); err != nil {
			return nil, fmt.Errorf("%w: Azure prefix %q: %v", blob.ErrInvalidURL, cfg.Prefix, err)
		}
		s.prefix = p + "/"
	}
	opts := &container.ClientOptions{}
	opts.Retry = policy.RetryOptions{MaxRetries: int32(s.retries)}
	opts.Transport = httpClient(cfg.DialTimeout, cfg.ResponseTimeout)
	opts.Telemetry.Disabled = true
	containerURL := endpoint + "/" + cfg.Container
	switch auth.Mode {
	case blob.AzureAuthConnString:
		s.auth = "AZURE_STORAGE_CONNECTION_STRING"
		if auth.Key != "" {
			// Sign with the string's key at the endpoint resolved above (an
			// explicit one wins over the string's; UseDevelopmentStorage
			// is Azurite's account).
			var cred *container.SharedKeyCredential
			cred, err = container.NewSharedKeyCredential(account, auth.Key)
			if err == nil {
				s.cc, err = container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
			}
		} else {
			s.cc, err = container.NewClientFromConnectionString(cfg.ConnectionString, cfg.Container, opts)
		}
	case blob.AzureAuthSharedKey:
		s.auth = "AZURE_STORAGE_ACCOUNT/AZURE_STORAGE_KEY"
		var cred *container.SharedKeyCredential
		cred, err = container.NewSharedKeyCredential(account, auth.Key)
		if err == nil {
			s.cc, err = container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
		}
	case blob.AzureAuthToken:
		s.auth = "the Azure default credential (AZURE_CLIENT_ID/AZURE_TENANT_ID/..., managed identity, az login)"
		var cred *azidentity.DefaultAzureCredential
		cred, err = azidentity.NewDefaultAzureCredential(nil)
		if err == nil {
			s.cc, err = container.NewClient(containerURL, azureCredential{cred}, opts)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: Azure container %s at %s: %v", blob.ErrInvalidURL, cfg.Container, endpoint, err)
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
			return nil, fmt.Errorf("open %s: %w: no answer from %s within 15s", s.Location(), blob.ErrUnavailable, s.endpoint)
		}
		return nil, s.wrapErr(ctx, "open", "", err)
	}
	return s, nil
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
				op, what, blob.ErrAccessDenied, s.endpoint, firstNonEmpty(re.ErrorCode, http.StatusText(re.StatusCode)), s.auth)
		case code == bloberror.ContainerNotFound || code == bloberror.ContainerBeingDeleted:
			return fmt.Errorf("%s %s: container %q does not exist at %s: %w", op, what, s.container, s.endpoint, blob.ErrNotFound)
		case code == bloberror.BlobNotFound || (re.StatusCode == http.StatusNotFound && key != ""):
			return fmt.Errorf("%s %s: %w", op, what, blob.ErrNotFound)
		case code == bloberror.ResourceNotFound || re.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s %s: %w: %s answers 404 (%s); check the account and the endpoint",
				op, what, blob.ErrNotFound, s.endpoint, firstNonEmpty(re.ErrorCode, "not found"))
		}
		return fmt.Errorf("%s %s: %s answered %d %s", op, what, s.endpoint, re.StatusCode, firstNonEmpty(re.ErrorCode, http.StatusText(re.StatusCode)))
	}
	var ce *azureCredError
	if errors.As(err, &ce) {
		return fmt.Errorf("%s %s: %w: cannot get an Azure token (%v); set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY, or sign in (az login)",
			op, what, blob.ErrAccessDenied, ce.err)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s %s: %w: cannot reach %s (%v); check the endpoint (BlobEndpoint of AZURE_STORAGE_CONNECTION_STRING, or ?endpoint= of the store URL)",
			op, what, blob.ErrUnavailable, s.endpoint, err)
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
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s: %w: negative size %d", key, blob.ErrSizeMismatch, size)
	}
	er := blob.NewExactReader(ctx, r, size)
	bb := s.cc.NewBlockBlobClient(s.prefix + key)
	var err error
	if size <= s.blockSize {
		// One request: the write is conditional, so an existing blob is
		// left alone without asking first. Only when the reader fails does
		// it matter whether the blob is there (then Put is a no-op).
		err = s.putOnce(ctx, bb, er, key)
		if err != nil && er.ReaderFailed() && ctx.Err() == nil {
			if _, serr := s.Stat(ctx, key); serr == nil {
				return nil
			}
		}
	} else {
		// Many requests: ask first, so a stored object is not sent again.
		if _, err := s.Stat(ctx, key); err == nil {
			return nil
		} else if !errors.Is(err, blob.ErrNotFound) {
			return err
		}
		err = s.putBlocks(ctx, bb, er, size)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, blob.ErrSizeMismatch):
		return fmt.Errorf("put %s: %w", key, err)
	case er.ReaderFailed() && ctx.Err() == nil:
		return fmt.Errorf("put %s: %w", key, er.Err()) // the reader failed, not Azure
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
func (s *Azure) putOnce(ctx context.Context, bb *blockblob.Client, er *blob.ExactReader, key string) error {
	bp, _ := s.bufPool.Get().(*bytes.Buffer)
	if bp == nil {
		bp = new(bytes.Buffer)
	}
	bp.Reset()
	defer s.bufPool.Put(bp)
	if _, err := bp.ReadFrom(er); err != nil {
		if errors.Is(err, blob.ErrSizeMismatch) {
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
func (s *Azure) putBlocks(ctx context.Context, bb *blockblob.Client, er *blob.ExactReader, size int64) error {
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
				err = fmt.Errorf("%w: reader ended early", blob.ErrSizeMismatch)
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
	if err := blob.ValidateKey(key); err != nil {
		return nil, err
	}
	resp, err := s.cc.NewBlobClient(s.prefix+key).DownloadStream(ctx, nil)
	if err != nil {
		return nil, s.wrapErr(ctx, "get", key, err)
	}
	rr := resp.NewRetryReader(ctx, &azblobpkg.RetryReaderOptions{MaxRetries: int32(s.retries)})
	return blob.MapErrReader(rr, func(err error) error { return s.wrapErr(ctx, "read", key, err) }), nil
}

// Stat implements Store.
func (s *Azure) Stat(ctx context.Context, key string) (int64, error) {
	if err := blob.ValidateKey(key); err != nil {
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
	return blob.ExistsByShard(ctx, keys, s.Stat, s.List)
}

// List implements Store, in lexical key order. Folder markers (zero-length
// blobs of accounts with a hierarchical namespace, hdi_isfolder=true) and
// names that are not keys are skipped.
func (s *Azure) List(ctx context.Context, prefix string, fn func(key string, size int64, modTime time.Time) error) error {
	if err := blob.ValidatePrefix(prefix); err != nil {
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
			if strings.HasSuffix(key, "/") || blob.ValidateKey(key) != nil {
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
	if err := blob.ValidateKey(key); err != nil {
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

// firstNonEmpty returns the first of ss that is not "".
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
