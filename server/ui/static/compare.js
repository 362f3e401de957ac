// The compare page: metric charts of every run (chart.js), the diff
// table (fetched from /compare/table once the charts in view are drawn)
// with its "show only rows that differ" toggle, the metric picker's
// buttons and a scatter plot of one param or metric against another, one
// point per run, read from the table's cells (td[data-v]).

import {el} from './app.js';
import {mountLazyCharts, chartsAvailable, color, fmtNum, fmtTicks} from './chart.js';

// The runs, in series order: ids and names (joined by U+001F) are on the
// run list once; the page has chips for the first 100 of them.
const runList = document.getElementById('compare-runs');
const runIDs = runList ? (runList.dataset.runs || '').split(',').filter(Boolean) : [];
const runNames = runList && runList.dataset.names ? runList.dataset.names.split('\u001f') : [];
const runs = runIDs.map((id, i) => ({id, name: runNames[i] || id.slice(0, 8), href: '/runs/' + id}));

// Charts: mounted first, so that their series are asked for before
// anything else.
const chartRoot = document.getElementById('compare-charts');
if (chartRoot && runList) {
  for (const c of chartRoot.querySelectorAll('.chart')) {
    c.dataset.runs = runList.dataset.runs;
    c.dataset.names = runList.dataset.names || '';
  }
}
const group = chartRoot ? mountLazyCharts(chartRoot) : null;

// Colour swatches of the run list match the charts' series.
function paintSwatches(root) {
  for (const sw of root.querySelectorAll('.swatch[data-series]')) {
    sw.style.backgroundColor = color(Number(sw.dataset.series));
  }
}
if (runList) paintSwatches(runList);

// The other runs' chips, on demand.
const moreRuns = document.getElementById('more-runs');
if (moreRuns) {
  moreRuns.addEventListener('click', () => {
    const shown = runList.querySelectorAll('a.run-chip').length;
    const frag = document.createDocumentFragment();
    for (let i = shown; i < runs.length; i++) {
      const sw = el('span', {className: 'swatch'});
      sw.style.backgroundColor = color(i); // CSSOM: allowed by the CSP
      frag.append(el('a', {className: 'run-chip', href: runs[i].href, title: `${runs[i].name} (${runs[i].id})`}, sw, runs[i].name));
    }
    moreRuns.replaceWith(frag);
  });
}

// The metric picker's tick-all and untick-all buttons.
const keyForm = document.getElementById('compare-keys');
if (keyForm) {
  const boxes = () => keyForm.querySelectorAll('input[type=checkbox][name=keys]');
  keyForm.querySelector('.key-all').addEventListener('click', () => { for (const b of boxes()) b.checked = true; });
  keyForm.querySelector('.key-none').addEventListener('click', () => { for (const b of boxes()) b.checked = false; });
}

// The diff table: an HTML fragment (html/template-escaped by the
// server) of up to a megabyte for 1,000 runs, fetched once the charts in
// view are drawn (at the latest after 5 s), so that neither it nor the
// scatter plot, which reads it, holds the charts back.
const tableBox = document.getElementById('diff-table-box');
const diffOnly = document.getElementById('diff-only');
const diffCount = document.getElementById('diff-count');
let table = null;
let tableLoad = null;

function loadTable() {
  if (!tableLoad) tableLoad = fetchTable();
  return tableLoad;
}

async function fetchTable() {
  if (!tableBox) return null;
  try {
    const resp = await fetch('/compare/table?runs=' + runIDs.join(','), {credentials: 'same-origin'});
    const text = await resp.text();
    const tpl = document.createElement('template');
    tpl.innerHTML = text;
    const t = tpl.content.querySelector('#diff-table');
    if (!resp.ok || !t) {
      const msg = tpl.content.querySelector('main') || tpl.content;
      throw new Error(`${resp.status} ${(msg.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 300)}`);
    }
    // Times: the browser's local time in the title, as app.js does.
    for (const tm of t.querySelectorAll('time[data-ms]')) {
      const d = new Date(Number(tm.dataset.ms));
      if (!isNaN(d)) { tm.dateTime = d.toISOString(); tm.title = d.toISOString(); }
    }
    tableBox.replaceChildren(t);
    table = t;
  } catch (err) {
    tableBox.replaceChildren(el('p', {className: 'err-text', textContent: 'Could not load the table: ' + err.message}));
    return null;
  }
  if (diffOnly) {
    const rows = table.querySelectorAll('tr[data-key]');
    const differ = table.querySelectorAll('tr[data-key][data-differs="true"]');
    diffCount.textContent = `${differ.length} of ${rows.length} rows differ`;
    const apply = () => table.classList.toggle('diff-only', diffOnly.checked);
    diffOnly.addEventListener('change', apply);
    apply();
  }
  return table;
}

// chartsSettled resolves once the charts in view are drawn, at the
// latest after 5 s: the table and the scatter plot wait for it.
const chartsSettled = group
  ? Promise.race([group.settled(), new Promise((resolve) => setTimeout(resolve, 5000))])
  : Promise.resolve();
const tableReady = chartsSettled.then(loadTable);

// The scatter plot.
const box = document.getElementById('scatter');
const readout = document.getElementById('scatter-readout');
const selX = document.getElementById('scatter-x');
const selY = document.getElementById('scatter-y');
let scatter = null;

// column reads one table row as values per run (null when missing).
function column(sel) {
  if (!table) return runs.map(() => null);
  const i = sel.indexOf(':');
  const kind = sel.slice(0, i), key = sel.slice(i + 1);
  for (const tr of table.querySelectorAll('tr[data-kind]')) {
    if (tr.dataset.kind !== kind || tr.dataset.key !== key) continue;
    return Array.from(tr.querySelectorAll('td'), (td) => (td.classList.contains('missing') ? null : td.dataset.v));
  }
  return runs.map(() => null);
}

// axis turns raw strings into plot values: numbers when every present
// value is one (NaN and infinities left out), else categories.
function axis(raw) {
  const present = raw.filter((v) => v !== null && v !== undefined);
  const numeric = present.length > 0 && present.every((v) => v.trim() !== '' && !Number.isNaN(Number(v)) || /^[+-]?(inf|infinity|nan)$/i.test(v));
  if (numeric) {
    return {cats: null, vals: raw.map((v) => {
      if (v === null || v === undefined) return null;
      const n = Number(v);
      return Number.isFinite(n) ? n : null;
    })};
  }
  const cats = Array.from(new Set(present)).sort();
  const index = new Map(cats.map((c, i) => [c, i]));
  return {cats, vals: raw.map((v) => (v === null || v === undefined ? null : index.get(v)))};
}

function label(sel) {
  const i = sel.indexOf(':');
  return sel.slice(i + 1) + ' (' + sel.slice(0, i) + ')';
}

async function drawScatter() {
  if (!box || !selX || !selY) return;
  await tableReady;
  if (scatter) { scatter.destroy(); scatter = null; }
  box.replaceChildren();
  if (!chartsAvailable()) {
    box.append(el('p', {className: 'muted', textContent: 'The scatter plot needs the uPlot bundle, which this build does not embed.'}));
    return;
  }
  const ax = axis(column(selX.value));
  const ay = axis(column(selY.value));
  const pts = [];
  for (let i = 0; i < runs.length; i++) {
    const x = ax.vals[i], y = ay.vals[i];
    if (x !== null && y !== null) pts.push({x, y, i});
  }
  pts.sort((a, b) => a.x - b.x);
  box.dataset.points = String(pts.length);
  const missing = runs.length - pts.length;
  readout.textContent = missing ? `${missing} of ${runs.length} runs lack a value of one of the two (not plotted).` : '\u00a0';
  const catAxis = (cats) => (cats ? {
    values: (u, splits) => splits.map((v) => (Number.isInteger(v) && cats[v] !== undefined ? cats[v] : '')),
    incrs: [1],
  } : {values: (u, splits) => fmtTicks(splits)});
  const range = (cats) => (cats ? () => [-0.5, cats.length - 0.5] : undefined);
  const width = Math.max(300, box.clientWidth);
  const opts = {
    width,
    height: 340,
    legend: {show: false},
    cursor: {drag: {x: false, y: false}, points: {show: false}},
    scales: {x: {time: false, range: range(ax.cats)}, y: {range: range(ay.cats)}},
    series: [{label: label(selX.value)}, {
      label: label(selY.value),
      stroke: color(0),
      fill: 'rgba(31,119,180,0.35)',
      paths: () => null,
      points: {show: true, size: 9, width: 1.5, stroke: color(0), fill: 'rgba(31,119,180,0.35)'},
    }],
    axes: [{label: label(selX.value), ...catAxis(ax.cats)}, {label: label(selY.value), size: 70, ...catAxis(ay.cats)}],
    hooks: {setCursor: [(u) => hover(u)]},
  };
  const data = [pts.map((p) => p.x), pts.map((p) => p.y)];
  scatter = new window.uPlot(opts, data, box);
  box.plot = scatter;
  scatter.pts = pts;
  scatter.cats = [ax.cats, ay.cats];
  scatter.mark = el('div', {className: 'scatter-mark', hidden: true});
  scatter.over.append(scatter.mark);
  scatter.over.addEventListener('click', () => {
    if (scatter && scatter.hovered) location.assign(runs[scatter.hovered.i].href);
  });
}

// hover finds the point nearest the cursor (within 14 px) and names its run.
function hover(u) {
  const {left, top} = u.cursor;
  let best = null, bd = 14 * 14;
  if (left >= 0 && top >= 0) {
    for (const p of u.pts || []) {
      const dx = u.valToPos(p.x, 'x') - left;
      const dy = u.valToPos(p.y, 'y') - top;
      const d = dx * dx + dy * dy;
      if (d <= bd) { bd = d; best = p; }
    }
  }
  u.hovered = best;
  if (!u.mark) return;
  if (!best) {
    u.mark.hidden = true;
    u.over.classList.remove('pointing');
    return;
  }
  const show = (v, cats) => (cats ? cats[v] : fmtNum(v));
  readout.textContent = `${runs[best.i].name} — ${label(selX.value)}: ${show(best.x, u.cats[0])}, ${label(selY.value)}: ${show(best.y, u.cats[1])}`;
  u.mark.hidden = false;
  u.mark.style.left = u.valToPos(best.x, 'x') + 'px';
  u.mark.style.top = u.valToPos(best.y, 'y') + 'px';
  u.over.classList.add('pointing');
}

if (box && selX && selY) {
  selX.addEventListener('change', drawScatter);
  selY.addEventListener('change', drawScatter);
  // Drawn when it comes near the viewport: the charts above go first.
  if ('IntersectionObserver' in window) {
    const io = new IntersectionObserver((entries) => {
      if (!entries.some((e) => e.isIntersecting)) return;
      io.disconnect();
      drawScatter();
    }, {rootMargin: '200px 0px'});
    io.observe(box);
  } else {
    drawScatter();
  }
  if ('ResizeObserver' in window) {
    let w = box.clientWidth;
    new ResizeObserver(() => {
      if (scatter && Math.abs(box.clientWidth - w) > 2) {
        w = box.clientWidth;
        scatter.setSize({width: Math.max(300, w), height: 340});
      }
    }).observe(box);
  }
}
