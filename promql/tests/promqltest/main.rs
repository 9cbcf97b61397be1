//! PromQL conformance runner: executes the upstream Prometheus `.test`
//! scripts (from `../shared/conformance/promql`, when present) and our own
//! (`testdata/promql/`) against ferroprom's engine, prints a per-file score,
//! and fails when a case listed in `tests/conformance-baseline.txt` no longer
//! passes.
//!
//! Environment:
//! - `PROMQL_UPDATE_BASELINE=1` rewrites the baseline with the passing set.
//! - `PROMQL_VERBOSE=1` prints every failing case with its reason.
//! - `PROMQL_FILTER=<substr>` runs only files whose key contains it.
//! - `PROMQL_CASE_TIMEOUT_SECS=<n>` per-case time limit (default 10).

// Their unit tests run from `units.rs`.
#[allow(dead_code)]
mod compare;
mod glue;
#[allow(dead_code)]
mod script;
mod wide;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use promql::ast::{At, Expr};
use promql::{Labels, Matcher, QueryResult, Value};
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Options};

use compare::Grid;
use script::{Cmd, Eval, EvalKind, Load, Point};

/// Upstream files whose float cases make up the "core" score.
const CORE_FILES: &[&str] = &[
    "literals",
    "selectors",
    "staleness",
    "collision",
    "range_queries",
    "operators",
    "aggregators",
    "functions",
    "subquery",
    "at_modifier",
    "trig_functions",
    "name_label_dropping",
    "histograms",
];

/// Functions whose result depends on the evaluation time even with
/// step-invariant arguments; upstream skips the `@` re-run for them.
const AT_UNSAFE_FUNCTIONS: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
    // Query-wide constants: an instant query's start/end is its time.
    "start",
    "end",
    "step",
    "range",
];

const MINUTE: i64 = 60_000;

struct CaseResult {
    /// `functions.test:123` or `testdata/promql/grafana.test:7`.
    key: String,
    native: bool,
    outcome: Result<(), String>,
}

/// The storage state between `clear`s.
struct Env {
    dir: tempfile::TempDir,
    db: Arc<Db>,
    /// Label sets of series that hold native histograms (which this runner
    /// cannot load): the `{{…}}` series and the `load_with_nhcb` conversions.
    histogram_series: Vec<Labels>,
}

fn db_options() -> Options {
    Options {
        // Huge, so that no sample of a script is out of the head's bounds.
        block_range: 100 * 365 * 86_400_000,
        retention: None,
        compaction_interval: None,
        wal: WalOptions {
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        },
        ..Options::default()
    }
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("create tempdir");
        let db = Db::open(dir.path(), db_options()).expect("open db");
        Env {
            dir,
            db: Arc::new(db),
            histogram_series: Vec::new(),
        }
    }

    /// Appends a `load` block, all series step by step in time order.
    fn load(&mut self, ld: &Load) -> Result<(), String> {
        let mut samples: Vec<(i64, usize, f64)> = Vec::new();
        for (i, s) in ld.series.iter().enumerate() {
            if s.has_histogram() {
                self.histogram_series.push(s.labels.clone());
            }
            for (k, p) in s.points.iter().enumerate() {
                if let Point::Float(v) = p {
                    samples.push((k as i64 * ld.interval_ms, i, *v));
                }
            }
        }
        if ld.nhcb {
            for s in &ld.series {
                if let Some(base) = nhcb_base(&s.labels) {
                    if !self.histogram_series.contains(&base) {
                        self.histogram_series.push(base);
                    }
                }
            }
        }
        samples.sort_by_key(|&(t, i, _)| (t, i));
        let mut app = self.db.appender();
        let mut rejected = 0usize;
        for (t, i, v) in samples {
            if app.append(&ld.series[i].labels, t, v).is_err() {
                rejected += 1;
            }
        }
        app.commit()
            .map_err(|e| format!("commit of load at line {}: {e}", ld.line))?;
        if rejected > 0 {
            return Err(format!(
                "load at line {}: {rejected} samples rejected",
                ld.line
            ));
        }
        Ok(())
    }
}

/// The native-histogram series `load_with_nhcb` derives from a classic
/// histogram series: `x_bucket{le=…}`, `x_count`, `x_sum` → `x`.
fn nhcb_base(l: &Labels) -> Option<Labels> {
    let name = l.get("__name__");
    let base = ["_bucket", "_count", "_sum"]
        .iter()
        .find_map(|suf| name.strip_suffix(suf))?;
    if name.ends_with("_bucket") && l.get("le").is_empty() {
        return None;
    }
    Some(Labels::new(
        l.iter()
            .filter(|p| p.name != "le")
            .map(|p| {
                if p.name == "__name__" {
                    promql::Label::new("__name__", base)
                } else {
                    p.clone()
                }
            })
            .collect(),
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        // `cargo test -- --list`: this harness-less binary has one "test".
        println!("promqltest: test");
        return;
    }
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // `shared/` sits next to the checkout, which may be nested (a worktree).
    let upstream_dir = manifest
        .ancestors()
        .map(|d| d.join("shared/conformance/promql"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| manifest.join("../../shared/conformance/promql"));
    let ours_dir = manifest.join("../testdata/promql");
    let baseline_path = manifest.join("tests/conformance-baseline.txt");
    let filter = std::env::var("PROMQL_FILTER").ok();
    let verbose = std::env::var("PROMQL_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0");
    let update = std::env::var("PROMQL_UPDATE_BASELINE").is_ok_and(|v| !v.is_empty() && v != "0");
    let timeout = Duration::from_secs(
        std::env::var("PROMQL_CASE_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
    );

    if !glue::AVAILABLE {
        println!("note: PromQL parser/engine not wired in yet; every case fails");
    }

    // (key prefix, path)
    let mut files: Vec<(String, PathBuf, bool)> = Vec::new();
    let have_upstream = upstream_dir.is_dir();
    if have_upstream {
        for p in test_files(&upstream_dir) {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            files.push((name, p, true));
        }
    } else {
        println!(
            "SKIP upstream conformance: {} not found (only testdata/promql runs)",
            upstream_dir.display()
        );
    }
    for p in test_files(&ours_dir) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        files.push((format!("testdata/promql/{name}"), p, false));
    }
    if let Some(f) = &filter {
        files.retain(|(k, _, _)| k.contains(f.as_str()));
    }

    let mut results: Vec<(String, bool, Vec<CaseResult>)> = Vec::new();
    for (key, path, upstream) in &files {
        let src = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                println!("{key}: cannot read: {e}");
                continue;
            }
        };
        let cases = run_file(key, &src, timeout, verbose);
        results.push((key.clone(), *upstream, cases));
    }

    // Report.
    let mut passing: BTreeSet<(String, usize)> = BTreeSet::new();
    let (mut all_p, mut all_t, mut core_p, mut core_t, mut nat_p, mut nat_t) = (0, 0, 0, 0, 0, 0);
    println!();
    for (key, upstream, cases) in &results {
        let (mut p, mut t, mut np, mut nt) = (0, 0, 0, 0);
        for c in cases {
            let ok = c.outcome.is_ok();
            if ok {
                let (f, l) = c.key.rsplit_once(':').unwrap();
                passing.insert((f.to_string(), l.parse().unwrap()));
            }
            if c.native {
                nt += 1;
                np += ok as usize;
            } else {
                t += 1;
                p += ok as usize;
            }
        }
        let stem = key.strip_suffix(".test").unwrap_or(key);
        if *upstream && CORE_FILES.contains(&stem) {
            core_p += p;
            core_t += t;
        }
        all_p += p + np;
        all_t += t + nt;
        nat_p += np;
        nat_t += nt;
        if nt > 0 {
            println!("{key}: {p}/{t} (native-histogram unsupported: {np}/{nt})");
        } else {
            println!("{key}: {p}/{t}");
        }
    }
    let parse_failures = results
        .iter()
        .flat_map(|(_, _, cs)| cs.iter())
        .filter(|c| {
            c.outcome
                .as_ref()
                .is_err_and(|e| e.starts_with("parse error"))
        })
        .count();
    if parse_failures > 0 {
        println!("cases whose query does not parse: {parse_failures}");
    }
    println!(
        "total: {}/{} (native-histogram unsupported: {nat_p}/{nat_t}); {} queries in {:.1}s",
        all_p - nat_p,
        all_t - nat_t,
        glue::QUERIES.load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );

    // Ratchet.
    let baseline = read_baseline(&baseline_path);
    let ran: BTreeSet<&str> = results.iter().map(|(k, _, _)| k.as_str()).collect();
    let all_results: BTreeMap<(String, usize), &CaseResult> = results
        .iter()
        .flat_map(|(_, _, cs)| cs.iter())
        .map(|c| {
            let (f, l) = c.key.rsplit_once(':').unwrap();
            ((f.to_string(), l.parse().unwrap()), c)
        })
        .collect();
    let mut regressions = Vec::new();
    for entry in &baseline {
        if !ran.contains(entry.0.as_str()) {
            continue; // file absent (no upstream checkout) or filtered out
        }
        match all_results.get(entry) {
            Some(c) if c.outcome.is_ok() => {}
            Some(c) => {
                regressions.push(format!("{}: {}", c.key, c.outcome.as_ref().err().unwrap()))
            }
            None => regressions.push(format!("{}:{}: no such eval case", entry.0, entry.1)),
        }
    }
    if update {
        // Keep entries of files that did not run (no upstream, filtered).
        let mut new: BTreeSet<(String, usize)> = baseline
            .iter()
            .filter(|e| !ran.contains(e.0.as_str()))
            .cloned()
            .collect();
        new.extend(passing.iter().cloned());
        let text: String = new.iter().map(|(f, l)| format!("{f}:{l}\n")).collect();
        std::fs::write(&baseline_path, text).expect("write baseline");
        println!("baseline updated: {} passing cases", new.len());
    } else {
        let newly = passing.iter().filter(|e| !baseline.contains(*e)).count();
        if newly > 0 {
            println!(
                "{newly} passing cases are not in the baseline (PROMQL_UPDATE_BASELINE=1 adds them)"
            );
        }
    }
    // Not a script: skipped when a filter picks files.
    if filter.is_none() {
        let wide = wide::check();
        println!("wide head, 1 thread against 2: {} failures", wide.len());
        regressions.extend(wide.into_iter().map(|f| format!("wide: {f}")));
    }
    if !regressions.is_empty() {
        println!("\nREGRESSIONS: {} baselined cases fail:", regressions.len());
        for r in &regressions {
            println!("  {r}");
        }
    }
    println!("promql conformance: core {core_p}/{core_t}, all {all_p}/{all_t}");
    if !regressions.is_empty() && !update {
        std::process::exit(1);
    }
    // Abandoned (timed-out) case threads must not keep the process alive.
    std::process::exit(0);
}

fn test_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    v.sort();
    v
}

fn read_baseline(path: &Path) -> BTreeSet<(String, usize)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeSet::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (f, n) = l.rsplit_once(':')?;
            Some((f.to_string(), n.parse().ok()?))
        })
        .collect()
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".into()
    }
}

fn run_file(key: &str, src: &str, timeout: Duration, verbose: bool) -> Vec<CaseResult> {
    let (cmds, errors) = script::parse_script(src);
    for e in &errors {
        println!("{key}: script error: {e}");
    }
    let mut env = Env::new();
    let mut load_error: Option<String> = None;
    let mut out = Vec::new();
    for cmd in cmds {
        match cmd {
            Cmd::Clear => {
                env = Env::new();
                load_error = None;
            }
            Cmd::Load(ld) => {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| env.load(&ld)));
                let r = r.unwrap_or_else(|p| Err(format!("load panicked: {}", panic_message(&*p))));
                if let Err(e) = r {
                    if verbose {
                        println!("{key}: {e}");
                    }
                    load_error.get_or_insert(e);
                }
            }
            Cmd::Eval(ev) => {
                let case_key = format!("{key}:{}", ev.line);
                let native = is_native_case(&ev, &env);
                let outcome = run_case_isolated(&env, (*ev).clone(), timeout);
                let outcome = match (outcome, &load_error) {
                    // Data the script meant to load is missing: say so.
                    (Err(e), Some(le)) => Err(format!("{e} (note: {le})")),
                    (o, _) => o,
                };
                if verbose {
                    if let Err(e) = &outcome {
                        println!(
                            "FAIL {case_key}{}: {}\n    {e}",
                            if native { " [nh]" } else { "" },
                            ev.expr
                        );
                    }
                }
                out.push(CaseResult {
                    key: case_key,
                    native,
                    outcome,
                });
            }
        }
    }
    drop(env.db);
    drop(env.dir);
    out
}

/// Whether a case needs native histograms: it expects histogram values, or
/// one of its selectors may select a series that holds native histograms.
fn is_native_case(ev: &Eval, env: &Env) -> bool {
    if ev.expect.has_histogram() {
        return true;
    }
    if env.histogram_series.is_empty() {
        return false;
    }
    match glue::parse(&ev.expr) {
        Ok(expr) => {
            let mut sels: Vec<Vec<Matcher>> = Vec::new();
            collect_selectors(&expr, &mut sels);
            sels.iter().any(|ms| {
                env.histogram_series
                    .iter()
                    .any(|l| ms.iter().all(|m| m.matches_labels(l)))
            })
        }
        // Without a syntax tree, look for the series' metric names among
        // the query's words.
        Err(_) => {
            let words: BTreeSet<&str> = ev
                .expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .collect();
            env.histogram_series.iter().any(|l| {
                let name = l.get("__name__");
                name.is_empty() || words.contains(name)
            })
        }
    }
}

fn collect_selectors(e: &Expr, out: &mut Vec<Vec<Matcher>>) {
    match e {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::Vector(v) => out.push(v.matchers.clone()),
        Expr::Matrix(m) => out.push(m.vector.matchers.clone()),
        Expr::Subquery(s) => collect_selectors(&s.expr, out),
        Expr::Paren(x) | Expr::Unary(_, x) => collect_selectors(x, out),
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                collect_selectors(p, out);
            }
            collect_selectors(&a.expr, out);
        }
        Expr::Call(c) => c.args.iter().for_each(|a| collect_selectors(a, out)),
    }
}

/// Runs one case on its own thread, so that a panic or a hang costs only
/// this case.
fn run_case_isolated(env: &Env, ev: Eval, timeout: Duration) -> Result<(), String> {
    let db = Arc::clone(&env.db);
    let cancel = Arc::new(AtomicBool::new(false));
    let cancel2 = Arc::clone(&cancel);
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("case-{}", ev.line))
        .stack_size(64 << 20)
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_case(&db, &ev, &cancel2)
            }));
            let r = r.unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(&*p))));
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return Err(format!("cannot spawn case thread: {e}"));
    }
    match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // Ask the engine to stop; the thread is abandoned either way.
            cancel.store(true, Ordering::Relaxed);
            Err(format!("timed out after {timeout:?}"))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("case thread died".into()),
    }
}

fn run_case(db: &Db, ev: &Eval, cancel: &AtomicBool) -> Result<(), String> {
    if let Some(e) = &ev.error {
        return Err(format!("malformed eval: {e}"));
    }
    let expr = glue::parse(&ev.expr).map_err(|e| format!("parse error: {e}"))?;
    if !glue::AVAILABLE {
        return Err("PromQL engine not available".into());
    }
    let x = &ev.expect;
    match ev.kind {
        EvalKind::Range { start, end, step } => {
            let r = glue::range(db, &expr, start, end, step, cancel);
            check_outcome(ev, r, Grid { start, end, step }).map(|_| ())
        }
        EvalKind::Instant { at } => {
            let (eval_t, grid) = match x.range_vector {
                Some((start, end, step)) => (end, Grid { start, end, step }),
                None => (
                    at,
                    Grid {
                        start: at,
                        end: i64::MIN,
                        step: 0,
                    },
                ),
            };
            let mut queries = vec![(expr.clone(), eval_t)];
            if let Some(with_at) = with_at_modifiers(&expr, eval_t) {
                let times: &[i64] = if eval_t == 0 {
                    &[-1000, 0, 1000]
                } else {
                    &[-10 * eval_t, 0, eval_t / 5, eval_t, 10 * eval_t]
                };
                for &t in times {
                    queries.push((with_at.clone(), t));
                }
            }
            let skip_range_mode = x.exclude_from_range_query() || uses_query_context(&ev.expr);
            for (i, (q, t)) in queries.iter().enumerate() {
                let label = if i == 0 {
                    String::new()
                } else {
                    format!(
                        " [with @ {}s, evaluated at {}s]",
                        eval_t as f64 / 1000.0,
                        *t as f64 / 1000.0
                    )
                };
                let r = glue::instant(db, q, *t, cancel);
                let value = match check_outcome(ev, r, grid).map_err(|e| format!("{e}{label}"))? {
                    Some(v) => v,
                    None => continue, // failed as expected
                };
                if skip_range_mode {
                    continue;
                }
                // The same query as a range query must agree at its middle step.
                let rr = glue::range(db, q, t - MINUTE, t + MINUTE, MINUTE, cancel)
                    .map_err(|e| format!("range mode: {e}{label}"))?;
                if x.ordered {
                    continue;
                }
                let Value::Matrix(m) = &rr.value else {
                    return Err(format!("range mode: result is not a matrix{label}"));
                };
                compare::check_sorted(m).map_err(|e| format!("range mode: {e}{label}"))?;
                let vec: Vec<promql::Sample> = m
                    .iter()
                    .filter_map(|s| {
                        s.points.iter().find(|p| p.0 == *t).map(|p| promql::Sample {
                            metric: s.metric.clone(),
                            t: p.0,
                            v: p.1,
                        })
                    })
                    .collect();
                let res = if let Value::Scalar { .. } = value {
                    match vec.first() {
                        Some(s) => {
                            compare::compare_value(x, &Value::Scalar { t: *t, v: s.v }, grid)
                        }
                        None => Err("scalar missing".into()),
                    }
                } else {
                    compare::compare_vector(x, &vec)
                };
                res.map_err(|e| format!("range mode: {e}{label}"))?;
            }
            Ok(())
        }
    }
}

/// Checks one query's outcome. `Ok(None)` when it failed as expected,
/// `Ok(Some(value))` when it succeeded as expected.
fn check_outcome(
    ev: &Eval,
    r: Result<QueryResult, String>,
    grid: Grid,
) -> Result<Option<Value>, String> {
    let x = &ev.expect;
    match (r, &x.fail) {
        (Err(e), Some(f)) => compare::check_failure(f, &e).map(|_| None),
        (Err(e), None) => Err(format!("query error: {e}")),
        (Ok(_), Some(_)) => Err("expected the query to fail, but it succeeded".into()),
        (Ok(res), None) => {
            compare::check_annotations(x, &res)?;
            compare::compare_value(x, &res.value, grid)?;
            Ok(Some(res.value))
        }
    }
}

/// `start()`, `end()`, `range()` or `step()` calls: upstream skips the
/// range-mode check for queries using them.
fn uses_query_context(q: &str) -> bool {
    ["start()", "end()", "range()", "step()"]
        .iter()
        .any(|f| q.contains(f))
}

/// The query with `@ t` on every selector and subquery lacking one (but not
/// inside a subquery that has one), or `None` when it calls a function whose
/// result depends on the evaluation time.
fn with_at_modifiers(e: &Expr, t: i64) -> Option<Expr> {
    let mut e = e.clone();
    let mut unsafe_fn = false;
    set_at(&mut e, t, &mut unsafe_fn);
    (!unsafe_fn).then_some(e)
}

fn set_at(e: &mut Expr, t: i64, unsafe_fn: &mut bool) {
    match e {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::Vector(v) => {
            v.at.get_or_insert(At::Timestamp(t));
        }
        Expr::Matrix(m) => {
            m.vector.at.get_or_insert(At::Timestamp(t));
        }
        // Everything inside now runs relative to the subquery's `@`.
        Expr::Subquery(s) => {
            s.at.get_or_insert(At::Timestamp(t));
        }
        Expr::Paren(x) | Expr::Unary(_, x) => set_at(x, t, unsafe_fn),
        Expr::Binary(b) => {
            set_at(&mut b.lhs, t, unsafe_fn);
            set_at(&mut b.rhs, t, unsafe_fn);
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &mut a.param {
                set_at(p, t, unsafe_fn);
            }
            set_at(&mut a.expr, t, unsafe_fn);
        }
        Expr::Call(c) => {
            if AT_UNSAFE_FUNCTIONS.contains(&c.func.name) {
                *unsafe_fn = true;
            }
            c.args.iter_mut().for_each(|a| set_at(a, t, unsafe_fn));
        }
    }
}
