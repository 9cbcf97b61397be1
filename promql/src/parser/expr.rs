//! Expressions: precedence climbing over binary operators, unary signs,
//! parentheses, aggregations and function calls, with Prometheus's type
//! checks.

use super::lexer::{Tok, NOT_METRIC_NAMES};
use super::{PResult, Parser, MAX_BINARY_OPS};
use crate::ast::{
    AggOp, AggregateExpr, BinOp, BinaryExpr, Call, Cardinality, Expr, Pos, UnaryOp, ValueType,
    VectorMatching,
};
use crate::functions;

/// `bool`, `on`/`ignoring` and `group_left`/`group_right` after an operator.
#[derive(Default)]
struct BinModifiers {
    return_bool: bool,
    /// `(on, labels)` when `on(...)` or `ignoring(...)` was given.
    matching: Option<(bool, Vec<String>)>,
    /// `(card, include)` for `group_left`/`group_right`.
    group: Option<(Cardinality, Vec<String>)>,
}

impl Parser<'_> {
    /// Parses operators binding at least as tightly as `min_prec`.
    pub(super) fn parse_expr(&mut self, min_prec: u8) -> PResult<Expr> {
        self.enter()?;
        let start = self.start();
        let mut lhs = self.parse_unary()?;
        while let Some(op) = self.peek_binop() {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_span = self.next().span;
            self.binary_ops += 1;
            if self.binary_ops > MAX_BINARY_OPS {
                return Err(self.err(op_span, "too many binary operators"));
            }
            let mods = self.parse_bin_modifiers(op)?;
            let next_min = if op.right_assoc() { prec } else { prec + 1 };
            let rhs = self.parse_expr(next_min)?;
            lhs = self.make_binary(start, op, lhs, rhs, mods)?;
        }
        self.leave();
        Ok(lhs)
    }

    fn peek_binop(&self) -> Option<BinOp> {
        match self.peek() {
            Tok::Op(op) => Some(*op),
            Tok::Ident(w) => match w.to_ascii_lowercase().as_str() {
                "and" => Some(BinOp::And),
                "or" => Some(BinOp::Or),
                "unless" => Some(BinOp::Unless),
                _ => None,
            },
            _ => None,
        }
    }

    /// A unary sign binds tighter than every binary operator but `^`.
    fn parse_unary(&mut self) -> PResult<Expr> {
        let op = match self.peek() {
            Tok::Op(BinOp::Sub) => UnaryOp::Neg,
            Tok::Op(BinOp::Add) => UnaryOp::Pos,
            _ => return self.parse_postfix(),
        };
        let start = self.next().span.start;
        let e = self.parse_expr(BinOp::Pow.precedence())?;
        let t = e.value_type();
        if t != ValueType::Scalar && t != ValueType::Vector {
            return Err(self.err(
                start..self.prev_end(),
                format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                    t.name()
                ),
            ));
        }
        Ok(Expr::Unary(op, Box::new(e)))
    }

    pub(super) fn parse_primary(&mut self) -> PResult<Expr> {
        match self.peek().clone() {
            Tok::Number(f) => {
                self.next();
                Ok(Expr::Number(f))
            }
            // Prometheus 3 reads a duration where a number is expected as
            // its length in seconds (`predict_linear(x[1h], 30m)`).
            Tok::Duration(ms) => {
                self.next();
                Ok(Expr::Number(ms as f64 / 1000.0))
            }
            Tok::Str(s) => {
                self.next();
                Ok(Expr::String(s))
            }
            Tok::LParen => {
                let open = self.next().span;
                let e = self.parse_expr(0)?;
                match self.peek() {
                    Tok::RParen => {
                        self.next();
                        Ok(Expr::Paren(Box::new(e)))
                    }
                    Tok::Eof => Err(self.err(open, "unclosed left parenthesis")),
                    _ => Err(self.unexpected("paren expression")),
                }
            }
            Tok::LBrace => self.parse_vector_selector(None),
            Tok::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                if let Some(op) = AggOp::from_name(&lower) {
                    let next = self.peek_at(1);
                    let grouping_next = matches!(next, Tok::Ident(w)
                        if w.eq_ignore_ascii_case("by") || w.eq_ignore_ascii_case("without"));
                    if *next == Tok::LParen || grouping_next {
                        return self.parse_aggregate(op);
                    }
                }
                if *self.peek_at(1) == Tok::LParen {
                    return self.parse_call(&name);
                }
                // Like Prometheus, most keywords (`by`, `offset`, `and`, `sum`,
                // …) may name a metric where no other reading fits; these may not.
                if NOT_METRIC_NAMES.contains(&lower.as_str()) {
                    return Err(self.unexpected(""));
                }
                let span = self.next().span;
                self.parse_vector_selector(Some((name, span)))
            }
            _ => Err(self.unexpected("")),
        }
    }

    fn parse_bin_modifiers(&mut self, op: BinOp) -> PResult<BinModifiers> {
        let mut m = BinModifiers::default();
        if self.at_keyword("bool") {
            let span = self.next().span;
            if !op.is_comparison() {
                return Err(self.err(
                    span,
                    "bool modifier can only be used on comparison operators",
                ));
            }
            m.return_bool = true;
        }
        let on = self.at_keyword("on");
        if on || self.at_keyword("ignoring") {
            self.next();
            let labels = self.parse_label_list("grouping opts")?;
            m.matching = Some((on, labels));
            let left = self.at_keyword("group_left");
            if left || self.at_keyword("group_right") {
                self.next();
                let include = if *self.peek() == Tok::LParen {
                    self.parse_label_list("grouping opts")?
                } else {
                    Vec::new()
                };
                let card = if left {
                    Cardinality::ManyToOne
                } else {
                    Cardinality::OneToMany
                };
                m.group = Some((card, include));
            }
        }
        Ok(m)
    }

    /// `( label, "quoted.label", … )` with an optional trailing comma.
    pub(super) fn parse_label_list(&mut self, context: &str) -> PResult<Vec<String>> {
        self.expect(Tok::LParen, context)?;
        let mut labels = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::RParen => {
                    self.next();
                    return Ok(labels);
                }
                Tok::Str(s) => labels.push(s),
                _ => match self.label_word() {
                    Some(w) => labels.push(w),
                    None => return Err(self.unexpected(&format!("{context}, expected label"))),
                },
            }
            self.next();
            match self.peek() {
                Tok::Comma => {
                    self.next();
                }
                Tok::RParen => {}
                _ => return Err(self.unexpected(&format!("{context}, expected \",\" or \")\""))),
            }
        }
    }

    fn make_binary(
        &mut self,
        start: usize,
        op: BinOp,
        lhs: Expr,
        rhs: Expr,
        mods: BinModifiers,
    ) -> PResult<Expr> {
        let span = start..self.prev_end();
        let (lt, rt) = (lhs.value_type(), rhs.value_type());
        if op.is_comparison()
            && !mods.return_bool
            && lt == ValueType::Scalar
            && rt == ValueType::Scalar
        {
            return Err(self.err(span, "comparisons between scalars must use BOOL modifier"));
        }
        if let (Some((true, labels)), Some((_, include))) = (&mods.matching, &mods.group) {
            if let Some(l) = labels.iter().find(|l| include.contains(l)) {
                return Err(self.err(
                    span,
                    format!("label {l:?} must not occur in ON and GROUP clause at once"),
                ));
            }
        }
        for t in [lt, rt] {
            if t != ValueType::Scalar && t != ValueType::Vector {
                return Err(self.err(
                    span,
                    "binary expression must contain only scalar and instant vector types",
                ));
            }
        }
        let matching = if lt == ValueType::Vector && rt == ValueType::Vector {
            let (on, labels) = mods.matching.unwrap_or((false, Vec::new()));
            let (card, include) = mods.group.unwrap_or((Cardinality::OneToOne, Vec::new()));
            let card = if op.is_set() {
                if card != Cardinality::OneToOne {
                    return Err(self.err(
                        span,
                        format!("no grouping allowed for {:?} operation", op.as_str()),
                    ));
                }
                Cardinality::ManyToMany
            } else {
                card
            };
            Some(VectorMatching {
                card,
                labels,
                on,
                include,
            })
        } else {
            if mods.matching.as_ref().is_some_and(|(_, l)| !l.is_empty()) {
                return Err(self.err(span, "vector matching only allowed between instant vectors"));
            }
            if op.is_set() {
                return Err(self.err(
                    span,
                    format!(
                        "set operator {:?} not allowed in binary scalar expression",
                        op.as_str()
                    ),
                ));
            }
            None
        };
        Ok(Expr::Binary(BinaryExpr {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            matching,
            return_bool: mods.return_bool,
        }))
    }

    /// Arguments after `(` up to and including `)`; a trailing comma is fine.
    /// Parses `( arg, … )`; returns the arguments and where each starts.
    fn parse_args(&mut self, context: &str) -> PResult<(Vec<Expr>, Vec<Pos>)> {
        let open = self.expect(Tok::LParen, context)?.span;
        let mut args = Vec::new();
        let mut starts = Vec::new();
        if *self.peek() == Tok::RParen {
            self.next();
            return Ok((args, starts));
        }
        loop {
            starts.push(Pos::at(self.q, self.start()));
            args.push(self.parse_expr(0)?);
            match self.peek() {
                Tok::Comma => {
                    self.next();
                    if *self.peek() == Tok::RParen {
                        self.next();
                        break;
                    }
                }
                Tok::RParen => {
                    self.next();
                    break;
                }
                Tok::Eof => return Err(self.err(open, "unclosed left parenthesis")),
                _ => return Err(self.unexpected(&format!("{context}, expected \",\" or \")\""))),
            }
        }
        Ok((args, starts))
    }

    fn grouping_clause(&mut self) -> PResult<Option<(bool, Vec<String>)>> {
        let without = self.at_keyword("without");
        if !without && !self.at_keyword("by") {
            return Ok(None);
        }
        self.next();
        Ok(Some((without, self.parse_label_list("grouping opts")?)))
    }

    fn parse_aggregate(&mut self, op: AggOp) -> PResult<Expr> {
        let start = self.next().span.start;
        let mut grouping = self.grouping_clause()?;
        let (args, starts) = self.parse_args("aggregation")?;
        if grouping.is_none() {
            grouping = self.grouping_clause()?;
        }
        let span = start..self.prev_end();
        let want = if op.has_param() { 2 } else { 1 };
        if args.is_empty() {
            return Err(self.err(span, "no arguments for aggregate expression provided"));
        }
        if args.len() != want {
            return Err(self.err(
                span,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            ));
        }
        let mut args = args.into_iter();
        let param = if op.has_param() { args.next() } else { None };
        let expr = args.next().expect("argument count checked");
        let t = expr.value_type();
        if t != ValueType::Vector {
            return Err(self.err(
                span,
                format!(
                    "expected type instant vector in aggregation expression, got {}",
                    t.name()
                ),
            ));
        }
        if let Some(p) = &param {
            let want = if op == AggOp::CountValues {
                ValueType::String
            } else {
                ValueType::Scalar
            };
            let t = p.value_type();
            if t != want {
                return Err(self.err(
                    span,
                    format!(
                        "expected type {} in aggregation parameter, got {}",
                        want.name(),
                        t.name()
                    ),
                ));
            }
        }
        let (without, grouping) = grouping.unwrap_or((false, Vec::new()));
        Ok(Expr::Aggregate(AggregateExpr {
            op,
            expr: Box::new(expr),
            param: param.map(Box::new),
            param_pos: starts.first().copied().unwrap_or_default(),
            grouping,
            without,
        }))
    }

    fn parse_call(&mut self, name: &str) -> PResult<Expr> {
        let name_span = self.next().span;
        let Some(func) = functions::lookup(name) else {
            return Err(self.err(name_span, format!("unknown function with name {name:?}")));
        };
        let (args, arg_pos) = self.parse_args("function call args")?;
        let span = name_span.start..self.prev_end();
        let n = args.len();
        if func.max_args == Some(func.min_args) {
            if n != func.min_args {
                return Err(self.err(
                    span,
                    format!(
                        "expected {} argument(s) in call to {name:?}, got {n}",
                        func.min_args
                    ),
                ));
            }
        } else if n < func.min_args {
            return Err(self.err(
                span,
                format!(
                    "expected at least {} argument(s) in call to {name:?}, got {n}",
                    func.min_args
                ),
            ));
        } else if let Some(max) = func.max_args.filter(|m| n > *m) {
            return Err(self.err(
                span,
                format!("expected at most {max} argument(s) in call to {name:?}, got {n}"),
            ));
        }
        for (i, a) in args.iter().enumerate() {
            let (want, got) = (func.arg_type(i), a.value_type());
            if want != got {
                return Err(self.err(
                    span,
                    format!(
                        "expected type {} in call to function {name:?}, got {}",
                        want.name(),
                        got.name()
                    ),
                ));
            }
        }
        Ok(Expr::Call(Call {
            func,
            args,
            pos: Pos::at(self.q, name_span.start),
            arg_pos,
        }))
    }
}
