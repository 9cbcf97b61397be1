// Building DOM without innerHTML, so no server-provided text is ever
// parsed as markup.

/** `h('a', {href: 'x', class: 'y', onclick: fn}, 'text', child...)`.
 * Attributes starting with `on` become listeners; `false`/`null`
 * attributes and children are skipped; arrays of children are flattened. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces everything in `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled text input that calls `oninput(value)` (debounced). */
export function searchBox(id, label, value, oninput, placeholder = '') {
  let timer;
  const input = h('input', { id, type: 'search', value: value || '', placeholder, autocomplete: 'off' });
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => oninput(input.value), 150);
  });
  return h('span', { class: 'field' }, h('label', { for: id }, label), input);
}

/** An error box for a failed call (an ApiError or any Error). */
export function errorBox(err) {
  const type = err.errorType ? `${err.errorType}: ` : '';
  return h('div', { class: 'alert error', role: 'alert' }, type + (err.error || err.message));
}

/** A muted "nothing here" line. */
export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

/** A badge for a health or alert state (`up`, `down`, `firing`, `ok`...). */
export function badge(state) {
  const s = String(state || 'unknown').toLowerCase();
  return h('span', { class: `badge state-${s}` }, s);
}

/** Labels as `name="value"` chips. */
export function labelChips(labels) {
  const entries = Object.entries(labels || {});
  if (entries.length === 0) return h('span', { class: 'muted' }, 'none');
  return h(
    'span',
    { class: 'labels' },
    entries.map(([k, v]) => h('span', { class: 'label' }, `${k}="${v}"`)),
  );
}
