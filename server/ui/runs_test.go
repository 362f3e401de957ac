package ui_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/mlgit/mlgit/server"
)

const xssName = `<img src=x onerror=alert(1)>`

// seedRuns makes experiment "vision" with n runs: params lr (i/100) and
// model, metrics loss (n-i) and acc, run names run-000..; run 1 is named
// with HTML.
func seedRuns(t *testing.T, e *env, n int) (*manifest.Experiment, []*manifest.Run) {
	t.Helper()
	exp, err := e.R.CreateExperiment("vision", "", map[string]string{"team": "cv"})
	if err != nil {
		t.Fatal(err)
	}
	var runs []*manifest.Run
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("run-%03d", i)
		if i == 1 {
			name = xssName
		}
		model := "tree"
		if i%2 == 1 {
			model = "linear"
		}
		run, err := e.R.CreateRun(repo.RunSpec{ExperimentID: exp.ID, Name: name, User: "ana", StartTime: 1767323045000 + int64(i)*1000,
			Params: map[string]string{"lr": fmt.Sprintf("%.2f", float64(i)/100), "model": model},
			Source: &manifest.Source{Commit: "0123456789abcdef0123456789abcdef01234567", Branch: "main", Dirty: i == 0}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.R.LogBatch(run.ID, repo.Batch{Metrics: []manifest.MetricPoint{
			{Key: "loss", Value: float64(n - i), Timestamp: 1767323045000, Step: 0},
			{Key: "acc", Value: float64(i) / float64(n), Timestamp: 1767323045000, Step: 0},
		}}); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	return exp, runs
}

func TestExperimentsPage(t *testing.T) {
	e := newEnv(t)
	vision, _ := seedRuns(t, e, 3)
	if _, err := e.R.CreateExperiment(strings.Repeat("a-very-long-experiment-name-", 6)+xssName, "", nil); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	tb := b.tab()
	tb.visit(e.URL+"/", "#experiments")
	tb.noConsoleErrors()
	if got := tb.count("#experiments tbody tr"); got != 3 { // Default, vision, the long one
		t.Fatalf("experiments rows: %d", got)
	}
	// The vision row counts its runs; the HTML name is text.
	if got := tb.text(`#experiments tr[data-id="` + vision.ID + `"] td.num`); got != "3" {
		t.Errorf("runs of vision: %q", got)
	}
	if n := tb.count("#experiments img"); n != 0 {
		t.Errorf("an experiment name became an <img>")
	}
	tb.screenshot("experiments")

	// Search by name.
	tb.visit(e.URL+"/experiments?q=VIS", "#experiments")
	if got := tb.count("#experiments tbody tr"); got != 1 {
		t.Errorf("search vis: %d rows", got)
	}

	// Create through the form (the JSON API), then rename and delete.
	tb.visit(e.URL+"/", "#create-experiment")
	tb.run(chromedp.SendKeys(chromedp.CSS(`#create-experiment input[name=name]`), "speech"),
		chromedp.Click(chromedp.CSS(`#create-experiment button`)))
	tb.waitFor(`[...document.querySelectorAll('#experiments td a')].some(a => a.textContent === 'speech')`)
	exp, err := e.R.GetExperimentByName("speech")
	if err != nil {
		t.Fatalf("created experiment: %v", err)
	}
	tb.run(chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-id=%q] button.danger`, exp.ID))))
	tb.waitFor(fmt.Sprintf(`!document.querySelector('tr[data-id=%q]')`, exp.ID))
	if got, _ := e.R.GetExperiment(exp.ID); got == nil || got.LifecycleStage != "deleted" {
		t.Errorf("deleted from the page: %+v", got)
	}
	tb.visit(e.URL+"/experiments?view=deleted", "#experiments")
	tb.run(chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-id=%q] button[data-api="experiments/restore"]`, exp.ID))))
	tb.waitFor(fmt.Sprintf(`!document.querySelector('tr[data-id=%q]')`, exp.ID))
	if got, _ := e.R.GetExperiment(exp.ID); got.LifecycleStage != "active" {
		t.Errorf("restored from the page: %s", got.LifecycleStage)
	}
	// Runs of several experiments in one table.
	tb.visit(e.URL+"/", "#experiments")
	tb.run(chromedp.Click(chromedp.CSS(`tr[data-id="`+vision.ID+`"] input[name=experiments]`)),
		chromedp.Click(chromedp.CSS(`tr[data-id="0"] input[name=experiments]`)))
	tb.navigateBy(`document.getElementById('multi-btn').click()`, "#runs")
	if got := tb.count("#runs tbody tr"); got != 3 {
		t.Errorf("runs of two experiments: %d rows", got)
	}
	if got := tb.text("#runs tbody tr:first-child td:nth-child(2)"); got != "vision" {
		t.Errorf("experiment column: %q", got)
	}
	tb.noConsoleErrors()
}

func TestRunsPage(t *testing.T) {
	e := newEnv(t)
	exp, runs := seedRuns(t, e, 30)
	b := newBrowser(t)
	tb := b.tab()
	base := e.URL + "/experiments/" + exp.ID
	tb.visit(base, "#runs")
	tb.noConsoleErrors()
	if got := tb.count("#runs tbody tr"); got != 30 {
		t.Fatalf("rows: %d", got)
	}
	// Newest first by default; the HTML run name is text.
	if got := tb.text("#runs tbody tr:first-child td.run-name"); got != "run-029" {
		t.Errorf("first row %q", got)
	}
	if tb.count("#runs img") != 0 {
		t.Error("a run name became an <img>")
	}
	if got := eval[string](tb, `document.querySelector('#runs tr[data-run="`+runs[1].ID+`"] td.run-name').textContent`); got != xssName {
		t.Errorf("html run name shows as %q", got)
	}
	tb.screenshot("runs")

	// Filter on the server with MLflow's grammar.
	tb.run(chromedp.SetValue(chromedp.CSS(`#filter-form input[name=filter]`), "params.model = 'tree' and metrics.loss < 10"))
	inPlace(tb, `document.getElementById('filter-form').requestSubmit()`)
	// loss = 30-i < 10 → i > 20, even i: 22, 24, 26, 28.
	if got := tb.count("#runs tbody tr"); got != 4 {
		t.Errorf("filtered rows: %d", got)
	}
	if !strings.Contains(tb.text("#runs-range"), "of 4 runs") {
		t.Errorf("range: %q", tb.text("#runs-range"))
	}

	// A bad filter shows the error with its position.
	tb.visit(base+"?filter="+url.QueryEscape("metrics.loss >> 1"), ".filter-error")
	msg := tb.text(".filter-error")
	if !strings.Contains(msg, "^") || !strings.Contains(strings.ToLower(msg), "filter") {
		t.Errorf("filter error: %q", msg)
	}

	// Sort by a metric column: ascending loss puts run-029 first.
	tb.visit(base+"?order="+url.QueryEscape("metrics.loss ASC"), "#runs")
	if got := tb.text("#runs tbody tr:first-child td.run-name"); got != "run-029" {
		t.Errorf("loss ASC first row %q", got)
	}
	// Clicking the loss header sorts descending.
	inPlace(tb, `document.querySelector('th.grp-metrics a[href*="loss"]').click()`)
	if got := tb.text("#runs tbody tr:first-child td.run-name"); got != "run-000" {
		t.Errorf("loss DESC first row %q", got)
	}

	// Paging: 10 a page.
	tb.visit(base+"?n=10", "#runs")
	if got := tb.count("#runs tbody tr"); got != 10 {
		t.Errorf("page rows: %d", got)
	}
	inPlace(tb, `document.querySelector('a[rel=next]').click()`)
	if got := tb.text("#runs tbody tr:first-child td.run-name"); got != "run-019" {
		t.Errorf("second page first row %q", got)
	}

	// Columns are chosen in the URL.
	tb.visit(base+"?col=params.lr&col=metrics.loss:min", "#runs")
	heads := eval[[]string](tb, `[...document.querySelectorAll('#runs thead th')].map(th => th.textContent.trim())`)
	if !strings.Contains(strings.Join(heads, "|"), "lr|loss (min)") {
		t.Errorf("headers %q", heads)
	}

	// Select two runs and compare.
	tb.visit(base, "#runs")
	tb.run(chromedp.Click(chromedp.CSS(`tr[data-run="`+runs[3].ID+`"] input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`tr[data-run="`+runs[4].ID+`"] input[type=checkbox]`)))
	tb.navigateBy(`document.getElementById('compare-btn').click()`, "main")
	loc := eval[string](tb, `location.search`)
	if !strings.Contains(loc, runs[3].ID) || !strings.Contains(loc, runs[4].ID) {
		t.Errorf("compare URL %q", loc)
	}
	tb.noConsoleErrors()
}

// inPlace runs JavaScript that changes the runs table without a page load
// (a filter, a sort, the pager, history) and waits until the results are
// replaced; it fails the test if the page was loaded again instead.
func inPlace(tb *tab, js string) {
	tb.t.Helper()
	tb.run(chromedp.Evaluate[chromedp.Void](`window.__mlgitSame = true;
		document.getElementById('runs-results').dataset.old = '1';
		setTimeout(() => {` + js + `}, 0)`))
	tb.waitFor(`(() => { const r = document.getElementById('runs-results'); return r && !r.dataset.old; })()`)
	if !eval[bool](tb, `window.__mlgitSame === true`) {
		tb.t.Fatalf("%s loaded the page instead of replacing the table", js)
	}
}

// The filter, a sort, the pager and the column picker replace the table in
// place; the address bar follows, and back and forward show the earlier
// tables again.
func TestRunsPageInPlace(t *testing.T) {
	e := newEnv(t)
	exp, runs := seedRuns(t, e, 30)
	b := newBrowser(t)
	tb := b.tab()
	base := e.URL + "/experiments/" + exp.ID
	first := func() string { return tb.text("#runs tbody tr:first-child td.run-name") }
	search := func() url.Values {
		v, err := url.ParseQuery(strings.TrimPrefix(eval[string](tb, `location.search`), "?"))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tb.visit(base+"?n=10", "#runs")

	// Next page.
	inPlace(tb, `document.querySelector('a[rel=next]').click()`)
	if got := first(); got != "run-019" {
		t.Errorf("page 2 first row %q", got)
	}
	if q := search(); q.Get("offset") != "10" || q.Get("n") != "10" || q.Has("fragment") {
		t.Errorf("page 2 URL %v", q)
	}
	// A sort: the URL has the order, the offset is gone.
	inPlace(tb, `document.querySelector('th.grp-metrics a[href*="loss"]').click()`)
	if got := first(); got != "run-000" {
		t.Errorf("loss DESC first row %q", got)
	}
	if q := search(); q.Get("order") != "metrics.loss DESC" || q.Has("offset") {
		t.Errorf("sorted URL %v", q)
	}
	if got := tb.text("th.grp-metrics a.sort.on"); got != "loss" {
		t.Errorf("sorted header %q", got)
	}
	// A filter keeps the sort and the page size.
	tb.run(chromedp.SetValue(chromedp.CSS(`#filter-form input[name=filter]`), "params.model = 'tree' and metrics.loss < 10"))
	inPlace(tb, `document.getElementById('filter-form').requestSubmit()`)
	if got := tb.count("#runs tbody tr"); got != 4 {
		t.Errorf("filtered rows: %d", got)
	}
	if q := search(); q.Get("filter") != "params.model = 'tree' and metrics.loss < 10" || q.Get("order") != "metrics.loss DESC" || q.Get("n") != "10" {
		t.Errorf("filtered URL %v", q)
	}
	if got := first(); got != "run-022" {
		t.Errorf("filtered first row %q", got)
	}
	// A bad filter: the error and its caret, in place.
	tb.run(chromedp.SetValue(chromedp.CSS(`#filter-form input[name=filter]`), "metrics.loss >> 1"))
	inPlace(tb, `document.getElementById('filter-form').requestSubmit()`)
	if msg := tb.text(".filter-error"); !strings.Contains(msg, "^") {
		t.Errorf("filter error: %q", msg)
	}
	if tb.count("#runs") != 0 {
		t.Error("rows shown under a bad filter")
	}

	// Back: the filtered rows, the filter box as it was; back again: the
	// sorted table with an empty filter box; back again: page 2.
	inPlace(tb, `history.back()`)
	if got := tb.count("#runs tbody tr"); got != 4 {
		t.Errorf("back to the filter: %d rows", got)
	}
	inPlace(tb, `history.back()`)
	if got := first(); got != "run-000" {
		t.Errorf("back to the sort: first row %q", got)
	}
	if got := eval[string](tb, `document.querySelector('#filter-form input[name=filter]').value`); got != "" {
		t.Errorf("back to the sort: filter box %q", got)
	}
	inPlace(tb, `history.back()`)
	if got := first(); got != "run-019" {
		t.Errorf("back to page 2: first row %q", got)
	}
	if q := search(); q.Get("offset") != "10" {
		t.Errorf("back to page 2: URL %v", q)
	}
	inPlace(tb, `history.forward()`)
	if got := first(); got != "run-000" {
		t.Errorf("forward to the sort: first row %q", got)
	}

	// Columns chosen in the picker.
	tb.run(chromedp.Click(chromedp.CSS(`details.columns > summary`)))
	inPlace(tb, `(() => { const f = document.getElementById('col-picker');
		for (const c of f.querySelectorAll('input[type=checkbox]')) c.checked = c.value === 'params.lr' || c.value === 'metrics.loss:min';
		f.requestSubmit(); })()`)
	heads := eval[[]string](tb, `[...document.querySelectorAll('#runs thead th')].map(th => th.textContent.trim())`)
	if !strings.Contains(strings.Join(heads, "|"), "loss (min)|lr") {
		t.Errorf("headers %q", heads)
	}
	if q := search(); len(q["col"]) != 3 { // the empty one, then the two
		t.Errorf("columns URL %v", q)
	}
	if eval[bool](tb, `document.querySelector('details.columns').open`) {
		t.Error("the column picker stays open")
	}

	// Selection still works on the new rows, and the names stay text.
	inPlace(tb, `history.back()`)
	tb.run(chromedp.Click(chromedp.CSS(`tr[data-run="`+runs[3].ID+`"] input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`tr[data-run="`+runs[4].ID+`"] input[type=checkbox]`)))
	if got := tb.text("#selected-count"); got != "2 selected" {
		t.Errorf("selected: %q", got)
	}
	if eval[bool](tb, `document.getElementById('compare-btn').disabled`) {
		t.Error("compare disabled with two runs selected")
	}
	if tb.count("#runs img") != 0 {
		t.Error("a run name became an <img>")
	}
	tb.screenshot("runs-selected")
	tb.noConsoleErrors()

	// The fragment alone: no layout, and no link that keeps the flag.
	resp, err := http.Get(base + "?n=10&fragment=table")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(body), "<html") || !strings.Contains(string(body), `id="runs-results"`) || strings.Contains(string(body), "fragment") {
		t.Errorf("fragment: %d %.300s", resp.StatusCode, body)
	}
}

func TestReadOnlyExperimentsPage(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.ReadOnly = true })
	b := newBrowser(t)
	tb := b.tab()
	tb.visit(e.URL+"/", ".ro-notice")
	if tb.count("#create-experiment") != 0 {
		t.Error("read-only page offers to create an experiment")
	}
	// The API refuses the write the page would make.
	got := eval[string](tb, `fetch('/ajax-api/2.0/mlflow/experiments/create', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"name":"x"}'}).then(r => r.json()).then(j => j.error_code)`)
	if got != "PERMISSION_DENIED" {
		t.Errorf("write on a read-only server: %q", got)
	}
	for _, m := range tb.consoleErrors() {
		if !strings.Contains(m, "403") {
			t.Errorf("console: %s", m)
		}
	}
}
