//! ferroprom's PromQL parser and evaluator (issue 3). It reaches data only
//! through the storage crate's query interface, re-exported here so callers
//! need one import path for labels and matchers.

pub use storage::{Label, Labels, MatchOp, Matcher};
