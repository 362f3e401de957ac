package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// registerFromFiles registers a version of name from files, as `mlgit
// model register --from DIR` does: blobs in the local cache, no run.
func registerFromFiles(t *testing.T, e *testEnv, name string, files map[string][]byte) int64 {
	t.Helper()
	st, err := blob.NewLocal(e.r.BlobCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	var arts []manifest.Artifact
	for p, b := range files {
		d, n, err := blob.Add(context.Background(), st, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		arts = append(arts, manifest.Artifact{Path: p, Digest: d.String(), Size: n, Mode: "0644"})
	}
	res, err := e.r.RegisterVersion(repo.VersionSpec{Name: name, Source: "file:///models/x", CreateModel: true, Artifacts: manifest.SortArtifacts(arts)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Version.Version
}

// artifactsClient downloads an mlflow-artifacts: URI the way MLflow's
// MlflowArtifactsRepository/HttpArtifactRepository does: the URI's path
// below /api/2.0/mlflow-artifacts/artifacts, a listing per directory
// (?path=<root>/<dir>, base names back), one GET per file.
type artifactsClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (c *artifactsClient) get(u string) (int, []byte) {
	c.t.Helper()
	res, err := c.hc.Get(u)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// download returns every file below uri, by path relative to it.
func (c *artifactsClient) download(uri string) map[string][]byte {
	c.t.Helper()
	root, ok := strings.CutPrefix(uri, "mlflow-artifacts:/")
	if !ok {
		c.t.Fatalf("not an mlflow-artifacts URI: %s", uri)
	}
	out := map[string][]byte{}
	var walk func(dir string)
	walk = func(dir string) {
		p := root
		if dir != "" {
			p += "/" + dir
		}
		st, body := c.get(c.base + proxy + "?" + url.Values{"path": {p}}.Encode())
		if st != 200 {
			c.t.Fatalf("list %s: %d %s", p, st, body)
		}
		var v struct {
			Files []struct {
				Path     string `json:"path"`
				IsDir    bool   `json:"is_dir"`
				FileSize *int64 `json:"file_size"`
			} `json:"files"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			c.t.Fatal(err)
		}
		for _, f := range v.Files {
			if strings.Contains(f.Path, "/") {
				c.t.Fatalf("listing of %s returned %q, not a base name", p, f.Path)
			}
			rel := f.Path
			if dir != "" {
				rel = dir + "/" + f.Path
			}
			if f.IsDir {
				walk(rel)
				continue
			}
			var esc []string
			for _, seg := range strings.Split(root+"/"+rel, "/") {
				esc = append(esc, url.PathEscape(seg))
			}
			st, b := c.get(c.base + proxy + "/" + strings.Join(esc, "/"))
			if st != 200 {
				c.t.Fatalf("GET %s: %d %s", rel, st, b)
			}
			if f.FileSize == nil || *f.FileSize != int64(len(b)) {
				c.t.Fatalf("%s: listed size %v, downloaded %d bytes", rel, f.FileSize, len(b))
			}
			out[rel] = b
		}
	}
	walk("")
	return out
}

// TestRegistryFilesDownloadFlow: a version registered from files gets an
// mlflow-artifacts: URI from get-download-uri, and the stock client's flow
// (list recursively, GET each file) returns exactly the registered files,
// whatever characters the model's name has.
func TestRegistryFilesDownloadFlow(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewServer(e.s)
	defer ts.Close()
	c := &artifactsClient{t: t, base: ts.URL, hc: ts.Client()}
	files := map[string][]byte{
		"MLmodel":               []byte("flavors:\n  python_function: {}\n"),
		"model.pkl":             bytes.Repeat([]byte{0, 1, 2, 3}, 300000),
		"code/train script.py":  []byte("print('hi')\n"),
		"data/deep/weights.bin": []byte("W"),
		"code/empty.txt":        {},
	}
	for _, tc := range []struct{ name, segment string }{
		{"churn", "churn"},
		{"team/churn v2", "team~2Fchurn~20v2"},
		{"100% ünï@#~.lock", "100~25~20~C3~BCn~C3~AF~40~23~7E~2Elock"},
		{"..", "~2E~2E"},
	} {
		registerFromFiles(t, e, tc.name, map[string][]byte{"other": []byte("v1")})
		n := registerFromFiles(t, e, tc.name, files)
		if n != 2 {
			t.Fatalf("%s: version %d", tc.name, n)
		}
		uri := "mlflow-artifacts:/_registry/" + tc.segment + "/2"
		r := e.api("GET", "/model-versions/get-download-uri?"+url.Values{"name": {tc.name}, "version": {"2"}}.Encode(), "")
		wantJSON(t, r.body, `{"artifact_uri":`+mustJSON(uri)+`}`)
		got := c.download(uri)
		if len(got) != len(files) {
			t.Fatalf("%s: downloaded %d files, want %d", tc.name, len(got), len(files))
		}
		for p, b := range files {
			if !bytes.Equal(got[p], b) {
				t.Fatalf("%s: %s differs (%d bytes, want %d)", tc.name, p, len(got[p]), len(b))
			}
		}
		if got := c.download("mlflow-artifacts:/_registry/" + tc.segment + "/1"); len(got) != 1 || string(got["other"]) != "v1" {
			t.Fatalf("%s v1: %v", tc.name, got)
		}
	}

	// The listings themselves, exactly.
	wantJSON(t, e.do("GET", proxy+"?path=_registry/churn/2", "").body, `{"files":[{"path":"MLmodel","is_dir":false,"file_size":31},
		{"path":"code","is_dir":true},{"path":"data","is_dir":true},{"path":"model.pkl","is_dir":false,"file_size":1200000}]}`)
	wantJSON(t, e.do("GET", proxy+"?path=_registry/churn/2/data/", "").body, `{"files":[{"path":"deep","is_dir":true}]}`)
	wantJSON(t, e.do("GET", proxy+"?path=_registry/churn", "").body, `{"files":[{"path":"1","is_dir":true},{"path":"2","is_dir":true}]}`)
	wantJSON(t, e.do("GET", proxy+"?path=_registry", "").body, `{}`)
	wantJSON(t, e.do("GET", proxy+"?path=_registry/churn/2/nope", "").body, `{}`)
	r := e.do("GET", proxy+"/_registry/churn/2/code/train%20script.py", "")
	if r.status != 200 || r.body != "print('hi')\n" || r.header.Get("Content-Disposition") != `attachment; filename="train script.py"` || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: %d %q %v", r.status, r.body, r.header)
	}
	if r := e.do("HEAD", proxy+"/_registry/churn/2/model.pkl", ""); r.status != 200 || r.header.Get("Content-Length") != "1200000" {
		t.Fatalf("HEAD: %d %v", r.status, r.header)
	}
	// Also under the ajax mirror.
	if r := e.do("GET", "/ajax-api/2.0/mlflow-artifacts/artifacts/_registry/churn/2/MLmodel", ""); r.status != 200 || r.body != string(files["MLmodel"]) {
		t.Fatalf("ajax download: %d %s", r.status, r.body)
	}
}

// TestRegistryFilesErrors: unknown names and versions, bad spellings,
// deleted versions, and writes, which are refused.
func TestRegistryFilesErrors(t *testing.T) {
	e := newEnv(t)
	registerFromFiles(t, e, "churn", map[string][]byte{"m/a.bin": []byte("A")})
	registerFromFiles(t, e, "churn", map[string][]byte{"m/a.bin": []byte("B")})

	for _, p := range []string{"_registry/nope/1/m/a.bin", "_registry/churn/9/m/a.bin", "_registry/churn/1/m/missing", "_registry/churn/1/m"} {
		wantError(t, e.do("GET", proxy+"/"+p, ""), 404, "RESOURCE_DOES_NOT_EXIST")
	}
	for _, p := range []string{"_registry/nope/1", "_registry/churn/9", "_registry/nope"} {
		wantError(t, e.do("GET", proxy+"?path="+p, ""), 404, "RESOURCE_DOES_NOT_EXIST")
	}
	for _, p := range []string{"_registry/churn/0/m/a.bin", "_registry/churn/01/m/a.bin", "_registry/churn/v1/m/a.bin", "_registry/churn/-1/m/a.bin",
		"_registry/ch~75rn/1/m/a.bin", "_registry/~63hurn/1/m/a.bin", "_registry/a~2fb/1/x", "_registry/a~/1/x", "_registry/a~4/1/x", "_registry/a~zz/1/x",
		"_registry/a%25b/1/x", "_registry/churn/1", "_registry/churn", "_registry"} {
		wantError(t, e.do("GET", proxy+"/"+p, ""), 400, "INVALID_PARAMETER_VALUE")
	}
	for _, p := range []string{"_registry/churn/0", "_registry/~63hurn/1", "_registry/a~2fb"} {
		wantError(t, e.do("GET", proxy+"?path="+p, ""), 400, "INVALID_PARAMETER_VALUE")
	}

	// Writes: PUT, DELETE and a multipart create are refused, even with a
	// valid file path, and change nothing.
	for _, p := range []string{"_registry/churn/1/m/a.bin", "_registry/churn/1/new.bin", "_registry/churn/1", "_registry/nope/1/x"} {
		wantError(t, e.do("PUT", proxy+"/"+p, "X", "Content-Type", "application/octet-stream"), 403, "PERMISSION_DENIED")
		wantError(t, e.do("DELETE", proxy+"/"+p, ""), 403, "PERMISSION_DENIED")
	}
	r := e.do("POST", mpu+"/create/_registry/churn/1/m", `{"path":"a.bin","num_parts":1}`)
	wantError(t, r, 403, "PERMISSION_DENIED")
	if !strings.Contains(r.body, "read-only") {
		t.Fatalf("message: %s", r.body)
	}
	wantError(t, e.do("POST", proxy+"/_registry/churn/1/m/a.bin", "X"), 404, "ENDPOINT_NOT_FOUND")
	if r := e.do("GET", proxy+"/_registry/churn/1/m/a.bin", ""); r.status != 200 || r.body != "A" {
		t.Fatalf("after refused writes: %d %q", r.status, r.body)
	}

	// A deleted version is gone from the proxy too.
	if err := e.r.DeleteVersion("churn", 1); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.do("GET", proxy+"/_registry/churn/1/m/a.bin", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantJSON(t, e.do("GET", proxy+"?path=_registry/churn", "").body, `{"files":[{"path":"2","is_dir":true}]}`)
	wantError(t, e.api("GET", "/model-versions/get-download-uri?name=churn&version=1", ""), 404, "RESOURCE_DOES_NOT_EXIST")

	// A version registered from a run keeps the run's URI; its own files
	// are readable under _registry too.
	id := modelRun(t, e)
	e.ok("POST", "/model-versions/create", `{"name":"churn","source":"runs:/`+id+`/model","run_id":"`+id+`"}`)
	wantJSON(t, e.api("GET", "/model-versions/get-download-uri?name=churn&version=3", "").body, `{"artifact_uri":"mlflow-artifacts:/0/`+id+`/artifacts/model"}`)
	if r := e.do("GET", proxy+"/_registry/churn/3/model.pkl", ""); r.status != 200 || r.body != "PKL" {
		t.Fatalf("run version under _registry: %d %q", r.status, r.body)
	}
}

// TestRegistrySegmentRoundTrip: every model name maps to one path segment
// of unreserved characters that the proxy's path rules accept, and back.
func TestRegistrySegmentRoundTrip(t *testing.T) {
	seg := regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	names := []string{"churn", "Churn", "a b", "a/b", "../x", ".", "..", "...", ".hidden", "x.", "x.lock", "x..y", "100%", "%41", "~", "~41",
		"a@b#c", "日本語モデル", "emoji 🚀", "tab\u00a0nbsp", "-", "_", "a\\b", "a?b", "a;b", "a:b", "C:", "http://x", strings.Repeat("n", 200)}
	seen := map[string]string{}
	for _, n := range names {
		s := registrySegment(n)
		if !seg.MatchString(s) || s == "." || s == ".." {
			t.Errorf("%q -> %q: not one unreserved segment", n, s)
		}
		if _, err := checkPath("_registry/"+s+"/1", false); err != nil {
			t.Errorf("%q -> %q: refused by the path rules: %v", n, s, err)
		}
		if url.PathEscape(s) != s {
			t.Errorf("%q -> %q: changed by URL escaping", n, s)
		}
		back, err := registryModelName(s)
		if err != nil || back != n {
			t.Errorf("%q -> %q -> %q, %v", n, s, back, err)
		}
		if prev, ok := seen[s]; ok {
			t.Errorf("%q and %q share %q", prev, n, s)
		}
		seen[s] = n
	}
	var bad []string
	for _, s := range []string{"", "~61", "~2f", "a%41", "a~", "a~4", "a~GG", "a b", "a/b", "x.lock", "~2E.", "~FF"} {
		if _, err := registryModelName(s); err == nil {
			bad = append(bad, s)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("non-canonical segments accepted: %q", bad)
	}
}

// TestRegistryTraversalRefused runs the proxy's traversal spellings below
// _registry/ for downloads, writes and listings.
func TestRegistryTraversalRefused(t *testing.T) {
	e := newEnv(t)
	registerFromFiles(t, e, "churn", map[string][]byte{"ok.txt": []byte("ok")})
	secret := filepath.Join(e.dir, "secret.txt")
	os.WriteFile(secret, []byte("SECRET"), 0o600)
	vectors := traversal("/_registry/churn/1")
	vectors = append(vectors, "/_registry/churn/1/"+strings.Repeat("../", 20)+strings.TrimPrefix(secret, "/"), "/_registry/..%2f..%2f/1/x", "/_registry/churn/..")
	for _, v := range vectors {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			r := e.raw(m, proxy+v, map[string]string{"PUT": "pwned"}[m])
			if r.status == 200 || r.status >= 500 || strings.Contains(r.body, "SECRET") || strings.Contains(r.body, "root:") {
				t.Errorf("%s %s: %d %s", m, v, r.status, r.body)
			}
			if r.status != 400 && r.status != 403 && r.status != 404 {
				t.Errorf("%s %s: status %d, want 400, 403 or 404: %s", m, v, r.status, r.body)
			}
		}
		target := proxy + "?path=" + url.QueryEscape(strings.TrimPrefix(v, "/"))
		r := e.raw("GET", target, "")
		if (r.status == 200 && r.body != "{}") || r.status >= 500 || strings.Contains(r.body, "SECRET") {
			t.Errorf("GET %s: %d %s", target, r.status, r.body)
		}
	}
	v, err := e.r.GetVersion("churn", 1)
	if err != nil || len(v.Artifacts) != 1 || v.Artifacts[0].Path != "ok.txt" {
		t.Fatalf("version changed: %+v %v", v, err)
	}
}
