//! ferroprom's PromQL: a hand-written parser ([`parse`]) producing the
//! syntax tree in [`ast`], and an evaluator ([`Engine`]) that reads data only
//! through the storage crate's query interface.

pub mod ast;
mod engine;
mod error;
pub mod functions;
pub mod go_float;
mod parser;
mod pretty;
mod printer;
mod value;

pub use engine::{Engine, EngineOptions, QueryOptions};
pub use error::{Error, ParseError, Result};
pub use parser::{parse, parse_metric_selector};
pub use pretty::pretty;
pub use storage::{Label, Labels, MatchOp, Matcher};
pub use value::{QueryResult, QueryStats, Sample, Series, Value};
