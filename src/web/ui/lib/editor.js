// The expression box: a textarea over a highlighted copy of its text (the
// textarea keeps native editing, selection and accessibility; the copy
// behind it only paints colours), with autocomplete of functions, metric
// names, label names and label values from the API.

import { tokenize, completionContext } from "./promql_lexer.js";
import { FUNCTIONS, AGGREGATIONS, KEYWORDS } from "./functions.js";

const MAX_SUGGESTIONS = 50;
// Names fetched from the API are reused for this long.
const CACHE_MS = 60_000;

/** Highlighted HTML of `text` (one span per coloured token). */
export function highlight(text) {
  let html = "";
  for (const t of tokenize(text)) {
    const safe = escapeHtml(t.text);
    html += t.type === "ws" ? safe : `<span class="pq-${t.type}">${safe}</span>`;
  }
  // A trailing newline needs a character after it to take up a line.
  return html + "\n";
}

function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

/** Fetches and caches name lists per API path and scope. */
class NameSource {
  constructor(api) {
    this.api = api;
    this.cache = new Map();
  }

  async get(path, match) {
    const key = path + "\u0000" + (match || "");
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.names;
    const query = match ? { "match[]": [match] } : {};
    const names = this.api(path, query)
      .then((env) => env.data || [])
      .catch(() => []);
    this.cache.set(key, { at: Date.now(), names });
    return names;
  }

  metrics() {
    return this.get("/api/v1/label/__name__/values");
  }

  labels(metric) {
    return this.get("/api/v1/labels", metric ? `{__name__=${JSON.stringify(metric)}}` : null);
  }

  values(label, metric) {
    return this.get(
      `/api/v1/label/${encodeURIComponent(label)}/values`,
      metric ? `{__name__=${JSON.stringify(metric)}}` : null,
    );
  }
}

let nextId = 0;

/**
 * Creates the expression editor in `container`. Options: `api` (the page
 * context's fetcher), `value`, `onExecute()`, `onChange(value)`,
 * `placeholder`, `label` (accessible name). Returns `{ value, focus() }`.
 */
export function createEditor(container, opts) {
  const id = `pq-editor-${nextId++}`;
  const wrap = document.createElement("div");
  wrap.className = "pq-editor";
  wrap.innerHTML = `
    <pre class="pq-highlight" aria-hidden="true"></pre>
    <textarea class="pq-input" spellcheck="false" autocomplete="off" rows="1"
      role="combobox" aria-autocomplete="list" aria-expanded="false"
      aria-controls="${id}-list"></textarea>
    <ul class="pq-suggest" id="${id}-list" role="listbox" hidden></ul>`;
  container.appendChild(wrap);
  const pre = wrap.querySelector(".pq-highlight");
  const input = wrap.querySelector(".pq-input");
  const list = wrap.querySelector(".pq-suggest");
  input.placeholder = opts.placeholder || "Expression (press Shift+Enter for newlines)";
  input.setAttribute("aria-label", opts.label || "Expression");
  input.value = opts.value || "";
  const names = new NameSource(opts.api);

  let items = [];
  let active = -1;
  let replaceFrom = 0;
  let suffix = "";
  let requestSeq = 0;

  function render() {
    pre.innerHTML = highlight(input.value);
    // Grow with the text instead of scrolling inside a tiny box.
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight}px`;
    pre.style.height = input.style.height;
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    items = [];
    active = -1;
  }

  function show(newItems) {
    items = newItems;
    active = items.length ? 0 : -1;
    list.replaceChildren(
      ...items.map((it, i) => {
        const li = document.createElement("li");
        li.id = `${id}-opt-${i}`;
        li.setAttribute("role", "option");
        li.className = "pq-suggest-item";
        li.innerHTML = `<span class="pq-suggest-kind pq-kind-${it.kind}">${it.kind[0]}</span>`;
        const name = document.createElement("span");
        name.className = "pq-suggest-name";
        name.textContent = it.text;
        li.appendChild(name);
        if (it.detail) {
          const d = document.createElement("span");
          d.className = "pq-suggest-detail";
          d.textContent = it.detail;
          li.appendChild(d);
        }
        // mousedown, not click: the textarea must keep focus.
        li.addEventListener("mousedown", (e) => {
          e.preventDefault();
          accept(i);
        });
        return li;
      }),
    );
    list.hidden = items.length === 0;
    input.setAttribute("aria-expanded", String(items.length > 0));
    mark();
  }

  function mark() {
    list.querySelectorAll(".pq-suggest-item").forEach((li, i) => {
      li.classList.toggle("active", i === active);
      li.setAttribute("aria-selected", String(i === active));
      if (i === active) {
        input.setAttribute("aria-activedescendant", li.id);
        li.scrollIntoView({ block: "nearest" });
      }
    });
  }

  function accept(i) {
    const it = items[i];
    if (!it) return;
    const end = input.selectionStart;
    const after = input.value.slice(end);
    // Replace the whole word under the caret, not just its first half.
    const tail = /^[A-Za-z0-9_:]*/.exec(after)[0].length;
    let insert = it.text + (it.kind === "value" && !after.startsWith('"') ? suffix : "");
    if (it.kind === "function" && !after.trimStart().startsWith("(")) insert += "(";
    input.setRangeText(insert, replaceFrom, end + (it.kind === "value" ? 0 : tail), "end");
    close();
    render();
    opts.onChange && opts.onChange(input.value);
  }

  async function suggest(explicit) {
    const before = input.value.slice(0, input.selectionStart);
    const c = completionContext(before);
    const seq = ++requestSeq;
    if (!c.kind || (c.kind === "metric" && !c.prefix && !explicit)) {
      close();
      return;
    }
    replaceFrom = c.from;
    suffix = '"';
    let found = [];
    const prefix = c.prefix.toLowerCase();
    if (c.kind === "metric") {
      const metrics = await names.metrics();
      found = [
        ...FUNCTIONS.map(([n, args, ret]) => ({ text: n, kind: "function", detail: `${n}(${args}) → ${ret}` })),
        ...AGGREGATIONS.map(([n, args]) => ({ text: n, kind: "aggregation", detail: `${n}(${args})` })),
        ...KEYWORDS.map((n) => ({ text: n, kind: "keyword", detail: "" })),
        ...metrics.map((n) => ({ text: n, kind: "metric", detail: "" })),
      ];
    } else if (c.kind === "label") {
      const labels = await names.labels(c.metric);
      found = labels.filter((n) => n !== "__name__" || !c.metric).map((n) => ({ text: n, kind: "label", detail: "" }));
    } else if (c.kind === "labelValue") {
      const values = await names.values(c.label, c.metric);
      found = values.map((v) => ({ text: v, kind: "value", detail: c.label }));
    }
    if (seq !== requestSeq) return;
    // Prefix matches first, then other substring matches.
    const starts = [];
    const contains = [];
    for (const it of found) {
      const t = it.text.toLowerCase();
      if (t === prefix && c.kind !== "labelValue") continue;
      if (t.startsWith(prefix)) starts.push(it);
      else if (prefix && t.includes(prefix)) contains.push(it);
      if (starts.length >= MAX_SUGGESTIONS) break;
    }
    show(starts.concat(contains).slice(0, MAX_SUGGESTIONS));
  }

  input.addEventListener("input", () => {
    render();
    opts.onChange && opts.onChange(input.value);
    suggest(false);
  });
  input.addEventListener("scroll", () => {
    pre.scrollTop = input.scrollTop;
    pre.scrollLeft = input.scrollLeft;
  });
  input.addEventListener("blur", () => close());
  input.addEventListener("keydown", (e) => {
    const open = !list.hidden && items.length > 0;
    if (open && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      const n = items.length;
      active = (active + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      mark();
    } else if (open && (e.key === "Tab" || (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.metaKey))) {
      e.preventDefault();
      accept(active);
    } else if (open && e.key === "Escape") {
      e.preventDefault();
      close();
    } else if (e.key === " " && e.ctrlKey) {
      e.preventDefault();
      suggest(true);
    } else if (e.key === "Enter" && !e.shiftKey) {
      // Enter and Ctrl/Cmd+Enter run the query; Shift+Enter is a newline.
      e.preventDefault();
      close();
      opts.onExecute && opts.onExecute();
    }
  });
  render();
  // Re-measure when the width changes (wrapping changes the height) and
  // once laid out; a frame later, so the resize does not re-enter the
  // observer in the same frame.
  let lastWidth = -1;
  new ResizeObserver(() => {
    if (wrap.clientWidth === lastWidth) return;
    lastWidth = wrap.clientWidth;
    requestAnimationFrame(render);
  }).observe(wrap);

  return {
    get value() {
      return input.value;
    },
    set value(v) {
      input.value = v;
      render();
    },
    focus() {
      input.focus();
    },
    /** Re-paints after the element was hidden (its size was unknown). */
    refresh: render,
  };
}
