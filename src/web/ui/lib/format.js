// Number, time and size formatting shared by the pages.

/** A Unix time (seconds or Date/ISO string) as a local date and time. */
export function formatTime(t) {
  const d = t instanceof Date ? t : typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 1971) return 'never';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Seconds as a short duration: `850ms`, `12.3s`, `4m 2s`, `3h 5m`, `2d 4h`. */
export function formatDuration(sec) {
  if (!Number.isFinite(sec)) return String(sec);
  const neg = sec < 0 ? '-' : '';
  let s = Math.abs(sec);
  if (s < 1) return `${neg}${+(s * 1000).toPrecision(3)}ms`;
  if (s < 60) return `${neg}${+s.toPrecision(3)}s`;
  const units = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  const parts = [];
  for (const [u, n] of units) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
    if (parts.length === 2) break;
  }
  return neg + parts.join(' ');
}

/** How long ago a time was: `5s ago`. */
export function formatAgo(t) {
  const d = typeof t === 'number' ? t * 1000 : new Date(t).getTime();
  if (!Number.isFinite(d) || d <= 0 || new Date(d).getFullYear() < 1971) return 'never';
  const ago = (Date.now() - d) / 1000;
  return ago < 0 ? 'just now' : `${formatDuration(ago)} ago`;
}

/** An integer with thousands separators. */
export function formatCount(n) {
  return Number(n).toLocaleString('en-US');
}

/** Bytes with binary units. */
export function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** `labels` as `{a="b", c="d"}` (PromQL selector text, values escaped). */
export function formatLabels(labels) {
  const inner = Object.entries(labels || {})
    .map(([k, v]) => `${k}=${JSON.stringify(String(v))}`)
    .join(', ');
  return `{${inner}}`;
}

/** A sample value as the API sends it (`"4.2e+01"`, `"NaN"`, `"+Inf"`) in
 * plain notation where that stays short. */
export function formatValue(s) {
  const n = Number(s);
  if (!Number.isFinite(n)) return String(s);
  const a = Math.abs(n);
  return a !== 0 && (a >= 1e15 || a < 1e-6) ? n.toExponential() : String(n);
}
