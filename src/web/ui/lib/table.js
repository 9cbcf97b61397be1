// A paginated table: only the rows of the current page are in the DOM, so
// long lists stay fast.
import { h, replace } from './dom.js';

/** A table of `rows` with `columns` = [{title, cell(row) → Node|string,
 * class?, sort?(row) → sortable}], `pageSize` rows per page. Returns the
 * element; `setRows(rows)` on it replaces the data and goes to page 1. */
export function pagedTable({ columns, rows, pageSize = 50, caption, emptyText = 'No data.' }) {
  let page = 0;
  let data = rows;
  let sortBy = -1;
  let desc = false;
  const wrap = h('div', { class: 'paged' });

  function sorted() {
    if (sortBy < 0) return data;
    const key = columns[sortBy].sort;
    const out = [...data].sort((a, b) => {
      const x = key(a);
      const y = key(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    return desc ? out.reverse() : out;
  }

  function render() {
    const all = sorted();
    const pages = Math.max(1, Math.ceil(all.length / pageSize));
    page = Math.min(page, pages - 1);
    const shown = all.slice(page * pageSize, (page + 1) * pageSize);
    const head = h(
      'tr',
      null,
      columns.map((c, i) => {
        if (!c.sort) return h('th', { scope: 'col', class: c.class }, c.title);
        const dir = sortBy === i ? (desc ? 'descending' : 'ascending') : 'none';
        return h(
          'th',
          { scope: 'col', class: c.class, 'aria-sort': dir },
          h('button', {
            type: 'button',
            class: 'sort',
            onclick: () => {
              desc = sortBy === i ? !desc : false;
              sortBy = i;
              render();
            },
          }, c.title, sortBy === i ? (desc ? ' ▼' : ' ▲') : ''),
        );
      }),
    );
    const body = shown.length
      ? shown.map((r) => h('tr', null, columns.map((c) => h('td', { class: c.class }, c.cell(r)))))
      : h('tr', null, h('td', { colspan: columns.length, class: 'empty' }, emptyText));
    const table = h('table', { class: 'data' }, caption ? h('caption', null, caption) : null, h('thead', null, head), h('tbody', null, body));
    replace(wrap, table, pages > 1 ? pager(page, pages, all.length, (p) => { page = p; render(); }) : null);
  }

  wrap.setRows = (rows2) => {
    data = rows2;
    page = 0;
    render();
  };
  render();
  return wrap;
}

/** Previous/next buttons with "page i of n". */
export function pager(page, pages, total, go) {
  return h(
    'div',
    { class: 'pager' },
    h('button', { type: 'button', disabled: page === 0, onclick: () => go(page - 1) }, '‹ Previous'),
    h('span', { class: 'muted' }, `Page ${page + 1} of ${pages} (${total} rows)`),
    h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => go(page + 1) }, 'Next ›'),
  );
}

/** A table of a `{name, value}` list as the TSDB status API returns them,
 * with each value's share of `total` when given. `link(name)` may turn a
 * name into a clickable element. */
export function statTable({ caption, rows, nameTitle = 'Name', valueTitle = 'Count', total, link, format = String, pageSize = 20, id }) {
  const columns = [
    { title: nameTitle, cell: (r) => (link ? link(r.name) : h('code', null, r.name)), sort: (r) => r.name },
    { title: valueTitle, class: 'num', cell: (r) => format(r.value), sort: (r) => r.value },
  ];
  if (total) columns.push({ title: 'Share', class: 'num', cell: (r) => `${((100 * r.value) / total).toFixed(2)}%`, sort: (r) => r.value });
  const t = pagedTable({ caption, columns, rows: rows || [], pageSize, emptyText: 'None.' });
  if (id) t.id = id;
  return t;
}
