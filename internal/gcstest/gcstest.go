package gcstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/goinstall"
	"github.com/mlgit/mlgit/internal/testserver"
)

// Version is the fake-gcs-server release StartServer installs when none is
// found.
const Version = "v1.56.1"

// Package is the module path "go install" builds fake-gcs-server from.
const Package = "github.com/fsouza/fake-gcs-server"

// Server is a running fake-gcs-server.
type Server struct {
	// Endpoint is the server's URL, "http://127.0.0.1:<port>".
	Endpoint string
	// Host is "127.0.0.1:<port>", the value of STORAGE_EMULATOR_HOST.
	Host string
	// Bucket is the bucket StartServer created.
	Bucket string
	// Dir is the filesystem backend's root.
	Dir string
}

// StartServer starts fake-gcs-server on a free port of 127.0.0.1 over a
// fresh temporary folder, waits until it answers, creates the bucket
// "mlgit-test" and registers its shutdown with t.Cleanup. If
// fake-gcs-server is not installed and cannot be, the test is skipped, or
// failed when the CI environment variable is set.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := testserver.Binary(t, "gcstest", "GCS emulator", Binary)
	s, err := testserver.Retry(func() (*Server, error) { return start(t, bin) })
	if err != nil {
		t.Fatalf("gcstest: %v", err)
	}
	return s
}

// URL returns the mlgit store URL of prefix in the server's bucket,
// "gs://<bucket>/<prefix>?endpoint=<endpoint>". It needs no environment.
func (s *Server) URL(prefix string) string {
	return fmt.Sprintf("gs://%s/%s?endpoint=%s", s.Bucket, strings.Trim(prefix, "/"), s.Endpoint)
}

// BareURL returns "gs://<bucket>/<prefix>", the URL a user writes; it
// reaches the server with the environment of Env.
func (s *Server) BareURL(prefix string) string {
	return fmt.Sprintf("gs://%s/%s", s.Bucket, strings.Trim(prefix, "/"))
}

// Env returns the environment a process needs to reach the server through a
// BareURL: STORAGE_EMULATOR_HOST.
func (s *Server) Env() []string {
	return []string{"STORAGE_EMULATOR_HOST=" + s.Host}
}

// SetEnv sets the variables of Env for the test (t.Setenv).
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// PutObject writes an object of the bucket directly, replacing any object
// of that name: for fixtures, and for damaging objects behind a store's
// back.
func (s *Server) PutObject(ctx context.Context, name string, data []byte) error {
	u := fmt.Sprintf("%s/upload/storage/v1/b/%s/o?uploadType=media&name=%s", s.Endpoint, url.PathEscape(s.Bucket), url.QueryEscape(name))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return s.do(req, nil)
}

// GetObject reads an object of the bucket directly.
func (s *Server) GetObject(ctx context.Context, name string) ([]byte, error) {
	u := fmt.Sprintf("%s/storage/v1/b/%s/o/%s?alt=media", s.Endpoint, url.PathEscape(s.Bucket), url.PathEscape(name))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err = s.do(req, &out)
	return out.Bytes(), err
}

// ErrNoObject is what GetObject returns for an object that does not exist.
var ErrNoObject = errors.New("no such object")

// ObjectNames returns the names of the bucket's objects below prefix.
func (s *Server) ObjectNames(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	token := ""
	for {
		u := fmt.Sprintf("%s/storage/v1/b/%s/o?prefix=%s&pageToken=%s", s.Endpoint, url.PathEscape(s.Bucket),
			url.QueryEscape(prefix), url.QueryEscape(token))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		var body bytes.Buffer
		if err := s.do(req, &body); err != nil {
			return nil, err
		}
		var page struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
			NextPageToken string `json:"nextPageToken"`
		}
		if err := json.Unmarshal(body.Bytes(), &page); err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, it := range page.Items {
			names = append(names, it.Name)
		}
		if page.NextPageToken == "" {
			return names, nil
		}
		token = page.NextPageToken
	}
}

// do sends req and copies a successful answer's body to out.
func (s *Server) do(req *http.Request, out io.Writer) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound && req.Method == http.MethodGet {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ErrNoObject)
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, b)
	}
	if out != nil {
		_, err = io.Copy(out, resp.Body)
	}
	return err
}

var binary = sync.OnceValues(func() (string, error) { return goinstall.Binary("fake-gcs-server", Package, Version) })

// Binary returns the path of a fake-gcs-server binary, installing it with
// "go install Package@Version" if there is none. Concurrent test processes
// are serialized by a file lock, so only one of them builds it.
func Binary() (string, error) { return binary() }

func start(t testing.TB, bin string) (*Server, error) {
	dir := t.TempDir()
	root, port, err := testserver.Prepare(dir, "root")
	if err != nil {
		return nil, err
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	s := &Server{Endpoint: "http://" + host, Host: host, Bucket: "mlgit-test", Dir: root}
	proc, err := testserver.Start(testserver.Program{
		Name: "fake-gcs-server",
		Bin:  bin,
		Args: []string{
			"-scheme", "http",
			"-host", "127.0.0.1",
			"-port", fmt.Sprint(port),
			"-public-host", host,
			"-external-url", s.Endpoint,
			"-backend", "filesystem",
			"-filesystem-root", root,
			"-log-level", "warn",
		},
		Dir:         dir,
		DropEnv:     []string{"FAKE_GCS_"},
		ReadyURL:    s.Endpoint + "/storage/v1/b",
		ReadyStatus: http.StatusOK,
		Timeout:     20 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(proc.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"name": s.Bucket})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+"/storage/v1/b?project=mlgit-test", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := s.do(req, nil); err != nil {
		return nil, fmt.Errorf("create bucket %s on %s: %v\n%s", s.Bucket, s.Endpoint, err, proc.LogTail())
	}
	return s, nil
}
