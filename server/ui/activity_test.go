package ui_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/repo"
)

// TestActivityInBrowser: the activity page lists the tracking branch's
// commits as mlgit log does (repo.History), each anchored c-<commit> and
// linked to the runs, experiments and versions it changed.
func TestActivityInBrowser(t *testing.T) {
	e := newEnv(t)
	rr := seedRegistry(t, e.R, "churn")
	if _, err := e.R.Promote(repo.PromoteSpec{Name: "churn", Version: 2, Stage: "Production", Reason: "better"}); err != nil {
		t.Fatal(err)
	}
	evs, err := e.R.History(0)
	if err != nil {
		t.Fatal(err)
	}
	tb := newBrowser(t).tab()
	tb.visit(e.URL+"/activity", "#activity")
	if n := tb.count("#activity tbody tr"); n != len(evs) {
		t.Fatalf("%d rows, history has %d commits", n, len(evs))
	}
	for i, ev := range evs {
		sel := fmt.Sprintf("#c-%s .subject", ev.Commit)
		if got := tb.text(sel); !strings.HasPrefix(got, ev.Subject) {
			t.Errorf("entry %d: %q, want subject %q", i, got, ev.Subject)
		}
	}
	// The promotion links to the version; the registration to the run.
	if href := eval[string](tb, fmt.Sprintf(`document.querySelector('#c-%s a.link-version').getAttribute('href')`, evs[0].Commit)); href != "/models/churn/versions/2" {
		t.Errorf("promotion links to %q", href)
	}
	if n := tb.count(fmt.Sprintf(`a.link-run[href="/runs/%s"]`, rr.cand)); n == 0 {
		t.Errorf("no link to run %s", rr.cand)
	}
	tb.noConsoleErrors()
	tb.screenshot("activity")

	// A link from the version page's history lands on the entry.
	tb.visit(e.URL+"/models/churn/versions/2", "#history")
	href := eval[string](tb, `[...document.querySelectorAll('#history a')].map(a => a.getAttribute('href')).filter(h => h.startsWith('/activity#c-')).pop() || ''`)
	if href != "/activity#c-"+evs[0].Commit {
		t.Fatalf("history links to %q, want the promotion %s", href, evs[0].Commit)
	}
	tb.visit(e.URL+href, "#c-"+evs[0].Commit)
	tb.noConsoleErrors()

	// Paging: the commits older than the newest one.
	code, _, body := e.get("/activity?before=" + evs[0].Commit)
	if code != 200 || strings.Contains(body, `id="c-`+evs[0].Commit+`"`) || !strings.Contains(body, `id="c-`+evs[1].Commit+`"`) {
		t.Fatalf("before=: %d", code)
	}
	for _, bad := range []string{"xyz", strings.Repeat("0", 40)} {
		if code, _, _ := e.get("/activity?before=" + url.QueryEscape(bad)); code != 400 && code != 404 {
			t.Errorf("before=%s: %d", bad, code)
		}
	}
}

// TestActivityPaging: 100 commits per page, the "Older" link reads the
// next page, and the pages hold the whole history once.
func TestActivityPaging(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 120; i++ {
		if _, err := e.R.CreateExperiment(fmt.Sprintf("exp-%03d", i), "", nil); err != nil {
			t.Fatal(err)
		}
	}
	all, err := e.R.History(0)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	path := "/activity"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		code, _, body := e.get(path)
		if code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		n := strings.Count(body, `<tr id="c-`)
		if n > 100 {
			t.Fatalf("%d entries on one page", n)
		}
		seen += n
		path = ""
		if i := strings.Index(body, `id="older" href="`); i >= 0 {
			rest := body[i+len(`id="older" href="`):]
			path = strings.ReplaceAll(rest[:strings.IndexByte(rest, '"')], "&amp;", "&")
		}
	}
	if seen != len(all) {
		t.Fatalf("pages held %d entries, history has %d", seen, len(all))
	}
	if !strings.Contains(mustGet(t, e, "/activity"), `href="/experiments/`) {
		t.Error("experiment commits are not linked")
	}
}

func mustGet(t *testing.T, e *env, path string) string {
	t.Helper()
	code, _, body := e.get(path)
	if code != 200 {
		t.Fatalf("GET %s: %d", path, code)
	}
	return body
}
