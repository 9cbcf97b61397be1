//! The PromQL crate's error types.

use std::fmt;
use std::ops::Range;

/// A syntax or type error, with the byte range it refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offsets into the query.
    pub span: Range<usize>,
    pub msg: String,
    /// Line and column (both 1-based) of `span.start`, computed from the query.
    pub line: usize,
    pub col: usize,
}

impl ParseError {
    /// Builds an error for `span` in `query`, computing line and column.
    pub fn new(query: &str, span: Range<usize>, msg: impl Into<String>) -> Self {
        let start = span.start.min(query.len());
        let before = &query[..floor_char_boundary(query, start)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ParseError {
            span,
            msg: msg.into(),
            line,
            col,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for ParseError {
    /// Renders like Prometheus: `1:15: parse error: unexpected …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: parse error: {}", self.line, self.col, self.msg)
    }
}

impl std::error::Error for ParseError {}

/// Everything that can fail in parsing or evaluating a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Storage(#[from] storage::Error),
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// A runtime error with Prometheus's message, e.g. "found duplicate
    /// series for the match group …".
    #[error("{0}")]
    Eval(String),
}

/// `Result` with the PromQL error as default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
