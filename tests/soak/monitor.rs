//! Watching the server all along: RSS from /proc (VmRSS) every tick, and
//! every fifth tick the storage counters from its own `/metrics`; then the
//! flat-memory criterion over what was seen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::process::{rss_kib, Endpoint};

/// The `/metrics` values the soak follows.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub samples_appended: f64,
    pub head_series: f64,
    pub compactions: f64,
    pub compactions_failed: f64,
    pub time_retentions: f64,
    pub blocks: f64,
}

const NAMES: [&str; 6] = [
    "prometheus_tsdb_head_samples_appended_total{type=\"float\"}",
    "prometheus_tsdb_head_series",
    "prometheus_tsdb_compactions_total",
    "prometheus_tsdb_compactions_failed_total",
    "prometheus_tsdb_time_retentions_total",
    "prometheus_tsdb_blocks_loaded",
];

impl Counters {
    /// Picks the followed series out of a `/metrics` text; `None` when one
    /// is missing.
    pub fn parse(text: &str) -> Option<Counters> {
        let mut v = [None; NAMES.len()];
        for line in text.lines() {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            if let Some(i) = NAMES.iter().position(|n| *n == series) {
                v[i] = value.parse().ok();
            }
        }
        Some(Counters {
            samples_appended: v[0]?,
            head_series: v[1]?,
            compactions: v[2]?,
            compactions_failed: v[3]?,
            time_retentions: v[4]?,
            blocks: v[5]?,
        })
    }
}

/// One observation, `at` from the start of the run.
#[derive(Clone, Copy, Debug)]
pub struct Observation {
    pub at: Duration,
    pub epoch: u64,
    pub rss_kib: u64,
    pub counters: Option<Counters>,
}

/// Samples the live server every `every` until `stop`, into `out`.
pub fn run(
    start: Instant,
    every: Duration,
    endpoint: &Endpoint,
    stop: &AtomicBool,
    out: &Mutex<Vec<Observation>>,
) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut tick = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        if let Some(live) = endpoint.live() {
            if let Some(rss) = rss_kib(live.pid) {
                let counters = tick
                    .is_multiple_of(5)
                    .then(|| client.get(live.url("/metrics")).send().ok()?.text().ok())
                    .flatten()
                    .and_then(|text| Counters::parse(&text));
                out.lock().unwrap().push(Observation {
                    at: start.elapsed(),
                    epoch: live.epoch,
                    rss_kib: rss,
                    counters,
                });
                tick += 1;
            }
        }
        super::sleep_until(t + every, stop);
    }
}

/// Sum over the process's starts of the last value of a counter seen in
/// each (counters restart at zero with the process).
pub fn total(obs: &[Observation], f: impl Fn(&Counters) -> f64) -> f64 {
    let mut last: std::collections::BTreeMap<u64, f64> = Default::default();
    for o in obs {
        if let Some(c) = &o.counters {
            last.insert(o.epoch, f(c));
        }
    }
    last.values().sum()
}

/// The flat-memory criterion, with what it was computed from.
#[derive(Debug)]
pub struct RssVerdict {
    /// Max VmRSS (KiB) after warm-up and before the last quarter, the
    /// restart's re-warm-up left out.
    pub reference: u64,
    /// Max VmRSS (KiB) in the last quarter of the run.
    pub last_quarter: u64,
    /// Max VmRSS (KiB) during either warm-up (reported, not judged).
    pub warm_up_max: u64,
    pub ok: bool,
}

/// Largest growth allowed: the last quarter's max may exceed the reference
/// by 25%, plus [`RSS_GROWTH_SLACK_KIB`].
pub const RSS_GROWTH_LIMIT: f64 = 1.25;

/// A fixed allowance on top of the ratio: glibc keeps up to 128 MiB free at
/// a heap's top by design (`src/alloc`), so a small server's RSS can step
/// up by a few tens of MiB at its first compaction without anything
/// leaking; at the CI size that step alone is ~20% of the RSS.
pub const RSS_GROWTH_SLACK_KIB: u64 = 32 << 10;

/// Judges `obs`: the run lasts `run`, the restarted server was ready at
/// `restarted`, and `warm_up` after each start is left out.
pub fn rss_verdict(
    obs: &[Observation],
    run: Duration,
    restarted: Duration,
    warm_up: Duration,
) -> RssVerdict {
    let last_quarter_from = run * 3 / 4;
    let warming = |at: Duration| at < warm_up || (at >= restarted && at < restarted + warm_up);
    let max = |pred: &dyn Fn(&Observation) -> bool| {
        obs.iter()
            .filter(|o| pred(o))
            .map(|o| o.rss_kib)
            .max()
            .unwrap_or(0)
    };
    let reference = max(&|o| !warming(o.at) && o.at < last_quarter_from);
    let last_quarter = max(&|o| o.at >= last_quarter_from && !warming(o.at));
    let warm_up_max = max(&|o| warming(o.at));
    RssVerdict {
        reference,
        last_quarter,
        warm_up_max,
        ok: reference > 0
            && last_quarter > 0
            && last_quarter as f64
                <= reference as f64 * RSS_GROWTH_LIMIT + RSS_GROWTH_SLACK_KIB as f64,
    }
}

#[test]
fn rss_verdict_leaves_out_both_warm_ups() {
    let obs: Vec<Observation> = (0..100u64)
        .map(|s| Observation {
            at: Duration::from_secs(s),
            epoch: 1 + u64::from(s >= 50),
            // Warm-ups peak high; steady at 100 MiB; a late rise to 120.
            rss_kib: match s {
                0..=9 | 50..=59 => 500 << 10,
                90.. => 120 << 10,
                _ => 100 << 10,
            },
            counters: None,
        })
        .collect();
    let v = rss_verdict(
        &obs,
        Duration::from_secs(100),
        Duration::from_secs(50),
        Duration::from_secs(10),
    );
    assert_eq!(
        (v.reference, v.last_quarter, v.warm_up_max, v.ok),
        (100 << 10, 120 << 10, 500 << 10, true)
    );
    // 125 MiB + 32 MiB is the most allowed.
    let mut leaky = obs.clone();
    leaky.last_mut().unwrap().rss_kib = 158 << 10;
    assert!(
        !rss_verdict(
            &leaky,
            Duration::from_secs(100),
            Duration::from_secs(50),
            Duration::from_secs(10)
        )
        .ok
    );
}

#[test]
fn counters_parse_from_metrics_text() {
    let text = "# TYPE x counter\nprometheus_tsdb_head_samples_appended_total{type=\"float\"} 12\n\
        prometheus_tsdb_head_series 3\nprometheus_tsdb_compactions_total 1\n\
        prometheus_tsdb_compactions_failed_total 0\nprometheus_tsdb_time_retentions_total 2\n\
        prometheus_tsdb_blocks_loaded 0\n";
    let c = Counters::parse(text).unwrap();
    assert_eq!(
        (c.samples_appended, c.compactions, c.time_retentions),
        (12.0, 1.0, 2.0)
    );
    assert!(Counters::parse("prometheus_tsdb_head_series 3\n").is_none());
}
