package blob

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3 store lives and how to reach it. OpenStore fills
// it from an s3:// URL and the environment (see S3ConfigFromEnv).
type S3Config struct {
	// Bucket is the bucket name.
	Bucket string
	// Prefix is prepended to every key ("" or "a/b", without slashes at the
	// ends).
	Prefix string
	// Endpoint is the S3 endpoint URL, e.g. "https://s3.amazonaws.com" or
	// "http://127.0.0.1:9000". Empty means AWS.
	Endpoint string
	// Region is the bucket's region; empty lets the client find it (AWS) or
	// means "us-east-1" (other endpoints).
	Region string
	// AccessKey, SecretKey and SessionToken are static credentials. If
	// AccessKey is empty, the AWS environment variables and then the shared
	// credentials and config files (AWS_PROFILE) are used; failing all of
	// them, requests are anonymous.
	AccessKey, SecretKey, SessionToken string
	// Profile is the profile of the shared AWS files ("" means AWS_PROFILE
	// or "default").
	Profile string
	// PathStyle forces path-style requests (http://host/bucket/key), which
	// most self-hosted servers need.
	PathStyle bool
	// MaxRetries bounds retries of a failing request (default 3).
	MaxRetries int
	// DialTimeout bounds connecting to the endpoint (default 5s).
	DialTimeout time.Duration
	// ResponseTimeout bounds the wait for response headers after a request
	// was sent (default 60s).
	ResponseTimeout time.Duration
}

// S3ConfigFromEnv returns a config for bucket and prefix with endpoint,
// region and path style taken from the environment the way AWS tools do:
// AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then endpoint_url of the
// profile in ~/.aws/config (or AWS_CONFIG_FILE); AWS_REGION, then
// AWS_DEFAULT_REGION, then the profile's region; MLGIT_S3_PATH_STYLE=1 for
// path style. Credentials are resolved when the store is opened.
func S3ConfigFromEnv(bucket, prefix string) S3Config {
	return s3ConfigFromEnvProfile(bucket, prefix, os.Getenv("AWS_PROFILE"))
}

func s3ConfigFromEnvProfile(bucket, prefix, profile string) S3Config {
	cfg := S3Config{Bucket: bucket, Prefix: strings.Trim(prefix, "/"), Profile: profile}
	prof := readAWSConfigProfile(cfg.Profile)
	cfg.Endpoint = firstNonEmpty(os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"), prof["endpoint_url"])
	cfg.Region = firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), prof["region"])
	switch strings.ToLower(os.Getenv("MLGIT_S3_PATH_STYLE")) {
	case "1", "true", "yes", "on":
		cfg.PathStyle = true
	}
	return cfg
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// readAWSConfigProfile returns the keys of a profile section of the shared
// AWS config file. Missing or unreadable files give an empty map.
func readAWSConfigProfile(profile string) map[string]string {
	out := map[string]string{}
	file := os.Getenv("AWS_CONFIG_FILE")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return out
		}
		file = filepath.Join(home, ".aws", "config")
	}
	f, err := os.Open(file)
	if err != nil {
		return out
	}
	defer f.Close()
	if profile == "" {
		profile = "default"
	}
	want := map[string]bool{"[" + profile + "]": true, "[profile " + profile + "]": true}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			in = want[strings.Join(strings.Fields(line), " ")]
			continue
		}
		if !in {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// S3 is a Store in an S3-compatible bucket, below an optional key prefix.
//
// Put first checks whether the object exists (HEAD) and then uploads with
// "If-None-Match: *", so an existing object is not rewritten on servers that
// support conditional writes; on others a racing Put may rewrite an object
// with the same bytes, which is harmless for content-addressed keys. Objects
// up to 16 MiB are buffered in memory so a failed request can be retried;
// larger ones stream as multipart uploads, which become visible only when
// complete.
type S3 struct {
	client   *minio.Client
	bucket   string
	prefix   string // "" or "p/"
	endpoint string
	noCond   atomic.Bool // server rejected If-None-Match
	bufPool  sync.Pool
}

var _ Store = (*S3)(nil)

// s3AuthCodes are S3 error codes that mean "these credentials will not do".
// XAdminUserNotFound is what versitygw and MinIO answer for an unknown
// access key.
var s3AuthCodes = map[string]bool{
	"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"ExpiredToken": true, "InvalidToken": true, "InvalidClientTokenId": true,
	"XAdminUserNotFound": true, "AuthorizationHeaderMalformed": true,
}

// s3BufferLimit is the largest object Put buffers in memory.
const s3BufferLimit = 16 << 20

// s3HeadLimit is the number of keys below which Exists always uses HEAD.
const s3HeadLimit = 16

// NewS3 connects to the bucket described by cfg and checks that it is
// reachable with the credentials, failing within a few seconds with an error
// wrapping ErrUnavailable, ErrAccessDenied or ErrNotFound (no such bucket).
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("%w: S3 store needs a bucket name", ErrInvalidURL)
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://s3.amazonaws.com"
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	eu, err := url.Parse(endpoint)
	if err != nil || eu.Host == "" || (eu.Scheme != "http" && eu.Scheme != "https") || (eu.Path != "" && eu.Path != "/") {
		return nil, fmt.Errorf("%w: S3 endpoint %q must look like https://host[:port]", ErrInvalidURL, cfg.Endpoint)
	}
	region := cfg.Region
	if region == "" && !strings.HasSuffix(eu.Hostname(), "amazonaws.com") {
		region = "us-east-1"
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	retries := cfg.MaxRetries
	if retries <= 0 {
		retries = 3
	}
	dial := cfg.DialTimeout
	if dial <= 0 {
		dial = 5 * time.Second
	}
	respTimeout := cfg.ResponseTimeout
	if respTimeout <= 0 {
		respTimeout = 60 * time.Second
	}
	client, err := minio.New(eu.Host, &minio.Options{
		Creds:        s3Credentials(cfg),
		Secure:       eu.Scheme == "https",
		Region:       region,
		BucketLookup: lookup,
		MaxRetries:   retries,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: respTimeout,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: S3 endpoint %s: %v", ErrInvalidURL, endpoint, err)
	}
	s := &S3{client: client, bucket: cfg.Bucket, endpoint: eu.Scheme + "://" + eu.Host}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			return nil, fmt.Errorf("%w: S3 prefix %q: %v", ErrInvalidURL, cfg.Prefix, err)
		}
		s.prefix = p + "/"
	}
	// Probe with a one-key LIST: unlike HEAD, its error responses carry a
	// code (InvalidAccessKeyId, NoSuchBucket, ...), and GC and Exists need
	// the list permission anyway.
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for obj := range client.ListObjectsIter(pctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: s.prefix, MaxKeys: 1}) {
		if obj.Err != nil {
			return nil, s.wrapErr(ctx, "open", "", obj.Err)
		}
		break
	}
	if err := pctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: %w: no answer from %s within 15s", s.Location(), ErrUnavailable, s.endpoint)
	}
	return s, nil
}

// s3Credentials picks static keys from cfg, else the AWS environment
// variables, else the shared AWS files.
func s3Credentials(cfg S3Config) *credentials.Credentials {
	if cfg.AccessKey != "" {
		return credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	}
	return credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{Profile: cfg.Profile},
	})
}

// Location returns "s3://bucket/prefix".
func (s *S3) Location() string {
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

// Client returns the underlying minio client, for tests and tools.
func (s *S3) Client() *minio.Client { return s.client }

// Bucket returns the bucket name.
func (s *S3) Bucket() string { return s.bucket }

// ObjectName returns the S3 object name that holds key (prefix + key).
func (s *S3) ObjectName(key string) string { return s.prefix + key }

// wrapErr turns a minio error into one wrapping our sentinels, with advice.
// ctx is the caller's context: if it is done, that is the cause, not the
// network.
func (s *S3) wrapErr(ctx context.Context, op, key string, err error) error {
	what := s.Location()
	if key != "" {
		what = key
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", op, what, context.Cause(ctx))
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch {
		case er.StatusCode == http.StatusForbidden || s3AuthCodes[er.Code]:
			return fmt.Errorf("%s %s: %w by %s (%s); check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the bucket policy",
				op, what, ErrAccessDenied, s.endpoint, firstNonEmpty(er.Code, er.Message, http.StatusText(er.StatusCode)))
		case er.Code == "NoSuchBucket":
			return fmt.Errorf("%s %s: bucket %q does not exist at %s: %w", op, what, s.bucket, s.endpoint, ErrNotFound)
		case er.Code == "NoSuchKey" || (er.StatusCode == http.StatusNotFound && key != "" && (er.Code == "" || er.Code == "NotFound")):
			return fmt.Errorf("%s %s: %w", op, what, ErrNotFound)
		}
		return fmt.Errorf("%s %s: %w", op, what, err)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return fmt.Errorf("%s %s: %w: cannot reach %s (%v); check AWS_ENDPOINT_URL or the ?endpoint= of the store URL",
			op, what, ErrUnavailable, s.endpoint, err)
	}
	return fmt.Errorf("%s %s: %w", op, what, err)
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s: %w: negative size %d", key, ErrSizeMismatch, size)
	}
	if _, err := s.Stat(ctx, key); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	er := newExactReader(ctxReader{ctx, r}, size)
	var body io.Reader = er
	if size <= s3BufferLimit {
		// Read it all first: size errors surface before any request, and
		// a bytes.Reader lets the client retry a failed request.
		bp, _ := s.bufPool.Get().(*bytes.Buffer)
		if bp == nil {
			bp = new(bytes.Buffer)
		}
		bp.Reset()
		defer s.bufPool.Put(bp)
		if _, err := bp.ReadFrom(er); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		body = bytes.NewReader(bp.Bytes())
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: s3BufferLimit}
	cond := !s.noCond.Load()
	if cond {
		opts.SetMatchETagExcept("*")
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, body, size, opts)
	if err == nil {
		return nil
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch {
		case resp.StatusCode == http.StatusPreconditionFailed:
			return nil // someone stored it meanwhile
		case resp.StatusCode == http.StatusConflict && resp.Code == "ConditionalRequestConflict":
			// A concurrent conditional write of the same key is in flight;
			// it will succeed or fail on its own. Report existence if it did.
			if _, serr := s.Stat(ctx, key); serr == nil {
				return nil
			}
		case cond && (resp.StatusCode == http.StatusNotImplemented || resp.Code == "NotImplemented") && size <= s3BufferLimit:
			s.noCond.Store(true)
			_, err = s.client.PutObject(ctx, s.bucket, s.prefix+key, body.(*bytes.Reader), size,
				minio.PutObjectOptions{ContentType: "application/octet-stream"})
			if err == nil {
				return nil
			}
		}
	}
	if errors.Is(err, ErrSizeMismatch) {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if rerr := er.err; rerr != nil && !errors.Is(rerr, io.EOF) && size > s3BufferLimit {
		return fmt.Errorf("put %s: %w", key, rerr) // the reader failed, not S3
	}
	return s.wrapErr(ctx, "put", key, err)
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.wrapErr(ctx, "get", key, err)
	}
	if _, err := obj.Stat(); err != nil { // sends the GET
		obj.Close()
		return nil, s.wrapErr(ctx, "get", key, err)
	}
	return MapErrReader(obj, func(err error) error { return s.wrapErr(ctx, "read", key, err) }), nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (int64, error) {
	if err := ValidateKey(key); err != nil {
		return 0, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return 0, s.wrapErr(ctx, "stat", key, err)
	}
	return info.Size, nil
}

// Exists implements Store. Keys are grouped by their folder ("chunks/ab/");
// a folder holding at least 8 of the keys is answered by one LIST of it, the
// rest by parallel HEAD requests.
func (s *S3) Exists(ctx context.Context, keys []string) (map[string]bool, error) {
	return ExistsByShard(ctx, keys, s.Stat, s.List)
}

// List implements Store, in lexical key order.
func (s *S3) List(ctx context.Context, prefix string, fn func(key string, size int64, modTime time.Time) error) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return s.wrapErr(ctx, "list", path.Join(s.prefix, prefix), obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, s.prefix)
		if strings.HasSuffix(key, "/") || ValidateKey(key) != nil {
			continue // folder markers and foreign objects
		}
		if err := fn(key, obj.Size, obj.LastModified); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	var resp minio.ErrorResponse
	if err != nil && errors.As(err, &resp) && resp.Code == "NoSuchKey" {
		return nil
	}
	if err != nil {
		return s.wrapErr(ctx, "delete", key, err)
	}
	return nil
}
