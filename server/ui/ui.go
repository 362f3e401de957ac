package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mlgit/mlgit/repo"
)

// Config configures a Handler.
type Config struct {
	// Repo is the store the pages read. Required.
	Repo *repo.Repo
	// OpenBlob opens an artifact's content by digest (the server's blob
	// store with its remote fallback). Required for artifact previews
	// and folder downloads.
	OpenBlob func(ctx context.Context, digest string) (io.ReadCloser, int64, error)
	// ReadOnly hides write actions and says why (the server refuses them
	// anyway).
	ReadOnly bool
	// Version is shown in the footer.
	Version string
	// Logger receives internal errors (default: discard).
	Logger *slog.Logger
	// NoVendor serves the pages as a binary built without the npm assets
	// would (tests).
	NoVendor bool
}

// Handler serves the web UI. Create it with New.
type Handler struct {
	cfg    Config
	r      *repo.Repo
	log    *slog.Logger
	mux    *http.ServeMux
	pages  map[string]*template.Template
	assets *assets

	// Per-tip caches of the run page: the versions made from each run,
	// and the recent commits of the branch.
	runVersions runVersionsCache
	runHistory  runHistoryCache
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Repo == nil {
		return nil, errors.New("ui: Config.Repo is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	h := &Handler{cfg: cfg, r: cfg.Repo, log: cfg.Logger}
	var err error
	if h.assets, err = loadAssets(cfg.NoVendor); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(); err != nil {
		return nil, err
	}
	h.mux = http.NewServeMux()
	h.routes()
	return h, nil
}

// routes registers every page and UI endpoint. Pages are GET only (GET
// patterns match HEAD too); writes go through the JSON API.
func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /{$}", h.experimentsPage)
	m.HandleFunc("GET /experiments", h.experimentsPage)
	m.HandleFunc("GET /experiments/{eid}", h.runsPage)
	m.HandleFunc("GET /experiments/{eid}/runs", h.runsPage)
	m.HandleFunc("GET /runs", h.runsPage)
	m.HandleFunc("GET /experiments/{eid}/runs/{rid}", h.runPage)
	m.HandleFunc("GET /experiments/{eid}/runs/{rid}/{tab...}", h.runPage)
	m.HandleFunc("GET /runs/{rid}", h.runRedirect)
	m.HandleFunc("GET /compare", h.comparePage)
	m.HandleFunc("GET /compare-runs", h.comparePage)
	m.HandleFunc("GET /compare/table", h.compareTable)
	m.HandleFunc("GET /models", h.modelsPage)
	m.HandleFunc("GET /models/{name}", h.modelPage)
	m.HandleFunc("GET /models/{name}/versions/{version}", h.versionPage)
	m.HandleFunc("GET /activity", h.activityPage)
	m.HandleFunc("GET /diff", h.diffPage)
	m.HandleFunc("GET /static/{path...}", h.serveStatic)
	m.HandleFunc("GET /favicon.ico", h.serveFavicon)
	h.apiRoutes(m)
}

// Owns reports whether the UI serves r's path and method; the server
// answers everything else.
func (h *Handler) Owns(r *http.Request) bool {
	_, pattern := h.mux.Handler(r)
	return pattern != ""
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

// csp is the policy of every page: nothing but the app's own scripts,
// styles, images and connections; blob: for previews (images, sandboxed
// frames); no framing of the app.
const csp = "default-src 'self'; img-src 'self' data: blob:; frame-src blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Page is what every template gets: the layout's fields and the page's
// own Data.
type Page struct {
	Title   string
	Section string // experiments, models or activity: the highlighted nav entry
	Crumbs  []Crumb
	// Scripts are the page's module scripts under /static/.
	Scripts []string
	// Charts asks for uPlot (when it is embedded).
	Charts bool
	// Preloads are JSON requests the page's scripts will make, started
	// by the head (<link rel=preload as=fetch>) before the scripts run.
	Preloads []string
	Data     any

	// Filled by render.
	ReadOnly   bool
	HaveCharts bool
	Version    string
	AssetTag   string
}

// Crumb is one link of the breadcrumb.
type Crumb struct {
	Label string
	Href  string
}

// render executes page name into a buffer (so a template error never
// sends half a page) and writes it with the page headers.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string, p *Page) {
	t := h.pages[name]
	if t == nil {
		h.fail(w, r, fmt.Errorf("no template %q", name))
		return
	}
	p.ReadOnly = h.cfg.ReadOnly
	p.HaveCharts = h.assets.haveVendor
	p.Version = h.cfg.Version
	p.AssetTag = h.assets.tag
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		h.fail(w, r, errors.New("the page could not be rendered"))
		return
	}
	h.writePage(w, http.StatusOK, buf.Bytes())
}

func (h *Handler) writePage(w http.ResponseWriter, status int, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// fail renders an error page: the status from the store's sentinel
// errors, the message (which names the thing and what to do) as text.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, repo.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, repo.ErrInvalid):
		status = http.StatusBadRequest
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		h.log.Error("ui", "path", r.URL.Path, "err", err)
	}
	p := &Page{Title: http.StatusText(status), Data: errorData{Status: status, Message: msg}}
	p.ReadOnly = h.cfg.ReadOnly
	p.HaveCharts = h.assets.haveVendor
	p.Version = h.cfg.Version
	p.AssetTag = h.assets.tag
	var buf bytes.Buffer
	if e := h.pages["error"].ExecuteTemplate(&buf, "layout", p); e != nil {
		http.Error(w, msg, status)
		return
	}
	h.writePage(w, status, buf.Bytes())
}

type errorData struct {
	Status  int
	Message string
}

// notFound is a 404 error whose message says what is missing.
func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{repo.ErrNotFound}, args...)...)
}

// invalid is a 400 error.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{repo.ErrInvalid}, args...)...)
}

// queryList reads a list parameter given as repeated keys or
// comma-separated values (?runs=a,b&runs=c), MLflow's JSON list form
// (?runs=["a","b"]) included.
func queryList(r *http.Request, key string) []string {
	var out []string
	for _, v := range r.URL.Query()[key] {
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
			v = v[1 : len(v)-1]
		}
		for _, s := range strings.Split(v, ",") {
			s = strings.Trim(strings.TrimSpace(s), `"`)
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
