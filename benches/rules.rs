//! Rule evaluation benchmark: one group of 1,000 recording rules over
//! 10,000 series (100 counters `m_0`…`m_99`, 100 series each, labels `job`
//! (10 values), `zone` (4) and `instance`), evaluated through the real
//! evaluation core (`Group::eval`, the PromQL engine, results appended to a
//! real `Db` with its WAL) once per iteration.
//!
//! Each iteration first appends one new sample to every input series and
//! then evaluates the group at that timestamp, 15 s after the previous
//! one, so `rate` windows stay full and every rule writes fresh samples;
//! only the evaluation is timed. Per metric the ten rules mix
//! aggregations of `rate`, a per-series arithmetic copy (100 output
//! series), aggregations of the raw values, and a filtered sum.
//!
//! Run: `cargo bench --bench rules`. The target is one evaluation in under
//! 20% of a 15 s interval (3 s) on one core. With `RULES_BENCH_CPU_TIME=1`
//! an evaluation is timed by the thread's CPU clock instead of the wall
//! clock (on a shared machine the wall clock also counts waiting for a
//! core).

use std::cell::Cell;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use ferroprom::rules::rule_file::{parse_rule_file, ParseOptions};
use ferroprom::rules::{AlertSink, EvalContext, Group, GroupDefaults, OutgoingAlert, Settings};
use promql::Engine;
use storage::{Db, Labels, Options};

const METRICS: usize = 100;
const SERIES_PER_METRIC: usize = 100;
const INTERVAL: i64 = 15_000;
/// Samples written before the first evaluation: six minutes, so the first
/// `rate(...[5m])` already has a full window.
const HISTORY: i64 = 25;

/// Recording rules do not alert; nothing reaches the sink.
struct NoSink;

impl AlertSink for NoSink {
    fn send(&self, _alerts: Vec<OutgoingAlert>) {}
}

/// The 10,000 input series, with each one's increment per sample.
fn input_series() -> Vec<(Labels, f64)> {
    let mut out = Vec::with_capacity(METRICS * SERIES_PER_METRIC);
    for m in 0..METRICS {
        for s in 0..SERIES_PER_METRIC {
            out.push((
                Labels::from_pairs([
                    ("__name__", format!("m_{m}")),
                    ("instance", format!("host-{s}:9100")),
                    ("job", format!("job_{}", s % 10)),
                    ("zone", format!("zone_{}", s % 4)),
                ]),
                (1 + (m + s) % 7) as f64,
            ));
        }
    }
    out
}

/// Ten rules per metric, 1,000 in all, as one rule file's text.
fn rule_file() -> String {
    let mut y = String::from("groups:\n- name: bench\n  rules:\n");
    for m in 0..METRICS {
        let exprs = [
            format!("sum by (job) (rate(m_{m}[5m]))"),
            format!("m_{m} * 2"),
            format!("sum by (zone) (rate(m_{m}[1m]))"),
            format!("avg by (job, zone) (m_{m})"),
            format!("sum(rate(m_{m}{{job=\"job_3\"}}[5m]))"),
            format!("max by (job) (m_{m}) - min by (job) (m_{m})"),
            format!("sum by (job) (increase(m_{m}[2m]))"),
            format!("count by (zone) (m_{m} > 100)"),
            format!("sum without (instance) (rate(m_{m}[5m]))"),
            format!("topk(3, rate(m_{m}[5m]))"),
        ];
        for (k, e) in exprs.iter().enumerate() {
            y.push_str(&format!(
                "  - record: rule_{k}:m_{m}:bench\n    expr: '{e}'\n"
            ));
        }
    }
    y
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn bench_rules(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        compaction_interval: None,
        retention: None,
        ..Options::default()
    };
    // The server's WAL policy (fsync on every client commit): rule results
    // are committed without waiting and fsynced once per evaluation.
    let db = Db::open(dir.path(), opts).unwrap();
    let series = input_series();
    let mut refs = Vec::with_capacity(series.len());
    let step = Cell::new(0i64);
    // One more sample on every input series, at the next step.
    let append_step = |refs: &mut Vec<u64>| {
        let k = step.get();
        let t = k * INTERVAL;
        let mut app = db.appender();
        for (j, (l, inc)) in series.iter().enumerate() {
            let v = k as f64 * inc;
            if refs.len() <= j {
                refs.push(app.append(l, t, v).unwrap());
            } else {
                app.append_ref(refs[j], t, v).unwrap();
            }
        }
        app.commit().unwrap();
        step.set(k + 1);
        t
    };
    for _ in 0..HISTORY {
        append_step(&mut refs);
    }

    let file = parse_rule_file(&rule_file(), &ParseOptions::default()).unwrap();
    let defaults = GroupDefaults {
        interval_ms: INTERVAL,
        query_offset_ms: 0,
    };
    let mut group = Group::new("bench.yml", &file.groups[0], defaults, false).unwrap();
    assert_eq!(group.rules().len(), 1_000);
    let engine = Engine::new(Default::default());
    let settings = Settings::default();
    let cancel = AtomicBool::new(false);
    let sink = NoSink;
    let ctx = EvalContext {
        engine: &engine,
        queryable: &db,
        db: &db,
        sink: &sink,
        settings: &settings,
        metrics: None,
        cancel: &cancel,
    };
    let cpu_time = std::env::var_os("RULES_BENCH_CPU_TIME").is_some();

    let mut g = c.benchmark_group("rules");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(30));
    g.bench_function("eval_1000_rules_10k_series", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let ts = append_step(&mut refs);
                let (wall, cpu) = (Instant::now(), thread_cpu_time());
                group.eval(ts, &ctx);
                took += if cpu_time {
                    thread_cpu_time() - cpu
                } else {
                    wall.elapsed()
                };
            }
            took
        })
    });
    g.finish();

    let failed: Vec<_> = group
        .rules()
        .iter()
        .filter(|r| r.status().health != ferroprom::rules::Health::Ok)
        .map(|r| format!("{}: {:?}", r.name(), r.status().last_error))
        .collect();
    assert!(failed.is_empty(), "rules failed: {failed:?}");
}

criterion_group!(benches, bench_rules);
criterion_main!(benches);
