package ui_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/repo"
	"github.com/mlgit/mlgit/server"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"
)

func request(t *testing.T, method, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestUIAuthPromptsBasic: with --auth-file every page and asset needs
// credentials, and the browser is asked for them with a Basic prompt.
func TestUIAuthPromptsBasic(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	a, err := server.ParseAuth(strings.NewReader("user alice " + string(bc) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *server.Config) { c.Auth = a })
	for _, p := range []string{"/", "/models", "/static/app.js"} {
		resp, _ := request(t, "GET", e.URL+p, "")
		if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("GET %s without credentials: %d %q", p, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	req, _ := http.NewRequest("GET", e.URL+"/", nil)
	req.SetBasicAuth("alice", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET / as alice: %d", resp.StatusCode)
	}
	req.SetBasicAuth("alice", "wrong")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("GET / with a wrong password: %d", resp.StatusCode)
	}
}

// TestUIHostAndOriginChecks: the UI is behind the same DNS-rebinding and
// cross-site checks as the API: a foreign Host gets nothing, and a write
// the page would make is refused from another origin.
func TestUIHostAndOriginChecks(t *testing.T) {
	e := newEnv(t)
	resp, body := request(t, "GET", e.URL+"/", "", "Host", "evil.example")
	if resp.StatusCode != 403 || strings.Contains(body, "<html") {
		t.Errorf("page for Host evil.example: %d %.80s", resp.StatusCode, body)
	}
	resp, _ = request(t, "POST", e.URL+"/ajax-api/2.0/mlflow/experiments/create", `{"name":"x"}`,
		"Content-Type", "application/json", "Origin", "http://evil.example")
	if resp.StatusCode != 403 {
		t.Errorf("cross-origin write: %d", resp.StatusCode)
	}
	resp, _ = request(t, "POST", e.URL+"/ajax-api/2.0/mlflow/experiments/create", `{"name":"x"}`,
		"Content-Type", "text/plain", "Origin", e.URL)
	if resp.StatusCode != 400 {
		t.Errorf("write as text/plain (a form post): %d", resp.StatusCode)
	}
	if _, err := e.R.GetExperimentByName("x"); err == nil {
		t.Error("a refused write created the experiment")
	}
	// Pages are GET only: a POST to a page is not served by the UI.
	resp, _ = request(t, "POST", e.URL+"/experiments", `{}`, "Content-Type", "application/json", "Origin", e.URL)
	if resp.StatusCode == 200 {
		t.Errorf("POST /experiments: %d", resp.StatusCode)
	}
}

// TestUIHeadersAndEscaping: every page has the CSP (no inline script or
// style anywhere in its HTML), nosniff and no framing, and user strings
// are escaped by the templates.
func TestUIHeadersAndEscaping(t *testing.T) {
	e := newEnv(t)
	evil := `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	exp, err := e.R.CreateExperiment("x"+evil, "", map[string]string{"note" + "": evil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.R.CreateRun(repo.RunSpec{ExperimentID: exp.ID, Name: evil, Params: map[string]string{"p": evil}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/experiments/" + exp.ID, "/experiments/" + exp.ID + "?col=params.p", "/no-such-model-page/x"} {
		resp, body := request(t, "GET", e.URL+p, "")
		if strings.HasPrefix(p, "/no-such") {
			continue
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", p, resp.StatusCode)
		}
		h := resp.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") || strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") {
			t.Errorf("GET %s: CSP %q", p, h.Get("Content-Security-Policy"))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v", p, h)
		}
		checkMarkup(t, p, body)
	}
}

// checkMarkup parses a page as the browser would and fails on anything a
// user string could have smuggled in: an <img>, an on* handler, a script
// with a body, a style element or attribute.
func checkMarkup(t *testing.T, page, body string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(body))
	inScript := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return
		case html.TextToken:
			if inScript && strings.TrimSpace(string(z.Text())) != "" {
				t.Errorf("%s: inline script %q", page, z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			inScript = tag == "script"
			if tag == "img" || tag == "style" || tag == "iframe" || tag == "object" {
				t.Errorf("%s: <%s> in the page", page, tag)
			}
			for hasAttr {
				var k []byte
				k, _, hasAttr = z.TagAttr()
				if a := string(k); strings.HasPrefix(a, "on") || a == "style" {
					t.Errorf("%s: attribute %s on <%s>", page, a, tag)
				}
			}
		case html.EndTagToken:
			inScript = false
		}
	}
}
