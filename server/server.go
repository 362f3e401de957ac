package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	pathpkg "path"
	"strings"
	"sync"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/repo"
	"github.com/mlgit/mlgit/server/ui"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxJSONBody     = 32 << 20 // MLflow allows 16 MiB dataset profiles
	DefaultMaxArtifactSize = 64 << 30
	DefaultJSONReadTimeout = time.Minute
)

// Config configures a Server.
type Config struct {
	// Repo is the store the server reads and writes. Required.
	Repo *repo.Repo
	// Blobs is where uploaded artifacts are stored and read from
	// (default: the repository's local blob cache).
	Blobs blob.Store
	// Remote, if set, is a second store downloads fall back to when a blob
	// is not in Blobs (the shared blob remote).
	Remote blob.Store
	// ReadOnly refuses every write with PERMISSION_DENIED.
	ReadOnly bool
	// AllowedHosts lists the Host header values accepted: "name" (any
	// port) or "name:port"; "*" accepts any. Empty: loopback names only
	// (localhost, 127.0.0.1, ::1).
	AllowedHosts []string
	// Auth, if set, requires every API request to authenticate.
	Auth *Auth
	// Logger receives request logs and internal errors (default: discard).
	Logger *slog.Logger
	// MaxJSONBody bounds JSON request bodies (default DefaultMaxJSONBody).
	MaxJSONBody int64
	// MaxArtifactSize bounds one uploaded artifact (default
	// DefaultMaxArtifactSize).
	MaxArtifactSize int64
	// Version is what /version answers.
	Version string
	// LogRequests logs one line per request at Info level.
	LogRequests bool
	// NoUIVendor serves the web UI as a binary built without its npm
	// assets would (tests).
	NoUIVendor bool
	// CommitDelay lets the commit of an ended run wait this long so that
	// runs ending together share one commit (repo.LiveOptions); the
	// request returns once the end is durable in the journal. 0 (the
	// zero Config) commits before update-run returns; mlgit server uses
	// repo.DefaultCommitDelay.
	CommitDelay time.Duration
	// Sync, if set, keeps the repository in step with a Git remote in the
	// background (sync.go).
	Sync *SyncConfig
}

// Server serves the MLflow REST API over a repository. It is an
// http.Handler; create it with New.
type Server struct {
	cfg   Config
	r     *repo.Repo
	blobs blob.Store
	log   *slog.Logger

	// api routes the MLflow JSON endpoints; endpoints lists them.
	api       *http.ServeMux
	endpoints []endpoint

	// runLocks serialize read-modify-write updates of one run's tag
	// (mlflow.log-model.history).
	runLocksMu sync.Mutex
	runLocks   map[string]*sync.Mutex

	uploadSlots chan struct{}

	// runJSON caches the JSON of runs returned by searches.
	runJSON runJSONCache

	// ui serves the web UI's pages and its own read endpoints.
	ui *ui.Handler

	// sync, when Config.Sync is set, pushes and pulls in the background.
	sync *syncer
}

// apiFunc handles a JSON API request and returns the response value (nil
// means {}; a rawJSON is sent as it is). jsonHandler makes one from a
// function of the decoded request.
type apiFunc func(s *Server, r *http.Request) (any, error)

// endpoint is one MLflow JSON endpoint: a method on a path relative to
// /api/2.0/mlflow (served under /ajax-api/2.0/mlflow too), whose {name}
// segments are path values.
type endpoint struct {
	method, path string
	write        bool
	h            apiFunc
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Repo == nil {
		return nil, errors.New("server: Config.Repo is required")
	}
	if cfg.Blobs == nil {
		st, err := blob.NewLocal(cfg.Repo.BlobCacheDir())
		if err != nil {
			return nil, fmt.Errorf("open blob cache: %w", err)
		}
		cfg.Blobs = st
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MaxJSONBody <= 0 {
		cfg.MaxJSONBody = DefaultMaxJSONBody
	}
	if cfg.MaxArtifactSize <= 0 {
		cfg.MaxArtifactSize = DefaultMaxArtifactSize
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	// The server keeps the store's acknowledged state and a run index in
	// memory (repo.StartLive): requests neither re-read the journal nor
	// the index cache, and checkpoints run in the background.
	if err := cfg.Repo.StartLive(repo.LiveOptions{Index: true, CommitDelay: cfg.CommitDelay}); err != nil {
		return nil, fmt.Errorf("load the store: %w", err)
	}
	s := &Server{cfg: cfg, r: cfg.Repo, blobs: cfg.Blobs, log: cfg.Logger, runLocks: map[string]*sync.Mutex{}, uploadSlots: make(chan struct{}, maxConcurrentUploads)}
	s.registerTracking()
	s.registerRegistry()
	s.registerLoggedModels()
	s.api = s.apiMux()
	h, err := ui.New(ui.Config{Repo: cfg.Repo, OpenBlob: s.openBlob, ReadOnly: cfg.ReadOnly, Version: cfg.Version, Logger: cfg.Logger, NoVendor: cfg.NoUIVendor})
	if err != nil {
		return nil, err
	}
	s.ui = h
	if cfg.Sync != nil {
		if cfg.Sync.Remote == "" {
			return nil, errors.New("server: Config.Sync.Remote is required")
		}
		s.sync = newSyncer(s, *cfg.Sync)
		s.sync.start()
	}
	return s, nil
}

// handle registers h for method on path (relative to /api/2.0/mlflow);
// write marks the endpoints read-only mode refuses.
func (s *Server) handle(method, path string, write bool, h apiFunc) {
	s.endpoints = append(s.endpoints, endpoint{method, path, write, h})
}

// apiMux routes the endpoints under both prefixes with method patterns
// ("POST /api/2.0/mlflow/runs/create"). The mux's own 404 and 405 answers
// are not MLflow's, so every request it does not route to an endpoint
// lands on a handler that answers ENDPOINT_NOT_FOUND (404), as MLflow
// does: "endpoint P does not accept M" when P is an endpoint's path, "no
// endpoint M P" otherwise. Besides the catch-all "/", that takes a pattern
// for each method some endpoint accepts on each path that does not accept
// it, as a wildcard path would take what its literal sibling refuses (GET
// /logged-models/search is not GET /logged-models/{model_id}). A GET
// pattern also matches HEAD, which no endpoint accepts: serveAPI refuses
// it.
func (s *Server) apiMux() *http.ServeMux {
	mux := http.NewServeMux()
	paths := http.NewServeMux() // the endpoints' paths, any method
	accepts := map[string]map[string]bool{}
	methods := map[string]bool{}
	var order []string
	for _, e := range s.endpoints {
		if accepts[e.path] == nil {
			accepts[e.path] = map[string]bool{}
			order = append(order, e.path)
		}
		accepts[e.path][e.method] = true
		methods[e.method] = true
	}
	notAccepted := s.notAccepted
	for _, prefix := range []string{apiPrefix, ajaxPrefix} {
		for _, e := range s.endpoints {
			mux.Handle(e.method+" "+prefix+e.path[1:], s.serveAPI(e))
		}
		for _, p := range order {
			paths.HandleFunc(prefix+p[1:], notAccepted)
			for m := range methods {
				if !accepts[p][m] {
					mux.HandleFunc(m+" "+prefix+p[1:], notAccepted)
				}
			}
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			notAccepted(w, r)
			return
		}
		s.writeError(w, r, errorf(codeEndpointNotFound, "no endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (s *Server) notAccepted(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errorf(codeEndpointNotFound, "endpoint %s does not accept %s", r.URL.Path, r.Method))
}

// serveAPI serves endpoint e once the mux has routed the request to it:
// read-only mode, the JSON content type, the body's read deadline, then
// the handler and its response or MLflow error.
func (s *Server) serveAPI(e endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != e.method { // HEAD on a GET endpoint
			s.notAccepted(w, r)
			return
		}
		if e.write && s.cfg.ReadOnly {
			s.writeError(w, r, errorf(codePermissionDenied, "the server is read-only (started with --read-only); writes are refused"))
			return
		}
		if err := checkJSONContentType(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.sync != nil && e.path == "/model-versions/create" {
			s.sync.catchUp()
		}
		if s.sync != nil && isRegistryWrite(e) {
			release, err := s.sync.holdRegistry(r.Context())
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			defer release()
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// Bound the time a client may take to send its JSON body.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(DefaultJSONReadTimeout))
		}
		resp, err := e.h(s, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, resp)
	}
}

const (
	apiPrefix       = "/api/2.0/mlflow/"
	ajaxPrefix      = "/ajax-api/2.0/mlflow/"
	artifactsPrefix = "/api/2.0/mlflow-artifacts/artifacts"
	ajaxArtifacts   = "/ajax-api/2.0/mlflow-artifacts/artifacts"
)

type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.Error("panic", "method", r.Method, "path", logPath(r.URL.Path), "panic", fmt.Sprint(v))
			if sw.status == 0 {
				s.writeError(sw, r, fmt.Errorf("panic: %v", v))
			}
		}
		if s.cfg.LogRequests {
			s.log.Info("request", "method", r.Method, "path", logPath(r.URL.Path), "status", sw.status,
				"bytes", sw.n, "ms", time.Since(start).Milliseconds(), "remote", r.RemoteAddr)
		}
	}()
	s.serve(sw, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !s.hostAllowed(r.Host) {
		s.writeError(w, r, errorf(codePermissionDenied, "Host header %q is not allowed; start the server with --allowed-hosts to accept it", r.Host))
		return
	}
	if !s.originAllowed(r) {
		s.writeError(w, r, errorf(codePermissionDenied, "cross-origin request refused"))
		return
	}
	path := r.URL.Path
	switch path {
	case "/health":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "OK")
		return
	case "/version":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, s.cfg.Version)
		return
	}
	raw := r.URL.EscapedPath()
	if strings.HasPrefix(raw, mpuPartPrefix) {
		// Multipart parts carry no credentials (MLflow's client PUTs them
		// like presigned URLs): the upload id in the URL is the capability.
		s.serveUploadPart(w, r)
		return
	}
	if s.cfg.Auth != nil {
		if err := s.cfg.Auth.check(r); err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="mlgit", charset="UTF-8"`)
			s.writeError(w, r, err)
			return
		}
	}
	switch {
	case strings.HasPrefix(raw, mpuPrefix), strings.HasPrefix(raw, ajaxMPUPrefix):
		s.serveMultipart(w, r)
		return
	case raw == serverInfoPath, raw == ajaxServerInfoPath:
		s.serveServerInfo(w, r)
		return
	case raw == statusPath:
		s.serveStatus(w, r)
		return
	case raw == syncPath:
		s.serveSync(w, r)
		return
	case raw == artifactsPrefix || strings.HasPrefix(raw, artifactsPrefix+"/") ||
		raw == ajaxArtifacts || strings.HasPrefix(raw, ajaxArtifacts+"/"):
		s.serveArtifacts(w, r)
		return
	case raw == "/get-artifact", raw == "/model-versions/get-artifact":
		s.serveGetArtifact(w, r, raw == "/get-artifact")
		return
	}
	// The UI's routes are all GET (and so HEAD): a POST, the API's
	// writes, need not be matched against them.
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && s.ui.Owns(r) {
		s.ui.ServeHTTP(w, r)
		return
	}
	if !isCleanPath(raw) {
		// The mux would redirect to the cleaned path; no endpoint has
		// such a path.
		s.writeError(w, r, errorf(codeEndpointNotFound, "no endpoint %s %s", r.Method, path))
		return
	}
	s.api.ServeHTTP(w, r)
}

// isCleanPath tells whether p is its own clean form (no empty, . or ..
// segments; a trailing slash is kept), the form ServeMux routes without
// redirecting.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := pathpkg.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// checkJSONContentType refuses POST and PUT on API routes unless the body is
// declared JSON: a cross-site form or a fetch without preflight can only
// send text/plain, multipart/form-data or urlencoded bodies
// (CVE-2023-43472).
func checkJSONContentType(r *http.Request) error {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errorf(codeBadRequest, "Bad Request. Content-Type must be application/json (got %q)", r.Header.Get("Content-Type"))
	}
	return nil
}

// hostAllowed checks the Host header against the allow-list, against DNS
// rebinding: a page on evil.example whose name resolves to 127.0.0.1 still
// sends Host: evil.example.
func (s *Server) hostAllowed(host string) bool {
	name, port := splitHost(host)
	allowed := s.cfg.AllowedHosts
	if len(allowed) == 0 {
		allowed = []string{"localhost", "127.0.0.1", "::1"}
	}
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "*" {
			return true
		}
		an, ap := splitHost(a)
		if an == name && (ap == "" || ap == port) {
			return true
		}
	}
	return false
}

func splitHost(h string) (name, port string) {
	h = strings.ToLower(h)
	if n, p, err := net.SplitHostPort(h); err == nil {
		return strings.TrimSuffix(n, "."), p
	}
	h = strings.TrimPrefix(strings.TrimSuffix(h, "]"), "[")
	return strings.TrimSuffix(h, "."), ""
}

// originAllowed refuses writes a browser sends on behalf of another site:
// when an Origin header is present on a non-GET request, its host must be
// the request's Host. MLflow clients send no Origin.
func (s *Server) originAllowed(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	var data []byte
	if raw, ok := v.(rawJSON); ok {
		data = raw
	} else if v == nil {
		data = []byte("{}")
	} else {
		var err error
		data, err = json.Marshal(v)
		if err != nil {
			s.writeError(w, nil, fmt.Errorf("encode response: %w", err))
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if r == nil {
		r = &http.Request{Method: "?", URL: &url.URL{}}
	}
	status, code, msg := errorResponse(s.log, r, err)
	data, _ := json.Marshal(struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}{code, msg})
	h := w.Header()
	h.Del("Content-Disposition")
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}

func (s *Server) runLock(id string) *sync.Mutex {
	s.runLocksMu.Lock()
	defer s.runLocksMu.Unlock()
	m := s.runLocks[id]
	if m == nil {
		m = &sync.Mutex{}
		s.runLocks[id] = m
	}
	return m
}

// Checkpoint commits every journaled write to the tracking branch.
func (s *Server) Checkpoint() error {
	_, err := s.r.Checkpoint()
	return err
}

// Close commits everything acknowledged with a final checkpoint, pushes
// it when the server syncs with a remote (a failed push is logged: the
// commits stay here and the next start pushes them), and leaves the
// store's live mode (saving the run index cache). Call it after the HTTP
// server has stopped accepting requests.
func (s *Server) Close() error {
	err := s.Checkpoint()
	if s.sync != nil {
		_ = s.sync.close()
	}
	if e := s.r.StopLive(); err == nil {
		err = e
	}
	return err
}
