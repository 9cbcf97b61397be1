// /targets: active scrape targets grouped by scrape pool, filterable by
// health and text. A pool's rows are built only when it is open, a page
// of them at a time.
import { h, replace, searchBox, errorBox, empty, badge, labelChips } from '../lib/dom.js';
import { formatAgo, formatDuration, formatTime } from '../lib/format.js';
import { pager } from '../lib/table.js';

const PAGE = 25;
const HEALTHS = ['up', 'down', 'unknown'];

export async function mount(root, ctx) {
  const shown = new Set((ctx.params.get('health') || HEALTHS.join(',')).split(',').filter((x) => HEALTHS.includes(x)));
  let search = ctx.params.get('search') || '';
  const collapsed = new Set(ctx.params.getAll('collapsed'));
  const list = h('div', { id: 'pools', 'aria-live': 'polite' });
  let targets = [];

  const save = () => {
    const p = new URLSearchParams();
    if (shown.size !== HEALTHS.length) p.set('health', [...shown].join(','));
    if (search) p.set('search', search);
    collapsed.forEach((c) => p.append('collapsed', c));
    ctx.setParams(p);
  };

  const healthBoxes = h(
    'fieldset',
    null,
    h('legend', null, 'Health'),
    HEALTHS.map((s) => h(
      'label',
      null,
      h('input', {
        type: 'checkbox',
        name: 'health',
        value: s,
        checked: shown.has(s),
        onchange: (e) => {
          if (e.target.checked) shown.add(s);
          else shown.delete(s);
          save();
          render();
        },
      }),
      ` ${s}`,
    )),
  );
  const refresh = h('button', { type: 'button', onclick: () => load() }, 'Refresh');
  replace(
    root,
    h('h1', null, 'Targets'),
    h('div', { class: 'toolbar' }, healthBoxes, searchBox('target-search', 'Filter', search, (v) => { search = v; save(); render(); }, 'endpoint or labels'), refresh),
    list,
  );

  function matches(t) {
    if (!shown.has(t.health)) return false;
    if (!search) return true;
    const q = search.toLowerCase();
    const hay = [t.scrapeUrl, ...Object.entries(t.labels).map(([k, v]) => `${k}="${v}"`)].join(' ').toLowerCase();
    return hay.includes(q);
  }

  function render() {
    const pools = new Map();
    for (const t of targets) {
      if (!pools.has(t.scrapePool)) pools.set(t.scrapePool, []);
      pools.get(t.scrapePool).push(t);
    }
    if (pools.size === 0) {
      replace(list, empty('No targets. Add scrape_configs to the configuration file.'));
      return;
    }
    const out = [];
    for (const [pool, all] of [...pools].sort((a, b) => a[0].localeCompare(b[0]))) {
      const visible = all.filter(matches);
      if (visible.length === 0 && (search || shown.size !== HEALTHS.length)) continue;
      out.push(poolBox(pool, all, visible));
    }
    replace(list, out.length ? out : empty('No targets match the filter.'));
  }

  function poolBox(pool, all, visible) {
    const up = all.filter((t) => t.health === 'up').length;
    const details = h(
      'details',
      { class: 'pool', open: !collapsed.has(pool), dataset: { pool } },
      h('summary', null, h('span', { class: 'summary-name' }, pool), h('span', { class: 'muted' }, `(${up}/${all.length} up)`)),
    );
    const body = h('div', { class: 'body' });
    details.append(body);
    let page = 0;
    const fill = () => {
      const pages = Math.max(1, Math.ceil(visible.length / PAGE));
      const rows = visible.slice(page * PAGE, (page + 1) * PAGE);
      replace(
        body,
        table(rows),
        pages > 1 ? pager(page, pages, visible.length, (p) => { page = p; fill(); }) : null,
      );
    };
    if (details.open) fill();
    details.addEventListener('toggle', () => {
      if (details.open) {
        collapsed.delete(pool);
        fill();
      } else {
        collapsed.add(pool);
        replace(body);
      }
      save();
    });
    return details;
  }

  function table(rows) {
    const head = h('tr', null, ['Endpoint', 'State', 'Labels', 'Last scrape', 'Scrape duration', 'Error'].map((t) => h('th', { scope: 'col' }, t)));
    const body = [];
    for (const t of rows) {
      const disc = h('tr', { class: 'discovered', hidden: true });
      const toggle = h('button', {
        type: 'button',
        class: 'link',
        'aria-expanded': 'false',
        onclick: () => {
          const open = disc.hidden;
          disc.hidden = !open;
          toggle.setAttribute('aria-expanded', String(open));
          toggle.textContent = open ? 'hide discovered labels' : 'discovered labels';
          if (open && !disc.firstChild) {
            disc.append(h('td', { colspan: 6 }, h('strong', null, 'Discovered labels (before relabeling): '), labelChips(t.discoveredLabels)));
          }
        },
      }, 'discovered labels');
      body.push(h(
        'tr',
        { class: 'target', dataset: { health: t.health } },
        h('td', null, h('a', { href: t.scrapeUrl, rel: 'noreferrer' }, t.scrapeUrl), h('div', null, toggle)),
        h('td', null, badge(t.health)),
        h('td', null, labelChips(t.labels)),
        h('td', { title: formatTime(t.lastScrape) }, formatAgo(t.lastScrape)),
        h('td', { class: 'num' }, t.lastScrape && !t.lastScrape.startsWith('0001') ? formatDuration(t.lastScrapeDuration) : '—'),
        h('td', { class: 'error-text' }, t.lastError || ''),
      ));
      body.push(disc);
    }
    return h('table', { class: 'data' }, h('thead', null, head), h('tbody', null, body));
  }

  async function load() {
    try {
      const r = await ctx.api('/api/v1/targets', { state: 'active' });
      targets = r.data.activeTargets || [];
      render();
    } catch (e) {
      replace(list, errorBox(e));
    }
  }
  await load();
}
