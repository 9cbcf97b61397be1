//! Query results.

use std::time::Duration;

use storage::Labels;

/// One sample of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub metric: Labels,
    /// Timestamp in ms.
    pub t: i64,
    pub v: f64,
}

/// One series of a range result (a matrix).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub metric: Labels,
    /// Points in ascending time order (ms, value).
    pub points: Vec<(i64, f64)>,
}

/// The value of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    String { t: i64, s: String },
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

/// A query's value with its annotations (Prometheus's warnings and infos).
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    pub stats: QueryStats,
}

/// What evaluating a query cost, counted the way Prometheus's
/// `stats=all` reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryStats {
    /// Samples the selectors handed to the evaluation, summed over the
    /// steps: an instant selector counts one per series and step, a range
    /// selector its whole window at every step (so a sample can count
    /// several times). Samples read by a subquery under a range function
    /// count through that function's windows, as upstream.
    pub total_samples: u64,
    /// `total_samples` split by step of the query grid; only filled when
    /// [`QueryOptions::per_step_stats`](crate::QueryOptions) asked for it.
    pub samples_per_step: Vec<u64>,
    /// The most samples held at once: the largest intermediate result or
    /// per-step window set (what the `max_samples` limit guards).
    pub peak_samples: u64,
    /// Time spent opening queriers and selecting series from storage
    /// (Prometheus's "query preparation").
    pub prepare_time: Duration,
    /// Time spent sorting the final result.
    pub sort_time: Duration,
    /// Wall-clock time of the whole evaluation, including the two above.
    pub eval_time: Duration,
}
