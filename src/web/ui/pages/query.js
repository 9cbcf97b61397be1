// The Query page (/query, /graph): panels of an expression box with a
// Table tab (instant query), a Graph tab (range query on our chart) and an
// Explain tab (the parsed tree). All panel state lives in the URL.

import { createEditor } from "../lib/editor.js";
import { Chart, seriesName } from "../lib/chart.js";
import { formatTime } from "../lib/chart_scale.js";
import { renderExplain } from "../lib/explain.js";
import { defaultPanel, decodePanels, encodePanels, parseTime, formatInputTime } from "../lib/panel_url.js";
import { parseDuration, formatDuration } from "../lib/duration.js";

// Rows rendered before the table asks to show more.
const PAGE_ROWS = 1000;
const RANGE_PRESETS = [300, 900, 1800, 3600, 7200, 21600, 43200, 86400, 172800, 604800, 1209600];

let state = null;

function loadCss() {
  const href = new URL("./query.css", import.meta.url).href;
  if (![...document.querySelectorAll("link[rel=stylesheet]")].some((l) => l.href === href)) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    document.head.appendChild(link);
  }
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  e.append(...kids);
  return e;
}

function errorText(e) {
  if (e && e.errorType) return `${e.errorType}: ${e.error}`;
  return `Error: ${(e && e.message) || e}`;
}

/** The automatic range-query step, as Prometheus picks it: range / 250. */
export function autoStep(range) {
  return Math.max(1, Math.floor(range / 250));
}

export async function mount(root, ctx) {
  loadCss();
  const classic = /\/graph\/?$/.test(window.location.pathname);
  const decoded = decodePanels(ctx.params);
  state = { ctx, classic, panels: [] };
  root.replaceChildren();
  const page = el("div", { class: "pq-page" });
  const list = el("div", { class: "pq-panels" });
  const add = el("button", { type: "button", class: "pq-btn pq-add", onclick: () => addPanel(defaultPanel(), true) }, "Add panel");
  page.append(list, add);
  root.appendChild(page);
  state.list = list;
  for (const p of decoded.length ? decoded : [defaultPanel()]) addPanel(p, false);
  writeUrl();
  await Promise.all(state.panels.map((p) => (p.model.expr ? p.run() : null)));
  if (!decoded.length) state.panels[0].editor.focus();
}

export function unmount() {
  if (state) for (const p of state.panels) p.destroy();
  state = null;
}

function writeUrl() {
  if (!state) return;
  state.ctx.setParams(encodePanels(state.panels.map((p) => p.model), state.classic));
}

function addPanel(model, focus) {
  const panel = new Panel(model, state.ctx, () => writeUrl(), (p) => {
    p.destroy();
    state.panels = state.panels.filter((x) => x !== p);
    writeUrl();
  });
  state.panels.push(panel);
  state.list.appendChild(panel.root);
  if (focus) {
    panel.editor.focus();
    writeUrl();
  }
  return panel;
}

let panelSeq = 0;

class Panel {
  constructor(model, ctx, changed, remove) {
    this.model = model;
    this.api = ctx.api;
    this.changed = changed;
    this.id = `pq-panel-${panelSeq++}`;
    this.seq = 0;
    // Which tab shows the current expression's result (others re-run when opened).
    this.fresh = new Set();
    this.root = el("section", { class: "pq-panel", "aria-label": "Query panel" });

    const editorBox = el("div", { class: "pq-editor-box" });
    const execute = el("button", { type: "button", class: "pq-btn pq-primary pq-execute", onclick: () => this.execute() }, "Execute");
    const removeBtn = el("button", { type: "button", class: "pq-btn pq-remove", title: "Remove panel", "aria-label": "Remove panel", onclick: () => remove(this) }, "×");
    this.root.append(el("div", { class: "pq-editor-row" }, editorBox, execute, removeBtn));
    this.editor = createEditor(editorBox, {
      api: this.api,
      value: model.expr,
      onExecute: () => this.execute(),
      onChange: () => {},
    });

    const tabs = el("div", { class: "pq-tabs", role: "tablist" });
    this.tabButtons = {};
    this.bodies = {};
    for (const [key, label] of [["table", "Table"], ["graph", "Graph"], ["explain", "Explain"]]) {
      const b = el("button", {
        type: "button", role: "tab", class: "pq-tab", id: `${this.id}-tab-${key}`,
        "aria-controls": `${this.id}-body-${key}`, "data-tab": key, onclick: () => this.selectTab(key),
      }, label);
      tabs.appendChild(b);
      this.tabButtons[key] = b;
      this.bodies[key] = el("div", { class: "pq-tab-body", role: "tabpanel", id: `${this.id}-body-${key}`, "aria-labelledby": b.id });
    }
    // Arrow keys move between tabs, as for any tab list.
    tabs.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
      const keys = Object.keys(this.tabButtons);
      const i = keys.indexOf(this.model.tab);
      const next = keys[(i + (e.key === "ArrowRight" ? 1 : keys.length - 1)) % keys.length];
      e.preventDefault();
      this.selectTab(next);
      this.tabButtons[next].focus();
    });
    this.root.append(tabs, this.bodies.table, this.bodies.graph, this.bodies.explain);
    this.buildTable();
    this.buildGraph();
    this.explainBody = el("div", { class: "pq-explain" });
    this.bodies.explain.append(this.timeControls("explain"), this.explainBody);
    this.showTab();
  }

  destroy() {
    if (this.chart) this.chart.destroy();
    this.root.remove();
  }

  selectTab(tab) {
    this.model.tab = tab;
    this.showTab();
    this.changed();
    if (this.model.expr && !this.fresh.has(tab)) this.run();
  }

  showTab() {
    for (const [k, b] of Object.entries(this.tabButtons)) {
      const on = k === this.model.tab;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      b.classList.toggle("active", on);
      this.bodies[k].hidden = !on;
    }
    if (this.model.tab === "graph" && this.chart) this.chart.draw();
  }

  execute() {
    this.model.expr = this.editor.value.trim();
    this.fresh.clear();
    this.changed();
    this.run();
  }

  run() {
    const tab = this.model.tab;
    this.fresh.add(tab);
    if (!this.model.expr) return null;
    if (tab === "table") return this.runTable();
    if (tab === "graph") return this.runGraph();
    return renderExplain(this.explainBody, this.model.expr, this.api, () => this.model.end);
  }

  /** The shared end/evaluation time control ("now" when empty). */
  timeControls(kind) {
    const input = el("input", {
      type: "text", class: "pq-input-text pq-end", placeholder: "now (UTC)",
      "aria-label": kind === "graph" ? "End time (UTC)" : "Evaluation time (UTC)", size: "19",
    });
    const sync = () => {
      input.value = this.model.end === null ? "" : formatInputTime(this.model.end);
    };
    sync();
    (this.timeSyncs ||= []).push(sync);
    const set = (t) => {
      this.model.end = t;
      this.timeSyncs.forEach((f) => f());
      this.fresh.clear();
      this.changed();
      this.run();
    };
    input.addEventListener("change", () => {
      const t = parseTime(input.value);
      input.classList.toggle("invalid", input.value.trim() !== "" && t === null);
      if (input.value.trim() === "" || t !== null) set(t);
    });
    const shift = (dir) => {
      const base = this.model.end === null ? Date.now() / 1000 : this.model.end;
      set(Math.round(base + dir * (kind === "graph" ? this.model.range / 2 : 60)));
    };
    const label = kind === "graph" ? "End" : "Evaluation time";
    return el("div", { class: "pq-controls" },
      el("span", { class: "pq-control-label" }, label),
      el("button", { type: "button", class: "pq-btn", "aria-label": "Earlier", onclick: () => shift(-1) }, "‹"),
      input,
      el("button", { type: "button", class: "pq-btn", "aria-label": "Later", onclick: () => shift(1) }, "›"),
      el("button", { type: "button", class: "pq-btn", onclick: () => set(null) }, "Now"),
    );
  }

  status(body) {
    const s = el("div", { class: "pq-status", "aria-live": "polite" });
    const err = el("div", { class: "pq-error", role: "alert", hidden: "" });
    const warn = el("div", { class: "pq-warning", hidden: "" });
    body.append(s, err, warn);
    return { s, err, warn };
  }

  showOutcome(box, { error, warnings, infos, text }) {
    box.s.textContent = text || "";
    box.err.hidden = !error;
    box.err.textContent = error || "";
    const notes = [...(warnings || []).map((w) => `Warning: ${w}`), ...(infos || []).map((i) => `Info: ${i}`)];
    box.warn.hidden = notes.length === 0;
    box.warn.replaceChildren(...notes.map((n) => el("div", {}, n)));
  }

  // ---- Table ----

  buildTable() {
    const body = this.bodies.table;
    body.appendChild(this.timeControls("table"));
    this.tableBox = this.status(body);
    this.tableWrap = el("div", { class: "pq-table-wrap" });
    body.appendChild(this.tableWrap);
    this.sort = { key: null, dir: 1 };
  }

  /**
   * One API call whose outcome goes to the status `box`: `{env, ms}`, or
   * null when it failed (the error is shown and `onError` called) or a
   * newer run has started meanwhile.
   */
  async call(path, q, box, onError) {
    const seq = ++this.seq;
    box.s.textContent = "Loading…";
    const t0 = performance.now();
    try {
      const env = await this.api(path, q);
      return seq === this.seq ? { env, ms: performance.now() - t0 } : null;
    } catch (e) {
      if (seq === this.seq) {
        this.showOutcome(box, { error: errorText(e), warnings: e.warnings });
        onError();
      }
      return null;
    }
  }

  async runTable() {
    const q = { query: this.model.expr, stats: "1" };
    if (this.model.end !== null) q.time = String(this.model.end);
    const got = await this.call("/api/v1/query", q, this.tableBox, () => this.tableWrap.replaceChildren());
    if (!got) return;
    const { env, ms } = got;
    this.tableData = env.data;
    this.shown = PAGE_ROWS;
    const n = countOf(env.data);
    this.showOutcome(this.tableBox, {
      warnings: env.warnings,
      infos: env.infos,
      text: `${statsText(env.data, ms)} · Result: ${n} ${env.data.resultType === "scalar" || env.data.resultType === "string" ? env.data.resultType : "series"}`,
    });
    this.renderTable();
  }

  renderTable() {
    const d = this.tableData;
    if (!d) return;
    const wrap = this.tableWrap;
    wrap.replaceChildren();
    if (d.resultType === "scalar" || d.resultType === "string") {
      wrap.appendChild(el("table", { class: "pq-table" }, el("tbody", {},
        el("tr", {}, el("td", { class: "pq-series" }, d.resultType), el("td", { class: "pq-value" }, String(d.result[1]))))));
      return;
    }
    if (d.result.length === 0) {
      wrap.appendChild(el("p", { class: "pq-empty" }, "Empty query result"));
      return;
    }
    let rows = d.result.map((r) => ({ r, name: seriesName(r.metric), num: sortValue(r) }));
    const { key, dir } = this.sort;
    if (key === "series") rows.sort((a, b) => dir * a.name.localeCompare(b.name));
    if (key === "value") rows.sort((a, b) => dir * cmpNum(a.num, b.num));
    const header = (k, label) => {
      const arrow = key === k ? (dir > 0 ? " ▲" : " ▼") : "";
      const b = el("button", { type: "button", class: "pq-sort", onclick: () => {
        this.sort = { key: k, dir: this.sort.key === k ? -this.sort.dir : k === "value" ? -1 : 1 };
        this.renderTable();
      } }, label + arrow);
      return el("th", { "aria-sort": key === k ? (dir > 0 ? "ascending" : "descending") : "none" }, b);
    };
    const tbody = el("tbody");
    for (const { r } of rows.slice(0, this.shown)) tbody.appendChild(el("tr", {}, seriesCell(r.metric), valueCell(r)));
    wrap.appendChild(el("table", { class: "pq-table" },
      el("thead", {}, el("tr", {}, header("series", "Series"), header("value", d.resultType === "matrix" ? "Values" : "Value"))),
      tbody));
    if (rows.length > this.shown) {
      const more = rows.length - this.shown;
      wrap.appendChild(el("div", { class: "pq-more" },
        `Showing ${this.shown} of ${rows.length} series. `,
        el("button", { type: "button", class: "pq-btn", onclick: () => {
          this.shown += PAGE_ROWS;
          this.renderTable();
        } }, `Show ${Math.min(PAGE_ROWS, more)} more`),
        " ",
        el("button", { type: "button", class: "pq-btn", onclick: () => {
          this.shown = rows.length;
          this.renderTable();
        } }, "Show all")));
    }
  }

  // ---- Graph ----

  buildGraph() {
    const body = this.bodies.graph;
    const range = el("input", { type: "text", class: "pq-input-text pq-range", "aria-label": "Range", size: "6", list: `${this.id}-ranges` });
    const ranges = el("datalist", { id: `${this.id}-ranges` }, ...RANGE_PRESETS.map((s) => el("option", { value: formatDuration(s) })));
    range.value = formatDuration(this.model.range);
    const setRange = (s) => {
      this.model.range = s;
      range.value = formatDuration(s);
      range.classList.remove("invalid");
      this.graphChanged();
    };
    range.addEventListener("change", () => {
      const s = parseDuration(range.value);
      if (s && s > 0) setRange(s);
      else range.classList.add("invalid");
    });
    const stepRange = (dir) => {
      const cur = this.model.range;
      const next = dir < 0 ? [...RANGE_PRESETS].reverse().find((p) => p < cur) : RANGE_PRESETS.find((p) => p > cur);
      if (next) setRange(next);
    };
    const step = el("input", { type: "text", class: "pq-input-text pq-step", "aria-label": "Resolution (step)", size: "11" });
    const syncStep = () => {
      step.value = this.model.step === null ? "" : formatDuration(this.model.step);
      step.placeholder = `auto (${formatDuration(autoStep(this.model.range))})`;
    };
    syncStep();
    this.syncStep = syncStep;
    this.syncRange = () => {
      range.value = formatDuration(this.model.range);
    };
    step.addEventListener("change", () => {
      const s = step.value.trim() === "" ? null : parseDuration(step.value);
      if (s === null && step.value.trim() !== "") {
        step.classList.add("invalid");
        return;
      }
      step.classList.remove("invalid");
      this.model.step = s && s > 0 ? s : null;
      this.graphChanged();
    });
    const mode = el("div", { class: "pq-mode", role: "group", "aria-label": "Display mode" });
    const modeBtn = (stacked, label) => {
      const b = el("button", { type: "button", class: "pq-btn", "aria-pressed": String(this.model.stacked === stacked), onclick: () => {
        this.model.stacked = stacked;
        mode.querySelectorAll("button").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
        this.changed();
        if (this.lastGraph) this.chart.setData(this.lastGraph.result, { ...this.lastGraph.window, stacked });
      } }, label);
      return b;
    };
    mode.append(modeBtn(false, "Lines"), modeBtn(true, "Stacked"));
    body.appendChild(el("div", { class: "pq-controls" },
      el("span", { class: "pq-control-label" }, "Range"),
      el("button", { type: "button", class: "pq-btn", "aria-label": "Shorter range", onclick: () => stepRange(-1) }, "−"),
      range, ranges,
      el("button", { type: "button", class: "pq-btn", "aria-label": "Longer range", onclick: () => stepRange(1) }, "+"),
      el("span", { class: "pq-control-label" }, "Step"), step, mode));
    body.appendChild(this.timeControls("graph"));
    this.graphBox = this.status(body);
    const chartBox = el("div", { class: "pq-chart-box" });
    body.appendChild(chartBox);
    this.chart = new Chart(chartBox, {
      onZoom: ({ start, end }) => {
        // Zooming sets an absolute window: the range and its end.
        this.model.range = Math.max(1, Math.round(end - start));
        this.model.end = Math.round(end);
        this.syncRange();
        this.timeSyncs.forEach((f) => f());
        this.graphChanged();
      },
    });
  }

  graphChanged() {
    this.syncStep();
    this.fresh.clear();
    this.changed();
    this.run();
  }

  async runGraph() {
    // Not aligned to the step: the newest samples would fall off the end.
    const end = this.model.end === null ? Math.round(Date.now()) / 1000 : this.model.end;
    const step = this.model.step || autoStep(this.model.range);
    const start = end - this.model.range;
    const q = { query: this.model.expr, start: String(start), end: String(end), step: String(step), stats: "1" };
    const got = await this.call("/api/v1/query_range", q, this.graphBox, () => {
      this.lastGraph = null;
      this.chart.setData([], { start, end, step, stacked: this.model.stacked });
    });
    if (!got) return;
    const { env, ms } = got;
    const result = env.data.resultType === "matrix" ? env.data.result : [];
    this.showOutcome(this.graphBox, {
      warnings: env.warnings,
      infos: env.infos,
      text: `${statsText(env.data, ms)} · Result: ${result.length} series · ${formatTime(start)} to ${formatTime(end)} UTC, step ${formatDuration(step)}`,
    });
    const span = { start, end, step };
    this.lastGraph = { result, window: span };
    this.chart.setData(result, { ...span, stacked: this.model.stacked });
  }
}

/** "Load time: 12ms · Eval: 3ms · Samples: 1,234" from the API's stats. */
function statsText(data, ms) {
  const parts = [`Load time: ${Math.round(ms)}ms`];
  const st = data.stats;
  if (st && st.timings) parts.push(`Eval: ${(st.timings.evalTotalTime * 1000).toFixed(1)}ms`);
  if (st && st.samples && st.samples.totalQueryableSamples !== undefined) {
    parts.push(`Samples: ${st.samples.totalQueryableSamples.toLocaleString("en")}`);
  }
  return parts.join(" · ");
}

function countOf(d) {
  return d.resultType === "scalar" || d.resultType === "string" ? 1 : d.result.length;
}

function sortValue(r) {
  if (r.value) return parseFloat(r.value[1]);
  if (r.histogram) return parseFloat(r.histogram[1].count);
  if (r.values && r.values.length) return parseFloat(r.values[r.values.length - 1][1]);
  return NaN;
}

/** NaN sorts last either way. */
function cmpNum(a, b) {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a - b;
}

function seriesCell(metric) {
  const td = el("td", { class: "pq-series" });
  if (metric.__name__) td.appendChild(el("span", { class: "pq-metric-name" }, metric.__name__));
  const keys = Object.keys(metric).filter((k) => k !== "__name__").sort();
  td.append("{");
  keys.forEach((k, i) => {
    td.append(el("span", { class: "pq-label-name" }, k), "=", el("span", { class: "pq-label-value" }, JSON.stringify(metric[k])));
    if (i < keys.length - 1) td.append(", ");
  });
  td.append("}");
  return td;
}

function histogramText(h) {
  return `count: ${h.count} sum: ${h.sum} (${(h.buckets || []).length} buckets)`;
}

function valueCell(r) {
  const td = el("td", { class: "pq-value" });
  if (r.value) td.textContent = r.value[1];
  else if (r.histogram) td.textContent = histogramText(r.histogram[1]);
  else {
    // A range vector: every sample with its timestamp.
    const lines = (r.values || []).map(([t, v]) => `${v} @${t}`);
    for (const [t, h] of r.histograms || []) lines.push(`${histogramText(h)} @${t}`);
    td.appendChild(el("div", { class: "pq-values" }, lines.join("\n")));
  }
  return td;
}
