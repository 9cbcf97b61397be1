// Axis arithmetic for the chart: "nice" value ticks, SI-prefixed labels
// and calendar-aligned time ticks. Pure functions, no DOM.

const SI_UP = ["", "k", "M", "G", "T", "P", "E", "Z", "Y"];
const SI_DOWN = ["", "m", "µ", "n", "p", "f", "a"];

/** Ticks for [min, max] with about `count` steps on 1/2/5 × 10^n. */
export function niceTicks(min, max, count) {
  if (!(max > min)) return { ticks: [min], step: 1 };
  const raw = (max - min) / Math.max(count, 1);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const first = Math.ceil(min / step - 1e-9) * step;
  const ticks = [];
  for (let v = first; v <= max + step * 1e-9; v += step) {
    // Multiples of a decimal step drift in binary; snap to the grid.
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number((Math.round(v / step) * step).toPrecision(12)));
  }
  return { ticks, step };
}

/**
 * `v` with an SI prefix (1500 → "1.5k", 0.002 → "2m"). `step` (the tick
 * spacing) decides the digits, so neighbouring ticks differ visibly.
 */
export function formatSI(v, step) {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
  if (v === 0) return "0";
  const abs = Math.abs(v);
  let exp = Math.floor(Math.log10(abs) / 3);
  exp = Math.max(-(SI_DOWN.length - 1), Math.min(SI_UP.length - 1, exp));
  const scale = Math.pow(1000, exp);
  const prefix = exp >= 0 ? SI_UP[exp] : SI_DOWN[-exp];
  const scaled = v / scale;
  let digits = 3;
  if (step && step > 0) {
    // Enough decimals to resolve one tick step at this scale.
    digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(step / scale) + 1e-9)));
    return `${Number(scaled.toFixed(digits))}${prefix}`;
  }
  return `${Number(scaled.toPrecision(digits))}${prefix}`;
}

const SECOND = 1;
const MINUTE = 60;
const HOUR = 3600;
const DAY = 86400;
// Tick spacings in seconds, from which the first that fits is taken.
const TIME_STEPS = [
  1, 2, 5, 10, 15, 30,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 90 * DAY, 365 * DAY,
];

/** Time ticks (seconds, UTC-aligned) for [start, end] at most `maxCount`. */
export function timeTicks(start, end, maxCount) {
  const span = end - start;
  let step = TIME_STEPS.find((s) => span / s <= maxCount);
  if (!step) step = Math.ceil(span / maxCount / (365 * DAY)) * 365 * DAY;
  if (span < SECOND * maxCount && span > 0) {
    // Sub-second ranges (a zoom into a few samples): decimal steps.
    const { ticks } = niceTicks(start, end, maxCount);
    return { ticks, step: ticks.length > 1 ? ticks[1] - ticks[0] : 1 };
  }
  const ticks = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) ticks.push(t);
  return { ticks, step };
}

const pad = (n) => String(n).padStart(2, "0");

/** A tick label: time of day, with the date when the step is a day or more. */
export function formatTimeTick(t, step) {
  const d = new Date(t * 1000);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  if (step >= DAY) return date;
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  if (step < 1) return `${hm}:${pad(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, "0")}`;
  if (step < MINUTE) return `${hm}:${pad(d.getUTCSeconds())}`;
  // Midnight ticks carry the date so a multi-day range reads unambiguously.
  if (d.getUTCHours() === 0 && d.getUTCMinutes() === 0) return `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return hm;
}

/** A full UTC timestamp, "2024-01-02 03:04:05.678" (ms only when set). */
export function formatTime(t) {
  const d = new Date(t * 1000);
  const ms = d.getUTCMilliseconds();
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}` +
    (ms ? `.${String(ms).padStart(3, "0")}` : "")
  );
}
