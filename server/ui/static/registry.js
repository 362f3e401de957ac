// The model version page: the promote form proposes (transition-stage
// with propose: true, as mlgit model promote --propose) when the chosen
// stage needs review, and says where the proposal went after the reload.
import {el} from './app.js';

const form = document.getElementById('promote');
const select = document.getElementById('promote-stage');
const propose = document.getElementById('promote-propose');
const button = document.getElementById('promote-button');
const note = document.getElementById('promote-note');
const KEY = 'mlgit-proposal';

function sync() {
  const opt = select.selectedOptions[0];
  const review = !!opt && opt.dataset.review === 'true';
  propose.value = review ? 'true' : 'false';
  button.textContent = review ? 'Propose for review' : 'Promote';
  note.hidden = !review;
}

if (form && select && propose) {
  select.addEventListener('change', sync);
  sync();
  form.addEventListener('mlgit:done', (ev) => {
    const p = ev.detail && ev.detail.proposal;
    if (p && p.branch) {
      try { sessionStorage.setItem(KEY, JSON.stringify(p)); } catch { /* private mode: the page still lists it */ }
    }
  });
}

// After a proposal: say where the branch went and how to open the pull
// request (the page itself lists the pending proposal).
let saved = null;
try {
  saved = JSON.parse(sessionStorage.getItem(KEY) || 'null');
  sessionStorage.removeItem(KEY);
} catch { saved = null; }
const box = document.getElementById('flash');
if (saved && saved.branch && box) {
  const parts = [
    (saved.existing ? 'Already proposed on branch ' : 'Proposed on branch '), el('code', null, saved.branch), '. ',
  ];
  if (saved.pushed) parts.push('Pushed to ' + saved.remote + '. ');
  else if (saved.push_error) parts.push('The push failed (' + saved.push_error + '); the branch is kept: ', el('code', null, saved.push_command), '. ');
  else if (saved.push_command) parts.push('No remote ' + (saved.remote || 'origin') + ': the branch stays local; push it with ', el('code', null, saved.push_command), '. ');
  if (saved.url && /^https?:\/\//.test(saved.url)) {
    parts.push(el('a', {href: saved.url, rel: 'noopener', target: '_blank'}, 'Open a pull request'), '.');
  } else {
    parts.push('Open a pull request from ', el('code', null, saved.branch), ' into ', el('code', null, saved.target), '.');
  }
  box.replaceChildren(...parts);
  box.classList.remove('error');
  box.hidden = false;
}
