package ui_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestPagesServeWithCSP: every page answers with the policy and no inline
// script or style, and an unknown path still gets the API's JSON error.
func TestPagesServeWithCSP(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/", "/experiments", "/models", "/activity"} {
		code, h, body := e.get(p)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", p, code, body)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP %q", p, csp)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "style=") || strings.Contains(body, "<style") {
			t.Errorf("GET %s: inline script or style in the page", p)
		}
	}
	if code, _, body := e.get("/no/such/page"); code != 404 || !strings.Contains(body, "ENDPOINT_NOT_FOUND") {
		t.Errorf("unknown path: %d %s", code, body)
	}
}

func TestBrowserSmoke(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	tb := b.tab()
	tb.visit(e.URL+"/", "main")
	tb.noConsoleErrors()
	tb.screenshot("smoke")
	// Empty states say what to do next.
	tb.visit(e.URL+"/experiments/0", "p.empty")
	if got := tb.text("p.empty"); !strings.Contains(got, "mlgit run start") {
		t.Errorf("empty runs page: %q", got)
	}
	tb.screenshot("empty-runs")
	tb.visit(e.URL+"/models", "main")
	tb.visit(e.URL+"/activity", "main")
	tb.noConsoleErrors()
	tb.screenshot("empty-activity")
}

// TestModulesCachedForGood: a page's module scripts and the modules they
// import carry the asset tag, so every one is served immutable and a page
// load revalidates none; the runs page says what its search cost.
func TestModulesCachedForGood(t *testing.T) {
	e := newEnv(t)
	code, h, body := e.get("/experiments/0")
	if code != 200 {
		t.Fatalf("runs page: %d", code)
	}
	if st := h.Get("Server-Timing"); !strings.HasPrefix(st, "search;dur=") {
		t.Errorf("Server-Timing %q", st)
	}
	m := regexp.MustCompile(`<script type="module" src="(/static/runs\.js\?v=([0-9a-f]+))"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no versioned runs.js in the page")
	}
	tag := m[2]
	code, h, js := e.get(m[1])
	if code != 200 || !strings.Contains(h.Get("Cache-Control"), "immutable") {
		t.Fatalf("runs.js: %d %q", code, h.Get("Cache-Control"))
	}
	if !strings.Contains(js, "from './app.js?v="+tag+"'") {
		t.Errorf("runs.js imports app.js without the tag: %.300s", js)
	}
	if strings.Contains(js, "from './app.js'") {
		t.Error("an unversioned import is left")
	}
	// An imported module is served for good too; one without the tag is
	// revalidated.
	if _, h, _ := e.get("/static/app.js?v=" + tag); !strings.Contains(h.Get("Cache-Control"), "immutable") {
		t.Errorf("app.js?v=: %q", h.Get("Cache-Control"))
	}
	if _, h, _ := e.get("/static/app.js"); h.Get("Cache-Control") != "no-cache" {
		t.Errorf("app.js without a tag: %q", h.Get("Cache-Control"))
	}
}
