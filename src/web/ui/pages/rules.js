// /rules: every rule group with its evaluation timing, and each rule's
// health, last error and evaluation time.
import { h, replace, searchBox, errorBox, empty, badge, labelChips } from '../lib/dom.js';
import { formatAgo, formatDuration, formatTime } from '../lib/format.js';
import { pagedTable } from '../lib/table.js';

export async function mount(root, ctx) {
  let search = ctx.params.get('search') || '';
  const list = h('div', { id: 'rule-groups' });
  replace(
    root,
    h('h1', null, 'Rules'),
    h('div', { class: 'toolbar' }, searchBox('rule-search', 'Filter', search, (v) => {
      search = v;
      ctx.setParams(v ? { search: v } : {});
      render();
    }, 'rule name or expression')),
    list,
  );
  let groups;
  try {
    groups = (await ctx.api('/api/v1/rules')).data.groups || [];
  } catch (e) {
    replace(list, errorBox(e));
    return;
  }
  render();

  function render() {
    if (groups.length === 0) {
      replace(list, empty('No rule groups. Add rule files to rule_files in the configuration.'));
      return;
    }
    const q = search.toLowerCase();
    const out = [];
    for (const g of groups) {
      const rules = g.rules.filter((r) => !q || r.name.toLowerCase().includes(q) || r.query.toLowerCase().includes(q));
      if (rules.length === 0) continue;
      out.push(h('section', { class: 'group', dataset: { group: g.name } },
        h('h2', null, `${g.file} > ${g.name}`),
        h('p', { class: 'muted' },
          `Interval ${formatDuration(g.interval)} · last evaluation `,
          h('span', { title: formatTime(g.lastEvaluation) }, formatAgo(g.lastEvaluation)),
          ` · took ${formatDuration(g.evaluationTime)}`,
          g.limit ? ` · limit ${g.limit}` : ''),
        pagedTable({
          pageSize: 50,
          columns: [
            { title: 'Rule', cell: ruleCell },
            { title: 'Health', cell: (r) => badge(r.health), sort: (r) => r.health },
            { title: 'Last error', cell: (r) => h('span', { class: 'error-text' }, r.lastError || '') },
            { title: 'Last evaluation', cell: (r) => h('span', { title: formatTime(r.lastEvaluation) }, formatAgo(r.lastEvaluation)) },
            { title: 'Evaluation time', class: 'num', cell: (r) => formatDuration(r.evaluationTime), sort: (r) => r.evaluationTime },
          ],
          rows: rules,
        })));
    }
    replace(list, out.length ? out : empty('No rules match the filter.'));
  }
}

function ruleCell(r) {
  const kind = r.type === 'alerting' ? 'alert' : 'record';
  return h('div', { class: 'rule-def' },
    h('div', null, h('strong', null, `${kind}: `), h('code', null, r.name)),
    h('div', null, h('strong', null, 'expr: '), h('code', null, r.query)),
    r.type === 'alerting' && r.duration ? h('div', null, h('strong', null, 'for: '), formatDuration(r.duration)) : null,
    Object.keys(r.labels || {}).length ? h('div', null, h('strong', null, 'labels: '), labelChips(r.labels)) : null);
}
