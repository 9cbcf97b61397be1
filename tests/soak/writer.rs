//! The remote-write client: a backfill of history before the scrapes
//! start, then one sample per series per interval, as a Prometheus agent
//! would send them (snappy protobuf, at most 2,000 samples a request). It
//! remembers every request the server acknowledged (2xx), so the end of the
//! run can read each of those samples back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prost::Message;
use serde_json::Value;

use ferroprom::remote::proto::{Label, Sample, TimeSeries, WriteRequest};

use super::process::{Endpoint, Live};

/// Prometheus's `max_samples_per_send` default.
const MAX_SAMPLES_PER_SEND: usize = 2_000;

/// Metric names of the two kinds of written series.
pub const LIVE: &str = "soak_rw_value";
pub const BACKFILL: &str = "soak_rw_backfill";

/// One acknowledged request: series `lo..hi` of `metric`, each at
/// timestamps `ts` (ms), with values from [`value`].
#[derive(Clone, Debug)]
pub struct Acked {
    pub metric: &'static str,
    pub lo: usize,
    pub hi: usize,
    pub ts: Vec<(i64, u64)>,
}

/// Exactly representable and different per series and step, so a sample
/// read back proves its own identity.
pub fn value(series: usize, step: u64) -> f64 {
    step as f64 * 0.25 + (series % 64) as f64
}

/// What the live writer did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub acked: Vec<Acked>,
    /// Requests lost to the crash (sent to a server that then died).
    pub excused: u64,
    /// Failures on a live server: each one fails the soak.
    pub errors: Vec<String>,
}

/// Sends `req` to the live server; `Ok` when it answered 2xx.
fn send(client: &reqwest::blocking::Client, live: Live, req: &WriteRequest) -> Result<(), String> {
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let r = client
        .post(live.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .map_err(|e| e.to_string())?;
    let status = r.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{status}: {}", r.text().unwrap_or_default()))
    }
}

fn series(metric: &str, j: usize, shards: usize, samples: Vec<Sample>) -> TimeSeries {
    let label = |name: &str, value: String| Label {
        name: name.into(),
        value,
    };
    TimeSeries {
        labels: vec![
            label("__name__", metric.into()),
            label("series", j.to_string()),
            label("shard", (j % shards).to_string()),
            label("writer", "soak".into()),
        ],
        samples,
        ..Default::default()
    }
}

/// Shards of `n` live series, about 1,000 series each: live series carry
/// `shard = series % shards`, so the check at the end reads them back a
/// slice at a time.
pub fn shards(n: usize) -> usize {
    n.div_ceil(1_000)
}

/// Writes `n` backfill series from `from_ms` to `to_ms` every minute, in
/// time order (each request within the head's appendable window of the
/// last). Every request must be acknowledged.
pub fn backfill(endpoint: &Endpoint, n: usize, from_ms: i64, to_ms: i64) -> Vec<Acked> {
    let client = client();
    let live = endpoint.live().expect("server up for the backfill");
    let steps: Vec<(i64, u64)> = (0..)
        .map(|k: u64| (from_ms + k as i64 * 60_000, k))
        .take_while(|(t, _)| *t <= to_ms)
        .collect();
    let per_request = (MAX_SAMPLES_PER_SEND / n).max(1);
    let mut acked = Vec::new();
    for ts in steps.chunks(per_request) {
        let req = WriteRequest {
            timeseries: (0..n)
                .map(|j| {
                    let samples = ts
                        .iter()
                        .map(|&(timestamp, k)| Sample {
                            value: value(j, k),
                            timestamp,
                        })
                        .collect();
                    series(BACKFILL, j, 1, samples)
                })
                .collect(),
            metadata: vec![],
        };
        send(&client, live, &req).unwrap_or_else(|e| panic!("backfill refused: {e}"));
        acked.push(Acked {
            metric: BACKFILL,
            lo: 0,
            hi: n,
            ts: ts.to_vec(),
        });
    }
    acked
}

/// Writes one sample for each of `n` series every `every` until `stop`.
pub fn run_live(endpoint: &Endpoint, n: usize, every: Duration, stop: &AtomicBool) -> Outcome {
    let client = client();
    let shards = shards(n);
    let mut out = Outcome::default();
    let mut step = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let started = std::time::Instant::now();
        if let Some(live) = endpoint.live() {
            step += 1;
            let t = super::now_ms();
            let mut lo = 0;
            while lo < n {
                let hi = (lo + MAX_SAMPLES_PER_SEND).min(n);
                let req = WriteRequest {
                    timeseries: (lo..hi)
                        .map(|j| {
                            let s = Sample {
                                value: value(j, step),
                                timestamp: t,
                            };
                            series(LIVE, j, shards, vec![s])
                        })
                        .collect(),
                    metadata: vec![],
                };
                match send(&client, live, &req) {
                    Ok(()) => out.acked.push(Acked {
                        metric: LIVE,
                        lo,
                        hi,
                        ts: vec![(t, step)],
                    }),
                    Err(_) if !endpoint.unchanged(live) => out.excused += 1,
                    Err(e) => out.errors.push(format!("remote write at {t}: {e}")),
                }
                lo = hi;
            }
        }
        super::sleep_until(started + every, stop);
    }
    out
}

/// What reading the acknowledged samples back found.
#[derive(Debug, Default)]
pub struct Check {
    pub expected: u64,
    pub found: u64,
    /// Acknowledged samples missing or with another value (first few).
    pub lost: Vec<String>,
    pub lost_count: u64,
    /// Samples older than `gone_before` that are still there (first few).
    pub kept: Vec<String>,
    pub kept_count: u64,
    /// Samples in `[gone_before, kept_from)`, which retention may or may
    /// not have reached, and that are gone.
    pub excused: u64,
}

/// Which acknowledged samples retention must have deleted, and which it
/// must have left.
#[derive(Clone, Copy, Debug)]
pub struct Retained {
    /// Samples older than this must be gone.
    pub gone_before: i64,
    /// Samples from this on must be there with their exact value. Between
    /// the two, a sample may be either: whether retention reached its block
    /// depends on when compaction cut it.
    pub kept_from: i64,
}

impl Retained {
    /// Every acknowledged sample must be there.
    pub const ALL: Retained = Retained {
        gone_before: i64::MIN,
        kept_from: i64::MIN,
    };
}

/// Reads `metric` back (one query per shard, a range vector at `at_ms`
/// reaching back `range_s`) and compares with `acked` under `retained`.
pub fn check(
    live: Live,
    metric: &str,
    shards: usize,
    acked: &[Acked],
    at_ms: i64,
    range_s: u64,
    retained: Retained,
) -> Check {
    let client = client();
    let mut stored: HashMap<usize, HashMap<i64, f64>> = HashMap::new();
    for shard in 0..shards {
        let q = format!("{metric}{{shard=\"{shard}\"}}[{range_s}s]");
        let time = format!("{}", at_ms as f64 / 1000.0);
        let r = client
            .get(live.url("/api/v1/query"))
            .query(&[("query", q.as_str()), ("time", time.as_str())])
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{q}: {}", r.status());
        let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        for s in v["data"]["result"].as_array().unwrap() {
            let j: usize = s["metric"]["series"].as_str().unwrap().parse().unwrap();
            let points = stored.entry(j).or_default();
            for p in s["values"].as_array().unwrap() {
                let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                points.insert(t, p[1].as_str().unwrap().parse().unwrap());
            }
        }
    }
    let mut c = Check::default();
    for a in acked.iter().filter(|a| a.metric == metric) {
        for j in a.lo..a.hi {
            for &(t, step) in &a.ts {
                let got = stored.get(&j).and_then(|p| p.get(&t)).copied();
                let want = value(j, step);
                if t < retained.gone_before {
                    if got.is_some() {
                        c.kept_count += 1;
                        if c.kept.len() < 5 {
                            c.kept.push(format!("{metric}{{series=\"{j}\"}} @{t}"));
                        }
                    }
                    continue;
                }
                if t < retained.kept_from && got.is_none() {
                    c.excused += 1;
                    continue;
                }
                c.expected += 1;
                if got.map(f64::to_bits) == Some(want.to_bits()) {
                    c.found += 1;
                } else {
                    c.lost_count += 1;
                    if c.lost.len() < 5 {
                        c.lost.push(format!(
                            "{metric}{{series=\"{j}\"}} @{t}: want {want}, got {got:?}"
                        ));
                    }
                }
            }
        }
    }
    c
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}
