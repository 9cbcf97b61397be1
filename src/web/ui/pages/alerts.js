// /alerts: alerting rules grouped by file and group, with how many are
// firing, pending and inactive; each rule opens to its active alerts.
import { h, replace, searchBox, errorBox, empty, badge, labelChips } from '../lib/dom.js';
import { formatAgo, formatDuration, formatTime, formatValue } from '../lib/format.js';
import { pagedTable } from '../lib/table.js';

const STATES = ['firing', 'pending', 'inactive'];

export async function mount(root, ctx) {
  const shown = new Set((ctx.params.get('state') || STATES.join(',')).split(',').filter((s) => STATES.includes(s)));
  let search = ctx.params.get('search') || '';
  const counts = h('div', { class: 'counts', id: 'alert-counts' });
  const list = h('div', { id: 'alert-groups' });
  const save = () => {
    const p = new URLSearchParams();
    if (shown.size !== STATES.length) p.set('state', [...shown].join(','));
    if (search) p.set('search', search);
    ctx.setParams(p);
  };
  replace(
    root,
    h('h1', null, 'Alerts'),
    h('div', { class: 'toolbar' },
      h('fieldset', null, h('legend', null, 'State'), STATES.map((s) => h('label', null,
        h('input', {
          type: 'checkbox', name: 'state', value: s, checked: shown.has(s),
          onchange: (e) => { if (e.target.checked) shown.add(s); else shown.delete(s); save(); render(); },
        }), ` ${s}`))),
      searchBox('alert-search', 'Filter', search, (v) => { search = v; save(); render(); }, 'alert name or labels'),
      counts),
    list,
  );

  let groups;
  try {
    groups = (await ctx.api('/api/v1/rules', { type: 'alert' })).data.groups || [];
  } catch (e) {
    replace(list, errorBox(e));
    return;
  }
  render();

  function ruleState(r) {
    return r.state === 'unknown' ? 'inactive' : r.state;
  }

  function render() {
    const all = groups.flatMap((g) => g.rules);
    const n = (s) => all.filter((r) => ruleState(r) === s).length;
    replace(counts, STATES.map((s) => h('span', null, badge(s), ` ${n(s)}`)));
    if (all.length === 0) {
      replace(list, empty('No alerting rules. Add rule files with alerting rules to rule_files in the configuration.'));
      return;
    }
    const q = search.toLowerCase();
    const hit = (r) => !q || r.name.toLowerCase().includes(q)
      || (r.alerts || []).some((a) => Object.entries(a.labels).some(([k, v]) => `${k}="${v}"`.toLowerCase().includes(q)));
    const byFile = new Map();
    for (const g of groups) {
      const rules = g.rules.filter((r) => shown.has(ruleState(r)) && hit(r));
      if (rules.length === 0) continue;
      if (!byFile.has(g.file)) byFile.set(g.file, []);
      byFile.get(g.file).push({ g, rules });
    }
    if (byFile.size === 0) {
      replace(list, empty('No alerting rules match the filter.'));
      return;
    }
    const out = [];
    for (const [file, gs] of byFile) {
      for (const { g, rules } of gs) {
        const c = (s) => rules.filter((r) => ruleState(r) === s).length;
        out.push(h('section', { class: 'group' },
          h('h2', null, `${file} > ${g.name}`, ' ', h('span', { class: 'counts' }, STATES.filter(c).map((s) => h('span', null, badge(s), ` ${c(s)}`)))),
          rules.map(ruleBox)));
      }
    }
    replace(list, out);
  }

  function ruleBox(r) {
    const state = ruleState(r);
    const alerts = r.alerts || [];
    const details = h('details', { class: 'pool rule', dataset: { rule: r.name, state } },
      h('summary', null, badge(state), h('span', { class: 'summary-name' }, r.name),
        alerts.length ? h('span', { class: 'muted' }, `(${alerts.length} active)`) : null));
    details.addEventListener('toggle', () => {
      if (!details.open || details.childElementCount > 1) return;
      details.append(h('div', { class: 'body' },
        h('dl', { class: 'kv' },
          h('dt', null, 'Expression'), h('dd', null, h('code', null, r.query)),
          r.duration ? [h('dt', null, 'For'), h('dd', null, formatDuration(r.duration))] : null,
          r.keepFiringFor ? [h('dt', null, 'Keep firing for'), h('dd', null, formatDuration(r.keepFiringFor))] : null,
          h('dt', null, 'Labels'), h('dd', null, labelChips(r.labels)),
          h('dt', null, 'Annotations'), h('dd', null, annotationList(r.annotations)),
          r.lastError ? [h('dt', null, 'Last error'), h('dd', { class: 'error-text' }, r.lastError)] : null),
        alerts.length === 0 ? empty('No active alerts.') : pagedTable({
          pageSize: 20,
          columns: [
            { title: 'Labels', cell: (a) => labelChips(a.labels) },
            { title: 'State', cell: (a) => badge(a.state), sort: (a) => a.state },
            { title: 'Active since', cell: (a) => h('span', { title: formatTime(a.activeAt) }, formatAgo(a.activeAt)), sort: (a) => a.activeAt },
            { title: 'Value', class: 'num', cell: (a) => formatValue(a.value), sort: (a) => Number(a.value) },
            { title: 'Annotations', cell: (a) => annotationList(a.annotations) },
          ],
          rows: alerts,
        })));
    });
    return details;
  }
}

function annotationList(ann) {
  const entries = Object.entries(ann || {});
  if (entries.length === 0) return h('span', { class: 'muted' }, 'none');
  return h('dl', { class: 'kv' }, entries.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}
