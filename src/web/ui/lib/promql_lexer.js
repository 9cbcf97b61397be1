// A forgiving PromQL tokenizer for the editor: it never throws, so text
// that is half typed (an open string, an open brace) still gets colours and
// a completion context. It only classifies tokens; the server's parser is
// the judge of what is valid.

import { FUNCTIONS, AGGREGATIONS, KEYWORDS } from "./functions.js";

const FUNCTION_NAMES = new Set(FUNCTIONS.map((f) => f[0]));
const AGGREGATION_NAMES = new Set(AGGREGATIONS.map((a) => a[0]));
const KEYWORD_NAMES = new Set(KEYWORDS);
// Modifiers whose parenthesised list holds label names.
const LABEL_LIST_WORDS = new Set([
  "by", "without", "on", "ignoring", "group_left", "group_right",
]);
const MATCH_OPS = new Set(["=", "!=", "=~", "!~"]);

const DURATION = /^(?:\d+(?:ms|[smhdwy]))+/;
const NUMBER = /^(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;
const IDENT = /^[A-Za-z_:][A-Za-z0-9_:]*/;
const OPERATORS = ["==", "!=", "=~", "!~", ">=", "<=", "+", "-", "*", "/", "%", "^", ">", "<", "=", ",", "@"];

/**
 * Tokens of `text` as `{type, text, start, end}` objects. Types: ws,
 * comment, string (with `open: true` when unterminated), number, duration,
 * function, aggregation, keyword, metric, label, op, paren, brace, bracket,
 * error. Each token also carries `inBraces` (inside `{…}`), `metric` (the
 * selector's metric name there, when known) and `inLabelList` (inside
 * `by (…)` and friends).
 */
export function tokenize(text) {
  const out = [];
  let i = 0;
  // Stack of open groups: "{", "[", "(" or "(labels".
  const stack = [];
  let braceMetric = null;
  const top = () => stack[stack.length - 1];
  const lastSignificant = () => {
    for (let k = out.length - 1; k >= 0; k--) {
      if (out[k].type !== "ws" && out[k].type !== "comment") return out[k];
    }
    return null;
  };
  while (i < text.length) {
    const rest = text.slice(i);
    const c = text[i];
    let type;
    let len;
    let extra = {};
    let m;
    if (/\s/.test(c)) {
      len = /^\s+/.exec(rest)[0].length;
      type = "ws";
    } else if (c === "#") {
      const nl = rest.indexOf("\n");
      len = nl < 0 ? rest.length : nl;
      type = "comment";
    } else if (c === '"' || c === "'" || c === "`") {
      len = 1;
      let closed = false;
      while (len < rest.length) {
        const d = rest[len];
        if (d === "\\" && c !== "`") {
          len += 2;
          continue;
        }
        len++;
        if (d === c) {
          closed = true;
          break;
        }
      }
      len = Math.min(len, rest.length);
      type = "string";
      if (!closed) extra.open = true;
    } else if (top() === "[" && (m = DURATION.exec(rest))) {
      len = m[0].length;
      type = "duration";
    } else if ((m = DURATION.exec(rest)) && !/^[A-Za-z0-9_]/.test(rest.slice(m[0].length))) {
      len = m[0].length;
      type = "duration";
    } else if ((m = NUMBER.exec(rest))) {
      len = m[0].length;
      type = "number";
    } else if ((m = IDENT.exec(rest))) {
      len = m[0].length;
      const word = m[0];
      const lower = word.toLowerCase();
      const after = text.slice(i + len).trimStart();
      if (top() === "{" || top() === "(labels") {
        type = "label";
      } else if (lower === "inf" || lower === "nan") {
        type = "number";
      } else if (KEYWORD_NAMES.has(lower)) {
        type = "keyword";
      } else if (AGGREGATION_NAMES.has(lower) && /^(\(|by\b|without\b)/i.test(after)) {
        type = "aggregation";
      } else if (FUNCTION_NAMES.has(word) && after.startsWith("(")) {
        type = "function";
      } else {
        type = "metric";
      }
    } else if ("(){}[]".includes(c)) {
      len = 1;
      type = c === "(" || c === ")" ? "paren" : c === "{" || c === "}" ? "brace" : "bracket";
      if (c === "{") {
        const prev = lastSignificant();
        braceMetric = prev && prev.type === "metric" && prev.end === i ? prev.text : null;
        stack.push("{");
      } else if (c === "[") {
        stack.push("[");
      } else if (c === "(") {
        const prev = lastSignificant();
        const labels = prev && prev.type === "keyword" && LABEL_LIST_WORDS.has(prev.text.toLowerCase());
        stack.push(labels ? "(labels" : "(");
      } else {
        stack.pop();
        if (c === "}") braceMetric = null;
      }
    } else {
      const op = OPERATORS.find((o) => rest.startsWith(o));
      len = op ? op.length : 1;
      type = op ? "op" : "error";
    }
    const tok = {
      type,
      text: text.slice(i, i + len),
      start: i,
      end: i + len,
      inBraces: top() === "{",
      inLabelList: top() === "(labels",
      metric: top() === "{" ? braceMetric : null,
      ...extra,
    };
    if (type === "brace" && tok.text === "{") tok.metric = braceMetric;
    out.push(tok);
    i += len;
  }
  return out;
}

/**
 * What the word at the end of `before` (the text up to the caret) could be
 * completed with: `{kind, prefix, from, metric, label}` where kind is
 * "metric" (metric names, functions and keywords), "label", "labelValue"
 * or null.
 */
export function completionContext(before) {
  const toks = tokenize(before);
  const last = toks[toks.length - 1];
  const significantBefore = (k) => {
    for (let j = k - 1; j >= 0; j--) {
      if (toks[j].type !== "ws" && toks[j].type !== "comment") return toks[j];
    }
    return null;
  };
  if (last && last.type === "string" && last.open && last.inBraces) {
    const idx = toks.length - 1;
    const op = significantBefore(idx);
    const name = op ? significantBefore(toks.indexOf(op)) : null;
    if (op && op.type === "op" && MATCH_OPS.has(op.text) && name && name.type === "label") {
      return {
        kind: "labelValue",
        prefix: last.text.slice(1),
        from: last.start + 1,
        metric: last.metric,
        label: name.text,
      };
    }
    return { kind: null };
  }
  const word = last && ["metric", "label", "function", "aggregation", "keyword"].includes(last.type) ? last : null;
  const prefix = word ? word.text : "";
  const from = word ? word.start : before.length;
  const ctxTok = word || last;
  if (ctxTok && ctxTok.type === "comment") return { kind: null };
  if (ctxTok && (ctxTok.type === "string" || ctxTok.type === "number" || ctxTok.type === "duration")) {
    return { kind: null };
  }
  // The group the caret is in: the token's flags, or, right after an
  // opening brace/paren, the group that brace opens.
  let inBraces = ctxTok ? ctxTok.inBraces : false;
  let inLabels = ctxTok ? ctxTok.inLabelList : false;
  let metric = ctxTok ? ctxTok.metric : null;
  if (!word && last) {
    if (last.type === "brace" && last.text === "{") {
      inBraces = true;
      metric = last.metric;
    } else if (last.type === "paren" && last.text === "(") {
      const kw = significantBefore(toks.length - 1);
      inLabels = !!(kw && kw.type === "keyword" && LABEL_LIST_WORDS.has(kw.text.toLowerCase()));
      inBraces = false;
    } else if (last.type === "brace" || last.type === "paren" || last.type === "bracket") {
      inBraces = false;
      inLabels = false;
    }
  }
  if (inBraces) {
    // After a matcher operator comes a value, not a name.
    const prev = significantBefore(word ? toks.length - 1 : toks.length);
    if (prev && prev.type === "op" && MATCH_OPS.has(prev.text)) return { kind: null };
    return { kind: "label", prefix, from, metric };
  }
  if (inLabels) return { kind: "label", prefix, from, metric: null };
  return { kind: "metric", prefix, from };
}
