//! The query endpoints: `/api/v1/query`, `/query_range`,
//! `/query_exemplars`, `/format_query` and `/parse_query`.
//!
//! Parameters are checked in Prometheus's order with its messages. A query
//! runs on the blocking pool under one of `state.query_slots`; it stops
//! when the HTTP request goes away (the handler future is dropped) or its
//! time is up, and a panic inside it becomes an `execution` error instead
//! of taking the server down. Queries read `state.queryable`: local
//! storage merged with the `remote_read:` endpoints, whose failures come
//! back as warnings.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use parking_lot::Mutex;

use promql::ast::{Expr, ValueType};
use promql::{QueryOptions, Value};

use super::ast_json::ast_json;
use super::blocking;
use super::encode::{self, Stats, Timings};
use super::params::{
    invalid_param, limit_param, parse_duration, parse_time, time_param, Params, MAX_TIME, MIN_TIME,
};
use super::query_cache::Key;
use super::query_workers;
use super::response::{method_not_allowed, ApiError, ErrorType, Success};
use super::ApiState;
use crate::alloc::MemoryBudget;
use crate::metrics::{HistogramVec, Registry, DEFAULT_BUCKETS};

/// Most points per series a range query may return (Prometheus's limit).
const MAX_POINTS: i64 = 11_000;

/// The query routes; merge them into the API router.
pub fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/query", get_post(instant_query))
        .route("/api/v1/query_range", get_post(range_query))
        .route("/api/v1/query_exemplars", get_post(query_exemplars))
        .route("/api/v1/format_query", get_post(format_query))
        .route("/api/v1/parse_query", get_post(parse_query))
}

/// A route answering GET and POST with `handler`.
pub(crate) fn get_post<H, T>(handler: H) -> MethodRouter<Arc<ApiState>>
where
    H: axum::handler::Handler<T, Arc<ApiState>> + Clone,
    T: 'static,
{
    get(handler.clone())
        .post(handler)
        .fallback(|m: Method| async move { method_not_allowed(&m, "GET, OPTIONS, POST") })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What `stats=` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StatsMode {
    None,
    Summary,
    /// `stats=all`: also samples per step.
    PerStep,
}

/// An instant or range query with everything its parameters said.
struct QuerySpec {
    expr: Expr,
    /// Evaluation times: `(start, end, step)`, `step == 0` for an instant query.
    start: i64,
    end: i64,
    step: i64,
    limit: usize,
    timeout: Option<Duration>,
    options: QueryOptions,
    stats: StatsMode,
}

/// `timeout`, `lookback_delta` and `stats`, shared by both query kinds.
fn common_options(
    params: &Params,
) -> Result<(Option<Duration>, QueryOptions, StatsMode), ApiError> {
    let timeout = match params.get("timeout").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => {
            let ms = parse_duration(v).map_err(|e| invalid_param("timeout", e))?;
            Some(Duration::from_millis(ms.max(0) as u64))
        }
    };
    let lookback_delta = match params.get("lookback_delta").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(parse_duration(v).map_err(|e| {
            ApiError::bad_data(format!("error parsing lookback delta duration: {e}"))
        })?),
    };
    let stats = match params.get("stats") {
        None | Some("") => StatsMode::None,
        Some("all") => StatsMode::PerStep,
        Some(_) => StatsMode::Summary,
    };
    let options = QueryOptions {
        timeout,
        lookback_delta,
        per_step_stats: stats == StatsMode::PerStep,
        ..QueryOptions::default()
    };
    Ok((timeout, options, stats))
}

fn parse_query_param(params: &Params) -> Result<Expr, ApiError> {
    promql::parse(params.get("query").unwrap_or("")).map_err(|e| invalid_param("query", e))
}

fn instant_spec(params: &Params) -> Result<QuerySpec, ApiError> {
    let limit = limit_param(params)?;
    let t = time_param(params, "time", now_ms())?;
    let (timeout, options, stats) = common_options(params)?;
    let expr = parse_query_param(params)?;
    Ok(QuerySpec {
        expr,
        start: t,
        end: t,
        step: 0,
        limit,
        timeout,
        options,
        stats,
    })
}

fn range_spec(params: &Params) -> Result<QuerySpec, ApiError> {
    let limit = limit_param(params)?;
    let required_time =
        |name: &str| parse_time(params.get(name).unwrap_or("")).map_err(|e| invalid_param(name, e));
    let start = required_time("start")?;
    let end = required_time("end")?;
    if end < start {
        return Err(invalid_param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step =
        parse_duration(params.get("step").unwrap_or("")).map_err(|e| invalid_param("step", e))?;
    if step <= 0 {
        return Err(invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    // Upstream divides Go durations (nanoseconds, saturating); the same
    // arithmetic keeps the edge identical.
    let span_ns = ((end as i128 - start as i128) * 1_000_000).min(i64::MAX as i128);
    if span_ns / (step as i128 * 1_000_000) > MAX_POINTS as i128 {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let (timeout, options, stats) = common_options(params)?;
    let expr = parse_query_param(params)?;
    match expr.value_type() {
        ValueType::Scalar | ValueType::Vector => {}
        other => {
            return Err(invalid_param(
                "query",
                format!(
                "invalid expression type {:?} for range query, must be Scalar or instant Vector",
                other.name()
            ),
            ))
        }
    }
    Ok(QuerySpec {
        expr,
        start,
        end,
        step,
        limit,
        timeout,
        options,
        stats,
    })
}

async fn instant_query(State(state): State<Arc<ApiState>>, params: Params) -> Response {
    let started = Instant::now();
    let r = match instant_spec(&params) {
        Ok(spec) => execute(&state, spec).await,
        Err(e) => Err(e),
    };
    observe(&state, "query", started);
    into_response(r)
}

async fn range_query(State(state): State<Arc<ApiState>>, params: Params) -> Response {
    let started = Instant::now();
    let r = match range_spec(&params) {
        Ok(spec) => execute(&state, spec).await,
        Err(e) => Err(e),
    };
    observe(&state, "query_range", started);
    into_response(r)
}

fn into_response(r: Result<Success, ApiError>) -> Response {
    match r {
        Ok(s) => s.into_response(),
        Err(e) => e.into_response(),
    }
}

/// What a job running in a query slot is told.
struct Slot {
    /// Time spent waiting for the slot.
    queued: Duration,
    /// Time left of the query's budget.
    remaining: Duration,
    /// Set when the request went away.
    cancel: Arc<AtomicBool>,
}

/// Runs `job` on the blocking pool once a query slot is free, within
/// `timeout` (which counts the wait, as upstream's queue does). The slot
/// is held until the job returns, even if the request is gone. A panic in
/// the job becomes `execution: unexpected error: …`, as Prometheus
/// reports a runtime panic during evaluation.
async fn run_in_slot<T, F>(state: &ApiState, timeout: Duration, job: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Slot) -> Result<T, ApiError> + Send + 'static,
{
    let queued_at = tokio::time::Instant::now();
    // A timeout too large to add is as good as none.
    let deadline = queued_at
        .checked_add(timeout)
        .unwrap_or_else(|| queued_at + Duration::from_secs(100 * 365 * 86_400));
    let slots = Arc::clone(&state.query_slots);
    let permit = match tokio::time::timeout_at(deadline, slots.acquire_owned()).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => return Err(ApiError::internal("query slots closed")),
        Err(_) => {
            return Err(ApiError::new(
                ErrorType::Timeout,
                "query timed out in query queue",
            ))
        }
    };
    let queued = queued_at.elapsed();
    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    let handle = blocking::run_cancellable(move |cancel| {
        let _permit = permit;
        job(Slot {
            queued,
            remaining,
            cancel,
        })
    });
    match handle.await {
        Ok(r) => r,
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            tracing::error!(panic = %msg, "runtime panic during query evaluation");
            Err(ApiError::new(
                ErrorType::Execution,
                format!("unexpected error: {msg}"),
            ))
        }
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

/// Evaluates a parsed query and encodes its answer.
async fn execute(state: &Arc<ApiState>, spec: QuerySpec) -> Result<Success, ApiError> {
    let exec_start = Instant::now();
    let engine_timeout = state.engine.options().timeout;
    let timeout = spec
        .timeout
        .map_or(engine_timeout, |t| t.min(engine_timeout));
    let st = Arc::clone(state);
    run_in_slot(state, timeout, move |slot| {
        // Everything below allocates on this thread, the answer's JSON
        // included, so all of it counts against the query's memory budget.
        let budget = st
            .query_memory_limit
            .map(|limit| MemoryBudget::new(limit, Arc::clone(&slot.cancel)));
        let _scope = budget.as_ref().map(MemoryBudget::enter);
        let over_budget = || {
            budget
                .as_ref()
                .filter(|b| b.tripped())
                .map(|b| too_much_memory(b.limit()))
        };
        let mut options = spec.options.clone();
        options.timeout = Some(slot.remaining);
        let (workers, _extra_slots) = query_workers::grant(&st.query_slots, budget.as_ref());
        options.workers = workers.clone();
        let engine = &st.engine;
        // Remote reads give up when the query does.
        let deadline = Instant::now().checked_add(slot.remaining);
        let storage = st.queryable.view(Arc::clone(&slot.cancel), deadline);
        let r = if spec.step == 0 {
            engine.instant_with_options(&storage, &spec.expr, spec.start, &options, &slot.cancel)
        } else {
            // The cache may evaluate two parts; both share the time left.
            let eval = |from: i64, to: i64| {
                let mut options = options.clone();
                options.timeout = Some(deadline.map_or(slot.remaining, |d| {
                    d.saturating_duration_since(Instant::now())
                }));
                engine.range_with_options(
                    &storage,
                    &spec.expr,
                    from,
                    to,
                    spec.step,
                    &options,
                    &slot.cancel,
                )
            };
            match &st.query_cache {
                Some(cache) => {
                    let key = (spec.stats == StatsMode::None && storage.is_local())
                        .then(|| {
                            Key::for_query(
                                &spec.expr,
                                spec.start,
                                spec.step,
                                spec.options.lookback_delta,
                            )
                        })
                        .flatten();
                    match key {
                        Some(key) => cache.range(key, spec.start, spec.end, eval),
                        None => {
                            cache.note_uncacheable();
                            eval(spec.start, spec.end)
                        }
                    }
                }
                None => eval(spec.start, spec.end),
            }
        };
        let mut r = r.map_err(|e| over_budget().unwrap_or_else(|| ApiError::from_promql(e)))?;
        // Storage's warnings (failed remote reads) come first.
        let mut warnings = std::mem::take(&mut r.warnings);
        if spec.limit > 0 && truncate(&mut r.value, spec.limit) {
            warnings.push("results truncated due to limit".into());
        }
        let stats = (spec.stats != StatsMode::None).then(|| {
            let s = &r.stats;
            let secs = |d: Duration| d.as_secs_f64();
            Timings {
                eval_total: secs(s.eval_time),
                result_sort: secs(s.sort_time),
                query_preparation: secs(s.prepare_time),
                inner_eval: secs(s.eval_time.saturating_sub(s.prepare_time + s.sort_time)),
                exec_queue: secs(slot.queued),
                exec_total: secs(exec_start.elapsed()),
            }
        });
        let stats = stats.map(|timings| Stats {
            timings,
            samples: &r.stats,
            start: spec.start,
            step: spec.step.max(1),
        });
        let data = encode::query_data(&r.value, stats.as_ref(), &workers);
        if let Some(e) = over_budget() {
            return Err(e);
        }
        Ok(Success {
            data,
            warnings,
            infos: r.infos,
        })
    })
    .await
}

/// The answer to a query that went over `--query.max-memory`: 422, like
/// one over `--query.max-samples`.
fn too_much_memory(limit: usize) -> ApiError {
    ApiError::new(
        ErrorType::Execution,
        format!(
            "query processing would use too much memory: more than {limit} bytes (--query.max-memory)"
        ),
    )
}

/// Keeps the first `limit` series of a vector or matrix; whether any were
/// dropped.
fn truncate(v: &mut Value, limit: usize) -> bool {
    match v {
        Value::Vector(s) if s.len() > limit => s.truncate(limit),
        Value::Matrix(s) if s.len() > limit => s.truncate(limit),
        _ => return false,
    }
    true
}

/// Whether the expression reads any series.
fn has_selector(e: &Expr) -> bool {
    match e {
        Expr::Vector(_) | Expr::Matrix(_) => true,
        Expr::Number(_) | Expr::String(_) => false,
        Expr::Subquery(sq) => has_selector(&sq.expr),
        Expr::Paren(e) | Expr::Unary(_, e) => has_selector(e),
        Expr::Binary(b) => has_selector(&b.lhs) || has_selector(&b.rhs),
        Expr::Aggregate(a) => has_selector(&a.expr) || a.param.as_deref().is_some_and(has_selector),
        Expr::Call(c) => c.args.iter().any(has_selector),
    }
}

/// Exemplars: the parameters are checked as Prometheus does, but there is
/// no exemplar storage, so the answer is always empty (as Prometheus's
/// without `--enable-feature=exemplar-storage`).
async fn query_exemplars(State(state): State<Arc<ApiState>>, params: Params) -> Response {
    let started = Instant::now();
    let r = exemplars(&params);
    observe(&state, "query_exemplars", started);
    match r {
        Ok(true) => Success::raw(b"[]".to_vec()).into_response(),
        // Upstream answers a query without selectors with no data at all.
        Ok(false) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

fn exemplars(params: &Params) -> Result<bool, ApiError> {
    let start = time_param(params, "start", MIN_TIME)?;
    let end = time_param(params, "end", MAX_TIME)?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start timestamp",
        ));
    }
    let expr = promql::parse(params.get("query").unwrap_or(""))
        .map_err(|e| ApiError::bad_data(e.to_string()))?;
    Ok(has_selector(&expr))
}

/// The query in Prometheus's multi-line layout.
async fn format_query(params: Params) -> Result<Success, ApiError> {
    let expr = parse_query_param(&params)?;
    let mut data = Vec::new();
    encode::push_string(&mut data, &promql::pretty(&expr), encode::Escaper::Jsoniter);
    Ok(Success::raw(data))
}

/// The query's syntax tree.
async fn parse_query(params: Params) -> Result<Success, ApiError> {
    let expr = parse_query_param(&params)?;
    Ok(Success::raw(ast_json(&expr)))
}

/// The duration histogram of each registry (tests build several states;
/// a registry holds one family of a name).
static DURATIONS: Mutex<Vec<(Weak<Registry>, HistogramVec)>> = Mutex::new(Vec::new());

/// Records how long an endpoint took in
/// `ferroprom_query_duration_seconds{endpoint}`, a histogram (Prometheus's
/// own `prometheus_engine_query_duration_seconds` is a summary per stage).
pub(crate) fn observe(state: &ApiState, endpoint: &str, started: Instant) {
    let family = {
        let mut all = DURATIONS.lock();
        all.retain(|(w, _)| w.strong_count() > 0);
        let ptr = Arc::as_ptr(&state.registry);
        match all.iter().find(|(w, _)| w.as_ptr() == ptr) {
            Some((_, f)) => f.clone(),
            None => {
                let f = state.registry.histogram_vec(
                    "ferroprom_query_duration_seconds",
                    "Time taken to answer query and metadata API requests.",
                    &["endpoint"],
                    DEFAULT_BUCKETS,
                );
                all.push((Arc::downgrade(&state.registry), f.clone()));
                f
            }
        }
    };
    family
        .with(&[endpoint])
        .observe(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn p(q: &str) -> Params {
        Params::parse(q)
    }

    fn err<T>(r: Result<T, ApiError>) -> (ErrorType, String) {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => (e.kind, e.msg),
        }
    }

    #[test]
    fn range_checks_in_upstream_order() {
        use ErrorType::BadData;
        let cases = [
            ("start=x&end=y&step=z&limit=-1", r#"invalid parameter "limit": limit must be non-negative"#),
            ("end=1&step=1&query=up", r#"invalid parameter "start": cannot parse "" to a valid timestamp"#),
            ("start=x&end=1&step=1", r#"invalid parameter "start": cannot parse "x" to a valid timestamp"#),
            ("start=1&end=x&step=1", r#"invalid parameter "end": cannot parse "x" to a valid timestamp"#),
            ("start=2&end=1&step=x", r#"invalid parameter "end": end timestamp must not be before start time"#),
            ("start=1&end=2", r#"invalid parameter "step": cannot parse "" to a valid duration"#),
            ("start=1&end=2&step=1x", r#"invalid parameter "step": cannot parse "1x" to a valid duration"#),
            ("start=1&end=2&step=0", r#"invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer"#),
            ("start=1&end=2&step=-1s", r#"invalid parameter "step": cannot parse "-1s" to a valid duration"#),
            ("start=1&end=2&step=-1", r#"invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer"#),
            ("start=0&end=11001&step=1", "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"),
            ("start=0&end=1&step=1&timeout=x", r#"invalid parameter "timeout": cannot parse "x" to a valid duration"#),
            ("start=0&end=1&step=1&lookback_delta=x", r#"error parsing lookback delta duration: cannot parse "x" to a valid duration"#),
            ("start=0&end=1&step=1", r#"invalid parameter "query": 1:1: parse error: no expression found in input"#),
            ("start=0&end=1&step=1&query=up[5m]", r#"invalid parameter "query": invalid expression type "range vector" for range query, must be Scalar or instant Vector"#),
            ("start=0&end=1&step=1&query=%22s%22", r#"invalid parameter "query": invalid expression type "string" for range query, must be Scalar or instant Vector"#),
        ];
        for (q, want) in cases {
            assert_eq!(err(range_spec(&p(q))), (BadData, want.to_string()), "{q}");
        }
        // 11,000 points exactly is fine.
        let s = range_spec(&p("start=0&end=11000&step=1&query=up")).unwrap();
        assert_eq!((s.start, s.end, s.step), (0, 11_000_000, 1000));
    }

    #[test]
    fn instant_checks_in_upstream_order() {
        use ErrorType::BadData;
        let cases = [
            (
                "limit=x&time=x",
                r#"invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax"#,
            ),
            (
                "time=x&timeout=x",
                r#"invalid parameter "time": invalid time value for 'time': cannot parse "x" to a valid timestamp"#,
            ),
            (
                "time=1&timeout=1y1",
                r#"invalid parameter "timeout": cannot parse "1y1" to a valid duration"#,
            ),
            (
                "lookback_delta=1k&query=(",
                r#"error parsing lookback delta duration: cannot parse "1k" to a valid duration"#,
            ),
            (
                "query=sum(",
                r#"invalid parameter "query": 1:5: parse error: unexpected end of input"#,
            ),
        ];
        for (q, want) in cases {
            let (kind, msg) = err(instant_spec(&p(q)));
            assert_eq!(kind, BadData, "{q}");
            if want.ends_with("unexpected end of input") {
                assert!(
                    msg.starts_with(r#"invalid parameter "query": 1:"#),
                    "{q}: {msg}"
                );
                assert!(msg.contains("parse error"), "{q}: {msg}");
            } else {
                assert_eq!(msg, want, "{q}");
            }
        }
        let s = instant_spec(&p(
            "query=1%2B1&time=4&stats=all&lookback_delta=1m&timeout=1m0s",
        ))
        .unwrap();
        assert_eq!((s.start, s.end, s.step), (4000, 4000, 0));
        assert_eq!(s.stats, StatsMode::PerStep);
        assert_eq!(s.options.lookback_delta, Some(60_000));
        assert_eq!(s.timeout, Some(Duration::from_secs(60)));
        assert_eq!(
            instant_spec(&p("query=1&stats=1")).unwrap().stats,
            StatsMode::Summary
        );
        assert_eq!(
            instant_spec(&p("query=1&stats=")).unwrap().stats,
            StatsMode::None
        );
        let now = now_ms();
        let t = instant_spec(&p("query=1")).unwrap().start;
        assert!((t - now).abs() < 5_000);
    }

    #[test]
    fn exemplar_checks() {
        assert!(exemplars(&p("query=test&start=1795632293785&end=1795634093785")).unwrap());
        assert!(!exemplars(&p("query=1%2B1")).unwrap());
        assert!(exemplars(&p("query=sum(rate(x[5m]))")).unwrap());
        assert_eq!(
            err(exemplars(&p("query=up&start=2&end=1"))),
            (
                ErrorType::BadData,
                "end timestamp must not be before start timestamp".into()
            )
        );
        assert_eq!(
            err(exemplars(&p("query=up&start=x"))),
            (
                ErrorType::BadData,
                r#"invalid parameter "start": invalid time value for 'start': cannot parse "x" to a valid timestamp"#.into()
            )
        );
        assert_eq!(
            err(exemplars(&p("query="))),
            (
                ErrorType::BadData,
                "1:1: parse error: no expression found in input".into()
            )
        );
    }

    struct NoScrape;

    impl crate::scrape::status::ScrapeStatus for NoScrape {
        fn active_targets(&self) -> Vec<crate::scrape::status::ActiveTarget> {
            Vec::new()
        }
        fn dropped_targets(&self) -> Vec<crate::scrape::status::DroppedTarget> {
            Vec::new()
        }
        fn metadata(&self) -> Vec<(storage::Labels, Vec<crate::scrape::status::MetricMetadata>)> {
            Vec::new()
        }
    }

    fn state(slots: usize) -> (tempfile::TempDir, ApiState) {
        let dir = tempfile::tempdir().unwrap();
        let opts = storage::Options {
            compaction_interval: None,
            ..storage::Options::default()
        };
        let db = Arc::new(storage::Db::open(dir.path(), opts).unwrap());
        let state = ApiState {
            queryable: Arc::new(crate::remote::FanoutStorage::new(Arc::clone(&db))),
            db,
            engine: promql::Engine::new(promql::EngineOptions::default()),
            query_slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            query_memory_limit: None,
            query_cache: None,
            config: Default::default(),
            flags: Default::default(),
            scrape: Arc::new(NoScrape),
            reload: None,
            quit: None,
            admin_enabled: false,
            remote_write_enabled: false,
            remote_metadata: Default::default(),
            remote_refs: Default::default(),
            remote_bodies: Default::default(),
            remote_write_limits: Default::default(),
            ready: Arc::new(AtomicBool::new(true)),
            registry: Arc::new(Registry::new()),
            start_time: SystemTime::now(),
            storage_retention: String::new(),
            notifier: None,
            rules: None,
        };
        (dir, state)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_panicking_query_is_an_execution_error() {
        let (_dir, st) = state(1);
        let r: Result<(), _> = run_in_slot(&st, Duration::from_secs(5), |_| {
            panic!("index out of bounds: {}", 7)
        })
        .await;
        assert_eq!(
            err(r),
            (
                ErrorType::Execution,
                "unexpected error: index out of bounds: 7".into()
            )
        );
        let r: Result<(), _> = run_in_slot(&st, Duration::from_secs(5), |_| panic!("boom")).await;
        assert_eq!(err(r).1, "unexpected error: boom");
        // The slot came back and queries still run.
        assert_eq!(st.query_slots.available_permits(), 1);
        let ok = run_in_slot(&st, Duration::from_secs(5), |_| Ok(41 + 1)).await;
        assert_eq!(ok.unwrap(), 42);
        let ok = run_in_slot(&st, Duration::MAX, |slot| Ok(slot.remaining)).await;
        assert!(ok.unwrap() > Duration::from_secs(86_400));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn dropping_the_request_cancels_the_query() {
        let (_dir, st) = state(1);
        let (tx, rx) = std::sync::mpsc::channel();
        let job = run_in_slot(&st, Duration::from_secs(60), move |slot| {
            let started = Instant::now();
            while !slot.cancel.load(Ordering::Relaxed) {
                if started.elapsed() > Duration::from_secs(20) {
                    let _ = tx.send(false);
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = tx.send(true);
            Ok(())
        });
        // The client gives up: the request future is dropped mid-query.
        assert!(tokio::time::timeout(Duration::from_millis(100), job)
            .await
            .is_err());
        let seen = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
            .await
            .unwrap();
        assert_eq!(seen, Ok(true));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_slot_is_held_until_the_query_ends() {
        let (_dir, st) = state(1);
        let st = Arc::new(st);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let first = {
            let st = Arc::clone(&st);
            tokio::spawn(async move {
                run_in_slot(&st, Duration::from_secs(30), move |slot| {
                    let _ = wait.recv();
                    Ok(slot.queued)
                })
                .await
            })
        };
        while st.query_slots.available_permits() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let r = run_in_slot(&st, Duration::from_millis(30), |_| Ok(())).await;
        assert_eq!(
            err(r),
            (ErrorType::Timeout, "query timed out in query queue".into())
        );
        release.send(()).unwrap();
        assert!(first.await.unwrap().unwrap() < Duration::from_secs(30));
        let queued = run_in_slot(&st, Duration::from_secs(30), |slot| Ok(slot.remaining)).await;
        assert!(queued.unwrap() > Duration::from_secs(29));
    }

    #[test]
    fn truncation() {
        let s = |n: usize| {
            (0..n)
                .map(|i| promql::Sample {
                    metric: storage::Labels::from_pairs([("i", i.to_string())]),
                    t: 0,
                    v: 0.0,
                })
                .collect::<Vec<_>>()
        };
        let mut v = Value::Vector(s(3));
        assert!(!truncate(&mut v, 3));
        assert!(truncate(&mut v, 2));
        assert_eq!(v, Value::Vector(s(2)));
        let mut v = Value::Scalar { t: 0, v: 1.0 };
        assert!(!truncate(&mut v, 1));
    }
}
