//! Query results.

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
}
