package ui_test

// Benchmarks of the web UI at scale, timed by the page's own clock in a
// real headless Chromium over a real server (make bench-ui; figures in
// docs/PERFORMANCE.md, "Web UI"). They are slow (fixtures of millions of
// points, each page opened several times), so they run only with
// MLGIT_BENCH_UI=1.
//
// Every figure is a median over MLGIT_BENCH_UI_REPS (default 5) page loads
// or actions after one warm-up load (the server has read the data once,
// the browser has the assets in its cache), reported as ms/<what>; the
// slowest of them as max-ms/<what>; the first, cold load (the server reads
// the histories from Git) as cold-ms/<what>. Times are from the page's
// performance clock: from navigation start (or from the action: the
// absolute time of the click, carried over the navigation in
// sessionStorage) to the moment after the next paint following the event
// (rows in the DOM, chart.js's 'mlgit:chart-drawn' mark).
//
// The server runs in this process: peak-MiB/rss is the process's resident
// size (the test and the server; the browser is another process),
// peak-MiB/heap the Go heap's live objects, both sampled every 50 ms while
// the benchmark runs.
//
// Fixtures (internal/benchfix) are built once into MLGIT_BENCH_UI_DIR
// (default /var/tmp/mlgit-bench-ui), one folder per spec, and opened in
// place (the server's index cache lands there too).

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
	"github.com/mlgit/mlgit/internal/benchfix"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo"
	"github.com/mlgit/mlgit/server"
)

// The fixtures of the targets.
var (
	// 100,000 runs with 20 params and 10 metrics (as make bench's).
	fxRuns = benchfix.Spec{Runs: 100_000, Params: 20, Metrics: 10, Steps: 1, Seed: 1}
	// One run with 10 metrics of 1,000,000 steps.
	fxLong = benchfix.Spec{Runs: 1, Params: 20, Metrics: 10, Steps: 1_000_000, Seed: 2, SegmentBytes: benchfix.SegmentMax}
	// fxLongBlobs is fxLong with its history past 100,000 points in the
	// blob store, as mlgit keeps it with a blob remote configured.
	fxLongBlobs = benchfix.Spec{Runs: 1, Params: 20, Metrics: 10, Steps: 1_000_000, Seed: 2, SegmentBytes: benchfix.SegmentMax, SpillAbove: 100_000}
	// 100 runs with 10 metrics of 10,000 steps.
	fxCompare = benchfix.Spec{Runs: 100, Params: 20, Metrics: 10, Steps: 10_000, Seed: 3, SegmentBytes: benchfix.SegmentMax}
	// 1,000 runs with one metric (acc) of 1,000 steps.
	fxMany = benchfix.Spec{Runs: 1000, Params: 5, Metrics: 1, Steps: 1000, Seed: 4, SegmentBytes: benchfix.SegmentMax}
	// One run with 1,000 metrics of 1,000 steps.
	fxKeys = benchfix.Spec{Runs: 1, Params: 20, Metrics: 1000, Steps: 1000, Seed: 5, SegmentBytes: benchfix.SegmentMax}
)

func needBench(b *testing.B) {
	b.Helper()
	if os.Getenv("MLGIT_BENCH_UI") != "1" {
		b.Skip("set MLGIT_BENCH_UI=1 to run the web UI benchmarks (slow: fixtures of millions of points in a real Chromium; make bench-ui)")
	}
}

func benchReps() int {
	if n, err := strconv.Atoi(os.Getenv("MLGIT_BENCH_UI_REPS")); err == nil && n > 0 {
		return n
	}
	return 5
}

var uiFixtureMu sync.Mutex

// uiFixture returns the repository of spec (built on first use) and its
// run ids.
func uiFixture(b *testing.B, spec benchfix.Spec) (string, []string) {
	b.Helper()
	uiFixtureMu.Lock()
	defer uiFixtureMu.Unlock()
	root := os.Getenv("MLGIT_BENCH_UI_DIR")
	if root == "" {
		root = "/var/tmp/mlgit-bench-ui"
	}
	name := fmt.Sprintf("r%d-p%d-m%d-s%d-seg%d-seed%d", spec.Runs, spec.Params, spec.Metrics, spec.Steps, spec.SegmentBytes, spec.Seed)
	if spec.SpillAbove > 0 {
		name += fmt.Sprintf("-spill%d", spec.SpillAbove)
	}
	dir := filepath.Join(root, name)
	if spec.SpillAbove > 0 {
		spec.BlobDir = dir + ".blobs" // the fixture's blob remote
	}
	ids := make([]string, spec.Runs)
	for i := range ids {
		ids[i] = benchfix.RunID(spec.Seed, i)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "mlgit-bench-ready")); err == nil {
		return dir, ids
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("git", "-C", tmp, "init", "-q", "-b", "main").CombinedOutput(); err != nil {
		b.Fatalf("git init: %v: %s", err, out)
	}
	t0 := time.Now()
	if _, err := benchfix.Build(tmp, spec); err != nil {
		b.Fatal(err)
	}
	b.Logf("built fixture %s in %.1f s", name, time.Since(t0).Seconds())
	if err := os.WriteFile(filepath.Join(tmp, ".git", "mlgit-bench-ready"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		b.Fatal(err)
	}
	return dir, ids
}

// benchServer is a server over a fixture with its memory sampled.
type benchServer struct {
	URL string
	R   *repo.Repo

	stop     chan struct{}
	done     chan struct{}
	peakRSS  float64
	peakHeap float64
}

func serveFixture(b *testing.B, dir string) *benchServer {
	b.Helper()
	gittest.Setenv(b)
	b.Setenv("MLGIT_NO_AUTO_GC", "1")
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := server.New(server.Config{Repo: r, Version: "bench"})
	if err != nil {
		r.Close()
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	bs := &benchServer{URL: ts.URL, R: r, stop: make(chan struct{}), done: make(chan struct{})}
	go bs.sample()
	b.Cleanup(func() {
		bs.report(b)
		ts.Close()
		s.Close()
		r.Close()
	})
	return bs
}

// sample records the peak resident size and live heap every 50 ms.
func (bs *benchServer) sample() {
	defer close(bs.done)
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		metrics.Read(s)
		bs.peakHeap = max(bs.peakHeap, float64(s[0].Value.Uint64()))
		bs.peakRSS = max(bs.peakRSS, selfRSS())
		select {
		case <-bs.stop:
			return
		case <-tick.C:
		}
	}
}

func (bs *benchServer) report(b *testing.B) {
	select {
	case <-bs.stop:
		return
	default:
	}
	close(bs.stop)
	<-bs.done
	b.ReportMetric(bs.peakRSS/(1<<20), "peak-MiB/rss")
	b.ReportMetric(bs.peakHeap/(1<<20), "peak-MiB/heap")
}

// selfRSS is this process's resident size in bytes.
func selfRSS() float64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize())
}

// benchWatch is evaluated in every new document of a benchmark tab, before
// the page's scripts. window.__mlgitBench.rows is the performance.now()
// after the paint that follows the runs table being complete in the DOM
// (its rows and the pager after it, or the document parsed), rowsAbs the
// same on the absolute clock; each new first row (a page replacing its
// rows in place) records again.
const benchWatch = `(() => {
  const B = window.__mlgitBench = {rows: 0, rowsAbs: 0, rowsDOM: 0};
  let seen = null;
  const check = () => {
    const tr = document.querySelector('table#runs tbody tr');
    if (!tr || tr === seen) return;
    if (!document.querySelector('#runs-range, .pager') && document.readyState === 'loading') return;
    seen = tr;
    const dom = performance.now();
    requestAnimationFrame(() => setTimeout(() => {
      B.rowsDOM = dom;
      B.rows = performance.now();
      B.rowsAbs = performance.timeOrigin + B.rows;
    }, 0));
  };
  new MutationObserver(check).observe(document, {childList: true, subtree: true});
  document.addEventListener('DOMContentLoaded', check);
  // JSON.parse of large bodies (the series) and uPlot's constructor, timed.
  B.parse = {n: 0, total: 0, max: 0, bytes: 0};
  const parse = JSON.parse;
  JSON.parse = function (text, reviver) {
    if (typeof text !== 'string' || text.length < 100000) return parse(text, reviver);
    const t = performance.now();
    const v = parse(text, reviver);
    const d = performance.now() - t;
    B.parse.n++; B.parse.total += d; B.parse.max = Math.max(B.parse.max, d); B.parse.bytes += text.length;
    return v;
  };
  B.uplot = {n: 0, total: 0, ends: []};
  let real;
  Object.defineProperty(window, 'uPlot', {configurable: true, get: () => real, set: (U) => {
    if (typeof U !== 'function') { real = U; return; }
    const W = function (opts, data, el) {
      const t = performance.now();
      const u = new U(opts, data, el);
      const e = performance.now();
      B.uplot.n++; B.uplot.total += e - t; B.uplot.ends.push(e);
      return u;
    };
    W.prototype = U.prototype;
    for (const k of Object.getOwnPropertyNames(U)) {
      if (!(k in W) || Object.getOwnPropertyDescriptor(W, k).writable) { try { W[k] = U[k]; } catch {} }
    }
    real = W;
  }});
  // Long tasks (main thread busy > 50 ms): count, total and longest.
  B.long = {n: 0, total: 0, max: 0, list: []};
  try {
    new PerformanceObserver((l) => { for (const e of l.getEntries()) {
      B.long.n++; B.long.total += e.duration; B.long.max = Math.max(B.long.max, e.duration);
      if (B.long.list.length < 20) B.long.list.push([Math.round(e.startTime), Math.round(e.duration)]);
    } }).observe({type: 'longtask'});
  } catch {}
})()`

// benchTab is a browser tab of a benchmark with the watcher installed.
//
// MLGIT_BENCH_UI_CSS adds a style sheet to every page (the page's CSP is
// bypassed for it), to measure a proposed style change without building
// it in: e.g. 'table#runs { table-layout: fixed }'.
func benchTab(b *testing.B, width, height int64) *tab {
	b.Helper()
	tb := newBrowser(b).tab()
	src := benchWatch
	if css := os.Getenv("MLGIT_BENCH_UI_CSS"); css != "" {
		b.Logf("extra style sheet: %s", css)
		src += fmt.Sprintf(`;(() => { const add = () => { if (!document.head) return false;
			const s = document.createElement('style'); s.textContent = %q; document.head.appendChild(s); return true; };
			if (!add()) { const mo = new MutationObserver(() => { if (add()) mo.disconnect(); });
				mo.observe(document, {childList: true, subtree: true}); } })()`, css)
		tb.run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
			return err
		}))
	}
	tb.run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
		return err
	}), chromedp.EmulateViewport(width, height))
	return tb
}

// navTiming is the navigation entry of the page (ms from navigation start).
type navTiming struct {
	RequestStart, ResponseStart, ResponseEnd, DomInteractive, DomContentLoaded, LoadEnd float64
	TransferSize                                                                        float64
}

const navTimingJS = `(() => { const n = performance.getEntriesByType('navigation')[0];
  return {RequestStart: n.requestStart, ResponseStart: n.responseStart, ResponseEnd: n.responseEnd,
    DomInteractive: n.domInteractive, DomContentLoaded: n.domContentLoadedEventEnd, LoadEnd: n.loadEventEnd,
    TransferSize: n.transferSize}; })()`

// logBreakdown logs where a page load's time went (ms from navigation
// start).
func logBreakdown(tb *tab) {
	tb.t.Helper()
	tb.t.Logf("breakdown: %s", eval[string](tb, `(() => { const n = performance.getEntriesByType('navigation')[0];
		const fcp = performance.getEntriesByName('first-contentful-paint')[0];
		const B = window.__mlgitBench || {};
		const f = v => v === undefined ? '-' : v.toFixed(0);
		return 'request ' + f(n.requestStart) + ', first byte ' + f(n.responseStart) + ', last byte ' + f(n.responseEnd) +
		  ' (' + (n.encodedBodySize / 1024).toFixed(0) + ' KB), FCP ' + f(fcp && fcp.startTime) + ', rows in DOM ' + f(B.rowsDOM) +
		  ', rows painted ' + f(B.rows) + ', DOM interactive ' + f(n.domInteractive) + ', DOMContentLoaded ' + f(n.domContentLoadedEventEnd) +
		  ', load ' + f(n.loadEventEnd); })()`))
}

// logSwapBreakdown logs where an in-place table swap's time went, in ms
// from the action: the fragment request's start, first and last byte,
// the rows in the DOM and painted.
func logSwapBreakdown(tb *tab) {
	tb.t.Helper()
	tb.t.Logf("swap: %s", eval[string](tb, `(() => { const t0 = +sessionStorage.getItem('mlgit-bench-t0') - performance.timeOrigin;
		const r = performance.getEntriesByType('resource').filter(e => e.name.includes('fragment=table')).pop();
		const B = window.__mlgitBench || {};
		const f = v => (v - t0).toFixed(0);
		const st = (r.serverTiming || []).map(e => e.name + ' ' + e.duration.toFixed(0)).join(' ');
		return 'fetch ' + f(r.startTime) + ' (server: ' + st + '), first byte ' + f(r.responseStart) + ', last byte ' + f(r.responseEnd) +
		  ' (' + (r.encodedBodySize / 1024).toFixed(0) + ' KB), rows in DOM ' + f(B.rowsDOM) + ', painted ' + f(B.rows); })()`))
}

// logChartBreakdown logs where a chart page's time went: the series
// requests (count, the longest server wait from request to first byte,
// the last response end, bytes) and the main thread's long tasks.
func logChartBreakdown(tb *tab) {
	tb.t.Helper()
	tb.t.Logf("breakdown: %s", eval[string](tb, `(() => { const n = performance.getEntriesByType('navigation')[0];
		const rs = performance.getEntriesByType('resource').filter(e => e.name.includes('/ui/api/series'));
		const f = v => v === undefined ? '-' : v.toFixed(0);
		let wait = 0, end = 0, first = Infinity, kb = 0, dl = 0;
		for (const e of rs) { wait = Math.max(wait, e.responseStart - e.requestStart); end = Math.max(end, e.responseEnd);
			first = Math.min(first, e.startTime); kb += e.encodedBodySize / 1024; dl = Math.max(dl, e.responseEnd - e.responseStart); }
		const marks = performance.getEntriesByName('mlgit:chart-drawn');
		const L = (window.__mlgitBench || {}).long || {};
		return 'page first byte ' + f(n.responseStart) + ' (' + (n.encodedBodySize / 1024).toFixed(0) + ' KB), DOMContentLoaded ' + f(n.domContentLoadedEventEnd) + ', load ' + f(n.loadEventEnd) +
		  '; ' + rs.length + ' series requests from ' + f(first) + ', longest server wait ' + f(wait) + ' ms, longest download ' + f(dl) +
		  ' ms, last response end ' + f(end) + ', ' + kb.toFixed(0) + ' KB; ' + marks.length + ' draws, first ' + f(marks[0] && marks[0].startTime) +
		  ', last ' + f(marks.length && marks[marks.length - 1].startTime) + '; long tasks ' + L.n + ', total ' + f(L.total) + ' ms, longest ' + f(L.max) +
		  ' ms: ' + JSON.stringify(L.list) + '; JSON.parse of the series ' + ((window.__mlgitBench || {}).parse ? (() => { const P = __mlgitBench.parse;
		    return P.n + ' calls, ' + f(P.total) + ' ms (longest ' + f(P.max) + ', ' + (P.bytes / 1048576).toFixed(1) + ' MB)'; })() : '-') +
		  '; uPlot constructors ' + ((window.__mlgitBench || {}).uplot ? (() => { const U = __mlgitBench.uplot;
		    return U.n + ', ' + f(U.total) + ' ms, last ended ' + f(U.ends[U.ends.length - 1]); })() : '-'); })()`))
}

// profileLoad opens url once more (not timed) under the page's JavaScript
// CPU profiler when MLGIT_BENCH_UI_PROFILE=1 and logs the functions with
// the most self time ("(program)" is the browser's own work: parsing,
// style, layout, paint; "(garbage collector)" is V8's). done is the
// condition the load waits for.
func profileLoad(tb *tab, url, done string) {
	tb.t.Helper()
	if os.Getenv("MLGIT_BENCH_UI_PROFILE") != "1" {
		return
	}
	tb.run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, profiler.Enable, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := chromedp.Call(ctx, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 200}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, profiler.Start, cdp.Empty{})
		return err
	}))
	tb.run(chromedp.Navigate(url))
	pollLong(tb, done)
	var prof *profiler.Profile
	tb.run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		res, err := chromedp.Call(ctx, profiler.Stop, cdp.Empty{})
		prof = res.Profile
		return err
	}))
	byID := map[int64]*profiler.ProfileNode{}
	for _, n := range prof.Nodes {
		byID[n.ID] = n
	}
	self := map[string]float64{}
	total := 0.0
	for i, id := range prof.Samples {
		if i >= len(prof.TimeDeltas) {
			break
		}
		// The delta before sample i+1 is the time spent in sample i.
		d := 0.0
		if i+1 < len(prof.TimeDeltas) {
			d = float64(prof.TimeDeltas[i+1]) / 1000
		}
		n := byID[id]
		name := "?"
		if n != nil && n.CallFrame != nil {
			f := n.CallFrame
			name = f.FunctionName
			if name == "" {
				name = "(anonymous)"
			}
			if f.URL != "" {
				u := f.URL
				if j := strings.LastIndexByte(u, '/'); j >= 0 {
					u = u[j+1:]
				}
				if j := strings.IndexByte(u, '?'); j >= 0 {
					u = u[:j]
				}
				name += fmt.Sprintf(" %s:%d", u, f.LineNumber+1)
			}
		}
		if name == "(idle)" {
			continue
		}
		self[name] += d
		total += d
	}
	type fn struct {
		name string
		ms   float64
	}
	var fns []fn
	for k, v := range self {
		fns = append(fns, fn{k, v})
	}
	slices.SortFunc(fns, func(a, b fn) int { return int(b.ms - a.ms) })
	var out []string
	for i, f := range fns {
		if i == 15 {
			break
		}
		out = append(out, fmt.Sprintf("%6.0f ms  %s", f.ms, f.name))
	}
	tb.t.Logf("profile (busy %.0f ms, self time):\n\t%s", total, strings.Join(out, "\n\t"))
}

// traceLoad opens url once more (not timed) under Chromium's tracing
// (devtools.timeline) when MLGIT_BENCH_UI_PROFILE=1 and logs where the
// renderer's main thread spent the load: busy time (and the part of it
// on the CPU, which a loaded machine does not inflate), and the time of each
// kind of work (HTML parsing, style, layout, paint, script, GC; nested
// events, such as a layout forced by a script, count in both).
func traceLoad(tb *tab, url, done string) {
	tb.t.Helper()
	if os.Getenv("MLGIT_BENCH_UI_PROFILE") != "1" {
		return
	}
	var mu sync.Mutex
	var events [][]byte
	complete := make(chan struct{})
	lctx, lcancel := context.WithCancel(tb.ctx)
	defer lcancel()
	if err := chromedp.Listen(lctx, func(ev any) {
		switch e := ev.(type) {
		case *tracing.EventDataCollected:
			mu.Lock()
			for _, v := range e.Value {
				events = append(events, append([]byte(nil), v...))
			}
			mu.Unlock()
		case *tracing.EventTracingComplete:
			close(complete)
		}
	}); err != nil {
		tb.t.Fatal(err)
	}
	tb.run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, tracing.Start, tracing.StartParams{TransferMode: tracing.StartTransferModeReportEvents,
			TraceConfig: &tracing.TraceConfig{IncludedCategories: []string{"devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "blink"}}})
		return err
	}))
	tb.run(chromedp.Navigate(url))
	pollLong(tb, done)
	tb.run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, tracing.End, cdp.Empty{})
		return err
	}))
	select {
	case <-complete:
	case <-time.After(60 * time.Second):
		tb.t.Fatal("tracing did not complete")
	}
	mu.Lock()
	defer mu.Unlock()
	type event struct {
		Name string  `json:"name"`
		Ph   string  `json:"ph"`
		Ts   float64 `json:"ts"`
		Dur  float64 `json:"dur"`
		TDur float64 `json:"tdur"` // the thread's CPU time
		Pid  int64   `json:"pid"`
		Tid  int64   `json:"tid"`
		Args struct {
			Name string `json:"name"`
		} `json:"args"`
	}
	evs := make([]event, 0, len(events))
	type thread struct{ pid, tid int64 }
	var mains []thread
	for _, raw := range events {
		var e event
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		if e.Ph == "M" && e.Name == "thread_name" && e.Args.Name == "CrRendererMain" {
			mains = append(mains, thread{e.Pid, e.Tid})
		}
		evs = append(evs, e)
	}
	// The renderer of the page is the main thread with the most work.
	busy, cpu := map[thread]float64{}, map[thread]float64{}
	for _, e := range evs {
		if e.Ph == "X" && (e.Name == "RunTask" || e.Name == "ThreadControllerImpl::RunTask") {
			busy[thread{e.Pid, e.Tid}] += e.Dur / 1000
			cpu[thread{e.Pid, e.Tid}] += e.TDur / 1000
		}
	}
	var main thread
	for _, m := range mains {
		if busy[m] >= busy[main] {
			main = m
		}
	}
	kinds := map[string]string{
		"ParseHTML": "parse HTML", "ParseAuthorStyleSheet": "parse CSS",
		"UpdateLayoutTree": "style", "RecalculateStyles": "style", "Layout": "layout",
		"PrePaint": "pre-paint", "Paint": "paint", "Layerize": "layerize", "UpdateLayer": "layerize", "Commit": "commit",
		"EvaluateScript": "script", "v8.evaluateModule": "script", "FunctionCall": "script", "TimerFire": "script",
		"FireAnimationFrame": "script", "EventDispatch": "script", "v8.run": "script",
		"MinorGC": "GC", "MajorGC": "GC", "V8.GC_SCAVENGER": "GC", "BlinkGC.AtomicPhase": "GC",
		"v8.compile": "compile", "v8.compileModule": "compile",
	}
	sum := map[string]float64{}
	for _, e := range evs {
		if e.Ph != "X" || (thread{e.Pid, e.Tid}) != main {
			continue
		}
		if k, ok := kinds[e.Name]; ok {
			sum[k] += e.Dur / 1000
		}
	}
	var parts []string
	for k, v := range sum {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
	}
	slices.Sort(parts)
	tb.t.Logf("trace of the renderer's main thread: busy %.0f ms (on the CPU %.0f: the rest waited for a core); %s (ms)", busy[main], cpu[main], strings.Join(parts, ", "))
}

// samples collects the repetitions of one figure.
type samples map[string][]float64

func (s samples) add(name string, v float64) { s[name] = append(s[name], v) }

// report reports each figure's median as ms/<name> (or the unit in the
// name after a colon: "MiB:x") and its maximum as max-ms/<name>.
func (s samples) report(b *testing.B) {
	for name, v := range s {
		slices.Sort(v)
		med := v[len(v)/2]
		if len(v)%2 == 0 {
			med = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		b.ReportMetric(med, "ms/"+name)
		b.ReportMetric(v[len(v)-1], "max-ms/"+name)
		b.Logf("%s: median %.1f ms, range %.1f-%.1f ms (%d)", name, med, v[0], v[len(v)-1], len(v))
	}
}

// BenchmarkUIRunsTable100k: the runs page of an experiment of 100,000 runs
// (20 params, 10 metrics): navigation start to the table's rows painted;
// a new filter (typed into the filter box and submitted) and a new sort (a
// click on a column header) from the action to the new rows painted (the
// page replaces its table in place).
func BenchmarkUIRunsTable100k(b *testing.B) {
	needBench(b)
	dir, _ := uiFixture(b, fxRuns)
	bs := serveFixture(b, dir)
	tb := benchTab(b, 1280, 800)
	base := bs.URL + "/experiments/0"
	tb.visit(base, "table#runs tbody tr") // warm-up: index, assets
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := samples{}
		for rep := 0; rep < benchReps(); rep++ {
			settle()
			tb.run(chromedp.Navigate(base))
			tb.waitFor(`window.__mlgitBench.rows > 0`)
			s.add("table-visible", eval[float64](tb, `window.__mlgitBench.rows`))
			nt := eval[navTiming](tb, navTimingJS)
			s.add("table-server", nt.ResponseStart-nt.RequestStart)
			if rep == 0 {
				logBreakdown(tb)
			}

			// A filter: type it and submit the form.
			filter := fmt.Sprintf("metrics.acc > 0.%d and params.optimizer = 'adam'", 3+rep%6)
			s.add("filter", actionToRows(tb, fmt.Sprintf(`(() => {
				const f = document.querySelector('#filter-form');
				f.querySelector('input[name=filter]').value = %q;
				f.requestSubmit();
			})()`, filter)))
			if n := tb.count("table#runs tbody tr"); n == 0 {
				b.Fatalf("filter %q: no rows", filter)
			}
			s.add("filter-server", eval[float64](tb, lastServerJS))
			if rep < 2 {
				logSwapBreakdown(tb)
			}
			// A sort: a click on a metric's column header (it toggles).
			key := benchfix.MetricKey(1 + rep%9)
			s.add("sort", actionToRows(tb, fmt.Sprintf(`(() => {
				const a = [...document.querySelectorAll('table#runs thead a.sort')].find(a => a.textContent.trim() === %q);
				if (!a) throw new Error('no sort link for ' + %q);
				a.click();
			})()`, key, key)))
			s.add("sort-server", eval[float64](tb, lastServerJS))
			if !strings.Contains(eval[string](tb, `location.search`), "order=") {
				b.Fatal("the sort did not change the URL's order")
			}
		}
		s.report(b)
	}
	b.StopTimer()
	profileLoad(tb, base, `window.__mlgitBench.rows > 0`)
	traceLoad(tb, base, `window.__mlgitBench.rows > 0`)
	tb.screenshot("bench-runs-100k")
}

// lastServerJS is the server's part (request → first byte) of the runs
// table's last request: the in-place fetch (fragment=table) of the last
// action, or the page's navigation when the action loaded the page.
const lastServerJS = `(() => { const r = performance.getEntriesByType('resource').filter(e => e.name.includes('fragment=table'));
  const e = r.length ? r[r.length - 1] : performance.getEntriesByType('navigation')[0];
  return e.responseStart - e.requestStart; })()`

// settle lets the browser and the server finish the previous step's
// work (paint, garbage collection) before the next timed action, as the
// seconds between a person's clicks do: each action is measured from a
// quiet page, not on the tail of the one before.
func settle() { time.Sleep(400 * time.Millisecond) }

// actionToRows runs a page action (JavaScript) and returns the
// milliseconds from the action to new rows painted (in this document or
// the one the action navigates to). The start time is taken in the same
// evaluation as the action, so the DevTools round trip is not counted.
func actionToRows(tb *tab, js string) float64 {
	tb.t.Helper()
	settle()
	act := fmt.Sprintf(`(() => { const t = performance.timeOrigin + performance.now();
		sessionStorage.setItem('mlgit-bench-t0', String(t)); %s; return t; })()`, js)
	// The action may navigate away while it is evaluated: ignore that
	// error, and read the start time back from sessionStorage.
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	chromedp.Run(ctx, chromedp.Evaluate[any](act))
	cancel()
	t0 := eval[float64](tb, `+sessionStorage.getItem('mlgit-bench-t0')`)
	tb.waitFor(fmt.Sprintf(`window.__mlgitBench && window.__mlgitBench.rowsAbs > %f`, t0))
	return eval[float64](tb, `window.__mlgitBench.rowsAbs`) - t0
}

// chartsDrawnJS returns the drawn-chart count of #metric-charts (or the
// compare page's chart root) and the time of the last 'mlgit:chart-drawn'
// mark (ms from navigation start).
const chartsDrawnJS = `(() => {
  const root = document.querySelector('[data-charts-drawn]');
  const marks = performance.getEntriesByName('mlgit:chart-drawn');
  return {Drawn: root ? +root.dataset.chartsDrawn : 0, Marks: marks.length,
    Last: marks.length ? marks[marks.length - 1].startTime : 0,
    Charts: document.querySelectorAll('.chart').length};
})()`

type chartsState struct {
	Drawn, Marks, Charts int
	Last                 float64
}

// openCharts navigates to url and waits until want charts are drawn (0:
// every .chart of the page); it returns the time of the last draw from
// navigation start.
func openCharts(tb *tab, url string, want int) (float64, chartsState) {
	tb.t.Helper()
	settle()
	tb.run(chromedp.Navigate(url))
	pollLong(tb, chartsDone(want))
	st := eval[chartsState](tb, chartsDrawnJS)
	// A chart that failed counts as drawn (it shows its error): none may.
	if msg := eval[string](tb, `[...document.querySelectorAll('.chart[data-state=error]')].map(c => c.dataset.key + ': ' + c.textContent).join('; ')`); msg != "" {
		tb.t.Fatalf("charts of %s failed: %s", url, msg)
	}
	return st.Last, st
}

// chartsDone is true once want charts are drawn (0: every .chart).
func chartsDone(want int) string {
	return fmt.Sprintf(`(() => { const r = document.querySelector('[data-charts-drawn]');
		const n = %d || document.querySelectorAll('.chart').length;
		return r && +r.dataset.chartsDrawn >= n; })()`, want)
}

// pollLong waits up to 3 minutes for a JavaScript condition (a cold read
// of 10,000,000 points takes a while on a loaded machine).
func pollLong(tb *tab, cond string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 190*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(180*time.Second))); err != nil {
		st := eval[chartsState](tb, chartsDrawnJS)
		tb.t.Fatalf("waiting for %s: %v (charts %+v; console: %v)", cond, err, st, tb.consoleErrors())
	}
}

// BenchmarkUIRunCharts10x1M: the run page of one run with 10 metrics of
// 1,000,000 steps each: navigation start to every chart drawn (the
// viewport is tall enough to hold them all, 1280x3000, so none waits to be
// scrolled to), and a zoom (a drag over the first chart's plot) from the
// mouse-up to the chart redrawn.
func BenchmarkUIRunCharts10x1M(b *testing.B) { benchRunCharts(b, fxLong, "bench-run-10x1M") }

// BenchmarkUIRunCharts10x1MBlobs is BenchmarkUIRunCharts10x1M with the
// history past 100,000 points in the blob store (columnar blobs; the
// server's first read copies them from the fixture's blob remote into the
// cache, which the cold figure includes).
func BenchmarkUIRunCharts10x1MBlobs(b *testing.B) {
	benchRunCharts(b, fxLongBlobs, "bench-run-10x1M-blobs")
}

func benchRunCharts(b *testing.B, spec benchfix.Spec, shot string) {
	needBench(b)
	dir, ids := uiFixture(b, spec)
	bs := serveFixture(b, dir)
	tb := benchTab(b, 1280, 3000)
	u := bs.URL + "/experiments/0/runs/" + ids[0] + "/metrics"
	cold, st := openCharts(tb, u, fxLong.Metrics)
	b.Logf("cold: %+v", st)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := samples{}
		for rep := 0; rep < benchReps(); rep++ {
			ms, _ := openCharts(tb, u, fxLong.Metrics)
			s.add("charts-drawn", ms)
			if rep == 0 {
				logChartBreakdown(tb)
			}
			s.add("zoom", zoom(tb, rep))
		}
		s.report(b)
	}
	b.StopTimer()
	// After the loop: ResetTimer drops the metrics reported before it.
	b.ReportMetric(cold, "cold-ms/charts-drawn")
	profileLoad(tb, u, chartsDone(fxLong.Metrics))
	traceLoad(tb, u, chartsDone(fxLong.Metrics))
	tb.screenshot(shot)
}

// zoom drags over a part of the first chart's plot (uPlot's .u-over) with
// the mouse and returns the milliseconds from the mouse-up to the chart's
// next 'mlgit:chart-drawn' mark.
func zoom(tb *tab, rep int) float64 {
	tb.t.Helper()
	type box struct{ X, Y, W, H float64 }
	r := eval[box](tb, `(() => { const o = document.querySelector('.chart .u-over');
		o.scrollIntoView({block: 'center'}); const r = o.getBoundingClientRect();
		return {X: r.x, Y: r.y, W: r.width, H: r.height}; })()`)
	before := eval[int](tb, `performance.getEntriesByName('mlgit:chart-drawn').length`)
	y := r.Y + r.H/2
	x0 := r.X + r.W*(0.2+0.05*float64(rep%4))
	x1 := x0 + r.W*0.3
	held := func(p *input.DispatchMouseEventParams) { p.Button, p.Buttons = input.MouseButtonLeft, 1 }
	tb.run(
		chromedp.MouseEvent(chromedp.MouseMoved, x0, y),
		chromedp.MouseEvent(chromedp.MousePressed, x0, y, held, chromedp.ClickCount(1)),
		chromedp.MouseEvent(chromedp.MouseMoved, (x0+x1)/2, y, held),
		chromedp.MouseEvent(chromedp.MouseMoved, x1, y, held),
	)
	t0 := eval[float64](tb, `performance.now()`)
	tb.run(chromedp.MouseEvent(chromedp.MouseReleased, x1, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	pollLong(tb, fmt.Sprintf(`performance.getEntriesByName('mlgit:chart-drawn').length > %d`, before))
	marks := eval[[]float64](tb, fmt.Sprintf(`performance.getEntriesByName('mlgit:chart-drawn').slice(%d).map(m => m.startTime)`, before))
	return marks[len(marks)-1] - t0
}

// BenchmarkUIReadHistory10x1M: what a cold run page waits for, without
// the browser: repo.AllMetricHistory of the run with 10 metrics of
// 1,000,000 steps (one read of all its segments, as the series endpoint
// does for runs under 16,000,000 points), with the Go heap's peak. Profile
// it with -cpuprofile.
func BenchmarkUIReadHistory10x1M(b *testing.B) {
	needBench(b)
	dir, ids := uiFixture(b, fxLong)
	bs := serveFixture(b, dir)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := bs.R.MetricHistoryColumns(ids[0], func(string) bool { return true })
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, c := range h {
			n += c.Len()
		}
		if n != fxLong.Metrics*fxLong.Steps {
			b.Fatalf("%d points, want %d", n, fxLong.Metrics*fxLong.Steps)
		}
	}
}

// compareURL is the compare page of runs for keys.
func compareURL(base string, ids []string, keys ...string) string {
	q := url.Values{"runs": {strings.Join(ids, ",")}}
	if len(keys) > 0 {
		q.Set("keys", strings.Join(keys, ","))
	}
	return base + "/compare?" + q.Encode()
}

// BenchmarkUICompare100: the compare page of 100 runs with 10 metrics of
// 10,000 steps: navigation start to every chart drawn (1280x3000), and to
// the charts of the first screen drawn in a 1280x800 window.
func BenchmarkUICompare100(b *testing.B) {
	needBench(b)
	dir, ids := uiFixture(b, fxCompare)
	bs := serveFixture(b, dir)
	tb := benchTab(b, 1280, 3000)
	keys := make([]string, fxCompare.Metrics)
	for m := range keys {
		keys[m] = benchfix.MetricKey(m)
	}
	u := compareURL(bs.URL, ids, keys...)
	cold, st := openCharts(tb, u, fxCompare.Metrics)
	b.Logf("cold: %+v", st)
	tb.run(chromedp.EmulateViewport(1280, 800))
	first := firstScreen(tb, u)
	tb.run(chromedp.EmulateViewport(1280, 3000))
	b.Logf("%d charts in the first screen at 1280x800", first)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := samples{}
		for rep := 0; rep < benchReps(); rep++ {
			ms, _ := openCharts(tb, u, fxCompare.Metrics)
			s.add("charts-drawn", ms)
			if rep == 0 {
				logChartBreakdown(tb)
			}
			// What a 1280x800 window shows first: the charts in view.
			tb.run(chromedp.EmulateViewport(1280, 800))
			ms, _ = openCharts(tb, u, first)
			s.add("first-screen-charts", ms)
			tb.run(chromedp.EmulateViewport(1280, 3000))
		}
		s.report(b)
	}
	b.StopTimer()
	// After the loop: ResetTimer drops the metrics reported before it.
	b.ReportMetric(cold, "cold-ms/charts-drawn")
	profileLoad(tb, u, chartsDone(fxCompare.Metrics))
	traceLoad(tb, u, chartsDone(fxCompare.Metrics))
	tb.screenshot("bench-compare-100")
}

// BenchmarkUICompare1000OneChart: 1,000 runs on one chart (metric acc of
// 1,000 steps each): navigation start to the chart drawn.
func BenchmarkUICompare1000OneChart(b *testing.B) {
	needBench(b)
	dir, ids := uiFixture(b, fxMany)
	bs := serveFixture(b, dir)
	tb := benchTab(b, 1280, 800)
	u := compareURL(bs.URL, ids, "acc")
	cold, st := openCharts(tb, u, 1)
	b.Logf("cold: %+v", st)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := samples{}
		for rep := 0; rep < benchReps(); rep++ {
			ms, _ := openCharts(tb, u, 1)
			s.add("chart-drawn", ms)
			if rep == 0 {
				logChartBreakdown(tb)
			}
		}
		s.report(b)
	}
	b.StopTimer()
	// After the loop: ResetTimer drops the metrics reported before it.
	b.ReportMetric(cold, "cold-ms/chart-drawn")
	profileLoad(tb, u, chartsDone(1))
	traceLoad(tb, u, chartsDone(1))
	tb.screenshot("bench-compare-1000")
}

// BenchmarkUIRun1000Keys: the run page of one run with 1,000 metrics (of
// 1,000 steps): navigation start to the page open (the load event: the
// metrics table and 1,000 chart placeholders parsed, scripts run) and to
// the charts of the first screen drawn (1280x800; the others mount as they
// scroll in), and a chart further down from the scroll that brings it in
// to its draw.
func BenchmarkUIRun1000Keys(b *testing.B) {
	needBench(b)
	dir, ids := uiFixture(b, fxKeys)
	bs := serveFixture(b, dir)
	tb := benchTab(b, 1280, 800)
	u := bs.URL + "/experiments/0/runs/" + ids[0] + "/metrics"
	first := firstScreen(tb, u)
	cold, st := openCharts(tb, u, first)
	b.Logf("cold: %+v, %d charts in the first screen", st, first)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := samples{}
		for rep := 0; rep < benchReps(); rep++ {
			ms, _ := openCharts(tb, u, first)
			nt := eval[navTiming](tb, navTimingJS)
			s.add("page-open", nt.LoadEnd)
			s.add("page-server", nt.ResponseStart-nt.RequestStart)
			s.add("first-screen-charts", ms)
			if rep == 0 {
				logChartBreakdown(tb)
			}
			s.add("scroll-in", scrollIn(tb, 400+100*rep))
		}
		s.report(b)
	}
	b.StopTimer()
	// After the loop: ResetTimer drops the metrics reported before it.
	b.ReportMetric(cold, "cold-ms/first-screen-charts")
	profileLoad(tb, u, chartsDone(first))
	traceLoad(tb, u, chartsDone(first))
	tb.screenshot("bench-run-1000-keys")
}

// firstScreen opens url and returns how many charts intersect the first
// screen once the page has laid out (at least 1).
func firstScreen(tb *tab, url string) int {
	tb.t.Helper()
	tb.run(chromedp.Navigate(url))
	return max(1, eval[int](tb, `(() => [...document.querySelectorAll('.chart')].filter(c => {
		const r = c.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight && r.height > 0; }).length)()`))
}

// scrollIn scrolls chart k of the page into view and returns the
// milliseconds from the scroll to its 'mlgit:chart-drawn' mark.
func scrollIn(tb *tab, k int) float64 {
	tb.t.Helper()
	t0 := eval[float64](tb, fmt.Sprintf(`(() => { const c = document.querySelectorAll('.chart')[%d];
		const t = performance.now(); c.scrollIntoView({block: 'center'}); return t; })()`, k))
	pollLong(tb, fmt.Sprintf(`document.querySelectorAll('.chart')[%d].dataset.state === 'drawn'`, k))
	return eval[float64](tb, fmt.Sprintf(`(() => { const key = document.querySelectorAll('.chart')[%d].dataset.key;
		const m = performance.getEntriesByName('mlgit:chart-drawn').filter(m => m.detail && m.detail.key === key).pop();
		return m.startTime; })()`, k)) - t0
}

// BenchmarkUIAssets: the JavaScript and CSS a page loads, gzip-compressed
// as the server sends them: KB-gz/<page> from the browser's resource
// entries of the run and runs pages (encoded body sizes of every script,
// module and style sheet), and KB-gz/all the sum over every .js and .css
// under static/ (vendor included) at gzip's best compression, as
// assets.go encodes them.
func BenchmarkUIAssets(b *testing.B) {
	needBench(b)
	var all float64
	err := fs.WalkDir(os.DirFS("static"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css")) {
			return err
		}
		data, err := os.ReadFile(filepath.Join("static", p))
		if err != nil {
			return err
		}
		n := gzSize(data)
		b.Logf("%-28s %7d B, %6d B gzipped", p, len(data), n)
		all += float64(n)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	dir, ids := uiFixture(b, fxCompare)
	bs := serveFixture(b, dir)
	tb := benchTab(b, 1280, 800)
	// Every load from the network: encodedBodySize is 0 for cached ones.
	tb.run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	}))
	pages := map[string]string{
		"runs":    bs.URL + "/experiments/0",
		"run":     bs.URL + "/experiments/0/runs/" + ids[0] + "/metrics",
		"compare": compareURL(bs.URL, ids[:5], "acc"),
	}
	for i := 0; i < b.N; i++ {
		for name, u := range pages {
			tb.run(chromedp.Navigate(u))
			kb := eval[float64](tb, `performance.getEntriesByType('resource')
				.filter(e => /\.(js|css)(\?|$)/.test(e.name))
				.reduce((s, e) => s + (e.encodedBodySize || e.transferSize), 0) / 1024`)
			b.ReportMetric(kb, "KB-gz/"+name)
		}
	}
	b.ReportMetric(all/1024, "KB-gz/all")
}

func gzSize(data []byte) int {
	var n countWriter
	zw, _ := gzip.NewWriterLevel(&n, gzip.BestCompression)
	zw.Write(data)
	zw.Close()
	return int(n)
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
