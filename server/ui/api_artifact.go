package ui

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// The artifact endpoints of the run page: the list of a run's files
// (/ui/api/artifacts/files?run=), a folder as a zip
// (/ui/api/artifacts/zip?run=&path=) and an MLmodel file decoded to JSON
// (/ui/api/artifacts/mlmodel?run=&path=) for its table. A file's bytes
// come from MLflow's /get-artifact, served by package server.
func (h *Handler) artifactRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /ui/api/artifacts/files", h.serveArtifactFiles)
	m.HandleFunc("GET /ui/api/artifacts/zip", h.serveArtifactZip)
	m.HandleFunc("GET /ui/api/artifacts/mlmodel", h.serveMLmodel)
}

// maxMLmodelSize bounds the MLmodel files decoded for the page.
const maxMLmodelSize = 1 << 20

// checkArtifactPath checks an artifact path from a query parameter: a
// relative slash-separated path without empty, "." or ".." segments,
// backslashes, control characters, a scheme or drive, or a further level
// of percent-encoding. allowEmpty accepts "" (the root).
func checkArtifactPath(p string, allowEmpty bool) error {
	if p == "" {
		if allowEmpty {
			return nil
		}
		return invalid("artifact path is empty")
	}
	short := p
	if len(short) > 120 {
		short = short[:120] + "..."
	}
	bad := func(why string) error { return invalid("artifact path %q: %s", short, why) }
	if !utf8.ValidString(p) {
		return bad("not valid UTF-8")
	}
	for _, c := range p {
		if unicode.IsControl(c) {
			return bad("control characters are not allowed")
		}
	}
	if strings.ContainsAny(p, `\#;?`) {
		return bad(`'\', '#', ';' and '?' are not allowed`)
	}
	if again, err := url.PathUnescape(p); err == nil && again != p {
		return bad("the path is percent-encoded more than once")
	}
	if strings.HasPrefix(p, "/") {
		return bad("the path must be relative")
	}
	if i := strings.IndexByte(p, ':'); i >= 0 && !strings.Contains(p[:i], "/") {
		return bad("the path must be relative (no scheme or drive)")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return bad("empty, '.' and '..' segments are not allowed")
		}
	}
	return nil
}

// artifactQuery reads ?run= (or run_id, run_uuid) and ?path= and returns
// the run and the checked path.
func (h *Handler) artifactQuery(r *http.Request, allowEmpty bool) (*manifest.Run, string, error) {
	q := r.URL.Query()
	id := q.Get("run")
	if id == "" {
		id = q.Get("run_id")
	}
	if id == "" {
		id = q.Get("run_uuid")
	}
	if id == "" {
		return nil, "", invalid("missing parameter run (the run id)")
	}
	p := q.Get("path")
	if err := checkArtifactPath(p, allowEmpty); err != nil {
		return nil, "", err
	}
	run, err := h.r.GetRun(id)
	if err != nil {
		return nil, "", err
	}
	return run, p, nil
}

// artifactAPIError answers a UI endpoint's error as MLflow's JSON error.
func (h *Handler) artifactAPIError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, "INTERNAL_ERROR"
	switch {
	case errors.Is(err, repo.ErrNotFound):
		status, code = http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST"
	case errors.Is(err, repo.ErrInvalid):
		status, code = http.StatusBadRequest, "INVALID_PARAMETER_VALUE"
	default:
		h.log.Error("ui api", "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error_code": code, "message": err.Error()})
}

// serveArtifactFiles lists a run's artifact files for the browser:
// {"files": [{"p": path, "s": size, "d": digest}, ...]}, sorted by path.
func (h *Handler) serveArtifactFiles(w http.ResponseWriter, r *http.Request) {
	run, _, err := h.artifactQuery(r, true)
	if err != nil {
		h.artifactAPIError(w, r, err)
		return
	}
	files := make([]runArtifactEntry, len(run.Artifacts))
	for i, a := range run.Artifacts {
		files[i] = runArtifactEntry{a.Path, a.Size, a.Digest}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"files": files})
}

// serveArtifactZip streams a folder of a run's artifacts (the whole run
// for an empty path) as a zip. Each file is copied from the blob store as
// it is written; nothing is held whole in memory. Entries are named
// relative to the folder's parent, so the zip unpacks into one folder.
func (h *Handler) serveArtifactZip(w http.ResponseWriter, r *http.Request) {
	run, dir, err := h.artifactQuery(r, true)
	if err != nil {
		h.artifactAPIError(w, r, err)
		return
	}
	if h.cfg.OpenBlob == nil {
		h.artifactAPIError(w, r, invalid("this server has no blob store to read artifacts from"))
		return
	}
	prefix, strip := "", ""
	if dir != "" {
		prefix = dir + "/"
		if i := strings.LastIndexByte(dir, '/'); i >= 0 {
			strip = dir[:i+1]
		}
	}
	var files []manifest.Artifact
	for _, a := range run.Artifacts {
		if strings.HasPrefix(a.Path, prefix) {
			files = append(files, a)
		}
	}
	if len(files) == 0 {
		h.artifactAPIError(w, r, notFound("run %s has no artifact folder %q", run.ID, dir))
		return
	}
	name := run.ID[:8]
	if dir != "" {
		name = path.Base(dir)
	} else if run.Name != "" {
		name = run.Name + "-artifacts"
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/zip")
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".zip"}))
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	zw := zip.NewWriter(w)
	mod := time.UnixMilli(run.StartTime)
	if run.EndTime > 0 {
		mod = time.UnixMilli(run.EndTime)
	}
	for _, a := range files {
		fh := &zip.FileHeader{Name: strings.TrimPrefix(a.Path, strip), Method: zipMethod(a.Path), Modified: mod}
		mode := fs.FileMode(0o644)
		if v, err := strconv.ParseUint(a.Mode, 8, 32); err == nil {
			mode = fs.FileMode(v)
		}
		fh.SetMode(mode)
		fh.UncompressedSize64 = uint64(a.Size)
		fw, err := zw.CreateHeader(fh)
		if err != nil {
			h.abortZip(a, err)
		}
		rc, _, err := h.cfg.OpenBlob(r.Context(), a.Digest)
		if err != nil {
			h.abortZip(a, err)
		}
		n, err := io.Copy(fw, rc)
		rc.Close()
		if err == nil && n != a.Size {
			err = fmt.Errorf("read %d bytes, the index says %d", n, a.Size)
		}
		if err != nil {
			h.abortZip(a, err)
		}
	}
	if err := zw.Close(); err != nil {
		h.abortZip(manifest.Artifact{}, err)
	}
}

// abortZip ends a zip download whose status is already sent: the
// connection is cut, so the client sees a broken file, not a wrong one.
func (h *Handler) abortZip(a manifest.Artifact, err error) {
	h.log.Error("artifact zip failed", "file", a.Path, "digest", a.Digest, "err", err)
	panic(http.ErrAbortHandler)
}

// zipMethod stores files that are compressed already and deflates the
// rest.
func zipMethod(p string) uint16 {
	switch strings.ToLower(path.Ext(p)) {
	case ".png", ".jpg", ".jpeg", ".gif", ".webp", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst",
		".7z", ".npz", ".pt", ".pth", ".safetensors", ".parquet", ".mp4", ".mp3", ".ogg", ".whl", ".jar":
		return zip.Store
	}
	return zip.Deflate
}

// serveMLmodel decodes a run's MLmodel file (YAML) and answers it as JSON,
// for the preview's table.
func (h *Handler) serveMLmodel(w http.ResponseWriter, r *http.Request) {
	run, p, err := h.artifactQuery(r, false)
	if err != nil {
		h.artifactAPIError(w, r, err)
		return
	}
	var art *manifest.Artifact
	for i := range run.Artifacts {
		if run.Artifacts[i].Path == p {
			art = &run.Artifacts[i]
		}
	}
	switch {
	case art == nil:
		err = notFound("run %s has no artifact file %q", run.ID, p)
	case art.Size > maxMLmodelSize:
		err = invalid("%s is %s; MLmodel files over %s are not decoded", p, humanBytes(art.Size), humanBytes(maxMLmodelSize))
	case h.cfg.OpenBlob == nil:
		err = invalid("this server has no blob store to read artifacts from")
	}
	if err != nil {
		h.artifactAPIError(w, r, err)
		return
	}
	rc, _, err := h.cfg.OpenBlob(r.Context(), art.Digest)
	if err != nil {
		h.artifactAPIError(w, r, err)
		return
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxMLmodelSize+1))
	rc.Close()
	if err != nil {
		h.artifactAPIError(w, r, err)
		return
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		h.artifactAPIError(w, r, invalid("%s is not valid YAML: %v", p, err))
		return
	}
	doc = artifactJSONable(doc)
	if _, ok := doc.(map[string]any); !ok {
		h.artifactAPIError(w, r, invalid("%s is not a YAML mapping", p))
		return
	}
	b, err := json.Marshal(doc)
	if err != nil {
		h.artifactAPIError(w, r, invalid("%s: %v", p, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// artifactJSONable turns decoded YAML into values encoding/json accepts (maps
// with non-string keys, times, non-finite floats).
func artifactJSONable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = artifactJSONable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[artifactKeyString(k)] = artifactJSONable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = artifactJSONable(e)
		}
		return x
	case float64:
		if x != x || x > 1e308 || x < -1e308 {
			return formatNum(x)
		}
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func artifactKeyString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(artifactJSONable(v))
	if err != nil {
		return "?"
	}
	return string(b)
}
