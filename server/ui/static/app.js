// Common behaviour of every page: MLflow's hash links, writes through the
// JSON API (declared in the HTML with data-api), messages, read-only mode.
// Page modules import what they need from here: import {api} from './app.js'.

// MLflow's client prints /#/experiments/<id>/runs/<run>: open the page at
// that path.
if (location.hash.startsWith('#/')) {
  location.replace(location.hash.slice(1));
}

export const readOnly = document.body.dataset.readOnly === 'true';

// APIError is a failed API call: the server's error_code and message.
export class APIError extends Error {
  constructor(status, code, message) {
    super(message || code || ('HTTP ' + status));
    this.status = status;
    this.code = code;
  }
}

// api calls the MLflow JSON API (path relative to /ajax-api/2.0/mlflow/,
// or absolute when it starts with /). GET sends body as query parameters.
export async function api(path, body, method = 'POST') {
  let url = path.startsWith('/') ? path : '/ajax-api/2.0/mlflow/' + path;
  const init = {method, headers: {}, credentials: 'same-origin'};
  if (method === 'GET') {
    if (body) url += '?' + new URLSearchParams(body).toString();
  } else {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body || {});
  }
  const resp = await fetch(url, init);
  const text = await resp.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = {message: text}; }
  if (!resp.ok) throw new APIError(resp.status, data.error_code, data.message);
  return data;
}

// getJSON fetches a UI endpoint (/ui/api/...) and decodes it.
export async function getJSON(url, signal) {
  const resp = await fetch(url, {credentials: 'same-origin', signal});
  const text = await resp.text();
  let data;
  try { data = JSON.parse(text); } catch { data = {message: text}; }
  if (!resp.ok) throw new APIError(resp.status, data.error_code, data.message);
  return data;
}

// flash shows a message at the top of the page (an error in red).
export function flash(msg, isError = false) {
  const el = document.getElementById('flash');
  if (!el) return;
  el.textContent = msg;
  el.classList.toggle('error', isError);
  el.hidden = false;
  el.scrollIntoView({block: 'nearest'});
}

// el builds an element: el('td', {className: 'num'}, 'text', child...).
// Strings become text nodes, never HTML.
export function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null) continue;
      if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k in e && typeof v !== 'string') e[k] = v;
      else if (k === 'className' || k === 'textContent' || k === 'title' || k === 'href' || k === 'value') e[k] = v;
      else e.setAttribute(k, v);
    }
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// formJSON turns a form's named fields into the JSON body of an API call.
// data-type="number" / "bool" / "int-string" on a field converts it;
// fields with data-omit-empty are left out when empty.
function formJSON(form) {
  const body = {};
  for (const f of form.elements) {
    if (!f.name || f.disabled) continue;
    if ((f.type === 'checkbox' || f.type === 'radio') && !f.checked && f.dataset.type !== 'bool') continue;
    let v = f.type === 'checkbox' && f.dataset.type === 'bool' ? f.checked : f.value;
    if (v === '' && 'omitEmpty' in f.dataset) continue;
    if (f.dataset.type === 'number') v = Number(v);
    body[f.name] = v;
  }
  return body;
}

// Declarative writes: <form data-api="runs/set-tag" data-body='{"run_id":"…"}'>
// merges data-body with the form's fields and POSTs them (data-method to
// change it); <button data-api=… data-body=…> does the same without a form.
// data-confirm asks first; data-then="reload" (default), "back" or a URL
// says where to go after success; data-done sets the success message.
async function runAction(node, fields) {
  if (readOnly) {
    flash('This server is read-only: the change was not made.', true);
    return;
  }
  if (node.dataset.confirm && !window.confirm(node.dataset.confirm)) return;
  const body = Object.assign({}, node.dataset.body ? JSON.parse(node.dataset.body) : {}, fields);
  try {
    const result = await api(node.dataset.api, body, node.dataset.method || 'POST');
    node.dispatchEvent(new CustomEvent('mlgit:done', {detail: result, bubbles: true}));
    const then = node.dataset.then || 'reload';
    if (then === 'reload') location.reload();
    else if (then === 'none') flash(node.dataset.done || 'Saved.');
    else location.assign(then);
  } catch (err) {
    flash(err.message, true);
  }
}

document.addEventListener('submit', (ev) => {
  const form = ev.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
  ev.preventDefault();
  runAction(form, formJSON(form));
});

document.addEventListener('click', (ev) => {
  const btn = ev.target.closest('button[data-api]');
  if (!btn || btn.form && btn.form.dataset.api) return;
  ev.preventDefault();
  runAction(btn, {});
});

// In read-only mode every write control is disabled, and says why.
if (readOnly) {
  for (const n of document.querySelectorAll('[data-api]')) {
    const controls = n instanceof HTMLFormElement ? n.elements : [n];
    for (const c of controls) {
      c.disabled = true;
      c.title = 'The server is read-only (--read-only)';
    }
  }
}

// Times: <time data-ms="1700000000000"> gets its machine-readable
// datetime and the exact instant as its tooltip. Pages that swap in new
// HTML call localTimes(root) on it.
export function localTimes(root = document) {
  for (const t of root.querySelectorAll('time[data-ms]:not([datetime])')) {
    const d = new Date(Number(t.dataset.ms));
    if (!isNaN(d)) {
      t.dateTime = d.toISOString();
      t.title = d.toISOString();
    }
  }
}
localTimes();
