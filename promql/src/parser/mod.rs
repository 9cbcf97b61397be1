//! The PromQL parser: [`lexer`] turns the query into tokens, then a
//! recursive-descent parser with precedence climbing ([`expr`],
//! [`selector`]) builds the [`Expr`] tree and checks types as Prometheus does.

mod expr;
mod lexer;
pub(crate) mod literal;
mod selector;

use std::ops::Range;

use crate::ast::Expr;
use crate::ParseError;
use lexer::{Tok, Token, KEYWORDS};

/// Deepest nesting of subexpressions (parentheses, call arguments, unary
/// operands, right operands of `^`) accepted; keeps the recursion well
/// inside a 2 MiB thread stack even in debug builds (the evaluator
/// recurses over the same tree).
const MAX_DEPTH: usize = 128;
/// Most binary operators in one query (bounds the tree depth).
const MAX_BINARY_OPS: usize = 1000;

/// Parses a PromQL query into its syntax tree.
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    let lexed = lexer::lex(query);
    let mut p = Parser {
        q: query,
        toks: lexed.toks,
        lex_error: lexed.error,
        pos: 0,
        depth: 0,
        binary_ops: 0,
    };
    if p.peek() == &Tok::Eof {
        return Err(p.err(0..query.len(), "no expression found in input"));
    }
    let e = p.parse_expr(0)?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected(""));
    }
    match p.lex_error {
        Some(e) => Err(e),
        None => Ok(e),
    }
}

/// Parses a series selector such as a `match[]` parameter (`up`,
/// `up{job="a"}`, `{__name__=~"x.*"}`), as Prometheus's
/// `ParseMetricSelector`: nothing but the selector, and unlike in a query
/// its matchers may all match the empty string (callers decide).
pub fn parse_metric_selector(input: &str) -> Result<Vec<storage::Matcher>, ParseError> {
    let lexed = lexer::lex(input);
    let mut p = Parser {
        q: input,
        toks: lexed.toks,
        lex_error: lexed.error,
        pos: 0,
        depth: 0,
        binary_ops: 0,
    };
    let name = match p.peek().clone() {
        Tok::Ident(w) => Some((w, p.next().span)),
        Tok::LBrace => None,
        _ => return Err(p.unexpected("")),
    };
    let (_, matchers) = p.parse_matchers(name)?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected(""));
    }
    match p.lex_error {
        Some(e) => Err(e),
        None => Ok(matchers),
    }
}

type PResult<T> = Result<T, ParseError>;

pub(crate) struct Parser<'a> {
    q: &'a str,
    toks: Vec<Token>,
    /// Where lexing stopped early, reported once parsing gets there.
    lex_error: Option<ParseError>,
    pos: usize,
    depth: usize,
    binary_ops: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }

    fn span(&self) -> Range<usize> {
        self.toks[self.pos].span.clone()
    }

    /// Start offset of the current token.
    fn start(&self) -> usize {
        self.toks[self.pos].span.start
    }

    /// End offset of the previous token.
    fn prev_end(&self) -> usize {
        if self.pos == 0 {
            0
        } else {
            self.toks[self.pos - 1].span.end
        }
    }

    fn next(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    /// Whether the current token is the keyword `kw` (case-insensitive).
    fn at_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w.eq_ignore_ascii_case(kw))
    }

    /// The current token as a plain label name: any identifier without `:`,
    /// including keywords and the words `inf`, `nan` and `atan2`, which the
    /// lexer turns into other tokens.
    fn label_word(&self) -> Option<String> {
        let t = &self.toks[self.pos];
        let text = &self.q[t.span.clone()];
        let word = matches!(t.tok, Tok::Ident(_) | Tok::Number(_) | Tok::Op(_))
            && text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        word.then(|| text.to_string())
    }

    /// An error at `span`; once the parser has reached the point where
    /// lexing failed, the lexer's error instead.
    fn err(&self, span: Range<usize>, msg: impl Into<String>) -> ParseError {
        match &self.lex_error {
            Some(e) if self.pos == self.toks.len() - 1 => e.clone(),
            _ => ParseError::new(self.q, span, msg),
        }
    }

    /// Describes the current token as Prometheus does in errors.
    fn describe(&self) -> String {
        let t = &self.toks[self.pos];
        let text = &self.q[t.span.clone()];
        match &t.tok {
            Tok::Eof => "end of input".into(),
            Tok::Ident(w) => {
                let lower = w.to_ascii_lowercase();
                if KEYWORDS.contains(&lower.as_str()) {
                    format!("<{lower}>")
                } else if crate::ast::AggOp::from_name(&lower).is_some() {
                    format!("<aggr:{lower}>")
                } else if w.contains(':') {
                    format!("metric identifier {w:?}")
                } else {
                    format!("identifier {w:?}")
                }
            }
            Tok::Number(_) => format!("number {text:?}"),
            Tok::Duration(_) => format!("duration {text:?}"),
            Tok::Str(_) => format!("string {text:?}"),
            Tok::Op(op) => format!("<op:{}>", op.as_str()),
            Tok::EqlRegex | Tok::NeqRegex | Tok::Assign => format!("<op:{text}>"),
            _ => format!("{text:?}"),
        }
    }

    /// `unexpected <token>[ in <context>]`.
    fn unexpected(&self, context: &str) -> ParseError {
        let mut msg = format!("unexpected {}", self.describe());
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        self.err(self.span(), msg)
    }

    /// Consumes `want` or fails with `unexpected … in <context>`.
    fn expect(&mut self, want: Tok, context: &str) -> PResult<Token> {
        if *self.peek() == want {
            Ok(self.next())
        } else {
            Err(self.unexpected(context))
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(self.span(), "expression nesting too deep"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }
}

#[cfg(test)]
mod tests;
