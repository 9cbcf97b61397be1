// Query panels <-> URL parameters. Reads both Prometheus 2's classic
// `/graph?g0.expr=…&g0.tab=0&g0.range_input=1h&g0.end_input=…&g0.step_input=…`
// (what Grafana links, alert generatorURLs and old bookmarks carry) and
// Prometheus 3's `/query?g0.expr=…&g0.tab=graph&g0.end_time=…&g0.res_type=…`;
// writes the dialect of the page it is on, so a shared link opens in
// either server.

import { parseDuration, formatDuration } from "./duration.js";

/** A fresh panel: table tab, 1h range ending now, automatic step. */
export function defaultPanel(expr = "") {
  return { expr, tab: "table", range: 3600, end: null, step: null, stacked: false };
}

/**
 * Seconds since the epoch of a time as URLs carry it: Unix seconds or
 * milliseconds, or a UTC date-time ("2024-01-02 03:04", ISO 8601).
 */
export function parseTime(text) {
  const s = String(text || "").trim();
  if (!s) return null;
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = parseFloat(s);
    // Eleven digits of seconds is the year 5138: larger means milliseconds.
    return n > 1e11 ? n / 1000 : n;
  }
  let iso = s.replace(" ", "T");
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(iso)) iso += ":00";
  if (/^\d{4}-\d\d-\d\d$/.test(iso)) iso += "T00:00:00";
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(iso)) iso += "Z";
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms / 1000;
}

const pad = (n) => String(n).padStart(2, "0");

/** "YYYY-MM-DD HH:MM:SS" in UTC, Prometheus 2's end_input format. */
export function formatInputTime(t) {
  const d = new Date(t * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** The panels described by `params` (a URLSearchParams), in index order. */
export function decodePanels(params) {
  const indexes = new Set();
  for (const key of params.keys()) {
    const m = /^g(\d+)\./.exec(key);
    if (m) indexes.add(parseInt(m[1], 10));
  }
  return [...indexes]
    .sort((a, b) => a - b)
    .map((i) => {
      const get = (k) => params.get(`g${i}.${k}`);
      const p = defaultPanel(get("expr") || "");
      const tab = get("tab");
      if (tab === "0" || tab === "graph") p.tab = "graph";
      else if (tab === "1" || tab === "table") p.tab = "table";
      else if (tab === "explain") p.tab = "explain";
      if (get("show_tree") === "1") p.tab = "explain";
      const range = parseDuration(get("range_input"));
      if (range && range > 0) p.range = range;
      // Prometheus 2 keeps the table's evaluation time (moment_input) apart
      // from the graph's end; one end time serves both here, taken from
      // the one that belongs to the open tab.
      const endText =
        get("end_time") ||
        (p.tab === "table" ? get("moment_input") || get("end_input") : get("end_input") || get("moment_input"));
      p.end = parseTime(endText);
      const resType = get("res_type");
      const step = parseDuration(get("step_input") || (resType && resType !== "auto" ? get("res_step") : ""));
      if (step && step > 0) p.step = step;
      p.stacked = get("stacked") === "1" || get("display_mode") === "stacked";
      return p;
    });
}

/**
 * URL parameters for `panels`: Prometheus 2's keys when `classic` (the
 * page is `/graph`), Prometheus 3's otherwise.
 */
export function encodePanels(panels, classic) {
  const out = new URLSearchParams();
  panels.forEach((p, i) => {
    const set = (k, v) => out.set(`g${i}.${k}`, v);
    set("expr", p.expr);
    if (classic) {
      set("tab", p.tab === "graph" ? "0" : "1");
      if (p.tab === "explain") set("show_tree", "1");
      set("stacked", p.stacked ? "1" : "0");
      set("range_input", formatDuration(p.range));
      if (p.end !== null) {
        set("end_input", formatInputTime(p.end));
        set("moment_input", formatInputTime(p.end));
      }
      if (p.step !== null) set("step_input", String(p.step));
    } else {
      set("tab", p.tab);
      set("display_mode", p.stacked ? "stacked" : "lines");
      set("range_input", formatDuration(p.range));
      if (p.end !== null) set("end_time", new Date(p.end * 1000).toISOString());
      set("res_type", p.step === null ? "auto" : "fixed");
      if (p.step !== null) set("res_step", String(p.step));
    }
  });
  return out;
}
