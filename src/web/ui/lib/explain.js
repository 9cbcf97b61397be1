// The tree view of a parsed expression: the server's parse_query tree
// (src/api/ast_json.rs: one object per node, durations in milliseconds),
// each node printed back as PromQL and runnable as its own instant query to
// show how many series it returns.

import { formatDuration as formatSeconds } from "./duration.js";

/** `ms` (as the tree gives durations) as PromQL duration text. */
const formatDuration = (ms) => formatSeconds(ms / 1000);

const str = (s) => JSON.stringify(s);

function modifiers(n) {
  let out = "";
  if (n.timestamp !== null && n.timestamp !== undefined) out += ` @ ${n.timestamp / 1000}`;
  else if (n.startOrEnd) out += ` @ ${n.startOrEnd}()`;
  if (n.offset) out += ` offset ${formatDuration(n.offset)}`;
  return out;
}

function selector(n) {
  const ms = (n.matchers || []).filter((m) => !(n.name && m.name === "__name__" && m.type === "=" && m.value === n.name));
  const body = ms.map((m) => `${m.name}${m.type}${str(m.value)}`).join(", ");
  return `${n.name || ""}${body || !n.name ? `{${body}}` : ""}`;
}

/** PromQL text of a parse_query node. */
export function toPromQL(n) {
  switch (n.type) {
    case "numberLiteral":
      return n.val;
    case "stringLiteral":
      return str(n.val);
    case "vectorSelector":
      return selector(n) + modifiers(n);
    case "matrixSelector":
      return `${selector(n)}[${formatDuration(n.range)}]${modifiers(n)}`;
    case "subquery":
      return `${toPromQL(n.expr)}[${formatDuration(n.range)}:${n.step ? formatDuration(n.step) : ""}]${modifiers(n)}`;
    case "parenExpr":
      return `(${toPromQL(n.expr)})`;
    case "unaryExpr":
      return `${n.op}${toPromQL(n.expr)}`;
    case "call":
      return `${n.func.name}(${n.args.map(toPromQL).join(", ")})`;
    case "aggregation": {
      const grouping = n.without || n.grouping.length ? ` ${n.without ? "without" : "by"} (${n.grouping.join(", ")})` : "";
      const args = n.param ? `${toPromQL(n.param)}, ${toPromQL(n.expr)}` : toPromQL(n.expr);
      return `${n.op}${grouping} (${args})`;
    }
    case "binaryExpr": {
      let mid = n.op;
      if (n.bool) mid += " bool";
      const m = n.matching;
      if (m && (m.on || m.labels.length)) mid += ` ${m.on ? "on" : "ignoring"} (${m.labels.join(", ")})`;
      if (m && m.card === "many-to-one") mid += ` group_left (${m.include.join(", ")})`;
      if (m && m.card === "one-to-many") mid += ` group_right (${m.include.join(", ")})`;
      return `${toPromQL(n.lhs)} ${mid} ${toPromQL(n.rhs)}`;
    }
    default:
      return "";
  }
}

/** A node's sub-expressions, in source order. */
export function children(n) {
  switch (n.type) {
    case "subquery":
    case "parenExpr":
    case "unaryExpr":
      return [n.expr];
    case "call":
      return n.args;
    case "aggregation":
      return n.param ? [n.param, n.expr] : [n.expr];
    case "binaryExpr":
      return [n.lhs, n.rhs];
    default:
      return [];
  }
}

/** A short description of what the node does (not its whole text). */
function title(n) {
  switch (n.type) {
    case "aggregation":
      return `${n.op}${n.without || n.grouping.length ? ` ${n.without ? "without" : "by"} (${n.grouping.join(", ")})` : ""}`;
    case "call":
      return `${n.func.name}()`;
    case "binaryExpr":
      return `binary ${n.op}${n.bool ? " bool" : ""}`;
    case "subquery":
      return `subquery [${formatDuration(n.range)}:${n.step ? formatDuration(n.step) : ""}]`;
    case "parenExpr":
      return "( … )";
    case "unaryExpr":
      return `unary ${n.op}`;
    default:
      return toPromQL(n);
  }
}

/** What an instant query result amounts to, in a few words. */
function describe(data) {
  switch (data.resultType) {
    case "vector":
    case "matrix":
      return `${data.result.length} series`;
    case "scalar":
      return `scalar ${data.result[1]}`;
    case "string":
      return `string ${str(data.result[1])}`;
    default:
      return "";
  }
}

/**
 * Renders the tree of `expr` into `container`. `api` is the page's fetcher;
 * `time()` the evaluation time in seconds for the per-node queries (or
 * null for now).
 */
export async function renderExplain(container, expr, api, time) {
  container.replaceChildren();
  let tree;
  try {
    tree = (await api("/api/v1/parse_query", { query: expr })).data;
  } catch (e) {
    const err = document.createElement("div");
    err.className = "pq-error";
    err.textContent = e.errorType ? `${e.errorType}: ${e.error}` : String(e.message || e);
    container.appendChild(err);
    return;
  }
  const hint = document.createElement("p");
  hint.className = "pq-hint";
  hint.textContent = "Each node is a sub-expression; run it to see how many series it returns.";
  const runAll = document.createElement("button");
  runAll.type = "button";
  runAll.textContent = "Run all";
  runAll.className = "pq-btn";
  const ul = document.createElement("ul");
  ul.className = "pq-tree";
  const runners = [];
  ul.appendChild(node(tree, api, time, runners));
  runAll.addEventListener("click", () => runners.forEach((r) => r()));
  hint.appendChild(runAll);
  container.append(hint, ul);
}

function node(n, api, time, runners) {
  const li = document.createElement("li");
  li.className = "pq-tree-node";
  const row = document.createElement("div");
  row.className = "pq-tree-row";
  const type = document.createElement("span");
  type.className = "pq-tree-type";
  type.textContent = n.type;
  const name = document.createElement("code");
  name.className = "pq-tree-title";
  name.textContent = title(n);
  const text = toPromQL(n);
  name.title = text;
  row.append(type, name);
  // Literals need no run: their value is in the text.
  if (n.type !== "numberLiteral" && n.type !== "stringLiteral") {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "pq-btn pq-tree-run";
    btn.textContent = "Run";
    btn.setAttribute("aria-label", `Run ${text}`);
    const out = document.createElement("span");
    out.className = "pq-tree-result";
    out.setAttribute("aria-live", "polite");
    const run = async () => {
      out.textContent = "…";
      out.classList.remove("pq-tree-error");
      const q = { query: text };
      const t = time();
      if (t !== null) q.time = String(t);
      try {
        out.textContent = describe((await api("/api/v1/query", q)).data);
      } catch (e) {
        out.classList.add("pq-tree-error");
        out.textContent = e.error || String(e.message || e);
      }
    };
    btn.addEventListener("click", run);
    runners.push(run);
    row.append(btn, out);
  }
  li.appendChild(row);
  const kids = children(n);
  if (kids.length) {
    const ul = document.createElement("ul");
    for (const k of kids) ul.appendChild(node(k, api, time, runners));
    li.appendChild(ul);
  }
  return li;
}
