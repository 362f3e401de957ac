// The run page's artifact browser: one folder at a time, sizes and short
// digests, and a preview of the selected file. Bytes come from MLflow's
// /get-artifact (sent as an attachment, never as HTML). Nothing from an
// artifact is ever parsed as HTML here: text goes through textContent,
// images (SVG included) through <img> with a blob: URL, which runs no
// script; HTML files are shown as their source.
import {el, getJSON} from './app.js';

export const TEXT_LIMIT = 10 << 20; // no text preview above 10 MiB
export const IMAGE_LIMIT = 50 << 20; // no image preview above 50 MiB
const PRETTY_LIMIT = 2 << 20; // JSON above 2 MiB is shown as it is
const SNIFF_LIMIT = 1 << 20; // unknown types up to 1 MiB are tried as text
const CSV_ROWS = 500;
const MAX_ROWS = 1000; // files listed in a folder before "Show all"

const IMAGE_TYPES = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', bmp: 'image/bmp',
  webp: 'image/webp', svg: 'image/svg+xml', ico: 'image/x-icon', avif: 'image/avif',
};
const TEXT_EXT = new Set(('txt log err out cfg conf ini properties toml yaml yml xml js mjs ts py pyi ' +
  'md rst jsonnet sh bash zsh r sql java go c h cc cpp hpp rs scala kt proto env lock css scss ' +
  'tex bib diff patch gitignore dockerfile makefile cmake gradle tf hcl jsonl ndjson requirements').split(' '));
const TEXT_NAMES = new Set(['MLproject', 'Dockerfile', 'Makefile', 'LICENSE', 'README', 'requirements.txt']);

export function extOf(name) {
  const base = name.split('/').pop();
  const i = base.lastIndexOf('.');
  return i > 0 ? base.slice(i + 1).toLowerCase() : '';
}

// kindOf says how a file is previewed.
export function kindOf(name) {
  const base = name.split('/').pop();
  if (base === 'MLmodel') return 'mlmodel';
  const ext = extOf(name);
  if (ext === 'html' || ext === 'htm' || ext === 'xhtml') return 'html';
  if (ext in IMAGE_TYPES) return 'image';
  if (ext === 'json' || ext === 'ipynb' || ext === 'geojson') return 'json';
  if (ext === 'csv' || ext === 'tsv') return 'csv';
  if (ext === 'yaml' || ext === 'yml') return 'yaml';
  if (TEXT_EXT.has(ext) || TEXT_NAMES.has(base)) return 'text';
  return 'other';
}

export function humanBytes(n) {
  if (n < 1024) return n + ' B';
  const units = 'KMGTPE';
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return n.toFixed(1) + ' ' + units[i] + 'iB';
}

function shortDigest(d) {
  return d ? d.replace(/^sha256:/, '').slice(0, 10) : '';
}

function encodePath(p) {
  return p.split('/').map(encodeURIComponent).join('/');
}

// parseCSV reads up to max rows of delimited text (RFC 4180 quoting) and
// says whether there were more.
export function parseCSV(text, delim, max) {
  const rows = [];
  let row = [], field = '', i = 0, quoted = false;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === delim) { row.push(field); field = ''; i++; continue; }
    if (c === '\r' || c === '\n') {
      row.push(field); field = '';
      rows.push(row); row = [];
      if (c === '\r' && text[i + 1] === '\n') i++;
      i++;
      if (rows.length > max) return {rows: rows.slice(0, max), more: true};
      continue;
    }
    field += c; i++;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return {rows: rows.slice(0, max), more: rows.length > max};
}

// buildIndex turns the file list into folders: dir -> {dirs: Map(name ->
// {files, size}), files: [entry]}.
function buildIndex(files) {
  const dirs = new Map();
  const dirOf = (p) => {
    let d = dirs.get(p);
    if (!d) { d = {dirs: new Map(), files: []}; dirs.set(p, d); }
    return d;
  };
  dirOf('');
  const byPath = new Map();
  for (const f of files) {
    byPath.set(f.p, f);
    const segs = f.p.split('/');
    let parent = '';
    for (let i = 0; i < segs.length - 1; i++) {
      const here = parent ? parent + '/' + segs[i] : segs[i];
      const sub = dirOf(parent).dirs;
      const s = sub.get(segs[i]) || {files: 0, size: 0};
      s.files++; s.size += f.s;
      sub.set(segs[i], s);
      dirOf(here);
      parent = here;
    }
    dirOf(parent).files.push(f);
  }
  return {dirs, byPath};
}

export function initArtifacts(root) {
  const run = root.dataset.run;
  const base = root.dataset.base;
  // The file list is fetched when the browser is first shown, so that
  // opening a run with many artifacts costs nothing until then.
  let files = [], idx = null, pending = null;
  const tbody = root.querySelector('#art-table tbody');
  const crumbs = root.querySelector('#art-crumbs');
  const zip = root.querySelector('#art-zip');
  const pane = root.querySelector('#art-preview');
  if (!tbody || !pane) return {open() {}, url: () => base + '/artifacts', current: () => ''};
  let dir = '', selected = '', abort = null, blobURL = null, showAll = null;

  const url = (p) => base + '/artifacts' + (p ? '/' + encodePath(p) : '');
  const fileURL = (p) => '/get-artifact?' + new URLSearchParams({run_uuid: run, path: p}).toString();

  function go(p, push) {
    open(p, push);
  }

  function renderDir(d) {
    dir = d;
    const node = idx.dirs.get(d);
    crumbs.replaceChildren();
    const parts = d ? d.split('/') : [];
    crumbs.append(el('a', {href: url(''), dataset: {path: ''}}, 'artifacts'));
    let acc = '';
    for (const s of parts) {
      acc = acc ? acc + '/' + s : s;
      crumbs.append(el('span', {className: 'sep'}, '/'), el('a', {href: url(acc), dataset: {path: acc}}, s));
    }
    zip.href = '/ui/api/artifacts/zip?' + new URLSearchParams(d ? {run, path: d} : {run}).toString();
    zip.textContent = d ? 'Download folder' : 'Download all';
    zip.title = 'A zip of ' + (d || 'every artifact of the run');
    const rows = [];
    if (d) {
      const up = parts.slice(0, -1).join('/');
      rows.push(el('tr', {className: 'art-up'}, el('td', {colSpan: 3}, el('a', {href: url(up), dataset: {path: up}}, '..'))));
    }
    for (const name of Array.from(node.dirs.keys()).sort()) {
      const s = node.dirs.get(name);
      const p = d ? d + '/' + name : name;
      rows.push(el('tr', {className: 'art-dir'},
        el('td', {className: 'wrap'}, el('a', {href: url(p), dataset: {path: p}, className: 'art-name'}, name + '/')),
        el('td', {className: 'num'}, humanBytes(s.size)),
        el('td', {className: 'muted'}, s.files + (s.files === 1 ? ' file' : ' files'))));
    }
    const all = node.files;
    const shown = showAll === d || all.length <= MAX_ROWS ? all : all.slice(0, MAX_ROWS);
    for (const f of shown) {
      const name = f.p.split('/').pop();
      rows.push(el('tr', {className: 'art-file' + (f.p === selected ? ' on' : ''), dataset: {path: f.p}},
        el('td', {className: 'wrap'}, el('a', {href: url(f.p), dataset: {path: f.p}, className: 'art-name'}, name)),
        el('td', {className: 'num'}, humanBytes(f.s)),
        el('td', {className: 'mono', title: f.d}, shortDigest(f.d))));
    }
    if (shown.length < all.length) {
      const more = el('button', {type: 'button'}, 'Show all ' + all.length + ' files');
      more.addEventListener('click', () => { showAll = d; renderDir(d); });
      rows.push(el('tr', {className: 'art-more'}, el('td', {colSpan: 3}, 'The first ' + shown.length + ' files. ', more)));
    }
    const frag = document.createDocumentFragment();
    for (const r of rows) frag.appendChild(r);
    tbody.replaceChildren(frag);
  }

  // open shows path: a folder's listing, or a file's folder and preview.
  function open(p, push) {
    p = (p || '').replace(/^\/+|\/+$/g, '');
    if (!idx) {
      pending = [p, push];
      return;
    }
    let d = p, file = null;
    if (idx.byPath.has(p)) {
      file = idx.byPath.get(p);
      d = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
    } else if (!idx.dirs.has(p)) {
      renderDir('');
      selected = '';
      showMessage('No artifact ' + p + ' in this run.', true);
      return;
    }
    selected = file ? file.p : '';
    if (file && showAll !== d) {
      const i = idx.dirs.get(d).files.indexOf(file);
      if (i >= MAX_ROWS) showAll = d;
    }
    renderDir(d);
    if (push !== false) {
      const u = url(p);
      if (location.pathname !== u) history.pushState({tab: 'artifacts'}, '', u);
    }
    if (file) preview(file);
    else folderSummary(d);
  }

  root.addEventListener('click', (ev) => {
    const a = ev.target.closest('a[data-path]');
    if (!a || !root.contains(a) || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    go(a.dataset.path, true);
  });

  function reset() {
    if (abort) abort.abort();
    abort = new AbortController();
    if (blobURL) { URL.revokeObjectURL(blobURL); blobURL = null; }
    return abort.signal;
  }

  function showMessage(msg, isError) {
    reset();
    pane.replaceChildren(el('p', {className: isError ? 'err-text' : 'muted'}, msg));
  }

  function folderSummary(d) {
    reset();
    const node = idx.dirs.get(d);
    let count = 0, size = 0;
    const prefix = d ? d + '/' : '';
    for (const f of files) if (f.p.startsWith(prefix)) { count++; size += f.s; }
    pane.replaceChildren(
      el('div', {className: 'art-head'},
        el('h3', {className: 'art-title'}, d ? d + '/' : 'All artifacts'),
        el('div', {className: 'art-meta muted'}, count + (count === 1 ? ' file, ' : ' files, ') + humanBytes(size))),
      el('p', {className: 'muted'}, 'Select a file to preview it.'));
    // A logged model's folder shows its MLmodel.
    const mlmodel = node.files.find((f) => f.p.split('/').pop() === 'MLmodel');
    if (mlmodel) {
      const box = el('div', {className: 'art-body'});
      pane.append(el('h3', null, 'Model'), box);
      renderMLmodel(mlmodel, box, abort.signal);
    }
  }

  function header(f, note) {
    const name = f.p.split('/').pop();
    return el('div', {className: 'art-head'},
      el('h3', {className: 'art-title', title: f.p}, f.p),
      el('div', {className: 'art-meta'},
        el('span', {className: 'muted'}, humanBytes(f.s)), ' ',
        el('span', {className: 'mono muted', title: f.d}, f.d), ' ',
        el('a', {className: 'button', href: fileURL(f.p), download: name}, 'Download')),
      note ? el('p', {className: 'muted art-note'}, note) : null);
  }

  async function fetchBytes(f, signal) {
    const resp = await fetch(fileURL(f.p), {credentials: 'same-origin', signal});
    if (!resp.ok) {
      let msg = 'HTTP ' + resp.status;
      try { msg = (await resp.json()).message || msg; } catch { /* not JSON */ }
      throw new Error(msg);
    }
    return resp.arrayBuffer();
  }

  async function preview(f) {
    const signal = reset();
    const kind = kindOf(f.p);
    let note = '';
    if (kind === 'html') note = 'HTML is shown as its source; it is never rendered here.';
    if (kind === 'image' && extOf(f.p) === 'svg') note = 'SVG is shown as an image, which runs no script.';
    const body = el('div', {className: 'art-body'}, el('p', {className: 'muted'}, 'Loading…'));
    pane.replaceChildren(header(f, note), body);
    const limit = kind === 'image' ? IMAGE_LIMIT : kind === 'other' ? SNIFF_LIMIT : TEXT_LIMIT;
    if (f.s > limit) {
      body.replaceChildren(el('p', {className: 'muted'}, 'No preview: the file is ' + humanBytes(f.s) +
        ', over the ' + humanBytes(limit) + ' preview limit. Download it instead.'));
      return;
    }
    try {
      if (kind === 'mlmodel') {
        await renderMLmodel(f, body, signal);
        return;
      }
      const buf = await fetchBytes(f, signal);
      if (signal.aborted) return;
      if (kind === 'image') {
        blobURL = URL.createObjectURL(new Blob([buf], {type: IMAGE_TYPES[extOf(f.p)]}));
        const img = el('img', {className: 'art-img', alt: f.p.split('/').pop()});
        img.addEventListener('error', () => body.replaceChildren(el('p', {className: 'muted'}, 'The browser cannot show this image.')));
        img.src = blobURL;
        body.replaceChildren(el('div', {className: 'art-img-wrap'}, img));
        return;
      }
      let text;
      try {
        text = new TextDecoder('utf-8', {fatal: kind === 'other'}).decode(buf);
      } catch {
        body.replaceChildren(el('p', {className: 'muted'}, 'No preview for this type of file. Download it instead.'));
        return;
      }
      if (kind === 'other' && text.includes('\u0000')) {
        body.replaceChildren(el('p', {className: 'muted'}, 'No preview for this type of file. Download it instead.'));
        return;
      }
      if (kind === 'json' && buf.byteLength <= PRETTY_LIMIT) {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as it is */ }
      }
      if (kind === 'csv') {
        renderCSV(text, extOf(f.p) === 'tsv' ? '\t' : ',', body);
        return;
      }
      body.replaceChildren(el('pre', {className: 'art-text art-' + kind}, text));
    } catch (err) {
      if (err.name === 'AbortError') return;
      body.replaceChildren(el('p', {className: 'err-text'}, 'Preview failed: ' + err.message));
    }
  }

  function renderCSV(text, delim, body) {
    const {rows, more} = parseCSV(text, delim, CSV_ROWS + 1);
    if (!rows.length) {
      body.replaceChildren(el('p', {className: 'muted'}, 'The file is empty.'));
      return;
    }
    const [head, ...data] = rows;
    const width = Math.max(...rows.map((r) => r.length));
    const th = [];
    for (let i = 0; i < width; i++) th.push(el('th', null, head[i] ?? ''));
    const trs = data.map((r) => {
      const tds = [];
      for (let i = 0; i < width; i++) tds.push(el('td', null, r[i] ?? ''));
      return el('tr', null, ...tds);
    });
    body.replaceChildren(
      el('p', {className: 'muted art-note'}, more ? 'The first ' + CSV_ROWS + ' rows.' : data.length + (data.length === 1 ? ' row.' : ' rows.')),
      el('div', {className: 'table-wrap art-csv'}, el('table', {className: 'grid'}, el('thead', null, el('tr', null, ...th)), el('tbody', null, ...trs))));
  }

  async function renderMLmodel(f, body, signal) {
    let m;
    try {
      m = await getJSON('/ui/api/artifacts/mlmodel?' + new URLSearchParams({run, path: f.p}).toString(), signal);
    } catch (err) {
      if (err.name === 'AbortError') return;
      body.replaceChildren(el('p', {className: 'err-text'}, 'The MLmodel file could not be read: ' + err.message));
      return;
    }
    if (signal.aborted) return;
    const str = (v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));
    const kv = (obj) => el('table', {className: 'grid kv'}, el('tbody', null,
      ...Object.keys(obj).sort().map((k) => el('tr', null, el('th', null, k), el('td', {className: 'wrap mono'}, str(obj[k]))))));
    const out = [];
    const top = {};
    for (const [k, v] of Object.entries(m)) if (v === null || typeof v !== 'object') top[k] = v;
    if (Object.keys(top).length) out.push(el('div', {className: 'table-wrap mlmodel-info'}, kv(top)));
    if (m.flavors && typeof m.flavors === 'object') {
      out.push(el('h4', null, 'Flavors'));
      const rows = Object.keys(m.flavors).sort().map((name) => {
        const fl = m.flavors[name];
        const detail = fl && typeof fl === 'object'
          ? Object.keys(fl).sort().map((k) => k + ': ' + str(fl[k])).join('\n') : str(fl);
        return el('tr', null, el('td', {className: 'mono'}, name), el('td', {className: 'wrap mono art-pre'}, detail));
      });
      out.push(el('div', {className: 'table-wrap mlmodel-flavors'}, el('table', {className: 'grid'},
        el('thead', null, el('tr', null, el('th', null, 'Flavor'), el('th', null, 'Settings'))), el('tbody', null, ...rows))));
    }
    if (m.signature && typeof m.signature === 'object') {
      for (const part of ['inputs', 'outputs', 'params']) {
        let spec = m.signature[part];
        if (spec === undefined || spec === null) continue;
        if (typeof spec === 'string') { try { spec = JSON.parse(spec); } catch { /* shown as text */ } }
        out.push(el('h4', null, 'Signature ' + part));
        if (!Array.isArray(spec)) { out.push(el('pre', {className: 'art-text'}, str(spec))); continue; }
        const rows = spec.map((c, i) => {
          const ts = c['tensor-spec'];
          const type = ts ? 'tensor ' + (ts.dtype || '') : (c.type || '');
          const shape = ts && ts.shape ? '[' + ts.shape.join(', ') + ']' : (c.shape ? str(c.shape) : '');
          const extra = c.default !== undefined ? 'default ' + str(c.default) : (c.required === false || c.optional ? 'optional' : '');
          return el('tr', null, el('td', {className: 'mono wrap'}, c.name ?? String(i)), el('td', {className: 'mono'}, type),
            el('td', {className: 'mono'}, shape), el('td', {className: 'muted'}, extra));
        });
        out.push(el('div', {className: 'table-wrap mlmodel-sig'}, el('table', {className: 'grid'},
          el('thead', null, el('tr', null, el('th', null, 'Name'), el('th', null, 'Type'), el('th', null, 'Shape'), el('th', null, ''))),
          el('tbody', null, ...rows))));
      }
    }
    for (const [k, v] of Object.entries(m)) {
      if (k === 'flavors' || k === 'signature' || v === null || typeof v !== 'object') continue;
      out.push(el('h4', null, k));
      out.push(el('div', {className: 'table-wrap'}, Array.isArray(v) ? el('pre', {className: 'art-text'}, JSON.stringify(v, null, 2)) : kv(v)));
    }
    const src = el('button', {type: 'button', className: 'art-source'}, 'Show YAML source');
    src.addEventListener('click', async () => {
      src.disabled = true;
      try {
        const buf = await fetchBytes(f, signal);
        src.replaceWith(el('pre', {className: 'art-text'}, new TextDecoder().decode(buf)));
      } catch (err) {
        if (err.name !== 'AbortError') src.replaceWith(el('p', {className: 'err-text'}, err.message));
      }
    });
    out.push(el('p', null, src));
    body.replaceChildren(el('div', {className: 'mlmodel'}, ...out));
  }

  pending = [root.dataset.path || '', false];
  tbody.replaceChildren(el('tr', null, el('td', {colSpan: 3, className: 'muted'}, 'Loading…')));
  getJSON('/ui/api/artifacts/files?' + new URLSearchParams({run}).toString()).then((data) => {
    files = data.files || [];
    idx = buildIndex(files);
    const [p, push] = pending;
    open(p, push);
  }, (err) => {
    tbody.replaceChildren(el('tr', null, el('td', {colSpan: 3, className: 'err-text'}, 'The artifact list could not be read: ' + err.message)));
  });
  return {
    open,
    url: () => url(selected || dir),
    current: () => selected || dir,
  };
}
