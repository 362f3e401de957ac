package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/mlgit/mlgit/blob"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// GCS is a Store in a Google Cloud Storage bucket, below an optional key
// prefix, through the official client (cloud.google.com/go/storage).
//
// Credentials are Google's Application Default Credentials: the key file
// GOOGLE_APPLICATION_CREDENTIALS names, else the file "gcloud auth
// application-default login" writes, else the metadata server of a Google
// Cloud machine. When STORAGE_EMULATOR_HOST is set (or the endpoint is an
// http:// URL), requests go there without credentials.
//
// Put checks whether the object exists and then uploads with the
// precondition "the object does not exist" (ifGenerationMatch=0), so an
// existing object is never rewritten, and a retried upload is idempotent:
// the client retries transient failures of every request, uploads included.
// Objects up to 16 MiB (every chunk) are sent in one request from a buffer
// of their size; larger ones stream as resumable uploads in 16 MiB pieces,
// which become visible only when complete. The client checks a CRC32C of
// every object it writes and of every object it reads whole.
type GCS struct {
	client   *storage.Client
	bucket   *storage.BucketHandle
	name     string // bucket name
	prefix   string // "" or "p/"
	endpoint string // for messages
	emulated bool   // no credentials
}

var _ blob.Store = (*GCS)(nil)

// gcsChunkLimit is the largest object Put sends in one request; larger
// objects are uploaded in pieces of this size.
const gcsChunkLimit = 16 << 20

// gcsChunkAlign is the granularity of upload buffers the client uses.
const gcsChunkAlign = 256 << 10

// NewGCS connects to the bucket described by cfg and checks that it is
// reachable with the credentials, failing within seconds with an error
// wrapping blob.ErrUnavailable, blob.ErrAccessDenied (no or refused credentials) or
// blob.ErrNotFound (no such bucket).
func NewGCS(ctx context.Context, cfg blob.GCSConfig) (*GCS, error) {
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("%w: GCS store needs a bucket name", blob.ErrInvalidURL)
	}
	g := &GCS{name: cfg.Bucket, endpoint: "https://storage.googleapis.com"}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		if err := blob.ValidateKey(p); err != nil {
			return nil, fmt.Errorf("%w: GCS prefix %q: %v", blob.ErrInvalidURL, cfg.Prefix, err)
		}
		g.prefix = p + "/"
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		if host := os.Getenv("STORAGE_EMULATOR_HOST"); host != "" {
			endpoint = host
			if !strings.Contains(endpoint, "://") {
				endpoint = "http://" + endpoint
			}
		}
	}
	var opts []option.ClientOption
	if endpoint != "" {
		eu, err := url.Parse(endpoint)
		if err != nil || eu.Host == "" || (eu.Scheme != "http" && eu.Scheme != "https") || (eu.Path != "" && eu.Path != "/") || eu.RawQuery != "" {
			return nil, fmt.Errorf("%w: GCS endpoint %q must look like http://host:port or https://host[:port]", blob.ErrInvalidURL, endpoint)
		}
		g.endpoint = eu.Scheme + "://" + eu.Host
		// Reads through the JSON API too: the XML API's paths are routed
		// by host name, which a server behind another name (a proxy, a
		// container's alias) does not recognize.
		opts = append(opts, option.WithEndpoint(g.endpoint+"/storage/v1/"), storage.WithJSONReads())
		if eu.Scheme == "http" {
			g.emulated = true
			opts = append(opts, option.WithoutAuthentication(), option.WithHTTPClient(httpClient(cfg.DialTimeout, cfg.ResponseTimeout)))
		}
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w: %v; %s", g.Location(), blob.ErrAccessDenied, err, gcsCredentialAdvice)
	}
	attempts := cfg.MaxAttempts
	if attempts <= 0 {
		attempts = 4
	}
	// Every request the store sends is safe to repeat: uploads carry the
	// precondition "does not exist", reads and listings change nothing,
	// and a repeated delete of an immutable object finds it gone.
	client.SetRetry(storage.WithMaxAttempts(attempts), storage.WithPolicy(storage.RetryIdempotent))
	g.client = client
	g.bucket = client.Bucket(cfg.Bucket)
	if err := g.probe(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return g, nil
}

// gcsCredentialAdvice ends messages about refused or missing credentials.
const gcsCredentialAdvice = "set GOOGLE_APPLICATION_CREDENTIALS to a service account key file or run " +
	"\"gcloud auth application-default login\" (or set STORAGE_EMULATOR_HOST for an emulator), " +
	"and check the bucket's permissions"

// probe lists one object below the prefix: it needs the bucket, the
// credentials and the list permission that GC and Exists use anyway.
func (g *GCS) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	q := &storage.Query{Prefix: g.prefix}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return err
	}
	// A handle of its own: Retryer changes the retry settings it is called on.
	it := g.client.Bucket(g.name).Retryer(storage.WithMaxAttempts(2)).Objects(pctx, q)
	it.PageInfo().MaxSize = 1
	_, err := it.Next()
	if err == nil || errors.Is(err, iterator.Done) {
		return nil
	}
	if ctx.Err() == nil && pctx.Err() != nil {
		return fmt.Errorf("open %s: %w: no answer from %s within 15s", g.Location(), blob.ErrUnavailable, g.endpoint)
	}
	return g.wrapErr(ctx, "open", "", err)
}

// Location returns "gs://bucket/prefix".
func (g *GCS) Location() string {
	return "gs://" + g.name + "/" + strings.TrimSuffix(g.prefix, "/")
}

// Client returns the underlying storage client, for tests and tools.
func (g *GCS) Client() *storage.Client { return g.client }

// Bucket returns the bucket name.
func (g *GCS) Bucket() string { return g.name }

// ObjectName returns the object name that holds key (prefix + key).
func (g *GCS) ObjectName(key string) string { return g.prefix + key }

// Close releases the client's connections.
func (g *GCS) Close() error { return g.client.Close() }

// wrapErr turns a client error into one wrapping our sentinels, with
// advice. ctx is the caller's context: if it is done, that is the cause.
func (g *GCS) wrapErr(ctx context.Context, op, key string, err error) error {
	what := g.Location()
	if key != "" {
		what = key
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", op, what, context.Cause(ctx))
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("%s %s: bucket %q does not exist at %s: %w", op, what, g.name, g.endpoint, blob.ErrNotFound)
	}
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("%s %s: %w", op, what, blob.ErrNotFound)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch {
		case ge.Code == http.StatusUnauthorized || ge.Code == http.StatusForbidden:
			return fmt.Errorf("%s %s: %w by %s (%d %s); %s", op, what, blob.ErrAccessDenied, g.endpoint,
				ge.Code, firstNonEmpty(ge.Message, http.StatusText(ge.Code)), gcsCredentialAdvice)
		case ge.Code == http.StatusNotFound && key == "":
			return fmt.Errorf("%s %s: bucket %q does not exist at %s: %w", op, what, g.name, g.endpoint, blob.ErrNotFound)
		case ge.Code == http.StatusNotFound:
			return fmt.Errorf("%s %s: %w", op, what, blob.ErrNotFound)
		}
		return fmt.Errorf("%s %s: %w", op, what, err)
	}
	if isCredentialsErr(err) {
		return fmt.Errorf("%s %s: %w: %v; %s", op, what, blob.ErrAccessDenied, err, gcsCredentialAdvice)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return fmt.Errorf("%s %s: %w: cannot reach %s (%v); check STORAGE_EMULATOR_HOST or the ?endpoint= of the store URL",
			op, what, blob.ErrUnavailable, g.endpoint, err)
	}
	return fmt.Errorf("%s %s: %w", op, what, err)
}

// isCredentialsErr reports an error of fetching an access token: the
// token server refused the credentials (an expired or revoked key, a
// disabled account).
func isCredentialsErr(err error) bool {
	var ae *auth.Error
	var re *oauth2.RetrieveError
	return errors.As(err, &ae) || errors.As(err, &re)
}

func (g *GCS) obj(key string) *storage.ObjectHandle {
	return g.bucket.Object(g.prefix + key)
}

// gcsChunkSize is the upload buffer for an object of size bytes: just
// enough for small objects, so parallel uploads of chunks stay small in
// memory; gcsChunkLimit pieces for large ones.
func gcsChunkSize(size int64) int {
	if size >= gcsChunkLimit {
		return gcsChunkLimit
	}
	n := (size/gcsChunkAlign + 1) * gcsChunkAlign
	return int(n)
}

// Put implements Store.
func (g *GCS) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s: %w: negative size %d", key, blob.ErrSizeMismatch, size)
	}
	if _, err := g.Stat(ctx, key); err == nil {
		return nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	// Cancelling wctx before Close abandons the upload: nothing is stored.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := g.obj(key).If(storage.Conditions{DoesNotExist: true}).NewWriter(wctx)
	w.ContentType = "application/octet-stream"
	w.ChunkSize = gcsChunkSize(size)
	er := blob.NewExactReader(ctx, r, size)
	_, err := io.Copy(w, er)
	if err != nil {
		cancel()
		_ = w.Close()
		if er.ReaderFailed() {
			return fmt.Errorf("put %s: %w", key, er.Err()) // the reader failed, not GCS
		}
		return g.putErr(ctx, key, err)
	}
	if err := w.Close(); err != nil {
		return g.putErr(ctx, key, err)
	}
	return nil
}

// putErr maps an upload's failure; a failed "does not exist" precondition
// means a concurrent Put stored the object first, which is success.
func (g *GCS) putErr(ctx context.Context, key string, err error) error {
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed {
		return nil
	}
	return g.wrapErr(ctx, "put", key, err)
}

// Get implements Store.
func (g *GCS) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := blob.ValidateKey(key); err != nil {
		return nil, err
	}
	rd, err := g.obj(key).NewReader(ctx)
	if err != nil {
		return nil, g.wrapErr(ctx, "get", key, err)
	}
	return blob.MapErrReader(rd, func(err error) error { return g.wrapErr(ctx, "read", key, err) }), nil
}

// Stat implements Store.
func (g *GCS) Stat(ctx context.Context, key string) (int64, error) {
	if err := blob.ValidateKey(key); err != nil {
		return 0, err
	}
	attrs, err := g.obj(key).Attrs(ctx)
	if err != nil {
		return 0, g.wrapErr(ctx, "stat", key, err)
	}
	return attrs.Size, nil
}

// Exists implements Store: a folder ("chunks/ab/") holding at least 8 of
// many keys is answered by one listing of it, the rest by parallel
// metadata requests.
func (g *GCS) Exists(ctx context.Context, keys []string) (map[string]bool, error) {
	return blob.ExistsByShard(ctx, keys, g.Stat, g.List)
}

// List implements Store, in lexical key order.
func (g *GCS) List(ctx context.Context, prefix string, fn func(key string, size int64, modTime time.Time) error) error {
	if err := blob.ValidatePrefix(prefix); err != nil {
		return err
	}
	q := &storage.Query{Prefix: g.prefix + prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated"}); err != nil {
		return err
	}
	it := g.bucket.Objects(ctx, q)
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return ctx.Err()
		}
		if err != nil {
			return g.wrapErr(ctx, "list", path.Join(g.prefix, prefix), err)
		}
		key := strings.TrimPrefix(attrs.Name, g.prefix)
		if strings.HasSuffix(key, "/") || blob.ValidateKey(key) != nil {
			continue // folder markers and foreign objects
		}
		if err := fn(key, attrs.Size, attrs.Updated); err != nil {
			return err
		}
	}
}

// Delete implements Store. Objects are immutable, so a delete is repeated
// on a transient failure like any other request.
func (g *GCS) Delete(ctx context.Context, key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	err := g.obj(key).Retryer(storage.WithPolicy(storage.RetryAlways)).Delete(ctx) // obj is a fresh handle
	if err == nil || errors.Is(err, storage.ErrObjectNotExist) {
		return nil
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusNotFound {
		return nil
	}
	return g.wrapErr(ctx, "delete", key, err)
}
