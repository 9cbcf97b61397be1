//! Vector selectors with their matchers, and what may follow an
//! expression: `[range]`, `[range:step]`, `offset` and `@`.

use std::ops::Range;

use super::lexer::{Tok, INVALID_UTF8};
use super::literal::has_raw_bytes;
use super::{PResult, Parser};
use crate::ast::{At, BinOp, Expr, MatrixSelector, SubqueryExpr, ValueType, VectorSelector};
use storage::{MatchOp, Matcher};

const NAME_LABEL: &str = "__name__";
const POSTFIX_MSG: &str =
    "must be preceded by an instant vector selector or range vector selector or a subquery";

impl Parser<'_> {
    /// `name`, `name{…}` or `{…}`; `name` has already been consumed.
    pub(super) fn parse_vector_selector(
        &mut self,
        name: Option<(String, Range<usize>)>,
    ) -> PResult<Expr> {
        let start = name.as_ref().map_or(self.start(), |(_, s)| s.start);
        let (name, matchers) = self.parse_matchers(name)?;
        if !matchers.iter().any(|m| !m.matches_empty()) {
            return Err(self.err(
                start..self.prev_end(),
                "vector selector must contain at least one non-empty matcher",
            ));
        }
        Ok(Expr::Vector(VectorSelector {
            name,
            matchers,
            offset: 0,
            at: None,
        }))
    }

    /// The matchers of `name`, `name{…}` or `{…}`, which may all match the
    /// empty string; `name` has already been consumed.
    pub(super) fn parse_matchers(
        &mut self,
        name: Option<(String, Range<usize>)>,
    ) -> PResult<(Option<String>, Vec<Matcher>)> {
        let mut matchers = Vec::new();
        // Where the metric name came from: outside the braces or a quoted
        // `{"name"}` inside them.
        let mut name_set = name.is_some();
        if let Some((n, _)) = &name {
            matchers.push(Matcher::equal(NAME_LABEL, n.clone()));
        }
        if *self.peek() == Tok::LBrace {
            self.next();
            loop {
                let label_span = self.span();
                let label = match self.peek().clone() {
                    Tok::RBrace => {
                        self.next();
                        break;
                    }
                    Tok::Str(s) => s,
                    Tok::Eof => {
                        return Err(self.err(label_span, "unexpected end of input inside braces"))
                    }
                    _ => match self.label_word() {
                        Some(w) => w,
                        None => return Err(self.unexpected("label matching, expected label")),
                    },
                };
                self.next();
                let op = match self.peek() {
                    Tok::Assign => Some(MatchOp::Equal),
                    Tok::Op(BinOp::Neq) => Some(MatchOp::NotEqual),
                    Tok::EqlRegex => Some(MatchOp::RegexMatch),
                    Tok::NeqRegex => Some(MatchOp::RegexNoMatch),
                    _ => None,
                };
                let quoted = matches!(self.toks[self.pos - 1].tok, Tok::Str(_));
                let matcher = match op {
                    Some(op) => {
                        self.next();
                        let Tok::Str(value) = self.peek().clone() else {
                            return Err(self.unexpected("label matching, expected string"));
                        };
                        let vspan = self.next().span;
                        // A matcher can never match a value that is not
                        // UTF-8: refuse it rather than answer empty.
                        if has_raw_bytes(&label) {
                            return Err(self.err(label_span, INVALID_UTF8));
                        }
                        if has_raw_bytes(&value) {
                            return Err(self.err(vspan, INVALID_UTF8));
                        }
                        if label == NAME_LABEL && name_set {
                            return Err(self.name_twice(
                                label_span.start..vspan.end,
                                &name,
                                &value,
                            ));
                        }
                        Matcher::new(op, label, value)
                            .map_err(|e| self.err(label_span.start..vspan.end, e.to_string()))?
                    }
                    // `{"metric.name"}`: a quoted string alone names the metric.
                    None if quoted && has_raw_bytes(&label) => {
                        return Err(self.err(label_span, INVALID_UTF8));
                    }
                    None if quoted => {
                        if name_set || matchers.iter().any(|m| m.name == NAME_LABEL) {
                            return Err(self.name_twice(label_span, &name, &label));
                        }
                        name_set = true;
                        Matcher::equal(NAME_LABEL, label)
                    }
                    None => {
                        return Err(
                            self.unexpected("label matching, expected label matching operator")
                        )
                    }
                };
                matchers.push(matcher);
                match self.peek() {
                    Tok::Comma => {
                        self.next();
                    }
                    Tok::RBrace => {}
                    Tok::Eof => {
                        return Err(self.err(self.span(), "unexpected end of input inside braces"))
                    }
                    _ => return Err(self.unexpected("label matching, expected \",\" or \"}\"")),
                }
            }
        }
        Ok((name.map(|(n, _)| n), matchers))
    }

    fn name_twice(
        &self,
        span: Range<usize>,
        name: &Option<(String, Range<usize>)>,
        other: &str,
    ) -> super::ParseError {
        let first = name.as_ref().map_or("", |(n, _)| n.as_str());
        self.err(
            span,
            format!("metric name must not be set twice: {first:?} or {other:?}"),
        )
    }

    /// A primary expression followed by any number of `[…]`, `offset` and
    /// `@` modifiers.
    pub(super) fn parse_postfix(&mut self) -> PResult<Expr> {
        let start = self.start();
        let mut e = self.parse_primary()?;
        // Whether the outermost node already had `offset` / `@` written.
        let (mut has_offset, mut has_at) = (false, false);
        loop {
            match self.peek() {
                Tok::LBracket => {
                    e = self.parse_brackets(start, e, has_offset, has_at)?;
                    has_offset = false;
                    has_at = false;
                }
                Tok::At => {
                    let at_span = self.next().span;
                    let at = self.parse_at_value()?;
                    let span = at_span.start..self.prev_end();
                    if !matches!(e, Expr::Vector(_) | Expr::Matrix(_) | Expr::Subquery(_)) {
                        return Err(self.err(span, format!("@ modifier {POSTFIX_MSG}")));
                    }
                    if has_at {
                        return Err(self.err(span, "@ <timestamp> may not be set multiple times"));
                    }
                    has_at = true;
                    match &mut e {
                        Expr::Vector(v) | Expr::Matrix(MatrixSelector { vector: v, .. }) => {
                            v.at = Some(at)
                        }
                        Expr::Subquery(s) => s.at = Some(at),
                        _ => {}
                    }
                }
                _ if self.at_keyword("offset") => {
                    let kw = self.next().span;
                    let neg = match self.peek() {
                        Tok::Op(BinOp::Sub) => {
                            self.next();
                            true
                        }
                        Tok::Op(BinOp::Add) => {
                            self.next();
                            false
                        }
                        _ => false,
                    };
                    let d = self.parse_offset_duration()?;
                    let d = if neg { -d } else { d };
                    let span = kw.start..self.prev_end();
                    if !matches!(e, Expr::Vector(_) | Expr::Matrix(_) | Expr::Subquery(_)) {
                        return Err(self.err(span, format!("offset modifier {POSTFIX_MSG}")));
                    }
                    if has_offset {
                        return Err(self.err(span, "offset may not be set multiple times"));
                    }
                    has_offset = true;
                    match &mut e {
                        Expr::Vector(v) | Expr::Matrix(MatrixSelector { vector: v, .. }) => {
                            v.offset = d
                        }
                        Expr::Subquery(s) => s.offset = d,
                        _ => {}
                    }
                }
                _ => break,
            }
        }
        Ok(e)
    }

    /// `[range]` on a vector selector or `[range:step]` on any instant
    /// vector expression.
    fn parse_brackets(
        &mut self,
        start: usize,
        e: Expr,
        has_offset: bool,
        has_at: bool,
    ) -> PResult<Expr> {
        let open = self.next().span.start;
        let range_start = self.start();
        let range = self.parse_duration("range")?;
        if range <= 0 {
            return Err(self.err(
                range_start..self.prev_end(),
                "duration must be greater than 0",
            ));
        }
        match self.peek() {
            Tok::RBracket => {
                self.next();
                let span = open..self.prev_end();
                let Expr::Vector(vector) = e else {
                    return Err(self.err(span, "ranges only allowed for vector selectors"));
                };
                if has_offset {
                    return Err(self.err(span, "no offset modifiers allowed before range"));
                }
                if has_at {
                    return Err(self.err(span, "no @ modifiers allowed before range"));
                }
                Ok(Expr::Matrix(MatrixSelector { vector, range }))
            }
            Tok::Colon => {
                self.next();
                let step = if *self.peek() == Tok::RBracket {
                    None
                } else {
                    let step_start = self.start();
                    let s = self.parse_duration("subquery step")?;
                    if s <= 0 {
                        return Err(self.err(
                            step_start..self.prev_end(),
                            "duration must be greater than 0",
                        ));
                    }
                    Some(s)
                };
                self.expect(Tok::RBracket, "subquery selector, expected \"]\"")?;
                let t = e.value_type();
                if t != ValueType::Vector {
                    return Err(self.err(
                        start..self.prev_end(),
                        format!(
                            "subquery is only allowed on instant vector, got {} instead",
                            go_type_name(t)
                        ),
                    ));
                }
                Ok(Expr::Subquery(SubqueryExpr {
                    expr: Box::new(e),
                    range,
                    step,
                    offset: 0,
                    at: None,
                }))
            }
            _ => Err(self.unexpected("range, expected \"]\" or \":\"")),
        }
    }

    /// A duration in ms inside `[…]`: a duration, a number of seconds, or
    /// (Prometheus 3 duration expressions) constant arithmetic over them
    /// with `+ - * / % ^` and parentheses, e.g. `[1h/2]`, `[2m*(10+5)]`.
    fn parse_duration(&mut self, context: &str) -> PResult<i64> {
        let start = self.start();
        let secs = self.duration_arith(0, context)?;
        self.seconds_to_ms(start, secs, context)
    }

    /// The duration after `offset` (without its sign): a literal or a
    /// parenthesized duration expression. `offset 2 ^ 2` is `(… offset 2) ^ 2`.
    fn parse_offset_duration(&mut self) -> PResult<i64> {
        if *self.peek() != Tok::LParen {
            return match *self.peek() {
                Tok::Duration(ms) => {
                    self.next();
                    Ok(ms)
                }
                Tok::Number(f) => {
                    let start = self.next().span.start;
                    if f < 0.0 {
                        return Err(self.err(start..self.prev_end(), "invalid duration in offset"));
                    }
                    self.seconds_to_ms(start, f, "offset")
                }
                _ => Err(self.unexpected("offset, expected number or duration")),
            };
        }
        let start = self.start();
        let secs = self.duration_primary("offset")?;
        self.seconds_to_ms(start, secs, "offset")
    }

    fn seconds_to_ms(&self, start: usize, secs: f64, context: &str) -> PResult<i64> {
        let ms = (secs * 1000.0).round();
        if !ms.is_finite() || ms.abs() > 2f64.powi(62) {
            return Err(self.err(
                start..self.prev_end(),
                format!("invalid duration in {context}"),
            ));
        }
        Ok(ms as i64)
    }

    /// Constant duration arithmetic in seconds, by precedence climbing.
    fn duration_arith(&mut self, min_prec: u8, context: &str) -> PResult<f64> {
        self.enter()?;
        let mut lhs = match self.peek() {
            Tok::Op(op @ (BinOp::Sub | BinOp::Add)) => {
                let neg = *op == BinOp::Sub;
                self.next();
                let v = self.duration_arith(BinOp::Pow.precedence(), context)?;
                if neg {
                    -v
                } else {
                    v
                }
            }
            _ => self.duration_primary(context)?,
        };
        while let Tok::Op(
            op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow),
        ) = *self.peek()
        {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_span = self.next().span;
            let rhs =
                self.duration_arith(if op.right_assoc() { prec } else { prec + 1 }, context)?;
            lhs = match op {
                BinOp::Add => lhs + rhs,
                BinOp::Sub => lhs - rhs,
                BinOp::Mul => lhs * rhs,
                BinOp::Div | BinOp::Mod if rhs == 0.0 => {
                    return Err(self.err(op_span, "division by zero in duration expression"))
                }
                BinOp::Div => lhs / rhs,
                BinOp::Mod => lhs % rhs,
                _ => lhs.powf(rhs),
            };
        }
        self.leave();
        Ok(lhs)
    }

    fn duration_primary(&mut self, context: &str) -> PResult<f64> {
        match *self.peek() {
            Tok::Duration(ms) => {
                self.next();
                Ok(ms as f64 / 1000.0)
            }
            Tok::Number(f) => {
                self.next();
                Ok(f)
            }
            Tok::LParen => {
                self.next();
                let v = self.duration_arith(0, context)?;
                self.expect(Tok::RParen, &format!("{context}, expected \")\""))?;
                Ok(v)
            }
            _ => Err(self.unexpected(&format!("{context}, expected number or duration"))),
        }
    }

    /// After `@`: `<number>`, `-<number>`, a duration since the epoch
    /// (`@ 100s`), `start()` or `end()`.
    fn parse_at_value(&mut self) -> PResult<At> {
        let neg = match self.peek() {
            Tok::Op(BinOp::Sub) => {
                self.next();
                true
            }
            Tok::Op(BinOp::Add) => {
                self.next();
                false
            }
            _ => false,
        };
        let seconds = match *self.peek() {
            Tok::Duration(ms) => Some(ms as f64 / 1000.0),
            Tok::Number(f) => Some(f),
            _ => None,
        };
        match self.peek().clone() {
            _ if seconds.is_some() => {
                let span = self.next().span;
                let f = seconds.unwrap_or_default();
                let f = if neg { -f } else { f };
                let ms = (f * 1000.0).round();
                if !ms.is_finite() || ms.abs() > 2f64.powi(62) {
                    return Err(
                        self.err(span, format!("timestamp out of bounds for @ modifier: {f}"))
                    );
                }
                Ok(At::Timestamp(ms as i64))
            }
            Tok::Ident(w)
                if !neg && (w.eq_ignore_ascii_case("start") || w.eq_ignore_ascii_case("end")) =>
            {
                self.next();
                self.expect(Tok::LParen, "@, expected \"(\"")?;
                self.expect(Tok::RParen, "@, expected \")\"")?;
                Ok(if w.eq_ignore_ascii_case("start") {
                    At::Start
                } else {
                    At::End
                })
            }
            _ => Err(self.unexpected("@, expected timestamp")),
        }
    }
}

/// A value type as Prometheus's `ValueType` prints itself (`matrix`, not
/// `range vector`), used in the subquery error.
fn go_type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::Vector => "vector",
        ValueType::Matrix => "matrix",
        ValueType::String => "string",
    }
}
