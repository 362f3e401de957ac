package s3test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/goinstall"
	"github.com/mlgit/mlgit/internal/testserver"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw release Start installs when none is found.
const Version = "v1.8.0"

// Package is the module path "go install" builds versitygw from.
const Package = "github.com/versity/versitygw/cmd/versitygw"

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's URL, "http://127.0.0.1:<port>".
	Endpoint string
	// Bucket is the bucket Start created.
	Bucket string
	// AccessKey and SecretKey are the root credentials (SigV4).
	AccessKey, SecretKey string
	// Dir is the posix backend's root: object "k" of the bucket is the
	// file Dir/Bucket/k, so tests can damage objects behind the server's
	// back.
	Dir string
}

// Start starts a server for the test and returns its endpoint, bucket and
// credentials. See StartServer.
func Start(t testing.TB) (endpoint, bucket, accessKey, secretKey string) {
	s := StartServer(t)
	return s.Endpoint, s.Bucket, s.AccessKey, s.SecretKey
}

// StartServer starts versitygw on a free port of 127.0.0.1 over a fresh
// temporary folder, waits until it answers, creates the bucket "mlgit-test"
// and registers its shutdown with t.Cleanup. If versitygw is not installed
// and cannot be, the test is skipped, or failed when the CI environment
// variable is set.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := testserver.Binary(t, "s3test", "S3 test server", Binary)
	s, err := testserver.Retry(func() (*Server, error) { return start(t, bin) })
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return s
}

var binary = sync.OnceValues(func() (string, error) { return goinstall.Binary("versitygw", Package, Version) })

// Binary returns the path of a versitygw binary, installing it with
// "go install Package@Version" if there is none. Concurrent test processes
// are serialized by a file lock, so only one of them builds it.
func Binary() (string, error) { return binary() }

func start(t testing.TB, bin string) (*Server, error) {
	dir := t.TempDir()
	root, port, err := testserver.Prepare(dir, "root")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		Bucket:    "mlgit-test",
		AccessKey: "mlgittestaccess",
		SecretKey: "mlgittestsecret0123456789",
		Dir:       root,
	}
	proc, err := testserver.Start(testserver.Program{
		Name: "versitygw",
		Bin:  bin,
		Args: []string{
			"--port", fmt.Sprintf("127.0.0.1:%d", port),
			"--access", s.AccessKey, "--secret", s.SecretKey,
			"--region", "us-east-1",
			"--quiet",
			"posix", root,
		},
		Dir:      dir,
		DropEnv:  []string{"VGW_", "ROOT_"},
		ReadyURL: s.Endpoint + "/", // any answer (403 without credentials) means it serves
		Timeout:  20 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(proc.Stop)
	mc, err := s.Client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mc.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		return nil, fmt.Errorf("create bucket %s on %s: %v\n%s", s.Bucket, s.Endpoint, err, proc.LogTail())
	}
	return s, nil
}

// Client returns a plain minio client for the server with its root
// credentials (path style, SigV4), for setting up or damaging objects
// directly.
func (s *Server) Client() (*minio.Client, error) {
	return minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:       false,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
}

// URL returns the mlgit store URL of prefix in the server's bucket,
// "s3://<bucket>/<prefix>?endpoint=<endpoint>&path-style=true". Credentials
// are not part of it; set them in the environment or an S3Config.
func (s *Server) URL(prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&path-style=true", s.Bucket, strings.Trim(prefix, "/"), s.Endpoint)
}
