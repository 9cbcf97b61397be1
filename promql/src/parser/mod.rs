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

/// Deepest nesting of parentheses, calls and unary operators accepted.
const MAX_DEPTH: usize = 200;
/// Most binary operators in one query (bounds the tree depth).
const MAX_BINARY_OPS: usize = 2000;

/// Parses a PromQL query into its syntax tree.
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    let toks = lexer::lex(query)?;
    let mut p = Parser {
        q: query,
        toks,
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
    Ok(e)
}

type PResult<T> = Result<T, ParseError>;

pub(crate) struct Parser<'a> {
    q: &'a str,
    toks: Vec<Token>,
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

    fn err(&self, span: Range<usize>, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.q, span, msg)
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
