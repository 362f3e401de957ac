package s3test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/goinstall"

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
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("s3test: %v", err)
		}
		t.Skipf("s3test: skipping, no S3 test server: %v (set CI=1 to make this a failure)", err)
	}
	var lastErr error
	for range 3 { // the free port may be taken between probe and bind
		s, err := start(t, bin)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("s3test: %v", lastErr)
	return nil
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of a versitygw binary, installing it with
// "go install Package@Version" if there is none. Concurrent test processes
// are serialized by a file lock, so only one of them builds it.
func Binary() (string, error) {
	binOnce.Do(func() { binPath, binErr = goinstall.Binary("versitygw", Package, Version) })
	return binPath, binErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(t testing.TB, bin string) (*Server, error) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
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
	logPath := filepath.Join(dir, "versitygw.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--port", fmt.Sprintf("127.0.0.1:%d", port),
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", "us-east-1",
		"--quiet",
		"posix", root)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	logTail := func() string {
		b, _ := os.ReadFile(logPath)
		return goinstall.Tail(string(b), 2000)
	}
	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			break // any answer (403 without credentials) means it serves
		}
		select {
		case err := <-exited:
			exited <- err
			stop()
			return nil, fmt.Errorf("versitygw exited before serving: %w\n%s", err, logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("versitygw did not answer on %s within 20s\n%s", s.Endpoint, logTail())
		}
	}
	t.Cleanup(stop)
	mc, err := s.Client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mc.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		return nil, fmt.Errorf("create bucket %s on %s: %v\n%s", s.Bucket, s.Endpoint, err, logTail())
	}
	return s, nil
}

// cleanEnv is the environment without variables that would configure
// versitygw behind the flags' back.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
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
