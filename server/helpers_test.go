package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo"
)

// fixedNow is the store's clock in tests: creation times are exact.
var fixedNow = time.UnixMilli(1767323045000).UTC()

type testEnv struct {
	t   *testing.T
	dir string
	r   *repo.Repo
	s   *Server
}

func newEnv(t *testing.T, mutate ...func(*Config)) *testEnv {
	t.Helper()
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	r, _, err := repo.Init(dir, repo.Options{Now: func() time.Time { return fixedNow }}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cfg := Config{Repo: r, Version: "test"}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Stop the background checkpoints before the directory goes away.
	t.Cleanup(func() { r.StopLive() })
	return &testEnv{t: t, dir: dir, r: r, s: s}
}

type resp struct {
	status int
	body   string
	header http.Header
}

// do sends one request through the handler. A body on POST/PUT/PATCH/DELETE
// is sent as application/json unless a Content-Type is given in hdr.
func (e *testEnv) do(method, target, body string, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://localhost:5000"+target, rd)
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.s.ServeHTTP(w, req)
	return resp{w.Code, w.Body.String(), w.Header()}
}

// api sends to /api/2.0/mlflow<path>.
func (e *testEnv) api(method, path, body string, hdr ...string) resp {
	e.t.Helper()
	return e.do(method, "/api/2.0/mlflow"+path, body, hdr...)
}

// ok sends and requires 200, returning the decoded body.
func (e *testEnv) ok(method, path, body string) map[string]any {
	e.t.Helper()
	r := e.api(method, path, body)
	if r.status != http.StatusOK {
		e.t.Fatalf("%s %s %s: status %d: %s", method, path, body, r.status, r.body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		e.t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, r.body, err)
	}
	return v
}

// wantJSON asserts that got is the JSON document want (key order and
// spacing aside).
func wantJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("response %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad test: %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON mismatch\n got: %s\nwant: %s", got, want)
	}
}

// wantError asserts an MLflow error response.
func wantError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var v struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	if v.ErrorCode != code || v.Message == "" {
		t.Fatalf("error %+v, want code %s with a message", v, code)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
}

// createRun creates a run in experiment exp and returns its id.
func (e *testEnv) createRun(exp string) string {
	e.t.Helper()
	v := e.ok("POST", "/runs/create", `{"experiment_id":"`+exp+`","user_id":"alice","start_time":1767323045000}`)
	return v["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
}
