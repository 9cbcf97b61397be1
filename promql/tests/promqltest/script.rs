//! Parser for the PromQL `.test` scripting language: `load`, `clear` and
//! `eval` commands with their indented bodies.
//!
//! Lines are trimmed, `#` comment lines count as blank, and a blank line ends
//! the body of a `load` or `eval`. Line numbers are 1-based.

use promql::{Label, Labels};
use regex::Regex;
use std::sync::OnceLock;

/// One point of a series description.
#[derive(Clone, Debug, PartialEq)]
pub enum Point {
    Float(f64),
    /// `_`: no sample at this step.
    Omitted,
    /// `{{…}}`: a native histogram, which this runner cannot represent.
    Histogram,
}

#[derive(Clone, Debug)]
pub struct SeriesDef {
    pub labels: Labels,
    pub points: Vec<Point>,
}

impl SeriesDef {
    pub fn has_histogram(&self) -> bool {
        self.points.contains(&Point::Histogram)
    }
}

#[derive(Clone, Debug)]
pub struct Load {
    pub line: usize,
    pub interval_ms: i64,
    /// `load_with_nhcb`: classic histograms are also stored as native
    /// histograms with custom buckets.
    pub nhcb: bool,
    pub series: Vec<SeriesDef>,
    /// The load had `@st` (start timestamp) lines, which are ignored.
    pub has_start_timestamps: bool,
}

/// How an expected message is matched.
#[derive(Clone, Debug)]
pub enum MsgMatch {
    Any,
    Exact(String),
    Regex(Regex),
}

impl MsgMatch {
    pub fn matches(&self, s: &str) -> bool {
        match self {
            MsgMatch::Any => true,
            MsgMatch::Exact(m) => m == s,
            MsgMatch::Regex(r) => r.is_match(s),
        }
    }
}

impl std::fmt::Display for MsgMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MsgMatch::Any => write!(f, "<any>"),
            MsgMatch::Exact(m) => write!(f, "msg {m:?}"),
            MsgMatch::Regex(r) => write!(f, "regex {:?}", r.as_str()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalKind {
    Instant { at: i64 },
    Range { start: i64, end: i64, step: i64 },
}

/// What the result must look like.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// `Some` when the query must fail (`expect fail`, `eval_fail`).
    pub fail: Option<Vec<MsgMatch>>,
    pub warn: Vec<MsgMatch>,
    pub info: Vec<MsgMatch>,
    pub no_warn: bool,
    pub no_info: bool,
    /// Deprecated `eval_warn` / `eval_info`: at least one annotation.
    pub legacy_warn: bool,
    pub legacy_info: bool,
    pub ordered: bool,
    /// A bare number line: the result is a scalar.
    pub scalar: Option<f64>,
    /// `<series> <points>` lines with their 1-based position among them.
    pub series: Vec<(Labels, Vec<Point>)>,
    /// `expect string "…"`.
    pub string: Option<String>,
    /// `expect range vector from … to … step …` (ms).
    pub range_vector: Option<(i64, i64, i64)>,
}

impl Expectations {
    pub fn has_histogram(&self) -> bool {
        self.series
            .iter()
            .any(|(_, p)| p.contains(&Point::Histogram))
    }
    /// Upstream skips the range-mode re-check for these.
    pub fn exclude_from_range_query(&self) -> bool {
        self.string.is_some() || self.range_vector.is_some()
    }
}

#[derive(Clone, Debug)]
pub struct Eval {
    pub line: usize,
    pub expr: String,
    pub kind: EvalKind,
    pub expect: Expectations,
    /// A malformed eval body: the case fails with this message.
    pub error: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Cmd {
    Load(Load),
    Clear,
    Eval(Box<Eval>),
}

/// A script-level error at a line.
#[derive(Clone, Debug)]
pub struct ScriptError {
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

fn err<T>(line: usize, msg: impl Into<String>) -> Result<T, ScriptError> {
    Err(ScriptError {
        line,
        msg: msg.into(),
    })
}

/// Parses a whole script. Malformed `load`/`clear` lines or unknown commands
/// are reported in the error list and skipped; a malformed `eval` becomes a
/// command with `error` set so that it still counts as a (failing) case.
pub fn parse_script(input: &str) -> (Vec<Cmd>, Vec<ScriptError>) {
    let lines: Vec<&str> = input
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split([' ', '\t'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        // The body extends to the next blank line.
        let mut end = i + 1;
        while end < lines.len() && !lines[end].is_empty() {
            end += 1;
        }
        let body: Vec<(usize, &str)> = (i + 1..end).map(|j| (j + 1, lines[j])).collect();
        if word == "clear" {
            cmds.push(Cmd::Clear);
            i += 1;
            continue;
        } else if word.starts_with("load") {
            match parse_load(i + 1, l, &body) {
                Ok(ld) => cmds.push(Cmd::Load(ld)),
                Err(e) => errors.push(e),
            }
        } else if word.starts_with("eval") {
            cmds.push(Cmd::Eval(Box::new(parse_eval(i + 1, l, &body))));
        } else {
            errors.push(ScriptError {
                line: i + 1,
                msg: format!("invalid command {l:?}"),
            });
            i += 1;
            continue;
        }
        i = end;
    }
    (cmds, errors)
}

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).unwrap())
}

fn parse_load(line: usize, head: &str, body: &[(usize, &str)]) -> Result<Load, ScriptError> {
    static LOAD: OnceLock<Regex> = OnceLock::new();
    let Some(c) = re(&LOAD, r"^load(?:_(with_nhcb))?\s+(.+?)$").captures(head) else {
        return err(
            line,
            "invalid load command (load[_with_nhcb] <step:duration>)",
        );
    };
    let nhcb = c.get(1).is_some();
    let interval_ms = parse_duration(&c[2]).map_err(|m| ScriptError { line, msg: m })?;
    let mut series: Vec<SeriesDef> = Vec::new();
    let mut has_st = false;
    for &(ln, text) in body {
        let first = text.split([' ', '\t']).next().unwrap_or("");
        if first.ends_with("@st") {
            has_st = true;
            continue;
        }
        let (labels, points) = parse_series(text).map_err(|m| ScriptError { line: ln, msg: m })?;
        // A later definition of the same series replaces the earlier one.
        series.retain(|s| s.labels != labels);
        series.push(SeriesDef { labels, points });
    }
    Ok(Load {
        line,
        interval_ms,
        nhcb,
        series,
        has_start_timestamps: has_st,
    })
}

fn parse_eval(line: usize, head: &str, body: &[(usize, &str)]) -> Eval {
    let mut ev = Eval {
        line,
        expr: String::new(),
        kind: EvalKind::Instant { at: 0 },
        expect: Expectations::default(),
        error: None,
    };
    if let Err(e) = fill_eval(&mut ev, head, body) {
        ev.error = Some(e.to_string());
    }
    ev
}

fn fill_eval(ev: &mut Eval, head: &str, body: &[(usize, &str)]) -> Result<(), ScriptError> {
    static INSTANT: OnceLock<Regex> = OnceLock::new();
    static RANGE: OnceLock<Regex> = OnceLock::new();
    static RANGE_VEC: OnceLock<Regex> = OnceLock::new();
    static EXPECT: OnceLock<Regex> = OnceLock::new();
    let line = ev.line;
    let instant = re(
        &INSTANT,
        r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
    );
    let range = re(
        &RANGE,
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    );
    let modifier;
    if let Some(c) = instant.captures(head) {
        modifier = c.get(1).map(|m| m.as_str().to_string());
        ev.expr = c[3].to_string();
        let at = c.get(2).map_or("0", |m| m.as_str());
        let at = parse_duration(at).map_err(|m| ScriptError { line, msg: m })?;
        ev.kind = EvalKind::Instant { at };
    } else if let Some(c) = range.captures(head) {
        modifier = c.get(1).map(|m| m.as_str().to_string());
        ev.expr = c[5].to_string();
        let d = |s: &str| parse_duration(s).map_err(|m| ScriptError { line, msg: m });
        let (start, end, step) = (d(&c[2])?, d(&c[3])?, d(&c[4])?);
        if end < start {
            return err(line, "end timestamp is before start timestamp");
        }
        ev.kind = EvalKind::Range { start, end, step };
    } else {
        ev.expr = head.to_string();
        return err(line, "invalid evaluation command");
    }
    let x = &mut ev.expect;
    match modifier.as_deref() {
        Some("fail") => x.fail = Some(Vec::new()),
        Some("warn") => x.legacy_warn = true,
        Some("info") => x.legacy_info = true,
        Some("ordered") => x.ordered = true,
        _ => {}
    }
    let is_instant = matches!(ev.kind, EvalKind::Instant { .. });
    for &(ln, text) in body {
        if let Some(fail) = x.fail.as_mut() {
            if let Some(m) = text.strip_prefix("expected_fail_message") {
                fail.push(MsgMatch::Exact(m.trim().to_string()));
                break;
            }
            if let Some(p) = text.strip_prefix("expected_fail_regexp") {
                let r = Regex::new(p.trim()).map_err(|e| ScriptError {
                    line: ln,
                    msg: format!("invalid regexp: {e}"),
                })?;
                fail.push(MsgMatch::Regex(r));
                break;
            }
        }
        if text.starts_with("expect range vector") {
            let rv = re(
                &RANGE_VEC,
                r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$",
            );
            let Some(c) = rv.captures(text) else {
                return err(ln, format!("invalid range vector definition {text:?}"));
            };
            let d = |s: &str| parse_duration(s).map_err(|m| ScriptError { line: ln, msg: m });
            x.range_vector = Some((d(&c[1])?, d(&c[2])?, d(&c[3])?));
            continue;
        }
        if let Some(rest) = text.strip_prefix("expect string") {
            let rest = rest.trim();
            let s = unquote(rest).ok_or_else(|| ScriptError {
                line: ln,
                msg: "expected string literal not valid".into(),
            })?;
            x.string = Some(s);
            continue;
        }
        if text.split(' ').next() == Some("expect") {
            let ex = re(
                &EXPECT,
                r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$",
            );
            let Some(c) = ex.captures(text) else {
                return err(ln, format!("invalid expect statement {text:?}"));
            };
            let m = match c.get(2).map(|m| m.as_str()) {
                None => MsgMatch::Any,
                Some("msg") => MsgMatch::Exact(c[3].trim().to_string()),
                Some(_) => MsgMatch::Regex(Regex::new(c[3].trim()).map_err(|e| ScriptError {
                    line: ln,
                    msg: format!("invalid regex: {e}"),
                })?),
            };
            match &c[1] {
                "ordered" => x.ordered = true,
                "fail" => {
                    let f = x.fail.get_or_insert_with(Vec::new);
                    if !f.is_empty() {
                        return err(ln, "multiple expect fail lines are not allowed");
                    }
                    f.push(m)
                }
                "warn" => x.warn.push(m),
                "info" => x.info.push(m),
                "no_warn" => x.no_warn = true,
                "no_info" => x.no_info = true,
                _ => unreachable!(),
            }
            if (x.no_warn && !x.warn.is_empty()) || (x.no_info && !x.info.is_empty()) {
                return err(ln, "expect X and no_X cannot be used together");
            }
            continue;
        }
        if let Some(f) = parse_number(text) {
            x.scalar = Some(f);
            x.series.clear();
            // Upstream stops reading the body after a scalar.
            break;
        }
        let (labels, points) = parse_series(text).map_err(|m| ScriptError { line: ln, msg: m })?;
        if points.len() > 1 && is_instant && x.range_vector.is_none() {
            return err(
                ln,
                "expecting multiple values in instant evaluation not allowed",
            );
        }
        x.scalar = None;
        x.series.retain(|(l, _)| *l != labels);
        x.series.push((labels, points));
    }
    Ok(())
}

/// A plain number as Go's ParseInt(s, 0, 64) or ParseFloat accept it.
pub fn parse_number(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let lower = body.to_ascii_lowercase();
    if let Some(h) = lower.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok().map(|v| sign * v as f64);
    }
    match lower.as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || b"._eE+-".contains(&b))
    {
        return None;
    }
    body.replace('_', "").parse::<f64>().ok().map(|v| sign * v)
}

/// Prometheus duration: `1h30m`, `10s53ms`, `-5m`; a plain number is
/// seconds. Returns milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    if body.is_empty() {
        return Err(format!("invalid duration {s:?}"));
    }
    if let Ok(secs) = body.parse::<f64>() {
        let ms = (secs * 1000.0).round() as i64;
        return Ok(if neg { -ms } else { ms });
    }
    let b = body.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(format!("invalid duration {s:?}"));
        }
        let n: i64 = body[start..i]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let mult = match &body[ustart..i] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            u => return Err(format!("invalid duration unit {u:?} in {s:?}")),
        };
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {s:?} out of range"))?;
    }
    Ok(if neg { -total } else { total })
}

/// Unquotes a Go-style string literal: `"…"`, `'…'` or `` `…` ``.
pub fn unquote(s: &str) -> Option<String> {
    let q = s.chars().next()?;
    if s.len() < 2 || !s.ends_with(q) || !matches!(q, '"' | '\'' | '`') {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    if q == '`' {
        return (!inner.contains('`')).then(|| inner.to_string());
    }
    let mut out = String::new();
    let mut it = inner.chars().peekable();
    while let Some(c) = it.next() {
        if c == q {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = it.next()?;
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' | '\'' => out.push(e),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..n).filter_map(|_| it.next()).collect();
                let v = u32::from_str_radix(&hex, 16).ok()?;
                if e == 'x' {
                    // Go treats \xNN as a byte; only ASCII is representable here.
                    out.push(char::from_u32(v)?);
                } else {
                    out.push(char::from_u32(v)?);
                }
            }
            '0'..='7' => {
                let mut v = e.to_digit(8)?;
                for _ in 0..2 {
                    v = v * 8 + it.next()?.to_digit(8)?;
                }
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Reads a quoted string at the start of `s`; returns it and the rest.
fn take_quoted(s: &str) -> Result<(String, &str), String> {
    let q = s.chars().next().ok_or("expected string")?;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' && q != '`' {
            escaped = true;
        } else if c == q {
            let lit = &s[..=i];
            let v = unquote(lit).ok_or_else(|| format!("invalid string {lit}"))?;
            return Ok((v, &s[i + 1..]));
        }
    }
    Err(format!("unterminated string in {s:?}"))
}

fn take_ident(s: &str) -> (&str, &str) {
    let end = s
        .char_indices()
        .find(|&(i, c)| {
            !(c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        })
        .map_or(s.len(), |(i, _)| i);
    (&s[..end], &s[end..])
}

/// Parses `metric{l="v", …} <points>` (a series description).
pub fn parse_series(line: &str) -> Result<(Labels, Vec<Point>), String> {
    let mut pairs: Vec<Label> = Vec::new();
    let (name, mut rest) = take_ident(line);
    if !name.is_empty() {
        pairs.push(Label::new("__name__", name));
    }
    let braces = rest.trim_start();
    if let Some(r) = braces.strip_prefix('{').filter(|r| !r.starts_with('{')) {
        rest = r.trim_start();
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let lname;
            if rest.starts_with(['"', '\'', '`']) {
                let (n, r) = take_quoted(rest)?;
                lname = n;
                rest = r.trim_start();
                if !rest.starts_with('=') {
                    // A lone quoted string is the metric name.
                    pairs.push(Label::new("__name__", lname));
                    rest = skip_comma(rest)?;
                    continue;
                }
            } else {
                let (n, r) = take_ident(rest);
                if n.is_empty() {
                    return Err(format!("unexpected {:?} in label set", rest.chars().next()));
                }
                lname = n.to_string();
                rest = r.trim_start();
            }
            rest = rest
                .strip_prefix('=')
                .ok_or_else(|| format!("expected '=' after label {lname:?}"))?
                .trim_start();
            let (v, r) = take_quoted(rest)?;
            pairs.push(Label::new(lname, v));
            rest = skip_comma(r.trim_start())?;
        }
    }
    if pairs.iter().filter(|l| l.name == "__name__").count() > 1 {
        return Err("metric name given twice".into());
    }
    let labels = Labels::new(pairs);
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return Err(format!("unexpected {rest:?} after series labels"));
    }
    let points = parse_points(rest.trim())?;
    Ok((labels, points))
}

fn skip_comma(rest: &str) -> Result<&str, String> {
    if let Some(r) = rest.strip_prefix(',') {
        Ok(r.trim_start())
    } else if rest.starts_with('}') {
        Ok(rest)
    } else {
        Err(format!("expected ',' or '}}' in label set, got {rest:?}"))
    }
}

/// Expands a point sequence: `1 2 3`, `0+10x5`, `1-2x3`, `5x2`, `_`, `_x3`,
/// `stale`, `Inf`, `{{…}}`, `{{…}}x2`, `{{…}}+{{…}}x2`.
pub fn parse_points(s: &str) -> Result<Vec<Point>, String> {
    static ITEM: OnceLock<Regex> = OnceLock::new();
    const NUM: &str = r"(?:[iI][nN][fF]|[nN][aA][nN]|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)";
    let item = re(
        &ITEM,
        &format!(r"^([+-]?{NUM}|stale)(?:([+-]{NUM})?x(\d+))?$"),
    );
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if rest.starts_with("{{") {
            // Histogram: find the closing braces, then optional expansion.
            let close = rest.find("}}").ok_or("unterminated histogram")?;
            rest = &rest[close + 2..];
            let mut n = 0u64;
            if rest.starts_with(['+', '-']) && rest[1..].starts_with("{{") {
                let c2 = rest.find("}}").ok_or("unterminated histogram")?;
                rest = &rest[c2 + 2..];
                let r = rest
                    .strip_prefix('x')
                    .ok_or("expected 'x' after histogram increment")?;
                let (d, r2) = split_digits(r);
                n = d.parse().map_err(|_| "invalid histogram repeat count")?;
                rest = r2;
            } else if let Some(r) = rest.strip_prefix('x') {
                let (d, r2) = split_digits(r);
                n = d.parse().map_err(|_| "invalid histogram repeat count")?;
                rest = r2;
            }
            for _ in 0..=n {
                out.push(Point::Histogram);
            }
            if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
                return Err(format!("unexpected {rest:?} after histogram"));
            }
            rest = rest.trim_start();
            continue;
        }
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        let tok = &rest[..end];
        rest = rest[end..].trim_start();
        if tok == "_" {
            out.push(Point::Omitted);
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: u64 = n.parse().map_err(|_| format!("invalid point {tok:?}"))?;
            out.extend((0..n).map(|_| Point::Omitted));
            continue;
        }
        let c = item
            .captures(tok)
            .ok_or_else(|| format!("invalid point {tok:?}"))?;
        let base = if &c[1] == "stale" {
            storage::stale_nan()
        } else {
            parse_number(&c[1]).ok_or_else(|| format!("invalid number in {tok:?}"))?
        };
        match c.get(3) {
            None => out.push(Point::Float(base)),
            Some(n) => {
                let n: u64 = n
                    .as_str()
                    .parse()
                    .map_err(|_| format!("invalid count in {tok:?}"))?;
                if n > 1_000_000 {
                    return Err(format!("repeat count too large in {tok:?}"));
                }
                let inc = match c.get(2) {
                    Some(d) => parse_number(d.as_str())
                        .ok_or_else(|| format!("invalid step in {tok:?}"))?,
                    None => 0.0,
                };
                let mut v = base;
                for _ in 0..=n {
                    out.push(Point::Float(v));
                    if c.get(2).is_some() {
                        v += inc;
                    }
                }
            }
        }
    }
    Ok(out)
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(p: &[Point]) -> Vec<f64> {
        p.iter()
            .map(|p| match p {
                Point::Float(f) => *f,
                Point::Omitted => -999.0,
                Point::Histogram => -888.0,
            })
            .collect()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("10s53ms").unwrap(), 10_053);
        assert_eq!(parse_duration("0").unwrap(), 0);
        assert_eq!(parse_duration("8000s").unwrap(), 8_000_000);
        assert_eq!(parse_duration("90").unwrap(), 90_000);
        assert_eq!(parse_duration("-5m").unwrap(), -300_000);
        assert_eq!(parse_duration("1y").unwrap(), 365 * 86_400_000);
        assert!(parse_duration("5x").is_err());
    }

    #[test]
    fn points() {
        assert_eq!(floats(&parse_points("1 2 3").unwrap()), vec![1.0, 2.0, 3.0]);
        assert_eq!(
            floats(&parse_points("0+10x3").unwrap()),
            vec![0.0, 10.0, 20.0, 30.0]
        );
        assert_eq!(
            floats(&parse_points("1-2x2").unwrap()),
            vec![1.0, -1.0, -3.0]
        );
        assert_eq!(floats(&parse_points("5x2").unwrap()), vec![5.0, 5.0, 5.0]);
        assert_eq!(
            floats(&parse_points("_ _x2 1").unwrap()),
            vec![-999.0, -999.0, -999.0, 1.0]
        );
        assert_eq!(floats(&parse_points("-1+1x1").unwrap()), vec![-1.0, 0.0]);
        let p = parse_points("stale Inf -Inf NaN 1e3").unwrap();
        assert!(matches!(p[0], Point::Float(v) if storage::is_stale_nan(v)));
        assert_eq!(p[1], Point::Float(f64::INFINITY));
        assert_eq!(p[2], Point::Float(f64::NEG_INFINITY));
        assert!(matches!(p[3], Point::Float(v) if v.is_nan() && !storage::is_stale_nan(v)));
        assert_eq!(p[4], Point::Float(1000.0));
        let h = parse_points(
            "{{schema:1 sum:3 count:22 buckets:[5 10 7]}} 1 {{count:1}}+{{count:2}}x2 {{sum:1}}x1",
        )
        .unwrap();
        assert_eq!(
            floats(&h),
            vec![-888.0, 1.0, -888.0, -888.0, -888.0, -888.0, -888.0]
        );
        assert!(parse_points("1 +").is_err());
        assert!(parse_points("abc").is_err());
    }

    #[test]
    fn series() {
        let (l, p) = parse_series(r#"http_requests{job="api", instance="0"}	0+10x2 100"#).unwrap();
        assert_eq!(
            l,
            Labels::from_pairs([
                ("__name__", "http_requests"),
                ("job", "api"),
                ("instance", "0")
            ])
        );
        assert_eq!(floats(&p), vec![0.0, 10.0, 20.0, 100.0]);
        let (l, _) = parse_series(r#"{"my.metric", "a.b"="c\"d", x='y'} 1"#).unwrap();
        assert_eq!(
            l,
            Labels::from_pairs([("__name__", "my.metric"), ("a.b", "c\"d"), ("x", "y")])
        );
        let (l, p) = parse_series("{} 3").unwrap();
        assert!(l.is_empty());
        assert_eq!(floats(&p), vec![3.0]);
        let (l, _) = parse_series(r#"{__name__="m",job="x"} 1"#).unwrap();
        assert_eq!(l, Labels::from_pairs([("__name__", "m"), ("job", "x")]));
        assert!(parse_series(r#"m{job="x" 1"#).is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x10"), Some(16.0));
        assert_eq!(parse_number("-2.5"), Some(-2.5));
        assert_eq!(parse_number("Inf"), Some(f64::INFINITY));
        assert!(parse_number("NaN").unwrap().is_nan());
        assert_eq!(parse_number("{} 1"), None);
        assert_eq!(parse_number("foo"), None);
    }

    #[test]
    fn script() {
        let src = r#"
# comment
load 5m
	a{x="1"} 0+1x3
	b 1 _ stale
    a{x="1"} 9

eval instant at 10m a
  expect no_warn
  a{x="1"} 9

eval range from 0 to 10m step 5m sum(a)
    expect warn msg: something
    expect info regex: some.*
	{} 9 _ 9

eval_fail instant at 0 foo
  expected_fail_message boom

eval instant at 1m 1 + 1
  2

eval instant at 1m "x"
  expect string "x"

eval instant at 1m a[5m]
  expect range vector from 0 to 5m step 5m
  expect ordered
  expect fail regex: x.*y
  a{x="1"} 9 9

eval_ordered instant at 1m a
  a 1 2

clear
bogus line
"#;
        let (cmds, errs) = parse_script(src);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].line, 36);
        assert_eq!(cmds.len(), 9);
        let Cmd::Load(l) = &cmds[0] else { panic!() };
        assert_eq!(l.line, 3);
        assert_eq!(l.interval_ms, 300_000);
        assert_eq!(l.series.len(), 2);
        assert_eq!(floats(&l.series[1].points), vec![9.0]);
        let Cmd::Eval(e) = &cmds[1] else { panic!() };
        assert_eq!(e.line, 8);
        assert_eq!(e.expr, "a");
        assert_eq!(e.kind, EvalKind::Instant { at: 600_000 });
        assert!(e.expect.no_warn);
        assert_eq!(e.expect.series.len(), 1);
        let Cmd::Eval(e) = &cmds[2] else { panic!() };
        assert_eq!(
            e.kind,
            EvalKind::Range {
                start: 0,
                end: 600_000,
                step: 300_000
            }
        );
        assert_eq!(e.expr, "sum(a)");
        assert!(
            e.expect.warn[0].matches("something") && !e.expect.warn[0].matches("something else")
        );
        assert!(e.expect.info[0].matches("something else"));
        assert_eq!(floats(&e.expect.series[0].1), vec![9.0, -999.0, 9.0]);
        let Cmd::Eval(e) = &cmds[3] else { panic!() };
        assert!(e.expect.fail.as_ref().unwrap()[0].matches("boom"));
        let Cmd::Eval(e) = &cmds[4] else { panic!() };
        assert_eq!(e.expect.scalar, Some(2.0));
        let Cmd::Eval(e) = &cmds[5] else { panic!() };
        assert_eq!(e.expect.string.as_deref(), Some("x"));
        let Cmd::Eval(e) = &cmds[6] else { panic!() };
        assert!(e.error.is_none(), "{:?}", e.error);
        assert_eq!(e.expect.range_vector, Some((0, 300_000, 300_000)));
        assert!(e.expect.ordered);
        assert!(e.expect.fail.as_ref().unwrap()[0].matches("xzy"));
        let Cmd::Eval(e) = &cmds[7] else { panic!() };
        assert!(e.error.is_some());
        assert!(e.expect.ordered);
        assert!(matches!(cmds[8], Cmd::Clear));
    }
}
