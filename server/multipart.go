package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Multipart upload through the artifact proxy (mlflow_artifacts.proto's
// CreateMultipartUpload, CompleteMultipartUpload and AbortMultipartUpload),
// the way MLflow's HttpArtifactRepository drives it:
//
//  1. POST mpu/create/<dir> {"path": <local file>, "num_parts": N}: the
//     destination is <dir>/<base name of path>; the answer is an upload_id
//     and one credential {url, part_number} per part.
//  2. PUT each part's bytes to its url, with the credential's headers and
//     no MLflow credentials (the client treats the urls like S3 presigned
//     ones); the part's ETag comes back in the ETag header.
//  3. POST mpu/complete/<dir> {"path", "upload_id", "parts": [{part_number,
//     etag}]} (or mpu/abort/<dir> {"path", "upload_id"} on failure).
//
// Part urls point back at this server: /api/2.0/mlflow-artifacts/mpu/part/
// <upload_id>/<part_number>. The upload id is 128 random bits and is the
// capability for its part PUTs; create, complete and abort are API writes
// like any other (authentication, --read-only, JSON content type, Host and
// Origin checks). Part PUTs still honour --read-only, the Host allow-list,
// the Origin check and the size bounds.
//
// Parts are streamed to disk under <git-dir>/mlgit/mpu/<sha256(upload_id)>/
// (local state: like everything under <git-dir>/mlgit/, never committed nor
// shared with clones), one file per part named
// <n>-<sha256 hex>-<size> (the hex is the part's ETag; with the size in the
// name, a listing without a stat per file sums what is staged), beside
// upload.json (destination, number of
// parts, creation time). The directory is named by a hash of the id, so a
// listing of the staging area reveals no capability. Complete claims the
// directory by renaming it, checks the listed parts, and streams their
// concatenation (re-verifying each part's hash) into storeArtifact, the
// function a plain PUT ends in; complete and abort then remove the staging.
// All state is on disk, so an upload survives a server restart and any
// server process on the repository can serve any of its requests.

const (
	mpuPrefix          = "/api/2.0/mlflow-artifacts/mpu/"
	ajaxMPUPrefix      = "/ajax-api/2.0/mlflow-artifacts/mpu/"
	mpuPartPrefix      = mpuPrefix + "part/"
	serverInfoPath     = "/api/3.0/mlflow/server-info"
	ajaxServerInfoPath = "/ajax-api/3.0/mlflow/server-info"

	// maxUploadParts is S3's (and MLflow's) limit on the parts of one upload.
	maxUploadParts = 10000
	// maxPartSize is S3's limit on one part.
	maxPartSize = 5 << 30
	// uploadTTL bounds an upload's life, from create to the end of
	// complete: older staging is removed when another upload is created.
	uploadTTL = 24 * time.Hour
	// maxOpenUploads bounds the uploads staged at once; beyond it create
	// answers "not supported", and the client falls back to a plain PUT.
	maxOpenUploads = 256

	uploadMeta        = "upload.json"
	stagingTempPrefix = ".tmp-"
	claimedPrefix     = "claimed-"
	partCopyBuffer    = 256 << 10
)

// unsupportedMultipart starts the message MLflow's client recognises as
// "fall back to a single PUT" (_UnsupportedMultipartUploadException).
const unsupportedMultipart = "Multipart upload is not supported for the current artifact repository"

var uploadIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

// uploadState is upload.json.
type uploadState struct {
	// Path is the destination, a checked proxy path
	// (<exp>/<run>/artifacts/<rel> or a logged model's).
	Path     string `json:"path"`
	NumParts int    `json:"num_parts"`
	// Created is when create ran, in Unix milliseconds (wall clock).
	Created int64 `json:"created_ms"`
}

func (u *uploadState) expired(now time.Time) bool {
	return now.Sub(time.UnixMilli(u.Created)) > uploadTTL
}

func (s *Server) stagingRoot() string { return filepath.Join(s.r.StateDir(), "mpu") }

// stagingKey names an upload's staging directory: a hash of the id, so
// that the name on disk is not the capability.
func stagingKey(id string) string {
	h := sha256.Sum256([]byte("mlgit-mpu\x00" + id))
	return hex.EncodeToString(h[:])
}

func errNoUpload() error {
	return errorf(codeDoesNotExist, "no multipart upload with this upload_id: it was completed, aborted, expired (%d hours after its creation) or never created", int(uploadTTL.Hours()))
}

func errReadOnly() error {
	return errorf(codePermissionDenied, "the server is read-only (started with --read-only); writes are refused")
}

// serveMultipart serves POST mpu/{create,complete,abort}/<dir>.
func (s *Server) serveMultipart(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.EscapedPath()
	rest := strings.TrimPrefix(strings.TrimPrefix(raw, mpuPrefix), ajaxMPUPrefix)
	op, dirRaw, ok := strings.Cut(rest, "/")
	if !ok || (op != "create" && op != "complete" && op != "abort") || r.Method != http.MethodPost {
		s.writeError(w, r, errorf(codeEndpointNotFound, "no endpoint %s %s", r.Method, r.URL.Path))
		return
	}
	if s.cfg.ReadOnly {
		s.writeError(w, r, errReadOnly())
		return
	}
	if err := checkJSONContentType(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(DefaultJSONReadTimeout))
	var req struct {
		Path     string `json:"path"`
		NumParts Int64  `json:"num_parts"`
		UploadID string `json:"upload_id"`
		Parts    []struct {
			PartNumber Int64  `json:"part_number"`
			ETag       string `json:"etag"`
		} `json:"parts"`
	}
	err := decode(r, s.cfg.MaxJSONBody, &req)
	// The body is read: a complete may take long, and an expired read
	// deadline would cancel the request's context.
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var resp any
	dest, err := s.uploadDestination(dirRaw, req.Path)
	if err == nil {
		switch op {
		case "create":
			resp, err = s.createUpload(r, dest, req.NumParts)
		case "complete":
			parts := make([]completedPart, len(req.Parts))
			for i, p := range req.Parts {
				if !p.PartNumber.Set {
					err = missing(fmt.Sprintf("parts[%d].part_number", i))
					break
				}
				parts[i] = completedPart{p.PartNumber.V, p.ETag}
			}
			if err == nil {
				err = s.completeUpload(r, dest, req.UploadID, parts)
			}
		case "abort":
			err = s.abortUpload(dest, req.UploadID)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, resp)
}

// uploadDestination maps the URL's directory and the body's path (the
// client's local file name, of which only the base name counts, as in
// MLflow's artifact repositories) to the checked proxy path the file will
// have. It refuses the paths the artifact routes refuse, and files of
// registered model versions.
func (s *Server) uploadDestination(dirRaw, local string) (string, error) {
	if local == "" {
		return "", missing("path")
	}
	dirDec, err := url.PathUnescape(dirRaw)
	if err != nil {
		return "", invalidf("Invalid path: %v", err)
	}
	dir, err := checkPath(dirDec, false)
	if err != nil {
		return "", err
	}
	if isRegistryPath(dir) {
		return "", errRegistryReadOnly(dir)
	}
	// A Windows client sends C:\dir\file: its base name is what follows
	// the last separator of either kind.
	base := local[strings.LastIndexAny(local, `/\`)+1:]
	if base == "" || base == "." || base == ".." {
		return "", invalidf("Invalid path %q: it must name a file (its base name is the artifact's name)", abbrevPath(local))
	}
	dest, err := checkPath(dir+"/"+base, false)
	if err != nil {
		return "", err
	}
	t, depth, err := parseTarget(dest)
	if err == nil && (depth < 3 || t.rel == "") {
		err = invalidf("Invalid path %q: multipart uploads go below <experiment_id>/<run_id>/artifacts/", abbrevPath(dir))
	}
	if err != nil {
		return "", err
	}
	return dest, nil
}

type credentialJSON struct {
	URL        string `json:"url"`
	PartNumber int64  `json:"part_number"`
}

type createUploadResp struct {
	UploadID    string           `json:"upload_id"`
	Credentials []credentialJSON `json:"credentials"`
}

func (s *Server) createUpload(r *http.Request, dest string, numParts Int64) (any, error) {
	switch {
	case !numParts.Set:
		return nil, missing("num_parts")
	case numParts.V > maxUploadParts:
		return nil, invalidf("num_parts is %d; an upload has at most %d parts (raise MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE so that the file needs fewer)", numParts.V, maxUploadParts)
	case numParts.V < 1:
		return nil, invalidf("num_parts is %d; an upload has 1 to %d parts", numParts.V, maxUploadParts)
	}
	t, _, _ := parseTarget(dest)
	if _, err := s.artifactsOf(t, true); err != nil {
		return nil, err
	}
	root := s.stagingRoot()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create multipart staging: %w", err)
	}
	if open := s.cleanStaging(time.Now()); open >= maxOpenUploads {
		return nil, errorf(codeNotImplemented, "%s: %d multipart uploads are in progress; send the file with a single PUT", unsupportedMultipart, open)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(b[:])
	tmp, err := os.MkdirTemp(root, stagingTempPrefix)
	if err != nil {
		return nil, fmt.Errorf("create multipart staging: %w", err)
	}
	meta, _ := json.Marshal(uploadState{Path: dest, NumParts: int(numParts.V), Created: time.Now().UnixMilli()})
	err = os.WriteFile(filepath.Join(tmp, uploadMeta), meta, 0o600)
	if err == nil {
		err = os.Rename(tmp, filepath.Join(root, stagingKey(id)))
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("create multipart staging: %w", err)
	}
	base := partURLBase(r) + id + "/"
	creds := make([]credentialJSON, numParts.V)
	for i := range creds {
		n := int64(i + 1)
		creds[i] = credentialJSON{URL: base + strconv.FormatInt(n, 10), PartNumber: n}
	}
	return createUploadResp{UploadID: id, Credentials: creds}, nil
}

// partURLBase is <scheme>://<host>/api/2.0/mlflow-artifacts/mpu/part/ for
// the request: the Host it came to (already on the allow-list) and its
// scheme, or https when a TLS-terminating proxy says so.
func partURLBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + mpuPartPrefix
}

// cleanStaging removes staging older than uploadTTL (and leftovers of
// interrupted creates) and returns how many uploads remain.
func (s *Server) cleanStaging(now time.Time) int {
	root := s.stagingRoot()
	ents, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	open := 0
	for _, e := range ents {
		p := filepath.Join(root, e.Name())
		var created time.Time
		if st, err := readUploadState(p); err == nil {
			created = time.UnixMilli(st.Created)
		} else if fi, err := e.Info(); err == nil {
			created = fi.ModTime()
		}
		if now.Sub(created) > uploadTTL {
			if err := os.RemoveAll(p); err != nil {
				s.log.Warn("remove stale multipart upload", "dir", p, "err", err)
			}
			continue
		}
		open++
	}
	return open
}

func readUploadState(dir string) (*uploadState, error) {
	data, err := os.ReadFile(filepath.Join(dir, uploadMeta))
	if err != nil {
		return nil, err
	}
	var st uploadState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, uploadMeta), err)
	}
	return &st, nil
}

// openUpload reads the state of the upload id; an unknown, malformed or
// expired id is RESOURCE_DOES_NOT_EXIST.
func (s *Server) openUpload(id string) (dir string, st *uploadState, err error) {
	if !uploadIDRe.MatchString(id) {
		return "", nil, errNoUpload()
	}
	dir = filepath.Join(s.stagingRoot(), stagingKey(id))
	st, err = readUploadState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, errNoUpload()
	}
	if err != nil {
		return "", nil, err
	}
	if st.expired(time.Now()) {
		os.RemoveAll(dir)
		return "", nil, errNoUpload()
	}
	return dir, st, nil
}

// claimUpload takes the upload's staging directory away from every other
// request (a rename), so that one complete or abort acts on it. restore
// gives it back.
func (s *Server) claimUpload(id, dest string) (claimed string, st *uploadState, restore func(), err error) {
	if id == "" {
		return "", nil, nil, missing("upload_id")
	}
	dir, st, err := s.openUpload(id)
	if err != nil {
		return "", nil, nil, err
	}
	var b [8]byte
	rand.Read(b[:])
	claimed = filepath.Join(s.stagingRoot(), claimedPrefix+hex.EncodeToString(b[:]))
	if err := os.Rename(dir, claimed); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, nil, errNoUpload()
		}
		return "", nil, nil, err
	}
	restore = func() {
		if err := os.Rename(claimed, dir); err != nil {
			s.log.Warn("restore multipart upload", "err", err)
		}
	}
	if st.Path != dest {
		restore()
		return "", nil, nil, invalidf("upload_id belongs to an upload to %q, not %q", abbrevPath(st.Path), abbrevPath(dest))
	}
	return claimed, st, restore, nil
}

type completedPart struct {
	number int64
	etag   string
}

// stagedPart is one part file in a staging directory.
type stagedPart struct {
	number int64
	etag   string
	size   int64
	file   string
}

// stagedParts lists the part files of a staging directory by number. A
// number has several files only while PUTs of that part overlap.
func stagedParts(dir string) (map[int64][]stagedPart, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[int64][]stagedPart{}
	for _, e := range ents {
		f := strings.Split(e.Name(), "-")
		if len(f) != 3 || len(f[1]) != 64 {
			continue // upload.json, .tmp-part-*
		}
		n, err1 := strconv.ParseInt(f[0], 10, 64)
		size, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out[n] = append(out[n], stagedPart{number: n, etag: f[1], size: size, file: e.Name()})
	}
	return out, nil
}

// normalizeETag accepts an ETag as sent back: quoted or not, any case.
func normalizeETag(e string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(e), `"`))
}

func (s *Server) completeUpload(r *http.Request, dest, id string, parts []completedPart) error {
	if len(parts) == 0 {
		return missing("parts")
	}
	t, _, _ := parseTarget(dest)
	if _, err := s.artifactsOf(t, true); err != nil {
		return err
	}
	dir, st, restore, err := s.claimUpload(id, dest)
	if err != nil {
		return err
	}
	staged, err := stagedParts(dir)
	if err != nil {
		restore()
		return err
	}
	var list []stagedPart
	var total int64
	for i, p := range parts {
		switch {
		case p.number < 1 || p.number > int64(st.NumParts):
			err = invalidf("parts[%d].part_number %d is out of range: the upload has parts 1 to %d", i, p.number, st.NumParts)
		case i > 0 && p.number <= parts[i-1].number:
			err = invalidf("parts must be listed in ascending part_number order without repeats (parts[%d].part_number %d after %d)", i, p.number, parts[i-1].number)
		}
		if err != nil {
			break
		}
		files := staged[p.number]
		if len(files) == 0 {
			err = invalidf("part %d was not uploaded", p.number)
			break
		}
		want := normalizeETag(p.etag)
		k := slices.IndexFunc(files, func(sp stagedPart) bool { return sp.etag == want })
		if k < 0 {
			err = invalidf("part %d: etag %q does not match the uploaded part's (\"%s\")", p.number, p.etag, files[len(files)-1].etag)
			break
		}
		total += files[k].size
		list = append(list, files[k])
	}
	if err == nil && total > s.cfg.MaxArtifactSize {
		err = invalidf("the parts add up to %d bytes; the limit for one artifact is %d", total, s.cfg.MaxArtifactSize)
	}
	if err != nil {
		restore()
		return err
	}
	pr := &partsReader{dir: dir, parts: list}
	err = s.storeArtifact(r.Context(), t, pr)
	pr.Close()
	if err != nil {
		// Leave the parts for an abort or another complete.
		restore()
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		s.log.Warn("remove completed multipart upload", "dir", dir, "err", err)
	}
	return nil
}

func (s *Server) abortUpload(dest, id string) error {
	dir, _, _, err := s.claimUpload(id, dest)
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// partsReader reads staged parts one after the other, opening one file at
// a time, and fails if a part's bytes no longer hash to its ETag.
type partsReader struct {
	dir   string
	parts []stagedPart
	i     int
	f     *os.File
	h     hash.Hash
	n     int64
}

func (pr *partsReader) Read(p []byte) (int, error) {
	for {
		if pr.f == nil {
			if pr.i == len(pr.parts) {
				return 0, io.EOF
			}
			f, err := os.Open(filepath.Join(pr.dir, pr.parts[pr.i].file))
			if err != nil {
				return 0, fmt.Errorf("read multipart part %d: %w", pr.parts[pr.i].number, err)
			}
			pr.f, pr.h, pr.n = f, sha256.New(), 0
		}
		n, err := pr.f.Read(p)
		pr.h.Write(p[:n])
		pr.n += int64(n)
		if err == io.EOF {
			sp := pr.parts[pr.i]
			pr.f.Close()
			pr.f = nil
			pr.i++
			if got := hex.EncodeToString(pr.h.Sum(nil)); got != sp.etag || pr.n != sp.size {
				return n, fmt.Errorf("staged multipart part %d changed on disk (sha256 %s, %d bytes; want %s, %d bytes)", sp.number, got, pr.n, sp.etag, sp.size)
			}
			err = nil
		}
		if err != nil {
			return n, fmt.Errorf("read multipart part %d: %w", pr.parts[pr.i].number, err)
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (pr *partsReader) Close() {
	if pr.f != nil {
		pr.f.Close()
		pr.f = nil
	}
}

// serveUploadPart serves PUT /api/2.0/mlflow-artifacts/mpu/part/<upload_id>/<n>.
// It runs before authentication (the upload id is the capability) but
// after the Host and Origin checks.
func (s *Server) serveUploadPart(w http.ResponseWriter, r *http.Request) {
	lr := redactedRequest(r)
	fail := func(err error) { s.writeError(w, lr, err) }
	if r.Method != http.MethodPut {
		fail(errorf(codeEndpointNotFound, "endpoint %s does not accept %s", logPath(r.URL.Path), r.Method))
		return
	}
	if s.cfg.ReadOnly {
		fail(errReadOnly())
		return
	}
	id, num, ok := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), mpuPartPrefix), "/")
	if !ok {
		fail(errorf(codeEndpointNotFound, "part urls are %s<upload_id>/<part_number>", mpuPartPrefix))
		return
	}
	dir, st, err := s.openUpload(id)
	if err != nil {
		fail(err)
		return
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != num || n < 1 || n > int64(st.NumParts) {
		fail(invalidf("part_number %q is not a part of this upload (1 to %d)", abbrevPath(num), st.NumParts))
		return
	}
	etag, err := s.writePart(r, dir, n)
	if err != nil {
		fail(err)
		return
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	s.writeJSON(w, http.StatusOK, nil)
}

// writePart streams the body of a part PUT to the staging directory and
// returns its ETag (the hex SHA-256 of its bytes). A part sent again
// replaces the earlier one.
func (s *Server) writePart(r *http.Request, dir string, n int64) (string, error) {
	staged, err := stagedParts(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", errNoUpload()
		}
		return "", err
	}
	var others int64
	for m, files := range staged {
		if m != n {
			others += files[len(files)-1].size
		}
	}
	limit := min(int64(maxPartSize), s.cfg.MaxArtifactSize-others)
	if limit < 0 {
		limit = 0
	}
	f, err := os.CreateTemp(dir, stagingTempPrefix+"part-")
	if errors.Is(err, fs.ErrNotExist) {
		return "", errNoUpload()
	}
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	h := sha256.New()
	body := &readErrReader{r: http.MaxBytesReader(nil, r.Body, limit)}
	size, err := io.CopyBuffer(io.MultiWriter(f, h), body, make([]byte, partCopyBuffer))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := body.err; rerr != nil {
		// The client's side: too many bytes, or it stopped sending.
		var mbe *http.MaxBytesError
		switch {
		case errors.As(rerr, &mbe) && limit < maxPartSize:
			return "", invalidf("the parts of this upload would exceed %d bytes, the limit for one artifact", s.cfg.MaxArtifactSize)
		case errors.As(rerr, &mbe):
			return "", invalidf("a part is limited to %d bytes", int64(maxPartSize))
		}
		return "", invalidf("the upload of part %d was interrupted: %v", n, rerr)
	}
	if err != nil {
		return "", fmt.Errorf("stage multipart part %d: %w", n, err)
	}
	etag := hex.EncodeToString(h.Sum(nil))
	name := fmt.Sprintf("%d-%s-%d", n, etag, size)
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", errNoUpload() // completed or aborted meanwhile
		}
		return "", err
	}
	// Replace what this part had when the PUT began (a PUT overlapping
	// this one keeps its file: complete takes the one whose ETag it names).
	for _, sp := range staged[n] {
		if sp.file != name {
			os.Remove(filepath.Join(dir, sp.file))
		}
	}
	return etag, nil
}

// readErrReader remembers the error of its reader other than io.EOF, so
// that a failed copy can tell the client's failures from the disk's.
type readErrReader struct {
	r   io.Reader
	err error
}

func (e *readErrReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// logPath is what logs show of a request path: part urls carry a
// capability, which logs must not.
func logPath(p string) string {
	if rest, ok := strings.CutPrefix(p, mpuPartPrefix); ok {
		_, num, _ := strings.Cut(rest, "/")
		return mpuPartPrefix + "<upload_id>/" + num
	}
	return p
}

// redactedRequest is r with its path redacted, for error logging.
func redactedRequest(r *http.Request) *http.Request {
	u := *r.URL
	u.Path, u.RawPath = logPath(r.URL.Path), ""
	lr := *r
	lr.URL = &u
	return &lr
}

type serverInfoResp struct {
	// StoreType is MLflow's FileStore/SqlStore, or null for any other
	// store (this one).
	StoreType                 *string `json:"store_type"`
	WorkspacesEnabled         bool    `json:"workspaces_enabled"`
	TraceArchivalEnabled      bool    `json:"trace_archival_enabled"`
	MultipartUploadsEnabled   bool    `json:"multipart_uploads_enabled"`
	MultipartDownloadsEnabled bool    `json:"multipart_downloads_enabled"`
}

// serveServerInfo serves GET /api/3.0/mlflow/server-info, which recent
// clients probe for workspaces and proxied multipart transfers.
// Multipart uploads are offered unless the server is read-only; multipart
// (presigned) downloads are not implemented.
func (s *Server) serveServerInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, errorf(codeEndpointNotFound, "endpoint %s does not accept %s", r.URL.Path, r.Method))
		return
	}
	s.writeJSON(w, http.StatusOK, serverInfoResp{MultipartUploadsEnabled: !s.cfg.ReadOnly})
}
