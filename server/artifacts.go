package server

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// Uploads run at most this many at once; each holds about
// (2*uploadParallel+6) * blob.MaxChunkSize bytes of buffers.
const (
	maxConcurrentUploads = 4
	uploadParallel       = 4
)

var schemeOrDrive = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*:`)

// checkPath checks an artifact path that has been percent-decoded once
// (from a URL path or a query parameter) and returns it. It refuses
// anything that could name a file outside the artifact tree, in whatever
// spelling: a further level of percent-encoding (%252e%252e), "." or ".."
// segments, empty segments, absolute paths (/x, //proc/..., C:\, file:,
// any scheme), backslashes, NUL and other control characters, and the URL
// delimiters '#', ';' and '?' (CVE-2024-3848, CVE-2024-1593). allowEmpty
// accepts "" (the root of a listing).
func checkPath(p string, allowEmpty bool) (string, error) {
	if p == "" {
		if allowEmpty {
			return "", nil
		}
		return "", invalidf("artifact path is empty")
	}
	bad := func(why string) (string, error) {
		return "", invalidf("Invalid path %q: %s", abbrevPath(p), why)
	}
	if !utf8.ValidString(p) {
		return bad("not valid UTF-8")
	}
	for _, c := range p {
		if unicode.IsControl(c) {
			return bad("control characters are not allowed")
		}
	}
	if again, err := url.PathUnescape(p); err == nil && again != p {
		return bad("the path is percent-encoded more than once")
	}
	if strings.ContainsAny(p, `\#;?`) {
		return bad(`'\', '#', ';' and '?' are not allowed`)
	}
	if strings.HasPrefix(p, "/") || schemeOrDrive.MatchString(p) {
		return bad("the path must be relative")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return bad("empty, '.' and '..' segments are not allowed")
		}
	}
	return p, nil
}

func abbrevPath(p string) string {
	if len(p) > 120 {
		return p[:120] + "..."
	}
	return p
}

// artifactTarget is a parsed proxy path: <exp>/<run>/artifacts[/<rel>]
// for a run, or <exp>/models/<model-id>/artifacts[/<rel>] for an MLflow 3
// logged model (model is set).
type artifactTarget struct {
	exp, run, model, rel string
}

// parseTarget maps a checked proxy path to a run's or logged model's
// artifact. depth tells how far the path goes: 0 none, 1 <exp>, 2
// <exp>/<run> (or <exp>/models/<id>), 3 into the artifacts.
func parseTarget(p string) (t artifactTarget, depth int, err error) {
	if p == "" {
		return t, 0, nil
	}
	layout := func() (artifactTarget, int, error) {
		return t, 0, invalidf("Invalid path %q: artifact paths are <experiment_id>/<run_id>/artifacts/<path> or <experiment_id>/models/<model_id>/artifacts/<path>", abbrevPath(p))
	}
	segs := strings.SplitN(p, "/", 3)
	if !manifest.ValidExperimentID(segs[0]) {
		return layout()
	}
	t.exp = segs[0]
	if len(segs) == 1 {
		return t, 1, nil
	}
	rest := ""
	if len(segs) == 3 {
		rest = segs[2]
	}
	if segs[1] == "models" {
		id, after, _ := strings.Cut(rest, "/")
		if !manifest.ValidLoggedModelID(id) {
			return layout()
		}
		t.model = id
		rest = after
	} else {
		if !manifest.ValidRunID(segs[1]) {
			return layout()
		}
		t.run = segs[1]
	}
	if rest == "" {
		return t, 2, nil
	}
	top, rel, _ := strings.Cut(rest, "/")
	if top != "artifacts" {
		return layout()
	}
	t.rel = rel
	return t, 3, nil
}

// serveArtifacts serves /api/2.0/mlflow-artifacts/artifacts[/<path>].
func (s *Server) serveArtifacts(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.EscapedPath()
	rest := strings.TrimPrefix(strings.TrimPrefix(raw, artifactsPrefix), ajaxArtifacts)
	if rest == "" || rest == "/" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.writeError(w, r, errorf(codeEndpointNotFound, "endpoint %s does not accept %s", r.URL.Path, r.Method))
			return
		}
		resp, err := s.listProxy(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, resp)
		return
	}
	dec, err := url.PathUnescape(rest[1:])
	if err != nil {
		s.writeError(w, r, invalidf("Invalid path: %v", err))
		return
	}
	p, err := checkPath(dec, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if isRegistryPath(p) {
		s.serveRegistryArtifact(w, r, p)
		return
	}
	t, depth, err := parseTarget(p)
	if err == nil && (depth < 3 || t.rel == "") {
		err = invalidf("Invalid path %q: name a file below <experiment_id>/<run_id>/artifacts/", abbrevPath(p))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.downloadArtifact(w, r, t)
		return
	case http.MethodPut, http.MethodDelete:
		if s.cfg.ReadOnly {
			s.writeError(w, r, errorf(codePermissionDenied, "the server is read-only (started with --read-only); writes are refused"))
			return
		}
		if r.Method == http.MethodPut {
			err = s.uploadArtifact(r, t)
		} else {
			err = s.deleteArtifact(t)
		}
	default:
		err = errorf(codeEndpointNotFound, "endpoint %s does not accept %s", r.URL.Path, r.Method)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, nil)
}

// artifactsOf returns the artifact index of the run or logged model a
// target names, checking that it belongs to the experiment of the path and
// (for writes) that it is active.
func (s *Server) artifactsOf(t artifactTarget, write bool) ([]manifest.Artifact, error) {
	if t.model != "" {
		m, err := s.r.GetLoggedModel(t.model)
		if err != nil {
			return nil, err
		}
		if m.ExperimentID != t.exp {
			return nil, errorf(codeDoesNotExist, "logged model %s is not in experiment %s", t.model, t.exp)
		}
		if write && m.LifecycleStage != manifest.LifecycleActive {
			return nil, invalidf("logged model %s is deleted", t.model)
		}
		return m.Artifacts, nil
	}
	d, err := s.r.GetRun(t.run)
	if err != nil {
		return nil, err
	}
	if d.ExperimentID != t.exp {
		return nil, errorf(codeDoesNotExist, "run %s is not in experiment %s", t.run, t.exp)
	}
	if write && d.LifecycleStage != manifest.LifecycleActive {
		return nil, invalidf("The run %s must be in 'active' lifecycle_stage.", t.run)
	}
	return d.Artifacts, nil
}

// recordArtifact adds (or replaces) one file in the target's index.
func (s *Server) recordArtifact(t artifactTarget, a manifest.Artifact) error {
	if t.model != "" {
		_, err := s.r.UpdateLoggedModel(t.model, "artifact "+a.Path+" added", func(m *manifest.LoggedModel) error {
			m.Artifacts = manifest.SortArtifacts(append(m.Artifacts, a))
			return nil
		})
		return err
	}
	_, err := s.r.LogBatch(t.run, repo.Batch{Artifacts: []manifest.Artifact{a}})
	return err
}

// uploadArtifact streams the request body into the blob store and records
// it in the run's artifact index. The body is never held in memory whole.
func (s *Server) uploadArtifact(r *http.Request, t artifactTarget) error {
	if _, err := s.artifactsOf(t, true); err != nil {
		return err
	}
	return s.storeArtifact(r.Context(), t, http.MaxBytesReader(nil, r.Body, s.cfg.MaxArtifactSize))
}

// storeArtifact streams body into the blob store and records it at t. A
// plain PUT and a completed multipart upload both end here, so the same
// bytes are recorded the same way whichever way they came.
func (s *Server) storeArtifact(ctx context.Context, t artifactTarget, body io.Reader) error {
	select {
	case s.uploadSlots <- struct{}{}:
		defer func() { <-s.uploadSlots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	lock, err := s.r.LockBlobCache(false, time.Minute)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	res, err := blob.AddReader(ctx, s.blobs, body, blob.AddOptions{Parallel: uploadParallel})
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		if ctx.Err() != nil {
			return invalidf("the upload was interrupted: %v", ctx.Err())
		}
		return err
	}
	return s.recordArtifact(t, manifest.Artifact{Path: t.rel, Digest: res.Digest.String(), Size: res.Size, Mode: "0644"})
}

func (s *Server) deleteArtifact(t artifactTarget) error {
	if _, err := s.artifactsOf(t, true); err != nil {
		return err
	}
	n := 0
	var err error
	if t.model != "" {
		_, err = s.r.UpdateLoggedModel(t.model, "artifacts deleted under "+t.rel, func(m *manifest.LoggedModel) error {
			n = 0
			kept := m.Artifacts[:0:0]
			for _, a := range m.Artifacts {
				if a.Path == t.rel || strings.HasPrefix(a.Path, t.rel+"/") {
					n++
					continue
				}
				kept = append(kept, a)
			}
			if n == 0 {
				return errorf(codeDoesNotExist, "logged model %s has no artifact %q", t.model, t.rel)
			}
			m.Artifacts = kept
			if len(kept) == 0 {
				m.Artifacts = nil
			}
			return nil
		})
		return err
	}
	n, err = s.r.DeleteRunArtifacts(t.run, t.rel)
	if err != nil {
		return err
	}
	if n == 0 {
		return errorf(codeDoesNotExist, "run %s has no artifact %q", t.run, t.rel)
	}
	return nil
}

// contentType guesses a download's type from its name; types a browser
// would render as active content are sent as application/octet-stream.
func contentType(name string) string {
	ct := mime.TypeByExtension(path.Ext(name))
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case ct == "", strings.Contains(mt, "html"), strings.Contains(mt, "xml"), strings.Contains(mt, "javascript"):
		return "application/octet-stream"
	}
	return ct
}

func (s *Server) openBlob(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	dg, err := blob.ParseDigest(digest)
	if err != nil {
		return nil, 0, err
	}
	rc, n, err := blob.Open(ctx, s.blobs, dg)
	if errors.Is(err, blob.ErrNotFound) && s.cfg.Remote != nil {
		rc, n, err = blob.Open(ctx, s.cfg.Remote, dg)
	}
	return rc, n, err
}

func (s *Server) downloadArtifact(w http.ResponseWriter, r *http.Request, t artifactTarget) {
	arts, err := s.artifactsOf(t, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var art *manifest.Artifact
	for i := range arts {
		if arts[i].Path == t.rel {
			art = &arts[i]
			break
		}
	}
	if art == nil {
		s.writeError(w, r, errorf(codeDoesNotExist, "no artifact file %q at %s", t.rel, abbrevPath(t.exp+"/"+t.run+t.model)))
		return
	}
	s.sendBlob(w, r, *art, t.rel)
}

// sendBlob streams one stored file as a download.
func (s *Server) sendBlob(w http.ResponseWriter, r *http.Request, art manifest.Artifact, name string) {
	rc, size, err := s.openBlob(r.Context(), art.Digest)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", contentType(name))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(name)}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, rc); err != nil {
		// The status is sent; cut the connection so the client sees a
		// short body instead of wrong bytes.
		s.log.Error("artifact download failed", "file", name, "digest", art.Digest, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// listEntries lists the direct children of dir ("" for the root) in a
// run's artifact index. full selects run-relative paths (the tracking API)
// over base names (the proxy).
func listEntries(arts []manifest.Artifact, dir string, full bool) []fileInfoJSON {
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	seen := map[string]bool{}
	var out []fileInfoJSON
	for _, a := range arts {
		if !strings.HasPrefix(a.Path, prefix) {
			continue
		}
		rest := a.Path[len(prefix):]
		name, _, isDir := strings.Cut(rest, "/")
		if seen[name] {
			continue
		}
		seen[name] = true
		p := name
		if full {
			p = prefix + name
		}
		fi := fileInfoJSON{Path: p, IsDir: isDir}
		if !isDir {
			fi.FileSize = &a.Size
		}
		out = append(out, fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

type filesResp struct {
	RootURI       string         `json:"root_uri,omitempty"`
	Files         []fileInfoJSON `json:"files,omitempty"`
	NextPageToken string         `json:"next_page_token,omitempty"`
}

// listProxy serves GET /mlflow-artifacts/artifacts?path=<dir>.
func (s *Server) listProxy(r *http.Request) (any, error) {
	p, err := checkPath(strings.TrimSuffix(r.URL.Query().Get("path"), "/"), true)
	if err != nil {
		return nil, err
	}
	if isRegistryPath(p) {
		return s.listRegistry(p)
	}
	t, depth, err := parseTarget(p)
	if err != nil {
		return nil, err
	}
	switch depth {
	case 0, 1:
		// Above a run: not listed (it would enumerate every run).
		return filesResp{}, nil
	case 2:
		if _, err := s.artifactsOf(t, false); err != nil {
			return nil, err
		}
		return filesResp{Files: []fileInfoJSON{{Path: "artifacts", IsDir: true}}}, nil
	}
	arts, err := s.artifactsOf(t, false)
	if err != nil {
		return nil, err
	}
	return filesResp{Files: listEntries(arts, t.rel, false)}, nil
}

type listRunArtifactsReq struct {
	runIDReq
	Path      string `json:"path"`
	PageToken string `json:"page_token"`
}

// listRunArtifacts serves GET /mlflow/artifacts/list?run_id=&path=.
func (s *Server) listRunArtifacts(ctx context.Context, req *listRunArtifactsReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	p, err := checkPath(strings.TrimSuffix(req.Path, "/"), true)
	if err != nil {
		return nil, err
	}
	d, err := s.r.GetRun(id)
	if err != nil {
		return nil, err
	}
	return filesResp{RootURI: d.ArtifactURI, Files: listEntries(d.Artifacts, p, true)}, nil
}

// serveGetArtifact answers MLflow's two file downloads outside the API
// prefix (what the UI and older clients use): /get-artifact?run_uuid=&path=
// for a run's file, /model-versions/get-artifact?name=&version=&path= for a
// model version's. Paths are checked as the proxy's are; the bytes come
// from the blob store, verified, with the same headers.
func (s *Server) serveGetArtifact(w http.ResponseWriter, r *http.Request, ofRun bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, errorf(codeEndpointNotFound, "endpoint %s does not accept %s", r.URL.Path, r.Method))
		return
	}
	q := r.URL.Query()
	p, err := checkPath(q.Get("path"), false)
	if err == nil && p == "" {
		err = missing("path")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ofRun {
		id := q.Get("run_id")
		if id == "" {
			id = q.Get("run_uuid")
		}
		if id == "" {
			s.writeError(w, r, missing("run_id"))
			return
		}
		run, err := s.r.GetRun(id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.downloadArtifact(w, r, artifactTarget{exp: run.ExperimentID, run: run.ID, rel: p})
		return
	}
	req := versionReq{nameReq: nameReq{Name: q.Get("name")}, Version: q.Get("version")}
	name, n, err := req.parse()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.r.GetVersion(name, n)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, a := range v.Artifacts {
		if a.Path == p {
			s.sendBlob(w, r, a, p)
			return
		}
	}
	s.writeError(w, r, errorf(codeDoesNotExist, "model %q version %d has no file %q", name, n, abbrevPath(p)))
}
