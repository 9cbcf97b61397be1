// Our own time-series chart on <canvas>: lines or stacked areas, SI y axis,
// UTC time axis, a legend that toggles (click) and isolates (Ctrl/Cmd+click)
// series, a hover tooltip, and drag-to-zoom. Two canvases are stacked: the
// plot (redrawn when data, size or visibility change) and an overlay for
// the crosshair and the zoom selection (redrawn on every mouse move, so the
// plot is not).

import { niceTicks, formatSI, timeTicks, formatTimeTick, formatTime } from "./chart_scale.js";

const HEIGHT = 320;
const PAD = { top: 10, right: 16, bottom: 26 };
const FONT = "11px system-ui, sans-serif";
// Pixels a drag must cover to count as a zoom rather than a click.
const MIN_DRAG = 5;

/** The colour of series `i`: a fixed palette, then golden-angle hues. */
export function seriesColor(i) {
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
  if (i < palette.length) return palette[i];
  return `hsl(${(i * 137.508) % 360}, 65%, 50%)`;
}

/** `name{a="b", …}` of a label set. */
export function seriesName(labels) {
  const name = labels.__name__ || "";
  const pairs = Object.keys(labels)
    .filter((k) => k !== "__name__")
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return pairs.length || !name ? `${name}{${pairs.join(", ")}}` : name;
}

export class Chart {
  /**
   * `container` receives the plot, tooltip and legend. `onZoom({start,
   * end})` (seconds) is called after a drag selects a time range.
   */
  constructor(container, { onZoom } = {}) {
    this.onZoom = onZoom;
    this.root = document.createElement("div");
    this.root.className = "pq-chart";
    this.root.innerHTML = `
      <div class="pq-chart-plot">
        <canvas class="pq-chart-canvas" role="img"></canvas>
        <canvas class="pq-chart-overlay" aria-hidden="true"></canvas>
        <div class="pq-chart-tooltip" hidden></div>
      </div>
      <ul class="pq-chart-legend" aria-label="Series"></ul>`;
    container.appendChild(this.root);
    this.plot = this.root.querySelector(".pq-chart-plot");
    this.canvas = this.root.querySelector(".pq-chart-canvas");
    this.overlay = this.root.querySelector(".pq-chart-overlay");
    this.tooltip = this.root.querySelector(".pq-chart-tooltip");
    this.legend = this.root.querySelector(".pq-chart-legend");
    this.series = [];
    this.hidden = new Set();
    this.drag = null;
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.plot);
    this.bindMouse();
  }

  /**
   * Shows a range-query result. `result` is the API's matrix (`[{metric,
   * values: [[t, "v"], …]}]`), `start`/`end`/`step` in seconds.
   */
  setData(result, { start, end, step, stacked }) {
    this.start = start;
    this.end = end;
    this.step = step;
    this.stacked = !!stacked;
    const n = Math.max(1, Math.round((end - start) / step) + 1);
    this.gridSize = n;
    this.series = result.map((s, i) => {
      // Values on the query's step grid; NaN marks "no sample" so gaps
      // are not joined. A missing step and a real NaN sample both break
      // the line; `raw` keeps the API's text for the tooltip.
      const ys = new Float64Array(n).fill(NaN);
      const present = new Uint8Array(n);
      const raw = new Array(n);
      for (const [t, v] of s.values || []) {
        const k = Math.round((t - start) / step);
        if (k < 0 || k >= n) continue;
        ys[k] = parseFloat(v);
        present[k] = 1;
        raw[k] = v;
      }
      return { labels: s.metric, name: seriesName(s.metric), color: seriesColor(i), ys, present, raw };
    });
    this.hidden = new Set([...this.hidden].filter((n) => this.series.some((s) => s.name === n)));
    this.canvas.setAttribute("aria-label", `Graph of ${this.series.length} series`);
    this.renderLegend();
    this.draw();
  }

  destroy() {
    this.resizeObserver.disconnect();
    window.removeEventListener("mouseup", this.onMouseUp);
    this.root.remove();
  }

  visible() {
    return this.series.filter((s) => !this.hidden.has(s.name));
  }

  /** Per visible series, the y values to draw and their bases (stacked). */
  layers() {
    const vis = this.visible();
    if (!this.stacked) return vis.map((s) => ({ s, top: s.ys, base: null }));
    const acc = new Float64Array(this.gridSize);
    return vis.map((s) => {
      const base = acc.slice();
      const top = new Float64Array(this.gridSize);
      for (let k = 0; k < this.gridSize; k++) {
        const v = s.ys[k];
        // Only finite values stack; a NaN or infinity leaves a gap.
        if (Number.isFinite(v)) {
          top[k] = acc[k] + v;
          acc[k] = top[k];
        } else {
          top[k] = NaN;
        }
      }
      return { s, top, base };
    });
  }

  renderLegend() {
    this.legend.replaceChildren(
      ...this.series.map((s) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "pq-legend-item";
        b.title = "Click to hide/show, Ctrl+click to show only this series";
        b.setAttribute("aria-pressed", String(!this.hidden.has(s.name)));
        b.innerHTML = `<span class="pq-legend-swatch" style="background:${s.color}"></span>`;
        const t = document.createElement("span");
        t.textContent = s.name;
        b.appendChild(t);
        b.addEventListener("click", (e) => this.toggle(s.name, e.ctrlKey || e.metaKey));
        li.appendChild(b);
        return li;
      }),
    );
    this.markLegend();
  }

  markLegend() {
    this.legend.querySelectorAll(".pq-legend-item").forEach((b, i) => {
      const on = !this.hidden.has(this.series[i].name);
      b.classList.toggle("off", !on);
      b.setAttribute("aria-pressed", String(on));
    });
  }

  /** Click: toggle one series. Ctrl/Cmd+click: show only it, or all again. */
  toggle(name, isolate) {
    if (isolate) {
      const alone = this.visible().length === 1 && !this.hidden.has(name);
      this.hidden = alone ? new Set() : new Set(this.series.map((s) => s.name).filter((n) => n !== name));
    } else if (this.hidden.has(name)) {
      this.hidden.delete(name);
    } else {
      this.hidden.add(name);
    }
    this.markLegend();
    this.draw();
  }

  colors() {
    const cs = getComputedStyle(this.root);
    const v = (n, d) => cs.getPropertyValue(n).trim() || d;
    return { fg: v("--pq-chart-fg", "#333"), grid: v("--pq-chart-grid", "#e4e4e4"), bg: v("--pq-chart-bg", "transparent") };
  }

  /** Sizes both canvases to the container at device resolution. */
  size() {
    const w = Math.max(100, this.plot.clientWidth);
    const dpr = window.devicePixelRatio || 1;
    for (const c of [this.canvas, this.overlay]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(HEIGHT * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${HEIGHT}px`;
    }
    return { w, h: HEIGHT, dpr };
  }

  draw() {
    if (this.start === undefined) return;
    const { w, h, dpr } = this.size();
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const col = this.colors();
    ctx.clearRect(0, 0, w, h);
    ctx.font = FONT;
    const layers = this.layers();
    let lo = Infinity;
    let hi = -Infinity;
    for (const { top, base } of layers) {
      for (let k = 0; k < top.length; k++) {
        const v = top[k];
        if (!Number.isFinite(v)) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (base && base[k] < lo) lo = base[k];
      }
    }
    if (lo === Infinity) {
      lo = 0;
      hi = 1;
    }
    if (this.stacked) lo = Math.min(lo, 0);
    if (lo !== hi) {
      // A little air so extremes do not sit on the frame.
      const air = (hi - lo) * 0.08;
      hi += air;
      if (lo !== 0) lo -= air;
    }
    if (lo === hi) {
      // A flat line sits in the middle rather than on an edge.
      const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
      lo -= d;
      hi += d;
    }
    const plotH = h - PAD.top - PAD.bottom;
    const yt = niceTicks(lo, hi, Math.max(2, Math.floor(plotH / 40)));
    lo = Math.min(lo, yt.ticks[0]);
    hi = Math.max(hi, yt.ticks[yt.ticks.length - 1]);
    const labels = yt.ticks.map((v) => formatSI(v, yt.step));
    const left = Math.ceil(Math.max(...labels.map((l) => ctx.measureText(l).width))) + 12;
    const area = { x: left, y: PAD.top, w: w - left - PAD.right, h: plotH };
    this.area = area;
    this.yRange = [lo, hi];
    const X = (t) => area.x + ((t - this.start) / (this.end - this.start || 1)) * area.w;
    const Y = (v) => area.y + area.h - ((v - lo) / (hi - lo)) * area.h;
    this.X = X;
    this.Y = Y;

    // Grid and axes.
    ctx.strokeStyle = col.grid;
    ctx.fillStyle = col.fg;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    yt.ticks.forEach((v, i) => {
      const y = Math.round(Y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(area.x, y);
      ctx.lineTo(area.x + area.w, y);
      ctx.stroke();
      ctx.fillText(labels[i], area.x - 6, y);
    });
    const xt = timeTicks(this.start, this.end, Math.max(2, Math.floor(area.w / 90)));
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of xt.ticks) {
      const x = Math.round(X(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, area.y);
      ctx.lineTo(x, area.y + area.h);
      ctx.stroke();
      // Labels near the edges are kept inside the canvas.
      const label = formatTimeTick(t, xt.step);
      const half = ctx.measureText(label).width / 2;
      ctx.fillText(label, Math.min(Math.max(x, half + 1), w - half - 1), area.y + area.h + 6);
    }

    // Series, clipped to the plot area (infinities and zooms run off it).
    ctx.save();
    ctx.beginPath();
    ctx.rect(area.x, area.y, area.w, area.h);
    ctx.clip();
    ctx.lineWidth = 1.5;
    ctx.lineJoin = "round";
    for (const { s, top, base } of layers) this.drawSeries(ctx, s.color, top, base, X, Y);
    ctx.restore();
    if (!this.series.length) {
      ctx.fillStyle = col.fg;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.font = "14px system-ui, sans-serif";
      ctx.fillText("No data", area.x + area.w / 2, area.y + area.h / 2);
    }
  }

  /**
   * One series as runs of consecutive finite points; a run of one point is
   * a dot. Stacked series fill down to their base.
   */
  drawSeries(ctx, color, top, base, X, Y) {
    const n = top.length;
    const tAt = (k) => this.start + k * this.step;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    let k = 0;
    while (k < n) {
      if (!Number.isFinite(top[k])) {
        k++;
        continue;
      }
      let e = k;
      while (e + 1 < n && Number.isFinite(top[e + 1])) e++;
      if (e === k) {
        ctx.beginPath();
        ctx.arc(X(tAt(k)), Y(top[k]), 2.5, 0, 2 * Math.PI);
        ctx.fill();
      } else {
        ctx.beginPath();
        ctx.moveTo(X(tAt(k)), Y(top[k]));
        for (let j = k + 1; j <= e; j++) ctx.lineTo(X(tAt(j)), Y(top[j]));
        ctx.stroke();
        if (base) {
          for (let j = e; j >= k; j--) ctx.lineTo(X(tAt(j)), Y(base[j]));
          ctx.closePath();
          ctx.globalAlpha = 0.35;
          ctx.fill();
          ctx.globalAlpha = 1;
        }
      }
      k = e + 1;
    }
  }

  bindMouse() {
    const pos = (e) => {
      const r = this.overlay.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    const inArea = (p) =>
      this.area && p.x >= this.area.x && p.x <= this.area.x + this.area.w && p.y >= this.area.y && p.y <= this.area.y + this.area.h;
    this.overlay.addEventListener("mousedown", (e) => {
      const p = pos(e);
      if (e.button !== 0 || !inArea(p)) return;
      e.preventDefault();
      this.drag = { x0: p.x, x1: p.x };
    });
    this.overlay.addEventListener("mousemove", (e) => {
      const p = pos(e);
      if (this.drag) {
        this.drag.x1 = Math.max(this.area.x, Math.min(this.area.x + this.area.w, p.x));
      }
      this.hover(inArea(p) ? p : null);
    });
    this.overlay.addEventListener("mouseleave", () => this.hover(null));
    // The drag ends wherever the button is released.
    this.onMouseUp = () => {
      const d = this.drag;
      this.drag = null;
      if (!d) return;
      this.hover(null);
      if (Math.abs(d.x1 - d.x0) < MIN_DRAG || !this.onZoom) return;
      const t = (x) => this.start + ((x - this.area.x) / this.area.w) * (this.end - this.start);
      const a = t(Math.min(d.x0, d.x1));
      const b = t(Math.max(d.x0, d.x1));
      this.onZoom({ start: a, end: b });
    };
    window.addEventListener("mouseup", this.onMouseUp);
  }

  /** Crosshair, nearest point and tooltip for the mouse at `p`. */
  hover(p) {
    const ctx = this.overlay.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    const a = this.area;
    if (this.drag && a) {
      const x = Math.min(this.drag.x0, this.drag.x1);
      ctx.fillStyle = "rgba(100, 140, 220, 0.25)";
      ctx.fillRect(x, a.y, Math.abs(this.drag.x1 - this.drag.x0), a.h);
    }
    if (!p || !a || this.drag) {
      this.tooltip.hidden = true;
      return;
    }
    const k = Math.round(((p.x - a.x) / a.w) * (this.end - this.start) / this.step);
    if (k < 0 || k >= this.gridSize) {
      this.tooltip.hidden = true;
      return;
    }
    const t = this.start + k * this.step;
    // The series whose point at this step is closest to the mouse.
    let best = null;
    let bestD = Infinity;
    for (const { s, top } of this.layers()) {
      if (!s.present[k]) continue;
      const v = top[k];
      const y = Number.isFinite(v) ? this.Y(v) : Number.isNaN(v) ? a.y + a.h / 2 : v > 0 ? a.y : a.y + a.h;
      const d = Math.abs(y - p.y);
      if (d < bestD) {
        bestD = d;
        best = { s, y };
      }
    }
    const x = this.X(t);
    ctx.strokeStyle = this.colors().fg;
    ctx.globalAlpha = 0.4;
    ctx.beginPath();
    ctx.moveTo(Math.round(x) + 0.5, a.y);
    ctx.lineTo(Math.round(x) + 0.5, a.y + a.h);
    ctx.stroke();
    ctx.globalAlpha = 1;
    if (!best) {
      this.tooltip.hidden = true;
      return;
    }
    ctx.fillStyle = best.s.color;
    ctx.beginPath();
    ctx.arc(x, best.y, 4, 0, 2 * Math.PI);
    ctx.fill();
    const tip = this.tooltip;
    tip.replaceChildren();
    const head = document.createElement("div");
    head.className = "pq-tip-time";
    head.textContent = formatTime(t);
    const val = document.createElement("div");
    val.className = "pq-tip-value";
    val.innerHTML = `<span class="pq-legend-swatch" style="background:${best.s.color}"></span>`;
    val.append(`value: ${best.s.raw[k]}`);
    tip.append(head, val);
    const labels = best.s.labels;
    for (const key of Object.keys(labels).sort()) {
      const row = document.createElement("div");
      row.className = "pq-tip-label";
      row.textContent = key === "__name__" ? labels[key] : `${key}: ${labels[key]}`;
      tip.appendChild(row);
    }
    tip.hidden = false;
    // Keep the box inside the plot: flip to the left of the cursor near
    // the right edge.
    const tw = tip.offsetWidth;
    const left = x + 12 + tw > this.plot.clientWidth ? x - 12 - tw : x + 12;
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = `${Math.max(0, Math.min(best.y - 10, HEIGHT - tip.offsetHeight))}px`;
  }
}
