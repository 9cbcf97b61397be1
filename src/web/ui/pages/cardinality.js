// /cardinality: where the series come from. Series counts by metric name,
// label name and label pair over the head, optionally focused on the
// series a selector matches; a metric drills into its labels, a label into
// its values. Everything the page shows is in its URL.
import { h, replace, errorBox, empty } from '../lib/dom.js';
import { formatCount } from '../lib/format.js';
import { statTable } from '../lib/table.js';
import { headCards } from './tsdb-status.js';

const LIMITS = [10, 20, 50, 100, 500, 1000];

export async function mount(root, ctx) {
  const state = {
    match: ctx.params.get('match[]') || '',
    focusLabel: ctx.params.get('focusLabel') || '',
    limit: Number(ctx.params.get('limit')) || 20,
  };
  const input = h('input', { id: 'card-match', type: 'text', value: state.match, placeholder: '{job="node"}', size: 40, spellcheck: 'false', autocomplete: 'off' });
  const focus = h('input', { id: 'card-focus', type: 'text', value: state.focusLabel, placeholder: 'label name', size: 16, spellcheck: 'false', autocomplete: 'off' });
  const limit = h('select', { id: 'card-limit' }, LIMITS.map((n) => h('option', { value: n, selected: n === state.limit }, String(n))));
  const form = h('form', { class: 'toolbar', role: 'search' },
    h('span', { class: 'field' }, h('label', { for: 'card-match' }, 'Series selector'), input),
    h('span', { class: 'field' }, h('label', { for: 'card-focus' }, 'Focus label'), focus),
    h('span', { class: 'field' }, h('label', { for: 'card-limit' }, 'Top'), limit),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'),
    h('button', { type: 'button', id: 'card-reset', onclick: () => go({ match: '', focusLabel: '' }) }, 'Reset'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go({ match: input.value.trim(), focusLabel: focus.value.trim(), limit: Number(limit.value) });
  });
  const out = h('div', { id: 'card-results', 'aria-live': 'polite' });
  replace(root, h('h1', null, 'Cardinality explorer'), form, out);

  function go(change) {
    Object.assign(state, change);
    input.value = state.match;
    focus.value = state.focusLabel;
    const p = new URLSearchParams();
    if (state.match) p.set('match[]', state.match);
    if (state.focusLabel) p.set('focusLabel', state.focusLabel);
    if (state.limit !== 20) p.set('limit', state.limit);
    ctx.setParams(p);
    return load();
  }

  async function load() {
    replace(out, h('p', { class: 'muted' }, 'Loading…'));
    const q = { limit: state.limit };
    if (state.match) q['match[]'] = [state.match];
    if (state.focusLabel) q.focusLabel = state.focusLabel;
    let d;
    try {
      d = (await ctx.api('/api/v1/status/tsdb', q)).data;
    } catch (e) {
      replace(out, errorBox(e));
      return;
    }
    render(d);
  }

  const metricLink = (name) => h('button', {
    type: 'button', class: 'link', title: `Focus on ${name}`,
    onclick: () => go({ match: `{__name__=${JSON.stringify(name)}}`, focusLabel: '' }),
  }, name);
  const labelLink = (name) => h('button', {
    type: 'button', class: 'link', title: `Values of ${name}`,
    onclick: () => go({ focusLabel: name }),
  }, name);
  const pairLink = (pair) => {
    const i = pair.indexOf('=');
    const [k, v] = [pair.slice(0, i), pair.slice(i + 1)];
    return h('button', {
      type: 'button', class: 'link', title: `Focus on ${pair}`,
      onclick: () => go({ match: `{${k}=${JSON.stringify(v)}}`, focusLabel: '' }),
    }, pair);
  };
  const valueLink = (label) => (value) => h('button', {
    type: 'button', class: 'link', title: `Focus on ${label}=${value}`,
    onclick: () => go({ match: addMatcher(state.match, label, value), focusLabel: '' }),
  }, value);

  function render(d) {
    const total = d.headStats.numSeries;
    const parts = [];
    parts.push(h('p', { id: 'card-scope' }, state.match
      ? ['Series matching ', h('code', null, state.match), `: ${formatCount(total)}`]
      : `All head series: ${formatCount(total)}`));
    parts.push(headCards(d.headStats, Boolean(state.match)));
    if (d.headChurn) {
      const c = d.headChurn;
      parts.push(h('p', { id: 'card-churn' }, h('strong', null, 'Head churn'),
        ` over the last ${Math.round(c.windowSeconds / 60)} min: ${formatCount(c.seriesCreated)} series created, ${formatCount(c.seriesRemoved)} removed.`));
    }
    if (total === 0) {
      parts.push(empty(state.match ? 'No head series match the selector.' : 'The head holds no series yet.'));
      replace(out, parts);
      return;
    }
    if (state.focusLabel) {
      parts.push(d.seriesCountByFocusLabelValue
        ? statTable({ caption: `Series by value of ${state.focusLabel}`, rows: d.seriesCountByFocusLabelValue, nameTitle: `${state.focusLabel} value`, total, link: valueLink(state.focusLabel), id: 'card-focus-values' })
        : h('p', { class: 'alert warn' }, 'This server does not report values for a focus label.'));
    }
    const grid = h('div', { class: 'grid2' },
      statTable({ caption: 'Series by metric name', rows: d.seriesCountByMetricName, nameTitle: 'Metric name', total, link: metricLink, id: 'card-metrics' }),
      d.seriesCountByLabelName
        ? statTable({ caption: 'Series by label name', rows: d.seriesCountByLabelName, nameTitle: 'Label name', total, link: labelLink, id: 'card-labels' })
        : null,
      statTable({ caption: 'Values per label name', rows: d.labelValueCountByLabelName, nameTitle: 'Label name', valueTitle: 'Values', link: labelLink, id: 'card-label-values' }),
      statTable({ caption: 'Series by label pair', rows: d.seriesCountByLabelValuePair, nameTitle: 'Label pair', total, link: pairLink, id: 'card-pairs' }));
    parts.push(grid);
    replace(out, parts);
  }

  await load();
}

/** `sel` with `label="value"` added (or replacing that label's matcher
 * when `sel` is a plain `{...}` list of matchers). */
function addMatcher(sel, label, value) {
  const m = `${label}=${JSON.stringify(value)}`;
  const s = sel.trim();
  if (!s) return `{${m}}`;
  const open = s.indexOf('{');
  if (!s.endsWith('}') || open < 0) return `${s}{${m}}`;
  const name = s.slice(0, open);
  const inner = s.slice(open + 1, -1).trim();
  return `${name}{${inner ? `${inner}, ` : ''}${m}}`;
}
