// /status: build information and runtime information.
import { h, replace, errorBox } from '../lib/dom.js';
import { formatTime } from '../lib/format.js';

const TITLES = {
  startTime: 'Start time',
  CWD: 'Working directory',
  reloadConfigSuccess: 'Configuration reload',
  lastConfigTime: 'Last successful configuration reload',
  corruptionCount: 'WAL corruptions',
  goroutineCount: 'Tasks',
  GOMAXPROCS: 'Worker threads',
  GOMEMLIMIT: 'Memory limit',
  GOGC: 'GOGC',
  GODEBUG: 'GODEBUG',
  storageRetention: 'Storage retention',
  version: 'Version',
  revision: 'Revision',
  branch: 'Branch',
  buildUser: 'Build user',
  buildDate: 'Build date',
  goVersion: 'Runtime',
};

export async function mount(root, ctx) {
  replace(root, h('h1', null, 'Runtime & build information'));
  const [runtime, build] = await Promise.allSettled([
    ctx.api('/api/v1/status/runtimeinfo'),
    ctx.api('/api/v1/status/buildinfo'),
  ]);
  root.append(section('Runtime information', 'runtime', runtime), section('Build information', 'build', build));
}

function section(title, id, result) {
  if (result.status === 'rejected') return h('section', null, h('h2', null, title), errorBox(result.reason));
  const rows = Object.entries(result.value.data).map(([k, v]) => h(
    'tr',
    null,
    h('th', { scope: 'row' }, TITLES[k] || k),
    h('td', null, show(k, v)),
  ));
  return h('section', null, h('h2', null, title), h('table', { class: 'data kv-table', id }, h('tbody', null, rows)));
}

function show(k, v) {
  if (k === 'reloadConfigSuccess') return v ? 'Successful' : 'Unsuccessful';
  if (k === 'startTime' || k === 'lastConfigTime') return `${formatTime(v)} (${v})`;
  if (k === 'GOMEMLIMIT' && v >= 9223372036854775807) return 'none';
  return String(v);
}
