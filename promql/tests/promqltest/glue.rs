//! The runner's only contact with the PromQL parser and engine.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use promql::ast::Expr;
use promql::{Engine, EngineOptions, QueryOptions, QueryResult, Value};
use storage::{Db, Workers};

pub const AVAILABLE: bool = true;

/// Instant and range queries executed so far (all cases, all variants).
pub static QUERIES: AtomicUsize = AtomicUsize::new(0);

/// The engine as upstream's test engine is configured: default lookback,
/// 1m step for subqueries without one.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(EngineOptions {
            timeout: Duration::from_secs(30),
            default_subquery_step: 60_000,
            // As upstream's test engine.
            delayed_name_removal: true,
            ..EngineOptions::default()
        })
    })
}

pub fn parse(q: &str) -> Result<Expr, String> {
    promql::parse(q).map_err(|e| e.to_string())
}

pub fn instant(db: &Db, e: &Expr, t: i64, cancel: &AtomicBool) -> Result<QueryResult, String> {
    QUERIES.fetch_add(1, Ordering::Relaxed);
    on_one_and_many_threads(|o| engine().instant_with_options(db, e, t, o, cancel))
}

pub fn range(
    db: &Db,
    e: &Expr,
    start: i64,
    end: i64,
    step: i64,
    cancel: &AtomicBool,
) -> Result<QueryResult, String> {
    QUERIES.fetch_add(1, Ordering::Relaxed);
    on_one_and_many_threads(|o| engine().range_with_options(db, e, start, end, step, o, cancel))
}

/// [`same_on`] three threads with every input split between them, however
/// few series it has.
fn on_one_and_many_threads(
    run: impl Fn(&QueryOptions) -> promql::Result<QueryResult>,
) -> Result<QueryResult, String> {
    same_on(Workers::new(3).with_min_len(1), run)
}

/// Runs a query on the calling thread alone, then with `many`, and fails
/// unless both answers are the same to the bit: values, series order,
/// annotations, sample counts, or the same error (see [`exact`]).
pub fn same_on(
    many: Workers,
    run: impl Fn(&QueryOptions) -> promql::Result<QueryResult>,
) -> Result<QueryResult, String> {
    let n = many.threads();
    let one = run(&QueryOptions::default()).map_err(|e| e.to_string());
    let many = QueryOptions {
        workers: many,
        ..QueryOptions::default()
    };
    let many = run(&many).map_err(|e| e.to_string());
    let (a, b) = (exact(&one), exact(&many));
    if let Some((x, y)) = a.lines().zip(b.lines()).find(|(x, y)| x != y) {
        return Err(format!("{n} threads differ from 1: {y:?} instead of {x:?}"));
    }
    if a.lines().count() != b.lines().count() {
        return Err(format!("{n} threads differ from 1: {b:?} instead of {a:?}"));
    }
    one
}

/// A query's answer with every float as its bits, one line per sample or
/// series, for comparisons that tell NaN payloads and -0.0 apart.
fn exact(r: &Result<QueryResult, String>) -> String {
    use std::fmt::Write;
    let r = match r {
        Ok(r) => r,
        Err(e) => return format!("error {e}"),
    };
    let bits = |v: f64| format!("{:016x}", v.to_bits());
    let mut out = String::new();
    match &r.value {
        Value::Scalar { t, v } => writeln!(out, "scalar {t} {}", bits(*v)),
        Value::String { t, s } => writeln!(out, "string {t} {s:?}"),
        Value::Vector(v) => v
            .iter()
            .try_for_each(|s| writeln!(out, "sample {} {} {}", s.metric, s.t, bits(s.v))),
        Value::Matrix(m) => m.iter().try_for_each(|s| {
            write!(out, "series {}", s.metric)?;
            s.points
                .iter()
                .try_for_each(|&(t, v)| write!(out, " {t}:{}", bits(v)))?;
            writeln!(out)
        }),
    }
    .expect("writing to a String");
    let st = &r.stats;
    writeln!(
        out,
        "warnings {:?}\ninfos {:?}\nsamples {} peak {} per step {:?}",
        r.warnings, r.infos, st.total_samples, st.peak_samples, st.samples_per_step
    )
    .expect("writing to a String");
    out
}
