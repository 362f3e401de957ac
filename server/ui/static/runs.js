// The runs table: selection for Compare (two or more runs) and Diff (two);
// filter, sort, paging and columns without a page load.
import {localTimes} from './app.js';

const form = document.getElementById('compare-form');
const button = document.getElementById('compare-btn');
const counter = document.getElementById('selected-count');

function boxes() {
  return [...document.querySelectorAll('input[name="runs"][form="compare-form"]')];
}

function update() {
  const n = boxes().filter((b) => b.checked).length;
  if (button) button.disabled = n < 2;
  if (counter) counter.textContent = n ? n + ' selected' : '';
  const all = document.getElementById('select-all');
  if (all) {
    const total = boxes().length;
    all.checked = n > 0 && n === total;
    all.indeterminate = n > 0 && n < total;
  }
}

document.addEventListener('change', (ev) => {
  const all = document.getElementById('select-all');
  if (ev.target === all) {
    for (const b of boxes()) b.checked = all.checked;
  }
  if (ev.target === all || ev.target.name === 'runs') update();
});

if (form) update();

// In place: a filter or column form submitted, a sort header, the pager
// or Clear clicked fetch the same URL with fragment=table: the server
// renders the filter form, the column picker and the results with the
// page's own templates, and they replace the page's by id. The address
// bar gets the page's URL (history.pushState), so back and forward, a
// reload and a shared link show the same rows. Any failure falls back to
// loading the page.
const PARTS = ['filter-form', 'col-picker', 'runs-results'];
let pending = null;
let shown = location.pathname + location.search;

async function show(href, push) {
  const url = new URL(href, location.href);
  if (url.origin !== location.origin) {
    location.assign(url.href);
    return;
  }
  const fetchURL = new URL(url);
  fetchURL.searchParams.set('fragment', 'table');
  if (pending) pending.abort();
  const ctl = pending = new AbortController();
  let html;
  try {
    const resp = await fetch(fetchURL, {credentials: 'same-origin', signal: ctl.signal});
    if (!resp.ok) throw new Error('HTTP ' + resp.status);
    html = await resp.text();
  } catch (err) {
    if (ctl.signal.aborted) return;
    location.assign(url.href); // the page says what went wrong
    return;
  }
  if (pending !== ctl) return;
  pending = null;
  const active = document.activeElement;
  const refocus = active && active.closest('#filter-form') && active.name;
  const tpl = document.createElement('template');
  tpl.innerHTML = html; // inert: html/template's output, as the page's
  const parts = PARTS.map((id) => tpl.content.getElementById(id));
  if (!parts[PARTS.length - 1]) {
    location.assign(url.href); // not the fragment: load the page
    return;
  }
  // Every change first, then the one read that needs a layout: the new
  // table is laid out once.
  localTimes(tpl.content);
  for (const part of parts) {
    const old = part && document.getElementById(part.id);
    if (old) old.replaceWith(part);
  }
  const path = url.pathname + url.search;
  if (push && path !== shown) history.pushState(null, '', path + url.hash);
  shown = path;
  const details = document.querySelector('details.columns');
  if (details) details.open = false;
  update();
  if (refocus) {
    const f = document.querySelector(`#filter-form [name="${CSS.escape(refocus)}"]`);
    if (f) f.focus({preventScroll: true});
  }
  const top = document.getElementById('runs-results');
  if (top && top.getBoundingClientRect().top < 0) top.scrollIntoView({block: 'start'});
}

function plainClick(ev) {
  return ev.button === 0 && !ev.metaKey && !ev.ctrlKey && !ev.shiftKey && !ev.altKey && !ev.defaultPrevented;
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('#runs thead a.sort, #runs-results .pager a, #filter-clear');
  if (!a || !plainClick(ev)) return;
  ev.preventDefault();
  show(a.href, true);
});

document.addEventListener('submit', (ev) => {
  const f = ev.target;
  if (f.id !== 'filter-form' && f.id !== 'col-picker') return;
  ev.preventDefault();
  const url = new URL(f.action, location.href);
  url.search = new URLSearchParams(new FormData(f)).toString();
  show(url.href, true);
});

window.addEventListener('popstate', () => {
  if (location.pathname + location.search !== shown) show(location.href, false);
});
