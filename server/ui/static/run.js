// The run page: tabs (MLflow's URLs: overview, model-metrics,
// artifacts/<path>), table filters, system tags, editing a tag, the
// metric charts (mounted when the Metrics tab is first shown) and the
// artifact browser.
import {readOnly} from './app.js';
import {mountLazyCharts} from './chart.js';
import {initArtifacts} from './artifacts.js';

// Long tables come with their first rows; the rest wait in a <template>
// so that the browser lays the table out once, now.
for (const t of document.querySelectorAll('template[data-rows-for]')) {
  const table = document.getElementById(t.dataset.rowsFor);
  if (table) table.tBodies[0].append(t.content);
  t.remove();
}

const tabs = document.getElementById('run-tabs');
const artRoot = document.getElementById('artifacts');
const base = artRoot ? artRoot.dataset.base : '';
let chartsMounted = false;
let browser = null;

// tabOf maps the page's path to a tab and an artifact path.
function tabOf(pathname) {
  let rest = pathname.startsWith(base) ? pathname.slice(base.length) : '';
  rest = rest.replace(/^\/+/, '');
  if (rest === 'model-metrics' || rest === 'system-metrics' || rest === 'metrics') return {tab: 'metrics'};
  if (rest === 'artifacts' || rest.startsWith('artifacts/')) {
    const p = rest.slice('artifacts'.length).replace(/^\/+|\/+$/g, '');
    let path = p;
    try { path = p.split('/').map(decodeURIComponent).join('/'); } catch { /* kept as it is */ }
    return {tab: 'artifacts', path};
  }
  return {tab: 'overview'};
}

function show(tab) {
  for (const s of document.querySelectorAll('.run-tab')) {
    s.classList.toggle('hidden', s.id !== 'tab-' + tab);
  }
  for (const a of tabs.querySelectorAll('a[data-tab]')) {
    a.classList.toggle('on', a.dataset.tab === tab);
  }
  if (tab === 'metrics' && !chartsMounted) {
    const charts = document.getElementById('metric-charts');
    if (charts) {
      chartsMounted = true;
      // After the first frame: the table shows first, then the charts
      // near the viewport are laid out and fetched.
      requestAnimationFrame(() => setTimeout(() => {
        charts.classList.remove('hidden');
        mountLazyCharts(charts);
      }, 0));
    }
  }
  if (tab === 'artifacts' && !browser && artRoot) {
    browser = initArtifacts(artRoot);
  }
}

if (tabs) {
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest('a[data-tab], a[data-tab-link]');
    if (!a || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    const tab = a.dataset.tab || a.dataset.tabLink;
    let href = a.href;
    if (tab === 'artifacts' && browser) href = browser.url();
    if (location.href !== new URL(href, location.href).href) history.pushState({tab}, '', href);
    show(tab);
    if (tab === 'artifacts' && browser && !browser.current()) browser.open(tabOf(location.pathname).path || '', false);
    if (a.dataset.tabLink) tabs.scrollIntoView({block: 'start'});
  });
  window.addEventListener('popstate', () => {
    const t = tabOf(location.pathname);
    show(t.tab);
    if (t.tab === 'artifacts' && browser) browser.open(t.path || '', false);
  });
  show(tabOf(location.pathname).tab);
}

// Filters: <input data-filter="TABLE_ID" data-charts="CHARTS_ID"> hides
// the rows (and charts) whose name does not contain the text.
for (const input of document.querySelectorAll('input[data-filter]')) {
  const table = document.getElementById(input.dataset.filter);
  const charts = input.dataset.charts ? document.getElementById(input.dataset.charts) : null;
  const count = input.id === 'metric-filter' ? document.getElementById('metric-count') : null;
  if (!table) continue;
  const rows = Array.from(table.tBodies[0].rows);
  const names = rows.map((r) => r.cells[0].textContent.toLowerCase());
  const values = input.dataset.filter === 'params-table' ? rows.map((r) => (r.cells[1] ? r.cells[1].textContent.toLowerCase() : '')) : null;
  const chartEls = charts ? Array.from(charts.querySelectorAll('.chart')) : [];
  let timer = 0;
  const apply = () => {
    const q = input.value.trim().toLowerCase();
    let shown = 0;
    const keep = new Set();
    rows.forEach((r, i) => {
      const ok = !q || names[i].includes(q) || (values && values[i].includes(q));
      r.classList.toggle('hidden', !ok);
      if (ok) {
        shown++;
        keep.add(names[i]);
      }
    });
    for (const c of chartEls) c.classList.toggle('hidden', !!q && !(c.dataset.key || '').toLowerCase().includes(q));
    if (count) count.textContent = q ? shown + ' of ' + rows.length : '';
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(apply, rows.length > 200 ? 120 : 0);
  });
}

// System tags (mlflow.*) are hidden until asked for.
const sysToggle = document.getElementById('show-sys-tags');
if (sysToggle) {
  sysToggle.addEventListener('change', () => {
    for (const r of document.querySelectorAll('#tags-table tr.sys-tag')) r.classList.toggle('hidden', !sysToggle.checked);
  });
}

// Edit fills the tag form with the tag's name and value (a textarea, so
// that a value's line breaks survive; Enter saves, Shift+Enter breaks).
const tagForm = document.getElementById('tag-form');
if (tagForm) {
  tagForm.elements.value.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      tagForm.requestSubmit();
    }
  });
}
document.addEventListener('click', (ev) => {
  const btn = ev.target.closest('button.tag-edit');
  if (!btn || !tagForm || readOnly) return;
  const row = btn.closest('tr');
  tagForm.elements.key.value = row.dataset.key;
  const value = row.querySelector('.run-tag-value').textContent;
  tagForm.elements.value.value = value;
  tagForm.elements.value.rows = Math.min(8, value.split('\n').length);
  tagForm.scrollIntoView({block: 'nearest'});
  tagForm.elements.value.focus();
  tagForm.elements.value.select();
});

// Long values show four lines; a click shows the rest.
for (const c of document.querySelectorAll('.run-clamp')) {
  if (c.textContent.length > 120) {
    c.classList.add('clamped');
    c.title = 'Click to show all';
  }
}
document.addEventListener('click', (ev) => {
  const c = ev.target.closest('.run-clamp.clamped');
  if (c && !window.getSelection().toString()) c.classList.toggle('open');
});
