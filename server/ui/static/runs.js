// The runs table: selection for Compare (two or more runs) and Diff (two).
const form = document.getElementById('compare-form');
const button = document.getElementById('compare-btn');
const counter = document.getElementById('selected-count');
const all = document.getElementById('select-all');

function boxes() {
  return [...document.querySelectorAll('input[name="runs"][form="compare-form"]')];
}

function update() {
  const n = boxes().filter((b) => b.checked).length;
  if (button) button.disabled = n < 2;
  if (counter) counter.textContent = n ? n + ' selected' : '';
  if (all) {
    const total = boxes().length;
    all.checked = n > 0 && n === total;
    all.indeterminate = n > 0 && n < total;
  }
}

document.addEventListener('change', (ev) => {
  if (ev.target === all) {
    for (const b of boxes()) b.checked = all.checked;
  }
  if (ev.target === all || ev.target.name === 'runs') update();
});

if (form) update();
