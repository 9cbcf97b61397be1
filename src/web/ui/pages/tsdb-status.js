// /tsdb-status: head block statistics and the top-10 tables Prometheus
// shows (see /cardinality to explore further).
import { h, replace, errorBox } from '../lib/dom.js';
import { formatBytes, formatCount, formatTime } from '../lib/format.js';
import { statTable } from '../lib/table.js';

export async function mount(root, ctx) {
  replace(root, h('h1', null, 'TSDB status'));
  let d;
  try {
    d = (await ctx.api('/api/v1/status/tsdb')).data;
  } catch (e) {
    root.append(errorBox(e));
    return;
  }
  root.append(headCards(d.headStats), h('p', null, h('a', { href: 'cardinality' }, 'Explore cardinality →')));
  const n = d.headStats.numSeries;
  root.append(h('div', { class: 'grid2' },
    statTable({ caption: 'Top 10 series count by metric name', rows: d.seriesCountByMetricName, nameTitle: 'Metric name', total: n, id: 'by-metric' }),
    statTable({ caption: 'Top 10 label names with value count', rows: d.labelValueCountByLabelName, nameTitle: 'Label name', valueTitle: 'Values', id: 'by-label-values' }),
    statTable({ caption: 'Top 10 label names with high memory usage', rows: d.memoryInBytesByLabelName, nameTitle: 'Label name', valueTitle: 'Bytes', format: formatBytes, id: 'by-memory' }),
    statTable({ caption: 'Top 10 series count by label value pairs', rows: d.seriesCountByLabelValuePair, nameTitle: 'Label pair', total: n, id: 'by-pair' })));
}

/** The head statistics as cards. With `scoped` (a `match[]` focus) only
 * series and label pairs are narrowed; the rest stay the whole head's. */
export function headCards(s, scoped = false) {
  const whole = scoped ? ' (whole head)' : '';
  const card = (k, v) => h('div', { class: 'card' }, h('div', { class: 'v' }, v), h('div', { class: 'k' }, k));
  const time = (ms) => (s.chunkCount > 0 ? formatTime(ms / 1000) : '—');
  return h('div', { class: 'cards', id: 'head-stats' },
    card('Series', formatCount(s.numSeries)),
    card('Label pairs', formatCount(s.numLabelPairs)),
    card(`Chunks${whole}`, formatCount(s.chunkCount)),
    card(`Min time${whole}`, time(s.minTime)),
    card(`Max time${whole}`, time(s.maxTime)));
}
