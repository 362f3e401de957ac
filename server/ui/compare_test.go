package ui_test

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/mlgit/mlgit/server"
)

const compareXSS = `<img src=x onerror=alert(1)>`

// compareFixture makes three runs with params lr (differs) and optimizer
// (same), and metrics loss (with a NaN in the second run) and acc.
func compareFixture(t *testing.T, e *env) []string {
	t.Helper()
	ids := []string{
		newRun(t, e.R, "alpha", map[string]string{"lr": "0.1", "optimizer": "adam"}),
		newRun(t, e.R, compareXSS, map[string]string{"lr": "0.01", "optimizer": "adam"}),
		newRun(t, e.R, "gamma with a rather long run name that should not break the layout", map[string]string{"lr": "0.001", "optimizer": "adam"}),
	}
	for k, id := range ids {
		logSeries(t, e.R, id, "loss", 50, func(i int) float64 {
			if k == 1 && i == 20 {
				return math.NaN()
			}
			return float64(k+1) / float64(i+1)
		})
		logSeries(t, e.R, id, "acc", 40+5*k, func(i int) float64 { return 1 - 1/float64(i+k+2) })
	}
	return ids
}

// TestCompareBrowser opens the compare page of three runs: one chart per
// metric with a series per run, legend toggles, the differing-rows
// toggle, the scatter plot, escaped names, no console error.
func TestCompareBrowser(t *testing.T) {
	e := newEnv(t)
	ids := compareFixture(t, e)
	b := newBrowser(t)
	tb := b.tab()
	tb.visit(e.URL+"/compare?runs="+strings.Join(ids, ","), "#compare-charts")
	tb.waitFor(`document.querySelector('#compare-charts').dataset.chartsDrawn === '2'`)
	if n := tb.count(`#compare-charts .chart[data-state=drawn][data-series="3"]`); n != 2 {
		t.Fatalf("%d charts drawn with 3 series, want 2", n)
	}
	if n := eval[int](tb, `document.querySelector('.chart[data-key=loss]').chart.u.series.length`); n != 4 {
		t.Fatalf("loss chart has %d uPlot series, want x + 3", n)
	}
	// The NaN is a gap, and the chart says so.
	if note := tb.text(`.chart[data-key=loss] .chart-note`); !strings.Contains(note, "NaN ×1") || !strings.Contains(note, compareXSS) {
		t.Errorf("loss note %q", note)
	}
	// Runs with different steps share one x axis (acc: 40, 45, 50 steps).
	if n := eval[int](tb, `document.querySelector('.chart[data-key=acc]').chart.u.data[0].length`); n != 50 {
		t.Errorf("acc x axis has %d values, want the union of 50", n)
	}

	// The controls: smoothing changes the drawn values, log scale and
	// wall-clock x rebuild the charts.
	loss0 := `document.querySelector('.chart[data-key=loss]').chart.u.data[1][1]`
	raw := eval[float64](tb, loss0)
	eval[bool](tb, `(() => { const s = document.querySelector('.chart-smoothing'); s.value = '0.9';
		return s.dispatchEvent(new Event('input')); })()`)
	if sm := eval[float64](tb, loss0); sm == raw || math.Abs(sm-(0.9*1+1*0.5)/1.9) > 1e-9 {
		t.Errorf("smoothed second loss value %v (raw %v), want the bias-corrected EMA", sm, raw)
	}
	eval[bool](tb, `(() => { const s = document.querySelector('.chart-log'); s.checked = true;
		return s.dispatchEvent(new Event('change')); })()`)
	if d := eval[int](tb, `document.querySelector('.chart[data-key=loss]').chart.u.scales.y.distr`); d != 3 {
		t.Errorf("log scale: y distr %d", d)
	}
	eval[bool](tb, `(() => { const s = document.querySelector('.chart-x'); s.value = 'wall';
		return s.dispatchEvent(new Event('change')); })()`)
	tb.waitFor(`document.querySelector('.chart[data-key=acc]').chart.resp.x === 'wall' && document.querySelector('.chart[data-key=acc]').chart.u.scales.x.time`)
	if x0 := eval[float64](tb, `document.querySelector('.chart[data-key=acc]').chart.u.data[0][0]`); x0 != float64(fixedNow.Unix()) {
		t.Errorf("wall x starts at %v, want %d", x0, fixedNow.Unix())
	}
	eval[bool](tb, `(() => { const s = document.querySelector('.chart-x'); s.value = 'step'; s.dispatchEvent(new Event('change'));
		const l = document.querySelector('.chart-log'); l.checked = false; l.dispatchEvent(new Event('change'));
		const m = document.querySelector('.chart-smoothing'); m.value = '0'; return m.dispatchEvent(new Event('input')); })()`)
	tb.waitFor(`document.querySelector('.chart[data-key=acc]').chart.resp.x === 'step' && !document.querySelector('.chart[data-key=acc]').chart.u.scales.x.time`)

	// Clicking a legend entry hides its run.
	tb.run(chromedp.Click(chromedp.CSS(`.chart[data-key=loss] .u-legend .u-series:nth-child(3) th`)))
	tb.waitFor(`document.querySelector('.chart[data-key=loss]').chart.u.series[2].show === false`)
	if eval[bool](tb, `document.querySelector('.chart[data-key=loss]').chart.u.series[1].show`) != true {
		t.Error("the other runs must stay shown")
	}

	// The table comes from /compare/table once the charts are drawn.
	tb.waitFor(`document.querySelector('#diff-table-box #diff-table') !== null`)
	if c := tb.text(`#diff-count`); c != "4 of 6 rows differ" { // lr, loss, acc and a tag
		t.Errorf("diff count %q", c)
	}
	// Show only rows that differ: optimizer (same everywhere) goes.
	visible := `Array.from(document.querySelectorAll('#diff-table tr[data-key]')).filter(r => r.offsetParent !== null).map(r => r.dataset.kind + ':' + r.dataset.key)`
	before := eval[[]string](tb, visible)
	if !hasString(before, "param:optimizer") || !hasString(before, "param:lr") {
		t.Fatalf("rows before: %v", before)
	}
	tb.run(chromedp.Click(chromedp.CSS(`#diff-only`)))
	after := eval[[]string](tb, visible)
	if hasString(after, "param:optimizer") || !hasString(after, "param:lr") || !hasString(after, "metric:loss") {
		t.Fatalf("rows with differences only: %v", after)
	}

	// The scatter plot (drawn when scrolled to): lr against acc, one
	// point per run.
	eval[bool](tb, `(document.getElementById('scatter').scrollIntoView(), true)`)
	tb.waitFor(`document.getElementById('scatter').dataset.points !== undefined`)
	if x, y := eval[string](tb, `document.getElementById('scatter-x').value`), eval[string](tb, `document.getElementById('scatter-y').value`); x != "param:lr" || y != "metric:acc" {
		t.Errorf("scatter axes %s / %s", x, y)
	}
	if n := eval[string](tb, `document.getElementById('scatter').dataset.points`); n != "3" {
		t.Errorf("scatter has %s points, want 3", n)
	}
	// Hovering a point names its run.
	read := eval[string](tb, `(async () => {
		const u = document.getElementById('scatter').plot; const p = u.pts[0];
		const r = u.over.getBoundingClientRect();
		u.over.dispatchEvent(new MouseEvent('mousemove', {clientX: r.x + u.valToPos(p.x, 'x'), clientY: r.y + u.valToPos(p.y, 'y'), bubbles: true}));
		await new Promise(requestAnimationFrame);
		return document.getElementById('scatter-readout').textContent;
	})()`)
	if !strings.HasPrefix(read, "gamma with") || !strings.Contains(read, "lr (param): 0.001") {
		t.Errorf("scatter read-out %q, want the run with the lowest lr", read)
	}
	// A categorical param still plots.
	eval[bool](tb, `(() => { const s = document.getElementById('scatter-x'); s.value = 'param:optimizer';
		return s.dispatchEvent(new Event('change')); })()`)
	if n := eval[string](tb, `document.getElementById('scatter').dataset.points`); n != "3" {
		t.Errorf("categorical scatter has %s points, want 3", n)
	}

	// The hostile name is text everywhere.
	if n := tb.count(`img`); n != 0 {
		t.Errorf("%d img elements: a run name was parsed as HTML", n)
	}
	if names := eval[[]string](tb, `Array.from(document.querySelectorAll('#compare-runs a')).map(a => a.textContent)`); len(names) != 3 || names[1] != compareXSS {
		t.Errorf("run list %q", names)
	}
	if lbl := eval[string](tb, `document.querySelector('.chart[data-key=loss] .u-legend .u-series:nth-child(3) .u-label').textContent`); lbl != compareXSS {
		t.Errorf("legend label %q", lbl)
	}
	if th := eval[[]string](tb, `Array.from(document.querySelectorAll('#diff-table thead a')).map(a => a.textContent)`); len(th) != 3 || th[1] != compareXSS {
		t.Errorf("table header %q", th)
	}
	tb.noConsoleErrors()
	eval[bool](tb, `(window.scrollTo(0, 0), true)`)
	// Hovering reads out every run at the cursor in the legend.
	type pt struct{ X, Y float64 }
	p := eval[pt](tb, `(() => { const r = document.querySelector('.chart[data-key=acc] .u-over').getBoundingClientRect();
		return {X: r.x + r.width * 0.3, Y: r.y + r.height / 2}; })()`)
	tb.run(chromedp.MouseEvent("mouseMoved", p.X, p.Y))
	tb.waitFor(`document.querySelector('.chart[data-key=acc] .u-legend .u-series:nth-child(2) .u-value').textContent !== '—'`)
	tb.screenshot("compare")
	eval[bool](tb, `(document.getElementById('diff-table').scrollIntoView(), true)`)
	tb.screenshot("compare-table")
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestCompareBrowserM4Zoom: a 100,000-step run is drawn downsampled with
// its spike, and a drag zoom over a narrow range refetches it at full
// resolution; a double-click goes back to the whole range.
func TestCompareBrowserM4Zoom(t *testing.T) {
	e := newEnv(t)
	big := newRun(t, e.R, "big", nil)
	small := newRun(t, e.R, "small", nil)
	logSeries(t, e.R, big, "loss", 100_000, spiky)
	logSeries(t, e.R, small, "loss", 100, func(i int) float64 { return float64(i) / 100 })
	b := newBrowser(t)
	tb := b.tab()
	tb.visit(e.URL+"/compare?keys=loss&runs="+big+","+small, "#compare-charts")
	tb.waitFor(`document.querySelector('.chart').dataset.state === 'drawn'`)
	type state struct {
		Points, Px int
		Full       string
		Max        float64
		XMin, XMax float64
	}
	read := func() state {
		return eval[state](tb, `(() => { const c = document.querySelector('.chart'); const u = c.chart.u;
			return {Points: +c.dataset.points, Px: c.chart.resp.px, Full: c.dataset.full,
				Max: Math.max(...c.chart.resp.runs[0].y.filter(v => typeof v === 'number')),
				XMin: u.scales.x.min, XMax: u.scales.x.max}; })()`)
	}
	s := read()
	if s.Full != "false" || s.Points > 4*s.Px+2+100+2 || s.Max != 1e6 {
		t.Fatalf("downsampled: %+v (want at most 4·px points per run, the spike 1e6 kept)", s)
	}
	if note := tb.text(`.chart .chart-note`); !strings.Contains(note, "NaN ×1") || !strings.Contains(note, "+Inf ×1") {
		t.Errorf("note %q", note)
	}
	// Drag over 8 pixels of the plot.
	type box struct{ X, Y, W, H float64 }
	r := eval[box](tb, `(() => { const o = document.querySelector('.chart .u-over'); o.scrollIntoView({block: 'center'});
		const r = o.getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height}; })()`)
	x0, y := r.X+r.W*0.5, r.Y+r.H/2
	tb.run(
		chromedp.MouseEvent("mouseMoved", x0, y),
		chromedp.MouseEvent("mousePressed", x0, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent("mouseMoved", x0+4, y, chromedp.ButtonLeft),
		chromedp.MouseEvent("mouseMoved", x0+8, y, chromedp.ButtonLeft),
		chromedp.MouseEvent("mouseReleased", x0+8, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
	)
	tb.waitFor(`document.querySelector('.chart').dataset.full === 'true'`)
	z := read()
	if z.XMax-z.XMin > 4000 || z.XMin < 40000 || z.XMax > 60000 {
		t.Fatalf("zoomed range %v..%v", z.XMin, z.XMax)
	}
	if !strings.Contains(tb.text(`.chart .chart-status`), "every point") {
		t.Errorf("status %q", tb.text(`.chart .chart-status`))
	}
	tb.run(chromedp.DoubleClick(chromedp.CSS(`.chart .u-over`)))
	tb.waitFor(`document.querySelector('.chart').dataset.full === 'false'`)
	if s := read(); s.XMin > 0 || s.XMax < 99_999 {
		t.Fatalf("after reset: %v..%v", s.XMin, s.XMax)
	}
	// Many runs whose points lie at different x: joined on a grid of 5
	// slots per pixel column, each run's spike and gap kept.
	type snap struct {
		Snapped    bool
		Len, Cols  int
		Max        float64
		Gaps, Runs int
	}
	sn := eval[snap](tb, `import('/static/chart.js').then(m => {
		const runs = [];
		for (let k = 0; k < 300; k++) {
			const r = {xs: [], vals: []};
			for (let i = 0; i < 2000; i++) { r.xs.push(i + k / 300); r.vals.push(i === 1000 + k ? 1e6 : i === 7 ? null : Math.sin(i + k)); }
			runs.push(r);
		}
		const out = m.joinSeries(runs, {xmin: 0, xmax: 2000, px: 100});
		let spikes = 0, gaps = 0;
		for (let k = 1; k < out.length; k++) {
			if (out[k].includes(1e6)) spikes++;
			if (out[k].includes(null)) gaps++;
		}
		return {Snapped: !!out.snapped, Len: out[0].length, Cols: out.length, Max: spikes, Gaps: gaps, Runs: runs.length};
	})`)
	if !sn.Snapped || sn.Len != 102*5 || sn.Cols != 301 || sn.Max != 300 || sn.Gaps != 300 {
		t.Errorf("snapped join: %+v (want 510 x values, every run's spike and gap)", sn)
	}
	tb.noConsoleErrors()
	tb.screenshot("compare-m4")
}

// TestComparePageErrors: fewer than two runs is a page that says so; an
// unknown run is 404, a malformed id 400.
func TestComparePageErrors(t *testing.T) {
	e := newEnv(t)
	id := newRun(t, e.R, "only", nil)
	code, _, body := e.get("/compare?runs=" + id)
	if code != 200 || !strings.Contains(body, "at least two runs") || !strings.Contains(body, `href="/experiments"`) {
		t.Fatalf("one run: %d %.400s", code, body)
	}
	if code, _, body = e.get("/compare"); code != 200 || !strings.Contains(body, "at least two runs") {
		t.Fatalf("no run: %d", code)
	}
	if code, _, body = e.get("/compare?runs=" + id + "," + strings.Repeat("cd", 16)); code != 404 {
		t.Fatalf("unknown run: %d %.300s", code, body)
	}
	if code, _, _ = e.get("/compare?runs=" + id + ",nope"); code != 400 {
		t.Fatalf("bad id: %d", code)
	}
	// MLflow's form, names escaped, no inline script or style.
	other := newRun(t, e.R, compareXSS, nil)
	code, h, body := e.get(`/compare-runs?runs=["` + id + `","` + other + `"]`)
	if code != 200 || !strings.Contains(body, "Compare 2 runs") || strings.Contains(body, compareXSS) || !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Fatalf("compare-runs: %d %.600s", code, body)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") || strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
		t.Error("CSP or inline script/style")
	}
	// The page does not carry the diff table: it is a fragment of its own.
	if strings.Contains(body, `id="diff-table"`) || !strings.Contains(body, `id="diff-table-box"`) {
		t.Errorf("the compare page should point at its table, not hold it: %.300s", body)
	}
	code, h, body = e.get("/compare/table?runs=" + id + "," + other)
	if code != 200 || !strings.HasPrefix(strings.TrimSpace(body), `<table class="grid compare-diff" id="diff-table">`) ||
		strings.Contains(body, "<html") || strings.Contains(body, compareXSS) || !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Fatalf("compare table: %d %.600s", code, body)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
		strings.Contains(body, "<script") || strings.Contains(body, "style=") {
		t.Error("compare table: CSP, type or inline script/style")
	}
	for q, want := range map[string]int{"": 400, id: 400, id + ",nope": 400, id + "," + strings.Repeat("cd", 16): 404} {
		if code, _, _ := e.get("/compare/table?runs=" + q); code != want {
			t.Errorf("compare table of %q: %d, want %d", q, code, want)
		}
	}
}

// TestCompareNoUPlot: a build without the uPlot bundle says so and draws
// the rest of the page without a console error.
func TestCompareNoUPlot(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.NoUIVendor = true })
	ids := compareFixture(t, e)
	b := newBrowser(t)
	tb := b.tab()
	tb.visit(e.URL+"/compare?runs="+strings.Join(ids, ","), "#diff-table")
	tb.waitFor(`document.querySelectorAll('.chart[data-state=unavailable]').length === 2`)
	if n := tb.count(`#diff-table tr[data-key]`); n != 6 {
		t.Errorf("%d table rows without uPlot, want 6", n)
	}
	if !strings.Contains(tb.text(`.charts-missing`), "not available") {
		t.Error("no notice about the missing charts")
	}
	eval[bool](tb, `(document.getElementById('scatter').scrollIntoView(), true)`)
	tb.waitFor(`document.querySelector('#scatter p') !== null`)
	if !strings.Contains(tb.text(`#scatter`), "uPlot") {
		t.Errorf("scatter: %q", tb.text(`#scatter`))
	}
	if n := tb.count(`.uplot`); n != 0 {
		t.Errorf("%d uPlot charts without uPlot", n)
	}
	tb.noConsoleErrors()
	tb.screenshot("compare-no-uplot")
}

// TestCompareManyRunsChips: the page has chips for the first 100 runs
// and a button that adds the others; the charts get every run.
func TestCompareManyRunsChips(t *testing.T) {
	e := newEnv(t)
	ids := make([]string, 102)
	for i := range ids {
		ids[i] = newRun(t, e.R, fmt.Sprint("run-", i), map[string]string{"i": fmt.Sprint(i)})
	}
	logSeries(t, e.R, ids[101], "loss", 10, func(i int) float64 { return float64(i) })
	// A key that URL encoders disagree on: the page's preload must name
	// the request chart.js makes, byte for byte.
	const odd = "val loss/ñ:1.x-y_z"
	logSeries(t, e.R, ids[0], odd, 10, func(i int) float64 { return float64(i) })
	u := "/compare?keys=loss&keys=" + url.QueryEscape(odd) + "&runs=" + strings.Join(ids, ",")
	code, _, body := e.get(u)
	if code != 200 || strings.Count(body, `class="run-chip"`) != 100 || !strings.Contains(body, "Show the other 2 runs") {
		t.Fatalf("%d: %d chips", code, strings.Count(body, `class="run-chip"`))
	}
	// Past 38 runs the series requests do not depend on the charts'
	// widths: the head preloads them.
	if n := strings.Count(body, `<link rel="preload" as="fetch"`); n != 2 {
		t.Errorf("%d series preloads, want 2", n)
	}
	b := newBrowser(t)
	tb := b.tab()
	tb.visit(e.URL+u, "#more-runs")
	tb.waitFor(`[...document.querySelectorAll('.chart')].every(c => c.dataset.state === 'drawn')`)
	// Each chart's series came once, from its preload.
	if got := eval[[]string](tb, `performance.getEntriesByType('resource').filter(e => e.name.includes('/ui/api/series')).map(e => e.initiatorType)`); len(got) != 2 || got[0] != "link" || got[1] != "link" {
		t.Errorf("series requests by initiator: %v, want [link link]", got)
	}
	if n := eval[int](tb, `+document.querySelector('.chart[data-key="val loss/ñ:1.x-y_z"]').dataset.points`); n != 10 {
		t.Errorf("the odd key's chart has %d points, want 10", n)
	}
	if n := eval[int](tb, `document.querySelector('.chart[data-key=loss]').chart.u.series.length`); n != 103 {
		t.Errorf("chart has %d uPlot series, want x + 102", n)
	}
	tb.run(chromedp.Click(chromedp.CSS(`#more-runs`)))
	tb.waitFor(`document.querySelectorAll('#compare-runs a.run-chip').length === 102`)
	if last := eval[string](tb, `(() => { const a = [...document.querySelectorAll('#compare-runs a.run-chip')].pop();
		return a.textContent + ' ' + a.getAttribute('href') + ' ' + a.querySelector('.swatch').style.backgroundColor; })()`); !strings.HasPrefix(last, "run-101 /runs/"+ids[101]+" rgb(") {
		t.Errorf("last chip %q", last)
	}
	tb.waitFor(`document.querySelectorAll('#diff-table thead a').length === 102`)
	tb.noConsoleErrors()
}
