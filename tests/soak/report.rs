//! The figures of a soak run, as text for stdout and for
//! `docs/performance.md`.

use std::fmt::Write as _;
use std::time::Duration;

use super::monitor::{Observation, RssVerdict};

/// The `q` quantile (0..=1) of `v` by nearest rank; zero when empty.
pub fn quantile(v: &[Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let mut s = v.to_vec();
    s.sort();
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// One line per query panel: count and latency percentiles in ms.
pub fn latency_table(
    latencies: &std::collections::BTreeMap<&'static str, Vec<Duration>>,
) -> String {
    let mut out = String::from(
        "| panel | queries | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n",
    );
    for (name, v) in latencies {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} |",
            v.len(),
            ms(quantile(v, 0.5)),
            ms(quantile(v, 0.9)),
            ms(quantile(v, 0.99)),
            ms(quantile(v, 1.0)),
        );
    }
    out
}

/// Max VmRSS in each tenth of the run, in MiB.
pub fn rss_timeline(obs: &[Observation], run: Duration) -> String {
    let mut out = String::from("| from s | to s | max VmRSS MiB |\n|---|---|---|\n");
    for i in 0..10u32 {
        let (from, to) = (run * i / 10, run * (i + 1) / 10);
        let max = obs
            .iter()
            .filter(|o| o.at >= from && (o.at < to || i == 9))
            .map(|o| o.rss_kib)
            .max();
        let shown = max.map_or("(down)".to_string(), |k| {
            format!("{:.0}", k as f64 / 1024.0)
        });
        let _ = writeln!(out, "| {} | {} | {shown} |", from.as_secs(), to.as_secs());
    }
    out
}

/// Samples appended per second while the server was up, from the
/// `/metrics` counters (deltas within each start, so a restart's replay
/// does not count as ingest).
pub fn ingest_rate(obs: &[Observation]) -> f64 {
    let mut appended = 0.0;
    let mut secs = 0.0;
    let mut epochs: Vec<u64> = obs.iter().map(|o| o.epoch).collect();
    epochs.dedup();
    for e in epochs {
        let seen: Vec<(Duration, f64)> = obs
            .iter()
            .filter(|o| o.epoch == e)
            .filter_map(|o| o.counters.map(|c| (o.at, c.samples_appended)))
            .collect();
        if let (Some(first), Some(last)) = (seen.first(), seen.last()) {
            appended += last.1 - first.1;
            secs += (last.0 - first.0).as_secs_f64();
        }
    }
    if secs > 0.0 {
        appended / secs
    } else {
        0.0
    }
}

pub fn rss_line(v: &RssVerdict) -> String {
    format!(
        "RSS: max after warm-up {:.0} MiB, max in the last quarter {:.0} MiB ({:.2}×; limit {}× + {} MiB), max during warm-ups {:.0} MiB",
        v.reference as f64 / 1024.0,
        v.last_quarter as f64 / 1024.0,
        v.last_quarter as f64 / v.reference.max(1) as f64,
        super::monitor::RSS_GROWTH_LIMIT,
        super::monitor::RSS_GROWTH_SLACK_KIB >> 10,
        v.warm_up_max as f64 / 1024.0,
    )
}

#[test]
fn quantiles_by_nearest_rank() {
    let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
    assert_eq!(quantile(&v, 0.5), Duration::from_millis(50));
    assert_eq!(quantile(&v, 0.99), Duration::from_millis(99));
    assert_eq!(quantile(&v, 1.0), Duration::from_millis(100));
    assert_eq!(quantile(&[], 0.5), Duration::ZERO);
}
