package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed all:static
var staticFS embed.FS

// vendorCharts is the uPlot bundle make ui-assets copies into static/vendor.
const vendorCharts = "vendor/uPlot.iife.min.js"

type asset struct {
	body, gz []byte
	ctype    string
	etag     string
}

type assets struct {
	files      map[string]*asset // path under static/
	haveVendor bool
	tag        string // a digest of all assets, appended to their URLs
}

// loadAssets reads the embedded static files once, with their gzip
// encodings and ETags.
func loadAssets(noVendor bool) (*assets, error) {
	a := &assets{files: map[string]*asset{}}
	all := sha256.New()
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, "static/")
		if strings.HasSuffix(rel, ".md") || (noVendor && strings.HasPrefix(rel, "vendor/")) {
			return nil
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		all.Write(sum[:])
		ct := mime.TypeByExtension(path.Ext(rel))
		switch path.Ext(rel) {
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.files[rel] = newAsset(body, ct)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: read embedded assets: %w", err)
	}
	_, a.haveVendor = a.files[vendorCharts]
	a.tag = hex.EncodeToString(all.Sum(nil)[:6])
	// The modules import each other by relative URL: those URLs get the
	// tag too, so a page's whole module graph is cached for good and a
	// page load revalidates none of it.
	for rel, f := range a.files {
		if path.Ext(rel) != ".js" || strings.HasPrefix(rel, "vendor/") {
			continue
		}
		body := moduleImport.ReplaceAll(f.body, []byte("${1}${2}${3}?v="+a.tag+"${2}"))
		if bytes.Equal(body, f.body) {
			continue
		}
		a.files[rel] = newAsset(body, f.ctype)
	}
	return a, nil
}

// moduleImport matches a static import of a sibling module: import … from
// './x.js' (the form the page modules use).
var moduleImport = regexp.MustCompile(`(?m)^(import\s[^;'"]*\sfrom\s)(['"])(\./[A-Za-z0-9_-]+\.js)['"]`)

// newAsset is body with its gzip encoding and ETag.
func newAsset(body []byte, ctype string) *asset {
	sum := sha256.Sum256(body)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(body)
	zw.Close()
	return &asset{body: body, gz: gz.Bytes(), ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// serveStatic serves an embedded asset, gzip-encoded when the client
// accepts it. URLs carry ?v=<tag of all assets>, so they are cached for
// good; a new binary has a new tag.
func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	f := h.assets.files[r.PathValue("path")]
	if f == nil {
		http.Error(w, "no such asset", http.StatusNotFound)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	hd.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == h.assets.tag {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		hd.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func (h *Handler) serveFavicon(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/static/favicon.svg?v="+h.assets.tag, http.StatusMovedPermanently)
}

// funcs are the template helpers every page may use.
var funcs = template.FuncMap{
	"shortHash": shortHash,
	"when":      when,
	"duration":  duration,
	"bytes":     humanBytes,
	"num":       formatNum,
	"pathEsc":   pathEscape,
	"join":      strings.Join,
	"add":       func(a, b int) int { return a + b },
	"body":      jsonBody,
}

// jsonBody builds the JSON object of a data-body attribute from key,
// value pairs: {{body "name" .Name "version" .Version}}. Values are
// encoded by encoding/json, and the attribute by html/template, so any
// name round-trips.
func jsonBody(kvs ...any) (string, error) {
	if len(kvs)%2 != 0 {
		return "", fmt.Errorf("body: odd number of arguments")
	}
	m := make(map[string]any, len(kvs)/2)
	for i := 0; i < len(kvs); i += 2 {
		k, ok := kvs[i].(string)
		if !ok {
			return "", fmt.Errorf("body: key %v is not a string", kvs[i])
		}
		m[k] = kvs[i+1]
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// parsePages parses layout.html and the shared blocks (_*.html) with each
// page template: pages["run"] is layout + blocks + run.html. Every page
// defines "content".
func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: parse layout: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("ui: parse %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}
