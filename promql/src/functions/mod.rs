//! The function table: one entry per PromQL function with its signature,
//! checked by the parser. The evaluator dispatches on [`Function::name`].

pub mod histogram;
pub mod kahan;
pub mod math;
pub mod over_time;
pub mod quantile;
pub mod rate;
pub mod time;

use crate::ast::ValueType;
use ValueType::{Matrix as M, Scalar as S, String as Str, Vector as V};

/// A PromQL function signature.
#[derive(Debug, PartialEq, Eq)]
pub struct Function {
    pub name: &'static str,
    /// Argument types in order. With `max_args` above `arg_types.len()` (or
    /// unlimited) the last type repeats.
    pub arg_types: &'static [ValueType],
    /// Fewest arguments accepted.
    pub min_args: usize,
    /// Most arguments accepted; `None` means unlimited.
    pub max_args: Option<usize>,
    pub return_type: ValueType,
}

impl Function {
    /// Type of argument `i` (the last declared type repeats).
    pub fn arg_type(&self, i: usize) -> ValueType {
        self.arg_types[i.min(self.arg_types.len() - 1)]
    }
}

macro_rules! f {
    ($name:literal, [$($t:expr),*], $min:expr, $max:expr, $ret:expr) => {
        Function { name: $name, arg_types: &[$($t),*], min_args: $min, max_args: $max, return_type: $ret }
    };
}

/// Every function, sorted by name.
pub static FUNCTIONS: &[Function] = &[
    f!("abs", [V], 1, Some(1), V),
    f!("absent", [V], 1, Some(1), V),
    f!("absent_over_time", [M], 1, Some(1), V),
    f!("acos", [V], 1, Some(1), V),
    f!("acosh", [V], 1, Some(1), V),
    f!("asin", [V], 1, Some(1), V),
    f!("asinh", [V], 1, Some(1), V),
    f!("atan", [V], 1, Some(1), V),
    f!("atanh", [V], 1, Some(1), V),
    f!("avg_over_time", [M], 1, Some(1), V),
    f!("ceil", [V], 1, Some(1), V),
    f!("changes", [M], 1, Some(1), V),
    f!("clamp", [V, S, S], 3, Some(3), V),
    f!("clamp_max", [V, S], 2, Some(2), V),
    f!("clamp_min", [V, S], 2, Some(2), V),
    f!("cos", [V], 1, Some(1), V),
    f!("cosh", [V], 1, Some(1), V),
    f!("count_over_time", [M], 1, Some(1), V),
    f!("day_of_month", [V], 0, Some(1), V),
    f!("day_of_week", [V], 0, Some(1), V),
    f!("day_of_year", [V], 0, Some(1), V),
    f!("days_in_month", [V], 0, Some(1), V),
    f!("deg", [V], 1, Some(1), V),
    f!("delta", [M], 1, Some(1), V),
    f!("deriv", [M], 1, Some(1), V),
    f!("double_exponential_smoothing", [M, S, S], 3, Some(3), V),
    f!("end", [], 0, Some(0), S),
    f!("exp", [V], 1, Some(1), V),
    f!("first_over_time", [M], 1, Some(1), V),
    f!("floor", [V], 1, Some(1), V),
    f!("histogram_avg", [V], 1, Some(1), V),
    f!("histogram_count", [V], 1, Some(1), V),
    f!("histogram_fraction", [S, S, V], 3, Some(3), V),
    f!("histogram_quantile", [S, V], 2, Some(2), V),
    f!("histogram_quantiles", [V, Str, S], 3, None, V),
    f!("histogram_stddev", [V], 1, Some(1), V),
    f!("histogram_stdvar", [V], 1, Some(1), V),
    f!("histogram_sum", [V], 1, Some(1), V),
    f!("hour", [V], 0, Some(1), V),
    f!("idelta", [M], 1, Some(1), V),
    f!("increase", [M], 1, Some(1), V),
    f!("irate", [M], 1, Some(1), V),
    f!("label_join", [V, Str, Str, Str], 3, None, V),
    f!("label_replace", [V, Str, Str, Str, Str], 5, Some(5), V),
    f!("last_over_time", [M], 1, Some(1), V),
    f!("ln", [V], 1, Some(1), V),
    f!("log10", [V], 1, Some(1), V),
    f!("log2", [V], 1, Some(1), V),
    f!("mad_over_time", [M], 1, Some(1), V),
    f!("max_of", [S, S], 2, Some(2), S),
    f!("max_over_time", [M], 1, Some(1), V),
    f!("min_of", [S, S], 2, Some(2), S),
    f!("min_over_time", [M], 1, Some(1), V),
    f!("minute", [V], 0, Some(1), V),
    f!("month", [V], 0, Some(1), V),
    f!("pi", [], 0, Some(0), S),
    f!("predict_linear", [M, S], 2, Some(2), V),
    f!("present_over_time", [M], 1, Some(1), V),
    f!("quantile_over_time", [S, M], 2, Some(2), V),
    f!("rad", [V], 1, Some(1), V),
    f!("range", [], 0, Some(0), S),
    f!("rate", [M], 1, Some(1), V),
    f!("resets", [M], 1, Some(1), V),
    f!("round", [V, S], 1, Some(2), V),
    f!("scalar", [V], 1, Some(1), S),
    f!("sgn", [V], 1, Some(1), V),
    f!("sin", [V], 1, Some(1), V),
    f!("sinh", [V], 1, Some(1), V),
    f!("sort", [V], 1, Some(1), V),
    f!("sort_by_label", [V, Str], 1, None, V),
    f!("sort_by_label_desc", [V, Str], 1, None, V),
    f!("sort_desc", [V], 1, Some(1), V),
    f!("sqrt", [V], 1, Some(1), V),
    f!("start", [], 0, Some(0), S),
    f!("stddev_over_time", [M], 1, Some(1), V),
    f!("stdvar_over_time", [M], 1, Some(1), V),
    f!("step", [], 0, Some(0), S),
    f!("sum_over_time", [M], 1, Some(1), V),
    f!("tan", [V], 1, Some(1), V),
    f!("tanh", [V], 1, Some(1), V),
    f!("time", [], 0, Some(0), S),
    f!("timestamp", [V], 1, Some(1), V),
    f!("ts_of_first_over_time", [M], 1, Some(1), V),
    f!("ts_of_last_over_time", [M], 1, Some(1), V),
    f!("ts_of_max_over_time", [M], 1, Some(1), V),
    f!("ts_of_min_over_time", [M], 1, Some(1), V),
    f!("vector", [S], 1, Some(1), V),
    f!("year", [V], 0, Some(1), V),
];

/// Looks a function up by name.
pub fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sorted_and_consistent() {
        assert!(FUNCTIONS.windows(2).all(|w| w[0].name < w[1].name));
        for f in FUNCTIONS {
            assert!(f.max_args.is_none_or(|m| m >= f.min_args), "{}", f.name);
            assert!(f.max_args.is_none_or(|m| m <= f.arg_types.len()) || !f.arg_types.is_empty());
        }
        assert_eq!(lookup("rate").unwrap().arg_type(0), M);
        assert_eq!(lookup("label_join").unwrap().arg_type(7), Str);
        assert!(lookup("nope").is_none());
    }
}
