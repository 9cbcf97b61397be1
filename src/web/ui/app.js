// The shell: finds the page for the current path, loads its module and
// mounts it into <main> with the page context (see docs/architecture.md,
// "Web UI"). Navigation between pages is ordinary links.
import { makeApi } from './lib/api.js';
import { h, replace, errorBox } from './lib/dom.js';

const settings = window.FERROPROM || { prefix: '', externalUrl: '' };

/** Path (after the prefix) → page module name. */
const PAGES = {
  '/query': 'query',
  '/graph': 'query',
  '/targets': 'targets',
  '/service-discovery': 'service-discovery',
  '/alerts': 'alerts',
  '/rules': 'rules',
  '/status': 'status',
  '/flags': 'flags',
  '/config': 'config',
  '/tsdb-status': 'tsdb-status',
  '/cardinality': 'cardinality',
};

function pageName() {
  let path = location.pathname;
  if (settings.prefix && path.startsWith(settings.prefix)) path = path.slice(settings.prefix.length);
  return PAGES[path.replace(/\/+$/, '')] || null;
}

function setupNav(name) {
  for (const a of document.querySelectorAll('a[data-page]')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
  }
  const button = document.getElementById('status-menu');
  const items = document.getElementById('status-items');
  if (items.querySelector('[aria-current]')) button.classList.add('current');
  const show = (open) => {
    items.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
  };
  button.addEventListener('click', () => show(items.hidden));
  document.addEventListener('click', (e) => {
    if (!button.parentElement.contains(e.target)) show(false);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !items.hidden) {
      show(false);
      button.focus();
    }
  });
}

async function main() {
  const root = document.getElementById('main');
  const name = pageName();
  setupNav(name);
  if (!name) {
    replace(root, h('h1', null, 'Not found'));
    return;
  }
  const ctx = {
    prefix: settings.prefix,
    externalUrl: settings.externalUrl,
    api: makeApi(settings.prefix),
    params: new URLSearchParams(location.search),
    setParams(p) {
      const qs = new URLSearchParams(p).toString();
      history.replaceState(history.state, '', location.pathname + (qs ? `?${qs}` : ''));
      ctx.params = new URLSearchParams(qs);
    },
  };
  let page;
  try {
    page = await import(`./pages/${name}.js`);
  } catch (e) {
    replace(root, errorBox(new Error(`cannot load the ${name} page: ${e.message}`)));
    return;
  }
  replace(root);
  root.dataset.page = name;
  await page.mount(root, ctx);
  if (page.unmount) window.addEventListener('pagehide', () => page.unmount(), { once: true });
}

main().catch((e) => {
  replace(document.getElementById('main'), errorBox(e));
});
