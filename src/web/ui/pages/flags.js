// /flags: the command-line flags in effect, filterable.
import { h, replace, searchBox, errorBox } from '../lib/dom.js';
import { pagedTable } from '../lib/table.js';

export async function mount(root, ctx) {
  let search = ctx.params.get('search') || '';
  replace(root, h('h1', null, 'Command-line flags'));
  let flags;
  try {
    flags = Object.entries((await ctx.api('/api/v1/status/flags')).data).map(([name, value]) => ({ name, value }));
  } catch (e) {
    root.append(errorBox(e));
    return;
  }
  const filter = () => flags.filter((f) => !search || `${f.name} ${f.value}`.toLowerCase().includes(search.toLowerCase()));
  const table = pagedTable({
    pageSize: 200,
    emptyText: 'No flags match.',
    columns: [
      { title: 'Flag', cell: (f) => h('code', null, `--${f.name}`), sort: (f) => f.name },
      { title: 'Value', cell: (f) => h('code', null, f.value), sort: (f) => f.value },
    ],
    rows: filter(),
  });
  table.id = 'flags';
  root.append(
    h('div', { class: 'toolbar' }, searchBox('flag-search', 'Filter', search, (v) => {
      search = v;
      ctx.setParams(v ? { search: v } : {});
      table.setRows(filter());
    }, 'flag or value')),
    table,
  );
}
