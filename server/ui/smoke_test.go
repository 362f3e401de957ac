package ui_test

import (
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
