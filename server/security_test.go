package server

import (
	"bufio"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// raw sends a request exactly as written on the wire (request line not
// normalized by any client), the way an attacker would.
func (e *testEnv) raw(method, target, body string) resp {
	e.t.Helper()
	wire := method + " " + target + " HTTP/1.1\r\nHost: localhost:5000\r\nContent-Type: application/json\r\n"
	if body != "" {
		wire += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	wire += "\r\n" + body
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(wire)))
	if err != nil {
		// The HTTP parser itself refused it: nothing reaches the store.
		return resp{status: http.StatusBadRequest, body: `{"error_code":"BAD_REQUEST","message":"unparsable"}`, header: http.Header{"Content-Type": {"application/json"}}}
	}
	req.RemoteAddr = "127.0.0.1:1"
	w := httptest.NewRecorder()
	e.s.ServeHTTP(w, req)
	return resp{w.Code, w.Body.String(), w.Header()}
}

// traversal returns path spellings that try to leave the artifact tree,
// relative to a run's artifact root prefix.
func traversal(prefix string) []string {
	return []string{
		prefix + "/../../../../etc/passwd",
		prefix + "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		prefix + "/%252e%252e/%252e%252e/etc/passwd",
		prefix + "/..%2f..%2f..%2fetc%2fpasswd",
		prefix + "/a%00b",
		prefix + "/a%00/../../x",
		prefix + `/\..\..\etc\passwd`,
		prefix + "/%5c..%5c..%5cetc",
		prefix + "/a%23frag/../../x",
		prefix + "/a#frag",
		prefix + "/a;param/../../x",
		prefix + "/a%3bparam",
		prefix + "/a%3fq=../..",
		prefix + "/./x",
		prefix + "/a//b",
		prefix + "/%2e/x",
		"/etc/passwd",
		"//etc/passwd",
		"/%2fetc/passwd",
		"//proc/self/root/etc/passwd",
		`/C:\Windows\win.ini`,
		"/C:%5cWindows",
		"/file:///etc/passwd",
		"/file:%2f%2f%2fetc%2fpasswd",
		"/dbfs:/x",
		"/http://169.254.169.254/latest/meta-data/",
		"/..",
		"/../..",
		"/%2e%2e",
		"/0/..",
	}
}

func TestArtifactTraversalRefused(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	// A real artifact, so that a successful escape would have something
	// to find next to it.
	if r := e.do("PUT", proxy+"/0/"+id+"/artifacts/ok.txt", "ok"); r.status != 200 {
		t.Fatal(r.body)
	}
	secret := filepath.Join(e.dir, "secret.txt")
	os.WriteFile(secret, []byte("SECRET"), 0o600)
	vectors := traversal("/0/" + id + "/artifacts")
	vectors = append(vectors, "/0/"+id+"/artifacts/"+strings.Repeat("../", 20)+strings.TrimPrefix(secret, "/"))
	for _, v := range vectors {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			r := e.raw(m, proxy+v, map[string]string{"PUT": "pwned"}[m])
			if testing.Verbose() {
				t.Logf("%s %s -> %d %.90s", m, v, r.status, r.body)
			}
			if r.status == 200 || r.status >= 500 || strings.Contains(r.body, "SECRET") || strings.Contains(r.body, "root:") {
				t.Errorf("%s %s: %d %s", m, v, r.status, r.body)
			}
			if r.status != 400 && r.status != 404 {
				t.Errorf("%s %s: status %d, want 400 or 404: %s", m, v, r.status, r.body)
			}
		}
		// The same spelling in the list and run-list path parameters.
		p := strings.TrimPrefix(v, "/")
		for _, target := range []string{
			proxy + "?path=" + url.QueryEscape(p),
			"/api/2.0/mlflow/artifacts/list?run_id=" + id + "&path=" + url.QueryEscape(strings.TrimPrefix(p, "0/"+id+"/artifacts/")),
		} {
			r := e.raw("GET", target, "")
			if r.status == 200 && r.body != "{}" && !strings.Contains(r.body, `"root_uri"`) {
				t.Errorf("GET %s: %d %s", target, r.status, r.body)
			}
			if r.status >= 500 || strings.Contains(r.body, "SECRET") || strings.Contains(r.body, "passwd\"") {
				t.Errorf("GET %s: %d %s", target, r.status, r.body)
			}
		}
	}
	d, _ := e.r.GetRun(id)
	if len(d.Artifacts) != 1 || d.Artifacts[0].Path != "ok.txt" {
		t.Fatalf("artifact index changed: %v", d.Artifacts)
	}
	// Every list path spelling with a traversal is refused outright.
	for _, p := range []string{"..", "../..", "0/" + id + "/artifacts/../..", "%2e%2e", "/etc", "C:\\x", "file:///etc/passwd", "//proc/self/root", "a\x00b", "0/" + id + "/artifacts/a#b"} {
		wantError(t, e.do("GET", proxy+"?path="+url.QueryEscape(p), ""), 400, "INVALID_PARAMETER_VALUE")
		wantError(t, e.api("GET", "/artifacts/list?run_id="+id+"&path="+url.QueryEscape(p), ""), 400, "INVALID_PARAMETER_VALUE")
	}
}

func TestArtifactLocationRefused(t *testing.T) {
	e := newEnv(t)
	for _, loc := range []string{"/etc", "file:///etc/passwd", "http:///#/../../../../etc/", "http://foo/bar?a=../..",
		"dbfs:/", "http://169.254.169.254/latest/meta-data/", "//proc/self/root", "s3://b/../x", "mlflow-artifacts:/../.."} {
		body := `{"name":"x","artifact_location":` + mustJSON(loc) + `}`
		wantError(t, e.api("POST", "/experiments/create", body), 400, "INVALID_PARAMETER_VALUE")
	}
}

func TestCSRFContentType(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		r := e.api("POST", "/experiments/create", `{"name":"csrf"}`, "Content-Type", ct)
		wantError(t, r, 400, "BAD_REQUEST")
	}
	if _, err := e.r.GetExperimentByName("csrf"); err == nil {
		t.Fatal("experiment created by a non-JSON POST")
	}
	if r := e.api("POST", "/experiments/create", `{"name":"ok"}`, "Content-Type", "application/json; charset=utf-8"); r.status != 200 {
		t.Fatalf("charset: %d %s", r.status, r.body)
	}
	// A browser page on another origin is refused even with a JSON type.
	wantError(t, e.api("POST", "/experiments/create", `{"name":"x1"}`, "Origin", "http://evil.example"), 403, "PERMISSION_DENIED")
	wantError(t, e.api("POST", "/experiments/create", `{"name":"x2"}`, "Sec-Fetch-Site", "cross-site"), 403, "PERMISSION_DENIED")
	if r := e.api("POST", "/experiments/create", `{"name":"x3"}`, "Origin", "http://localhost:5000"); r.status != 200 {
		t.Fatalf("same origin: %d %s", r.status, r.body)
	}
	// The artifact PUT carries file bytes of any type, but a cross-site
	// page cannot send it: PUT needs a CORS preflight the server never
	// grants, and Origin is checked.
	id := e.createRun("0")
	if r := e.do("PUT", proxy+"/0/"+id+"/artifacts/a.txt", "x", "Content-Type", "text/plain"); r.status != 200 {
		t.Fatalf("artifact PUT text/plain: %d %s", r.status, r.body)
	}
	wantError(t, e.do("PUT", proxy+"/0/"+id+"/artifacts/b.txt", "x", "Content-Type", "text/plain", "Origin", "http://evil.example"), 403, "PERMISSION_DENIED")
	if r := e.do("OPTIONS", proxy+"/0/"+id+"/artifacts/b.txt", ""); r.header.Get("Access-Control-Allow-Origin") != "" || r.status == 200 {
		t.Fatalf("preflight granted: %d %v", r.status, r.header)
	}
}

func TestHostAllowList(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{"localhost:5000", "127.0.0.1:5000", "[::1]:5000", "localhost", "LOCALHOST:80"} {
		if r := e.api("GET", "/experiments/get?experiment_id=0", "", "Host", h); r.status != 200 {
			t.Errorf("Host %s: %d %s", h, r.status, r.body)
		}
	}
	for _, h := range []string{"evil.example", "evil.example:5000", "127.0.0.1.evil.example", "localhost.evil.example:5000", ""} {
		wantError(t, e.api("GET", "/experiments/get?experiment_id=0", "", "Host", h), 403, "PERMISSION_DENIED")
	}
	e2 := newEnv(t, func(c *Config) { c.AllowedHosts = []string{"mlflow.internal", "10.0.0.5:5000"} })
	if r := e2.api("GET", "/experiments/get?experiment_id=0", "", "Host", "mlflow.internal:5000"); r.status != 200 {
		t.Fatalf("allowed host: %d", r.status)
	}
	if r := e2.api("GET", "/experiments/get?experiment_id=0", "", "Host", "10.0.0.5:5000"); r.status != 200 {
		t.Fatalf("allowed host:port: %d", r.status)
	}
	wantError(t, e2.api("GET", "/experiments/get?experiment_id=0", "", "Host", "10.0.0.5:6000"), 403, "PERMISSION_DENIED")
}

func TestReadOnly(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	e.s.cfg.ReadOnly = true
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/experiments/create", `{"name":"x"}`},
		{"POST", "/experiments/delete", `{"experiment_id":"0"}`},
		{"POST", "/runs/create", `{}`},
		{"POST", "/runs/log-metric", `{"run_id":"` + id + `","key":"a","value":1,"timestamp":1}`},
		{"POST", "/runs/log-batch", `{"run_id":"` + id + `"}`},
		{"POST", "/runs/update", `{"run_id":"` + id + `","status":"FINISHED"}`},
		{"POST", "/runs/delete", `{"run_id":"` + id + `"}`},
	} {
		wantError(t, e.api(c.method, c.path, c.body), 403, "PERMISSION_DENIED")
	}
	wantError(t, e.do("PUT", proxy+"/0/"+id+"/artifacts/a", "x"), 403, "PERMISSION_DENIED")
	wantError(t, e.do("DELETE", proxy+"/0/"+id+"/artifacts/a", ""), 403, "PERMISSION_DENIED")
	if r := e.api("GET", "/runs/get?run_id="+id, ""); r.status != 200 {
		t.Fatalf("read in read-only: %d", r.status)
	}
	if r := e.api("POST", "/runs/search", `{}`); r.status != 200 {
		t.Fatalf("search in read-only: %d", r.status)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxJSONBody = 64 })
	wantError(t, e.api("POST", "/experiments/create", `{"name":"`+strings.Repeat("a", 100)+`"}`), 400, "INVALID_PARAMETER_VALUE")
	if r := e.api("POST", "/experiments/create", `{"name":"short"}`); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestAuth(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := "# users and tokens\nuser alice " + string(bc) + "\ntoken ci " + HashSHA256([]byte("salt"), "tok-123") + "\n"
	a, err := ParseAuth(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.Auth = a })
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	get := "/experiments/get?experiment_id=0"
	wantError(t, e.api("GET", get, ""), 401, "UNAUTHENTICATED")
	if r := e.api("GET", get, ""); r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("no WWW-Authenticate")
	}
	wantError(t, e.api("GET", get, "", "Authorization", "Bearer wrong"), 401, "UNAUTHENTICATED")
	wantError(t, e.api("GET", get, "", "Authorization", basic("alice", "wrong")), 401, "UNAUTHENTICATED")
	wantError(t, e.api("GET", get, "", "Authorization", basic("bob", "s3cret")), 401, "UNAUTHENTICATED")
	wantError(t, e.do("GET", proxy+"?path=0", "", "Authorization", "Bearer wrong"), 401, "UNAUTHENTICATED")
	for _, h := range []string{"Bearer tok-123", basic("alice", "s3cret")} {
		for i := 0; i < 2; i++ { // second time from the cache
			if r := e.api("GET", get, "", "Authorization", h); r.status != 200 {
				t.Fatalf("%s: %d %s", h, r.status, r.body)
			}
		}
	}
	if r := e.do("GET", "/health", ""); r.status != 200 {
		t.Fatal("health needs auth")
	}
	for _, bad := range []string{"user alice plaintext\n", "user a:b " + string(bc) + "\n", "key x " + string(bc) + "\n", "", "token t sha256$zz$00\n"} {
		if _, err := ParseAuth(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseAuth(%q) accepted", bad)
		}
	}
}

func TestNeverFiveHundredOnBadInput(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	bodies := []string{``, `null`, `[]`, `"x"`, `{"run_id":5}`, `{"run_id":null}`, `{"run_id":"` + id + `","metrics":"x"}`,
		`{"run_id":"` + id + `","metrics":[null]}`, `{"run_id":"` + id + `","value":{}}`, `{"experiment_ids":"0"}`,
		`{"max_results":"abc"}`, `{"max_results":1e40}`, `{"run_view_type":7}`, `{"start_time":"x"}`, `{"tags":[{"key":1}]}`,
		`{"run_id":"` + id + `","key":"k","value":"1e999","timestamp":1}`, `{"name":"` + "\xff\xfe" + `"}`}
	for _, ep := range e.s.endpoints {
		path, m := ep.path, ep.method
		for _, b := range bodies {
			target := path
			if m == "GET" {
				target += "?run_id=" + url.QueryEscape(b) + "&max_results=" + url.QueryEscape(b) + "&run_ids=" + url.QueryEscape(b)
			}
			r := e.api(m, target, b)
			if r.status >= 500 {
				t.Errorf("%s %s %s: %d %s", m, path, b, r.status, r.body)
			}
		}
	}
}
