//! The runner's only contact with the PromQL parser and engine.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use promql::ast::Expr;
use promql::{Engine, EngineOptions, QueryResult};
use storage::Db;

pub const AVAILABLE: bool = true;

/// Instant and range queries executed so far (all cases, all variants).
pub static QUERIES: AtomicUsize = AtomicUsize::new(0);

/// The engine as upstream's test engine is configured: default lookback,
/// 1m step for subqueries without one.
fn engine() -> &'static Engine {
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
    engine()
        .instant_with_cancel(db, e, t, cancel)
        .map_err(|e| e.to_string())
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
    engine()
        .range_with_cancel(db, e, start, end, step, cancel)
        .map_err(|e| e.to_string())
}
