// /service-discovery: per scrape pool, the targets service discovery
// found, which relabeling kept and which it dropped.
import { h, replace, searchBox, errorBox, empty, badge, labelChips } from '../lib/dom.js';
import { pagedTable } from '../lib/table.js';

export async function mount(root, ctx) {
  const list = h('div', { id: 'sd-pools' });
  let search = ctx.params.get('search') || '';
  let data;
  replace(
    root,
    h('h1', null, 'Service discovery'),
    h('div', { class: 'toolbar' }, searchBox('sd-search', 'Filter', search, (v) => {
      search = v;
      ctx.setParams(v ? { search: v } : {});
      render();
    }, 'labels')),
    list,
  );
  try {
    const r = await ctx.api('/api/v1/targets', { state: 'any' });
    data = r.data;
  } catch (e) {
    replace(list, errorBox(e));
    return;
  }
  render();

  function render() {
    const pools = new Map();
    const pool = (name) => {
      if (!pools.has(name)) pools.set(name, { active: [], dropped: [], droppedCount: 0 });
      return pools.get(name);
    };
    for (const t of data.activeTargets || []) pool(t.scrapePool).active.push(t);
    for (const t of data.droppedTargets || []) {
      const name = t.scrapePool || t.discoveredLabels?.job || '';
      pool(name).dropped.push(t);
    }
    for (const [name, n] of Object.entries(data.droppedTargetCounts || {})) pool(name).droppedCount = n;
    if (pools.size === 0) {
      replace(list, empty('No scrape pools.'));
      return;
    }
    const q = search.toLowerCase();
    const hit = (labels) => !q || Object.entries(labels || {}).some(([k, v]) => `${k}="${v}"`.toLowerCase().includes(q));
    const summary = pagedTable({
      caption: 'Pools',
      columns: [
        { title: 'Scrape pool', cell: (p) => h('a', { href: `#pool-${p.name}` }, p.name), sort: (p) => p.name },
        { title: 'Discovered', class: 'num', cell: (p) => String(p.active.length + p.dropped_n), sort: (p) => p.active.length + p.dropped_n },
        { title: 'Kept', class: 'num', cell: (p) => String(p.active.length), sort: (p) => p.active.length },
        { title: 'Dropped', class: 'num', cell: (p) => String(p.dropped_n), sort: (p) => p.dropped_n },
      ],
      rows: [...pools].sort((a, b) => a[0].localeCompare(b[0])).map(([name, p]) => ({
        name,
        active: p.active,
        dropped_n: Math.max(p.droppedCount, p.dropped.length),
      })),
    });
    const sections = [...pools].sort((a, b) => a[0].localeCompare(b[0])).map(([name, p]) => {
      const rows = [
        ...p.active.filter((t) => hit(t.discoveredLabels) || hit(t.labels)).map((t) => ({ disc: t.discoveredLabels, labels: t.labels, kept: true })),
        ...p.dropped.filter((t) => hit(t.discoveredLabels)).map((t) => ({ disc: t.discoveredLabels, labels: null, kept: false })),
      ];
      const details = h('details', { class: 'pool', id: `pool-${name}`, dataset: { pool: name } },
        h('summary', null, h('span', { class: 'summary-name' }, name),
          h('span', { class: 'counts' }, badge('kept'), String(p.active.length), badge('dropped'), String(Math.max(p.droppedCount, p.dropped.length)))));
      // Built on first open: a pool can hold thousands of targets.
      details.addEventListener('toggle', () => {
        if (details.open && details.childElementCount === 1) {
          details.append(h('div', { class: 'body' }, pagedTable({
            pageSize: 20,
            emptyText: 'No targets match.',
            columns: [
              { title: 'Discovered labels', cell: (r) => labelChips(r.disc) },
              { title: 'Target labels', cell: (r) => (r.kept ? labelChips(r.labels) : badge('dropped')) },
            ],
            rows,
          })));
        }
      });
      return details;
    });
    replace(list, summary, h('h2', null, 'Targets by pool'), sections);
  }
}
