// Prometheus durations ("1h30m", "250ms") to and from seconds.

const UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Seconds of a Prometheus duration ("1h30m", "90s") or a plain number. */
export function parseDuration(text) {
  const s = String(text || "").trim();
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s);
  const re = /(\d+)(ms|[smhdwy])/g;
  let total = 0;
  let used = 0;
  let m;
  while ((m = re.exec(s))) {
    total += parseInt(m[1], 10) * UNITS[m[2]];
    used += m[0].length;
  }
  return used === s.length && used > 0 ? total : null;
}

/** Duration text for `seconds` ("1h", "1d12h", 1.5 → "1s500ms", -60 → "-1m"). */
export function formatDuration(seconds) {
  let ms = Math.round(Math.abs(seconds) * 1000);
  if (ms === 0) return "0s";
  let out = seconds < 0 ? "-" : "";
  for (const [u, size] of [["y", 31536000000], ["w", 604800000], ["d", 86400000], ["h", 3600000], ["m", 60000], ["s", 1000], ["ms", 1]]) {
    if (ms >= size) {
      out += `${Math.floor(ms / size)}${u}`;
      ms %= size;
    }
  }
  return out;
}
