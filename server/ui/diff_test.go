package ui_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestDiffInBrowser: /diff compares two runs and two model versions as
// mlgit diff does, with the changed params and metrics highlighted; the
// version page links to the diff with the previous version.
func TestDiffInBrowser(t *testing.T) {
	e := newEnv(t)
	rr := seedRegistry(t, e.R, "churn")
	tb := newBrowser(t).tab()

	// Two runs, by id prefix as the CLI takes them.
	tb.visit(e.URL+"/diff?a="+rr.base[:8]+"&b="+rr.cand, "#diff-metrics")
	if got := tb.text(`#diff-metrics tr.changed[data-key="acc"]`); !strings.Contains(got, "0.8") || !strings.Contains(got, "0.9") || !strings.Contains(got, "+0.1") || !strings.Contains(got, "+12.50%") {
		t.Errorf("acc row %q", got)
	}
	if got := tb.text(`#diff-params tr.changed[data-key="lr"]`); !strings.Contains(got, "0.1") || !strings.Contains(got, "0.05") {
		t.Errorf("lr row %q", got)
	}
	if n := tb.count(`#diff-params tr.changed[data-key="layers"]`); n != 0 {
		t.Error("an unchanged param is highlighted")
	}
	if n := tb.count(`#diff-params tr[data-key="layers"]`); n != 1 {
		t.Error("unchanged params are not listed")
	}
	tb.noConsoleErrors()

	// Only the differences.
	tb.visit(e.URL+"/diff?changed=1&a="+rr.base+"&b="+rr.cand, "#diff-params")
	if n := tb.count(`#diff-params tr[data-key="layers"]`); n != 0 {
		t.Error("changed=1 lists unchanged params")
	}

	// Two versions, from the version page's link.
	tb.visit(e.URL+"/models/churn/versions/2", "#diff-prev")
	tb.visit(e.URL+eval[string](tb, `document.getElementById('diff-prev').getAttribute('href')`), "#diff-overview")
	if got := eval[string](tb, `document.querySelector('input[name=a]').value + ' ' + document.querySelector('input[name=b]').value`); got != "churn@v1 churn@v2" {
		t.Fatalf("diff form %q", got)
	}
	if got := tb.text(`#diff-metrics tr.changed[data-key="acc"]`); !strings.Contains(got, "0.9") {
		t.Errorf("versions acc row %q", got)
	}
	if n := tb.count(`#diff-files tr.changed`); n == 0 {
		t.Error("changed files are not highlighted")
	}
	if got := tb.text("#diff-overview"); !strings.Contains(got, rr.base[:10]) || !strings.Contains(got, rr.cand[:10]) {
		t.Errorf("overview without the two runs: %q", got)
	}
	tb.noConsoleErrors()
	tb.screenshot("diff")

	// The empty form, and errors.
	tb.visit(e.URL+"/diff", "#diff-form")
	tb.noConsoleErrors()
	for q, want := range map[string]int{
		"a=churn@v1&b=" + rr.cand:                              400,
		"a=churn@v9&b=churn@v1":                                404,
		"a=nope@v1&b=churn@v1":                                 404,
		"a=ffff0000&b=eeee0000":                                404,
		"a=" + url.QueryEscape("--output=/tmp/x") + "&b=mlgit": 404,
	} {
		if code, _, body := e.get("/diff?" + q); code != want {
			t.Errorf("/diff?%s: %d, want %d: %.200s", q, code, want, body)
		}
	}
	// Two revisions of the tracking branch.
	if body := mustGet(t, e, "/diff?a=mlgit~3&b=mlgit"); !strings.Contains(body, "Versions added") && !strings.Contains(body, "Versions changed") && !strings.Contains(body, "Runs") {
		t.Errorf("revision diff: %.500s", body)
	}
}
