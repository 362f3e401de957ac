package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/blobtest"
	"github.com/mlgit/mlgit/internal/s3test"
)

var prefixSeq atomic.Int64

// newS3 returns an S3 store on srv below a prefix no other test uses.
func newS3(t testing.TB, srv *s3test.Server) *blob.S3 {
	t.Helper()
	st, err := blob.NewS3(context.Background(), blob.S3Config{
		Bucket:    srv.Bucket,
		Prefix:    fmt.Sprintf("t%d/repo", prefixSeq.Add(1)),
		Endpoint:  srv.Endpoint,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestS3Conformance(t *testing.T) {
	srv := s3test.StartServer(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return newS3(t, srv) })
}

func TestS3PrefixIsolation(t *testing.T) {
	srv := s3test.StartServer(t)
	a, b := newS3(t, srv), newS3(t, srv)
	ctx := context.Background()
	if err := a.Put(ctx, "k", strings.NewReader("a"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "k"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("key of one prefix visible in another: %v", err)
	}
	if !strings.HasPrefix(a.Location(), "s3://mlgit-test/t") {
		t.Fatalf("Location = %q", a.Location())
	}
	// The object lives under the prefix in the bucket.
	mc, _ := srv.Client()
	if _, err := mc.StatObject(ctx, srv.Bucket, a.ObjectName("k"), minio.StatObjectOptions{}); err != nil {
		t.Fatalf("object not at %s: %v", a.ObjectName("k"), err)
	}
}

func TestS3OpenStoreFromEnv(t *testing.T) {
	srv := s3test.StartServer(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("MLGIT_S3_PATH_STYLE", "1")
	ctx := context.Background()
	st, err := blob.OpenStore(ctx, "s3://"+srv.Bucket+"/from-env")
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := blob.Add(ctx, st, strings.NewReader("via env"))
	if err != nil {
		t.Fatal(err)
	}
	// The same store through the URL query instead of the environment.
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("MLGIT_S3_PATH_STYLE", "")
	st2, err := blob.OpenStore(ctx, srv.URL("from-env"))
	if err != nil {
		t.Fatal(err)
	}
	if err := blob.Verify(ctx, st2, d); err != nil {
		t.Fatalf("blob added via env config not readable via URL config: %v", err)
	}
}

func TestS3WrongCredentialsFailFast(t *testing.T) {
	srv := s3test.StartServer(t)
	start := time.Now()
	_, err := blob.NewS3(context.Background(), blob.S3Config{
		Bucket: srv.Bucket, Endpoint: srv.Endpoint, PathStyle: true,
		AccessKey: srv.AccessKey, SecretKey: "wrong-secret",
	})
	if !errors.Is(err, blob.ErrAccessDenied) {
		t.Fatalf("NewS3 with wrong secret = %v, want ErrAccessDenied", err)
	}
	if !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("error gives no advice: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("wrong credentials took %v to report", d)
	}
	_, err = blob.NewS3(context.Background(), blob.S3Config{
		Bucket: srv.Bucket, Endpoint: srv.Endpoint, PathStyle: true,
		AccessKey: "nobody", SecretKey: "wrong-secret",
	})
	if !errors.Is(err, blob.ErrAccessDenied) {
		t.Fatalf("NewS3 with unknown access key = %v, want ErrAccessDenied", err)
	}
	_, err = blob.NewS3(context.Background(), blob.S3Config{
		Bucket: "no-such-bucket", Endpoint: srv.Endpoint, PathStyle: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
	})
	if !errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("NewS3 with missing bucket = %v, want ErrNotFound naming it", err)
	}
}

func TestS3UnreachableEndpointFailsFast(t *testing.T) {
	endpoint := blobtest.ClosedEndpoint(t)
	start := time.Now()
	_, err := blob.NewS3(context.Background(), blob.S3Config{
		Bucket: "bucket", Endpoint: endpoint, PathStyle: true, AccessKey: "a", SecretKey: "s",
	})
	if !errors.Is(err, blob.ErrUnavailable) || !strings.Contains(err.Error(), endpoint) {
		t.Fatalf("NewS3 on a closed port = %v, want ErrUnavailable naming %s", err, endpoint)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("unreachable endpoint took %v to report", d)
	}
	t.Logf("unreachable endpoint reported after %v: %v", time.Since(start).Round(time.Millisecond), err)

	// A server that accepts connections but never answers must not hang.
	silent := blobtest.SilentEndpoint(t)
	start = time.Now()
	_, err = blob.NewS3(context.Background(), blob.S3Config{
		Bucket: "bucket", Endpoint: silent, PathStyle: true, AccessKey: "a", SecretKey: "s",
		ResponseTimeout: 500 * time.Millisecond,
	})
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("NewS3 on a silent server = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("silent server took %v to report", d)
	}
	t.Logf("silent server reported after %v", time.Since(start).Round(time.Millisecond))
}

func TestS3PutIsNotRewritten(t *testing.T) {
	srv := s3test.StartServer(t)
	st := newS3(t, srv)
	ctx := context.Background()
	if err := st.Put(ctx, "x", bytes.NewReader([]byte("one")), 3); err != nil {
		t.Fatal(err)
	}
	info1, _ := st.Client().StatObject(ctx, st.Bucket(), st.ObjectName("x"), minio.StatObjectOptions{})
	time.Sleep(1100 * time.Millisecond) // S3 modification times have 1s resolution
	if err := st.Put(ctx, "x", bytes.NewReader([]byte("two")), 3); err != nil {
		t.Fatal(err)
	}
	info2, _ := st.Client().StatObject(ctx, st.Bucket(), st.ObjectName("x"), minio.StatObjectOptions{})
	if !info1.LastModified.Equal(info2.LastModified) || info1.ETag != info2.ETag {
		t.Fatalf("second Put rewrote the object: %v/%s -> %v/%s", info1.LastModified, info1.ETag, info2.LastModified, info2.ETag)
	}
}
