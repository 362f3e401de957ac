// Charts of metric histories, drawn with uPlot from GET /ui/api/series.
//
// Markup (server-rendered, attributes are plain text):
//
//   <div class="chart" data-key="loss" data-runs="id1,id2"
//        data-names="name1␟name2" data-title="loss"></div>
//
//   data-key    the metric key (required)
//   data-runs   run ids, comma-separated, in series order (required)
//   data-names  the runs' names joined by U+001F (optional: the server's
//               names are used otherwise); they label the series
//   data-title  the heading (optional, default the key)
//
// mountLazyCharts(root, opts) returns a ChartGroup. It mounts every .chart
// under root once it comes near the viewport (IntersectionObserver): a
// chart that is never scrolled to is never fetched nor drawn, so a run with
// a thousand metric keys opens as fast as one with ten.
//
//   opts.x          'step' | 'wall' | 'relative' (default 'step')
//   opts.smoothing  0 … 0.99, bias-corrected EMA weight (default 0)
//   opts.log        log y scale (default false)
//   opts.controls   insert a toolbar (x axis, smoothing, log) before root
//                   (default true)
//
//   group.set({x, smoothing, log})  changes every chart of the group
//   group.charts                    the mounted Chart objects
//   group.observe(newRoot)          mounts the .chart elements of newRoot
//   group.settled()                 a promise: the charts in view are drawn
//   group.destroy()
//
// Each mounted element gets el.chart (the Chart; el.chart.u is its uPlot)
// and the attributes data-state (loading, drawn, empty, error),
// data-series (number of runs drawn), data-points (points drawn) and
// data-full (every point of the visible range is drawn). Each chart
// drawn the first time adds a performance mark 'mlgit:chart-drawn'
// (detail: {key}) and sets root.dataset.chartsDrawn to the number drawn.
//
// In a chart: drag along x to zoom (the visible range is fetched again, at
// full resolution when it fits), double-click to reset, click a legend
// entry to hide or show a run; the legend reads out every run at the
// cursor. NaN and ±Inf are drawn as gaps, marked by small triangles at the
// top edge and named under the chart.

import {getJSON, el} from './app.js';

// chartsAvailable reports whether uPlot was embedded and loaded.
export function chartsAvailable() {
  return document.body.dataset.charts === 'true' && typeof window.uPlot === 'function';
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

// color is the i-th series colour: ten distinct ones, then golden-angle hues.
export function color(i) {
  return i < PALETTE.length ? PALETTE[i] : `hsl(${Math.round((i * 137.508) % 360)}, 62%, 45%)`;
}

// fmtNum formats a value for read-outs: six significant digits.
export function fmtNum(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v !== 'number') return String(v);
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '−Inf';
  if (v !== 0 && (Math.abs(v) >= 1e7 || Math.abs(v) < 1e-4)) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

// fmtTicks formats an axis's ticks compactly and alike: 0, 250k, 500k,
// 750k, 1M; 2e-5, 4e-5; 0.1, 0.2.
export function fmtTicks(splits) {
  let m = 0;
  for (const v of splits) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  let f = (v) => String(Number(v.toPrecision(6)));
  if (m >= 1e15 || (m > 0 && m < 1e-3)) {
    f = (v) => (v === 0 ? '0' : v.toExponential(1).replace('.0e', 'e').replace('e+', 'e'));
  } else {
    for (const [d, sfx] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e4, 'k']]) {
      if (m < d) continue;
      const k = sfx === 'k' ? 1e3 : d;
      f = (v) => (v === 0 ? '0' : String(Number((v / k).toPrecision(4))) + sfx);
      break;
    }
  }
  return splits.map((v) => (typeof v === 'number' && Number.isFinite(v) ? f(v) : ''));
}

// fmtSeconds formats a duration in seconds: 12.5s, 3m05s, 2h01m.
export function fmtSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  const neg = s < 0 ? '−' : '';
  s = Math.abs(s);
  if (s < 60) return neg + (Math.round(s * 10) / 10) + 's';
  if (s < 3600) return neg + Math.floor(s / 60) + 'm' + String(Math.floor(s % 60)).padStart(2, '0') + 's';
  return neg + Math.floor(s / 3600) + 'h' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
}

// parseY reads a y value of the series API: a number or "NaN",
// "Infinity", "-Infinity".
export function parseY(v) {
  if (typeof v === 'number') return v;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return NaN;
}

// smooth is the bias-corrected exponential moving average of ys (weight w
// of the past); null and non-finite values are left out of it and kept.
export function smooth(ys, w) {
  if (!(w > 0)) return ys;
  const out = new Array(ys.length);
  let acc = 0, wn = 1;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) { out[i] = y; continue; }
    acc = acc * w + (1 - w) * y;
    wn *= w;
    out[i] = acc / (1 - wn);
  }
  return out;
}

// normalize prepares a series response once: each run gets its x array
// (shared when "same_x"), its non-finite y strings become null (gaps),
// counted in run.bad with their x (the first 2,000).
function normalize(resp) {
  let prevX = [];
  for (const r of resp.runs) {
    const xs = r.same_x ? prevX : r.x;
    r.x = xs;
    prevX = xs;
    const bad = {NaN: 0, '+Inf': 0, '−Inf': 0, xs: []};
    const y = r.y;
    for (let j = 0; j < y.length; j++) {
      const v = y[j];
      if (typeof v === 'number') continue;
      bad[v === 'Infinity' ? '+Inf' : v === '-Infinity' ? '−Inf' : 'NaN']++;
      if (bad.xs.length < 2000) bad.xs.push(xs[j]);
      y[j] = null;
    }
    r.bad = bad;
  }
  return resp;
}

// STEP_INCRS are the tick spacings of a step axis: 1, 2, 5, 10, 20, …
const STEP_INCRS = [];
for (let e = 1; e <= 1e15; e *= 10) STEP_INCRS.push(e, 2 * e, 5 * e);

const X_LABEL = {step: 'Step', wall: 'Time', relative: 'Relative time'};
const HEIGHT = 240;

// The series endpoint's point budget of one chart, shared by its runs
// (chartPoints and minSharedPx in api_series.go): past it every run gets
// the same, fewer, pixel columns whatever the chart's width.
const CHART_POINTS = 20000;
const MIN_SHARED_PX = 16;

// seriesPx is the px a chart of the given width asks for: its plot's
// width, or the shared budget's columns. For many runs it does not depend
// on the width, so the compare page can name (and preload) the request
// before any layout: preloadSeries in page_compare.go builds the same URL.
export function seriesPx(width, runs) {
  const px = Math.max(50, width - 70);
  if (runs > 1 && runs * 4 * px > CHART_POINTS) return Math.max(MIN_SHARED_PX, Math.floor(CHART_POINTS / (4 * runs)));
  return px;
}
// Above this many cells (x values × runs), when that at least halves the
// x values, the runs' points are placed on a shared grid of 4 slots per
// pixel column (M4 keeps at most 4 per column,
// so nothing is lost but sub-pixel x precision; the read-out then shows
// x as ≈). Downsampled runs pick their extremes at different steps, so
// without it 100 runs of 10,000 steps would need 10,000 × 100 cells.
const MAX_CELLS = 400_000;

// joinSeries turns per-run (xs, values) into uPlot's aligned columns:
// one ascending x array, one array per run with null for gaps (NaN, ±Inf)
// and undefined where a run has no point at that x (spanned).
export function joinSeries(runs, grid) {
  if (runs.length === 0) return [[]];
  const first = runs[0].xs;
  let same = true;
  for (const r of runs) {
    if (r.xs === first) continue;
    if (r.xs.length !== first.length) { same = false; break; }
    for (let i = 0; i < first.length; i += 1) {
      if (r.xs[i] !== first[i]) { same = false; break; }
    }
    if (!same) break;
  }
  if (same) return [Array.from(first), ...runs.map((r) => r.vals)];
  let total = 0;
  for (const r of runs) total += r.xs.length;
  const all = new Float64Array(total);
  let k = 0;
  for (const r of runs) { all.set(r.xs, k); k += r.xs.length; }
  all.sort();
  let u = 0;
  for (let i = 0; i < all.length; i++) {
    if (i === 0 || all[i] !== all[u - 1]) all[u++] = all[i];
  }
  if (grid && u * runs.length > MAX_CELLS && grid.xmax > grid.xmin && grid.px > 0 && (grid.px + 2) * 4 * 2 < u) {
    return snapSeries(runs, grid);
  }
  const xs = Array.from(all.subarray(0, u));
  const cols = [xs];
  for (const r of runs) {
    const out = new Array(u).fill(undefined);
    let j = 0;
    for (let i = 0; i < r.xs.length; i++) {
      const x = r.xs[i];
      while (xs[j] < x) j++;
      // A repeated x keeps a gap if any of its values is one.
      if (out[j] !== null) out[j] = r.vals[i];
    }
    cols.push(out);
  }
  return cols;
}

// snapSeries places each run's points on a shared grid of 5 slots per
// pixel column of the server's grid (plus one column each side for the
// edge neighbours): per column and run its first, lowest, highest and last
// point (M4 again, in their order) and a gap if the column has one.
function snapSeries(runs, {xmin, xmax, px}) {
  const K = 5;
  const w = (xmax - xmin) / px;
  const n = (px + 2) * K;
  const xs = new Array(n);
  for (let c = -1; c <= px; c++) {
    for (let s = 0; s < K; s++) xs[(c + 1) * K + s] = xmin + (c + (s + 0.5) / K) * w;
  }
  const cols = [xs];
  cols.snapped = true;
  const col = (x) => (x >= xmax ? (x === xmax ? px - 1 : px) : Math.max(-1, Math.floor((x - xmin) / w)));
  const picks = [0, 0, 0, 0, 0];
  for (const r of runs) {
    const out = new Array(n).fill(undefined);
    const {xs: rx, vals} = r;
    let i = 0;
    while (i < rx.length) {
      const c = col(rx[i]);
      let j = i, lo = -1, hi = -1, gap = -1;
      for (; j < rx.length && col(rx[j]) === c; j++) {
        const v = vals[j];
        if (v === null || v === undefined) { if (gap < 0 && v === null) gap = j; continue; }
        if (lo < 0 || v < vals[lo]) lo = j;
        if (hi < 0 || v > vals[hi]) hi = j;
      }
      // The column's first, lowest, highest and last point and its first
      // gap, in order, each once.
      let np = 0;
      for (const k of [i, lo, hi, j - 1, gap]) {
        if (k < 0) continue;
        let q = np++;
        while (q > 0 && picks[q - 1] > k) { picks[q] = picks[q - 1]; q--; }
        picks[q] = k;
      }
      let slot = (c + 1) * K;
      for (let p = 0; p < np; p++) {
        if (p > 0 && picks[p] === picks[p - 1]) continue;
        out[slot++] = picks[p] === gap ? null : vals[picks[p]];
      }
      i = j;
    }
    cols.push(out);
  }
  return cols;
}

let groups = 0;

// ChartGroup is the set of charts of one root, sharing settings and a
// synced cursor.
class ChartGroup {
  constructor(root, opts) {
    this.root = root;
    this.opts = {x: 'step', smoothing: 0, log: false, ...opts};
    this.charts = [];
    this.drawn = 0;
    this.syncKey = 'mlgit-charts-' + (++groups);
    this.seen = false; // the observer has reported once
    this.settledWaiters = [];
    this.io = 'IntersectionObserver' in window ? new IntersectionObserver((entries) => {
      // Widths are read before any chart changes the DOM: one layout,
      // not one per chart.
      const nodes = entries.filter((e) => e.isIntersecting).map((e) => e.target);
      const widths = nodes.map((n) => n.clientWidth);
      nodes.forEach((n, i) => {
        this.io.unobserve(n);
        this.mount(n, widths[i]);
      });
      this.seen = true;
      this.checkSettled();
    }, {rootMargin: '300px 0px'}) : null;
  }

  observe(root) {
    let n = 0;
    const now = [];
    for (const node of root.querySelectorAll('.chart')) {
      if (node.chart || node.dataset.state) continue;
      node.dataset.state = 'waiting';
      n++;
      // A chart whose series the page's head preloads asks for them now,
      // so that the response is read as soon as it arrives; it is still
      // drawn only when it scrolls into view.
      if (node.dataset.preload) node.prefetch = getJSON(node.dataset.preload).catch((err) => err);
      if (this.io) this.io.observe(node);
      else this.mount(node);
    }
    if (!this.io || n === 0) {
      this.seen = true;
      this.checkSettled();
    }
  }

  // settled resolves once the charts in view have been fetched and drawn
  // (or failed): what else the page loads can wait for it.
  settled() {
    return new Promise((resolve) => {
      this.settledWaiters.push(resolve);
      this.checkSettled();
    });
  }

  checkSettled() {
    if (!this.seen || this.settledWaiters.length === 0) return;
    if (!this.charts.every((c) => c.everDrawn)) return;
    for (const f of this.settledWaiters.splice(0)) f();
  }

  mount(node, width) {
    const c = new Chart(node, this, width);
    this.charts.push(c);
    c.load();
  }

  // markDrawn records a chart drawn with new data: a performance mark
  // each time, and the count of charts drawn at least once.
  markDrawn(c) {
    if (!c.everDrawn) {
      c.everDrawn = true;
      this.drawn++;
      this.root.dataset.chartsDrawn = String(this.drawn);
      this.checkSettled();
    }
    try {
      performance.mark('mlgit:chart-drawn', {detail: {key: c.key}});
    } catch {
      performance.mark('mlgit:chart-drawn');
    }
  }

  set(opts) {
    const old = this.opts;
    this.opts = {...old, ...opts};
    for (const c of this.charts) {
      if (this.opts.x !== old.x) c.load();
      else if (this.opts.log !== old.log) c.render(true);
      else if (this.opts.smoothing !== old.smoothing) c.render(false);
    }
  }

  destroy() {
    if (this.io) this.io.disconnect();
    for (const c of this.charts) c.destroy();
    this.charts = [];
  }
}

// Chart is one .chart element: its fetched series and its uPlot.
class Chart {
  constructor(node, group, width) {
    this.node = node;
    this.group = group;
    this.key = node.dataset.key || '';
    this.ids = (node.dataset.runs || '').split(',').filter(Boolean);
    this.names = node.dataset.names ? node.dataset.names.split('\u001f') : [];
    this.u = null;
    this.resp = null;
    this.seq = 0;
    this.abort = null;
    this.range = null; // the zoomed x range, null for everything
    this.everDrawn = false;
    node.chart = this;
    node.replaceChildren();
    this.title = el('div', {className: 'chart-title', textContent: node.dataset.title || this.key});
    this.status = el('span', {className: 'chart-status muted'});
    this.title.append(' ', this.status);
    this.plot = el('div', {className: 'chart-plot'});
    this.note = el('div', {className: 'chart-note', hidden: true});
    node.append(this.title, this.plot, this.note);
    this.width = width === undefined ? this.plotWidth() : this.plotWidth(width);
    if ('ResizeObserver' in window) {
      this.ro = new ResizeObserver(() => this.resize());
      this.ro.observe(node);
    }
    // Double-click resets the zoom: fetch the whole range again. Capture
    // runs before uPlot's own handler (which rescales to the data it has).
    node.addEventListener('dblclick', () => {
      if (!this.range) return;
      this.range = null;
      this.resetting = true;
      this.load();
    }, true);
  }

  plotWidth(w = this.node.clientWidth) {
    return Math.max(200, Math.floor(w - 14));
  }

  url(range) {
    const q = new URLSearchParams({key: this.key, x: this.group.opts.x, px: String(seriesPx(this.width, this.ids.length))});
    if (range) {
      q.set('xmin', String(range.min));
      q.set('xmax', String(range.max));
    }
    // Run ids are hex: joined with bare commas, a thousand fit in 33 KB.
    return '/ui/api/series?' + q.toString() + '&run=' + this.ids.join(',');
  }

  // load fetches the series (the zoomed range if any) and draws them; a
  // newer load supersedes an older one.
  async load() {
    const seq = ++this.seq;
    if (this.abort) this.abort.abort();
    this.abort = new AbortController();
    if (!this.u) this.node.dataset.state = 'loading';
    this.status.textContent = 'loading…';
    let resp;
    try {
      const url = this.url(this.range);
      const pre = this.node.prefetch;
      this.node.prefetch = null;
      if (pre && url === this.node.dataset.preload) {
        resp = await pre;
        if (resp instanceof Error) throw resp;
      } else {
        resp = await getJSON(url, this.abort.signal);
      }
    } catch (err) {
      if (err.name === 'AbortError' || seq !== this.seq) return;
      this.fail(err);
      return;
    }
    if (seq !== this.seq) return;
    this.resp = normalize(resp);
    const xChanged = this.drawnX !== resp.x;
    this.render(xChanged || !this.u || this.resetting);
    this.resetting = false;
  }

  fail(err) {
    this.destroyPlot();
    this.node.dataset.state = 'error';
    this.status.textContent = '';
    this.plot.replaceChildren(el('p', {className: 'err-text', textContent: 'Could not load ' + this.key + ': ' + err.message}));
    this.group.markDrawn(this);
  }

  // series turns the response into per-run arrays with smoothing and the
  // log scale applied, and counts what is not drawn.
  series() {
    const {smoothing, log} = this.group.opts;
    const out = [];
    for (const [i, r] of this.resp.runs.entries()) {
      // Without smoothing or log scale the response's arrays are drawn as
      // they are.
      let vals = smooth(r.y, smoothing);
      let nonpos = 0;
      if (log) {
        if (vals === r.y) vals = vals.slice();
        for (let j = 0; j < vals.length; j++) {
          if (vals[j] !== null && vals[j] <= 0) { vals[j] = null; nonpos++; }
        }
      }
      out.push({id: r.id, name: this.names[i] || r.name || r.id.slice(0, 8), total: r.total, full: r.full,
        xs: r.x, vals, bad: r.bad, nonpos});
    }
    return out;
  }

  // render draws the fetched response; rebuild recreates the uPlot (new
  // x unit, log scale or first draw), else the data is swapped in place.
  render(rebuild) {
    const resp = this.resp;
    const runs = this.series();
    const withPoints = runs.filter((r) => r.total > 0);
    this.node.dataset.series = String(runs.length);
    this.node.dataset.full = String(runs.every((r) => r.full));
    if (withPoints.length === 0) {
      this.destroyPlot();
      this.node.dataset.state = 'empty';
      this.node.dataset.points = '0';
      this.status.textContent = '';
      this.plot.replaceChildren(el('p', {className: 'muted chart-empty', textContent: 'No points of this metric in ' + (runs.length === 1 ? 'this run.' : 'these runs.')}));
      this.note.hidden = true;
      this.group.markDrawn(this);
      return;
    }
    const data = joinSeries(runs, {xmin: resp.xmin, xmax: resp.xmax, px: resp.px});
    this.snapped = !!data.snapped;
    this.pendingMark = true;
    this.runs = runs;
    let points = 0;
    for (const r of runs) points += r.xs.length;
    this.node.dataset.points = String(points);
    const total = runs.reduce((a, r) => a + r.total, 0);
    this.status.textContent = runs.every((r) => r.full)
      ? (this.range ? 'zoomed, every point' : '')
      : `${points.toLocaleString()} of ${total.toLocaleString()} points (M4${this.range ? ', zoomed' : ''})`;
    this.writeNote(runs);
    if (rebuild || !this.u) {
      this.create(data, runs);
    } else {
      this.u.setData(data, false);
      if (this.range) this.u.setScale('x', {min: this.range.min, max: this.range.max});
      else this.u.setScale('x', this.fullX(data));
    }
    this.node.dataset.state = 'drawn';
  }

  writeNote(runs) {
    const parts = [];
    let shown = 0, more = 0;
    for (const r of runs) {
      const kinds = ['NaN', '+Inf', '−Inf'].filter((k) => r.bad[k] > 0).map((k) => `${k} ×${r.bad[k]}`);
      if (kinds.length === 0) continue;
      if (shown < 4) parts.push(`${r.name}: ${kinds.join(', ')}`);
      else more++;
      shown++;
    }
    const nonpos = runs.reduce((a, r) => a + r.nonpos, 0);
    const lines = [];
    if (parts.length) lines.push('Not drawn (gaps, ▼ at the top): ' + parts.join('; ') + (more ? `; and ${more} more runs` : '') + '.');
    if (nonpos) lines.push(`${nonpos.toLocaleString()} values ≤ 0 are not drawn on the log scale.`);
    this.note.textContent = lines.join(' ');
    this.note.hidden = lines.length === 0;
  }

  create(data, runs) {
    this.destroyPlot();
    this.plot.replaceChildren();
    const {x, log} = this.group.opts;
    const many = runs.length > 20;
    const xSeries = {label: X_LABEL[x] || 'x'};
    // Snapped x values (see MAX_CELLS) are read out as approximate.
    const approx = () => (this.snapped ? '≈' : '');
    if (x === 'step') xSeries.value = (u, v) => (v === null || v === undefined ? '—' : approx() + fmtNum(this.snapped ? Math.round(v) : v));
    if (x === 'relative') xSeries.value = (u, v) => approx() + fmtSeconds(v);
    // Log axes span decades: each tick gets its own unit.
    const axes = [{}, {size: 56, values: log ? (u, splits) => splits.map((v) => fmtTicks([v])[0]) : (u, splits) => fmtTicks(splits)}];
    if (x === 'step') {
      axes[0].values = (u, splits) => fmtTicks(splits);
      axes[0].incrs = STEP_INCRS; // steps are whole numbers
    }
    if (x === 'relative') axes[0].values = (u, splits) => splits.map((v) => fmtSeconds(v));
    const opts = {
      width: this.width,
      height: HEIGHT,
      scales: {x: {time: x === 'wall'}, y: log ? {distr: 3, log: 10} : {}},
      series: [xSeries, ...runs.map((r, i) => ({
        label: r.name,
        stroke: color(i),
        width: many ? 1 : 1.5,
        spanGaps: false,
        // Many runs: no point markers (uPlot would draw them where points
        // are sparse, a circle per point per run).
        ...(many ? {points: {show: false}} : {}),
        value: (u, v) => fmtNum(v),
      }))],
      axes,
      legend: {live: true},
      cursor: {
        drag: {x: true, y: false, setScale: true},
        points: {show: runs.length <= 50},
        // Hiding a run hides it in every chart of the group (when the
        // charts are of several runs: a run page's charts are of one).
        sync: {key: this.group.syncKey, setSeries: this.ids.length > 1,
          filters: {pub: (type) => type !== 'mousedown' && type !== 'mouseup' && type !== 'dblclick'}},
      },
      hooks: {
        // A drag zoom: uPlot reports the selection (mouse-up), then the
        // new x scale (at its next commit).
        setSelect: [(u) => { if (u.select.width > 0) this.dragged = true; }],
        setScale: [(u, key) => this.onScale(u, key)],
        draw: [(u) => this.drawMarks(u)],
      },
    };
    this.drawnX = this.resp.x;
    this.u = new window.uPlot(opts, data, this.plot);
    if (this.range) this.u.setScale('x', {min: this.range.min, max: this.range.max});
    else if (this.snapped) this.u.setScale('x', this.fullX(data));
  }

  // fullX is the unzoomed x range: the data's, or on a snapped grid (whose
  // edge columns lie outside) the server's range.
  fullX(data) {
    if (this.snapped && this.resp.xmax > this.resp.xmin) return {min: this.resp.xmin, max: this.resp.xmax};
    return {min: data[0][0], max: data[0][data[0].length - 1]};
  }

  // onScale refetches the visible range after a drag zoom.
  onScale(u, key) {
    if (key !== 'x' || !this.dragged) return;
    this.dragged = false;
    const {min, max} = u.scales.x;
    if (min === null || max === null) return;
    this.range = {min, max};
    clearTimeout(this.zoomTimer);
    this.zoomTimer = setTimeout(() => this.load(), 30);
  }

  // drawMarks marks the x of each non-finite value with a small triangle
  // at the plot's top edge, in the run's colour; the first draw is
  // reported to the group.
  drawMarks(u) {
    if (this.pendingMark) {
      this.pendingMark = false;
      this.group.markDrawn(this);
    }
    if (!this.runs) return;
    const ctx = u.ctx;
    const top = u.bbox.top;
    const s = Math.max(4, 4 * (window.devicePixelRatio || 1));
    const {min, max} = u.scales.x;
    ctx.save();
    for (const [i, r] of this.runs.entries()) {
      if (r.bad.xs.length === 0 || !u.series[i + 1] || !u.series[i + 1].show) continue;
      ctx.fillStyle = color(i);
      for (const xv of r.bad.xs) {
        if (xv < min || xv > max) continue;
        const px = u.valToPos(xv, 'x', true);
        ctx.beginPath();
        ctx.moveTo(px - s, top);
        ctx.lineTo(px + s, top);
        ctx.lineTo(px, top + 1.6 * s);
        ctx.closePath();
        ctx.fill();
      }
    }
    ctx.restore();
  }

  resize() {
    const w = this.plotWidth();
    if (Math.abs(w - this.width) < 2) return;
    const grew = w > this.width * 1.5;
    this.width = w;
    if (this.u) this.u.setSize({width: w, height: HEIGHT});
    // A much wider chart needs more columns than were fetched.
    if (grew && this.resp && !this.resp.runs.every((r) => r.full)) this.load();
  }

  destroyPlot() {
    if (this.u) {
      this.u.destroy();
      this.u = null;
    }
  }

  destroy() {
    if (this.abort) this.abort.abort();
    if (this.ro) this.ro.disconnect();
    this.destroyPlot();
  }
}

// controls builds the toolbar of a group: x axis, smoothing, log scale.
export function chartControls(group) {
  const o = group.opts;
  const xSel = el('select', {name: 'x', className: 'chart-x'},
    el('option', {value: 'step', textContent: 'Step'}),
    el('option', {value: 'wall', textContent: 'Wall time'}),
    el('option', {value: 'relative', textContent: 'Relative time'}));
  xSel.value = o.x;
  xSel.addEventListener('change', () => group.set({x: xSel.value}));
  const sm = el('input', {type: 'range', min: '0', max: '0.99', step: '0.01', className: 'chart-smoothing'});
  sm.value = String(o.smoothing);
  const smOut = el('output', {className: 'chart-smoothing-value', textContent: String(o.smoothing)});
  sm.addEventListener('input', () => {
    smOut.textContent = sm.value;
    group.set({smoothing: Number(sm.value)});
  });
  const logBox = el('input', {type: 'checkbox', className: 'chart-log'});
  logBox.checked = !!o.log;
  logBox.addEventListener('change', () => group.set({log: logBox.checked}));
  return el('div', {className: 'toolbar chart-controls'},
    el('label', null, 'X axis ', xSel),
    el('label', null, 'Smoothing ', sm, ' ', smOut),
    el('label', null, logBox, ' Log scale'),
    el('span', {className: 'muted chart-help', textContent: 'Drag to zoom, double-click to reset; click a legend entry to hide a run.'}));
}

// mountLazyCharts mounts the .chart elements under root as they come into
// view (see the top of this file).
export function mountLazyCharts(root, opts = {}) {
  if (!root) return null;
  if (!chartsAvailable()) {
    for (const node of root.querySelectorAll('.chart')) {
      node.dataset.state = 'unavailable';
      node.replaceChildren(
        el('div', {className: 'chart-title', textContent: node.dataset.title || node.dataset.key || ''}),
        el('p', {className: 'muted chart-empty', textContent: 'Charts are not available in this build (the uPlot bundle is not embedded); the values are in the tables.'}));
    }
    return null;
  }
  const group = new ChartGroup(root, opts);
  if (opts.controls !== false && root.querySelector('.chart')) root.before(chartControls(group));
  group.observe(root);
  return group;
}
