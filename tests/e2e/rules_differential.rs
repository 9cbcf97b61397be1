//! Live differential test of rule evaluation against Prometheus 2.42: both
//! servers load the same rule file (same absolute path, so the same
//! evaluation slots), get the same samples through remote write, and must
//! then hold the same recording-rule series and the same `ALERTS` /
//! `ALERTS_FOR_STATE` samples, timestamp by timestamp, over a window of
//! evaluations both made.
//!
//! How the comparison stays deterministic:
//! - All input samples, including those still in the future, are written
//!   before the compared window starts, so every compared evaluation sees
//!   the same data on both sides.
//! - Inputs sit half an interval away from the evaluation slots, so no
//!   sample lies on a range or lookback boundary, where 2.x (closed at the
//!   start) and 3.x (open) disagree.
//! - Alert conditions are false until the window starts, so `ActiveAt` does
//!   not depend on when each server started.
//! - Only timestamps both servers evaluated are compared (a loaded machine
//!   may make either skip a tick); each group's first rule records `time()`
//!   to tell which those are.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use common::dataset::{self, Dataset, Series};
use common::peers::{self, Peer};
use common::Server;

/// Evaluation interval of both groups.
const INTERVAL_MS: i64 = 1_000;
/// Input history before the window (for the `rate` ranges).
const HISTORY_S: i64 = 300;
/// Compared window length after its start.
const WINDOW_MS: i64 = 20_000;
/// Input samples continue this long past the window.
const TAIL_S: i64 = 30;
const INSTANCES: [&str; 3] = ["i0", "i1", "i2"];
const ROOMS: [&str; 3] = ["a", "b", "c"];
const BUCKETS: [&str; 4] = ["0.1", "0.5", "1", "+Inf"];

/// The series compared: every rule output (all rule names hold a colon,
/// no input name does) and the synthetic alert series.
const OUTPUTS: &str = r#"{__name__=~".+:.+|ALERTS|ALERTS_FOR_STATE"}"#;

/// Recording rules over counters, histograms and gauges, rule labels that
/// add and overwrite, scalar results, and rules reading the output of
/// earlier rules of their group; alerting rules with and without `for`,
/// templated labels (one that changes while the alert is active).
const RULES: &str = r#"groups:
- name: metrics
  interval: 1s
  rules:
  - record: metrics:eval:time
    expr: time()
  - record: job_code:http_requests:rate1m
    expr: sum by (job, code) (rate(http_requests_total[1m]))
  - record: job:http_requests:rate30s
    expr: sum by (job) (rate(http_requests_total[30s]))
    labels:
      job: rewritten
      tier: frontend
  - record: job:http_errors:ratio
    expr: |
      sum by (job) (job_code:http_requests:rate1m{code="500"})
        / sum by (job) (job_code:http_requests:rate1m)
  - record: instance_code:http_requests:increase20s
    expr: increase(http_requests_total[20s])
  - record: job:req_duration_seconds:p90
    expr: histogram_quantile(0.9, sum by (job, le) (rate(req_duration_seconds_bucket[1m])))
  - record: instance:req_duration_seconds:p50
    expr: histogram_quantile(0.5, rate(req_duration_seconds_bucket[30s]))
  - record: instance:temperature:scaled
    expr: temperature * 2 + 1
    labels:
      unit: half_degrees
  - record: max:temperature:scalar
    expr: scalar(max(temperature))
  - record: count:hot_rooms:vector
    expr: count(temperature > 45) or vector(0)
  - alert: HottestRoomHigh
    expr: max:temperature:scalar > 60
    for: 2s
    labels:
      source: chain
- name: alerts
  interval: 1s
  rules:
  - record: alerts:eval:time
    expr: time()
  - alert: TemperatureHigh
    expr: temperature > 50
    for: 3s
    labels:
      severity: '{{ if gt $value 75.0 }}critical{{ else }}warning{{ end }}'
      where: 'room {{ $labels.room }}'
    annotations:
      summary: '{{ $labels.instance }} is at {{ $value }}'
  - alert: TemperatureAboveForty
    expr: temperature > 40
  - alert: ErrorsSeen
    expr: increase(http_requests_total{code="500"}[10s]) > 2
    for: 1s
    labels:
      job: '{{ $labels.job }}-errors'
"#;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn config(rules: &Path) -> String {
    format!(
        "global:\n  scrape_interval: 15s\n  evaluation_interval: 1s\nrule_files: [{:?}]\n",
        rules.display().to_string()
    )
}

/// A series of the inputs: labels (sorted by name) and samples.
fn series(pairs: &[(&str, &str)], samples: Vec<(i64, f64)>) -> Series {
    Series {
        labels: pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        samples,
    }
}

/// Temperature of instance `i` at second `s` of the window: 20 before it,
/// then a triangle wave between 20 and 90 (period 16 s, instances 4 s
/// apart), crossing the alert thresholds 40, 50 and 75 both ways.
fn temperature(i: usize, s: i64) -> f64 {
    if s < 0 {
        return 20.0;
    }
    let x = (s + 4 * i as i64).rem_euclid(16) as f64;
    20.0 + 70.0 * (1.0 - (x / 8.0 - 1.0).abs())
}

/// The input series, one sample per second at `start + s * 1000 + phase`
/// for `s` in `-HISTORY_S..=WINDOW/1000 + TAIL_S`: request counters (one
/// reset inside the window; errors only inside it), cumulative histogram
/// buckets and temperatures.
fn inputs(start: i64, phase: i64) -> Dataset {
    let seconds: Vec<i64> = (-HISTORY_S..=WINDOW_MS / 1000 + TAIL_S).collect();
    let at = |s: i64| start + s * 1000 + phase;
    let mut out = Vec::new();
    for (k, inst) in INSTANCES.iter().enumerate() {
        for code in ["200", "500"] {
            let mut total = 0.0;
            let samples = seconds
                .iter()
                .map(|&s| {
                    // Errors only inside the window, in 10 s bursts, so
                    // `ErrorsSeen` starts inactive and comes and goes.
                    let inc = if code == "200" {
                        10.0 * (1 + (s * 7 + k as i64 * 3).rem_euclid(5)) as f64
                    } else {
                        let burst = s >= 0 && (s / 10) % 2 == 0;
                        (burst && (s + k as i64).rem_euclid(3) == 0) as u8 as f64
                    };
                    total += inc;
                    if k == 0 && code == "200" && s == 7 {
                        total = inc;
                    }
                    (at(s), total)
                })
                .collect();
            let name = "http_requests_total";
            let labels = [
                ("__name__", name),
                ("code", code),
                ("instance", inst),
                ("job", "api"),
            ];
            out.push(series(&labels, samples));
        }
        let mut cumulative = [0.0f64; 4];
        let mut per_bucket: [Vec<(i64, f64)>; 4] = Default::default();
        for &s in &seconds {
            let k = k as i64;
            let b0 = (s + k).rem_euclid(3);
            let b1 = b0 + 1 + s.rem_euclid(2);
            let b2 = b1 + (s * 5 + k).rem_euclid(3);
            for (j, c) in [b0, b1, b2, b2 + 1].iter().enumerate() {
                cumulative[j] += *c as f64;
                per_bucket[j].push((at(s), cumulative[j]));
            }
        }
        for (le, samples) in BUCKETS.iter().zip(per_bucket) {
            let name = "req_duration_seconds_bucket";
            let labels = [
                ("__name__", name),
                ("instance", inst),
                ("job", "api"),
                ("le", le),
            ];
            out.push(series(&labels, samples));
        }
        let samples = seconds
            .iter()
            .map(|&s| (at(s), temperature(k, s)))
            .collect();
        let labels = [
            ("__name__", "temperature"),
            ("instance", inst),
            ("room", ROOMS[k]),
        ];
        out.push(series(&labels, samples));
    }
    Dataset {
        start_ms: at(-HISTORY_S),
        series: out,
    }
}

/// GET `path` on `base` with `params`, asserting success; returns `data`.
fn api(
    client: &reqwest::blocking::Client,
    base: &str,
    path: &str,
    params: &[(&str, String)],
) -> Value {
    let r = client
        .get(format!("{base}{path}"))
        .query(params)
        .send()
        .unwrap_or_else(|e| panic!("{base}{path}: {e}"));
    let body = r.text().unwrap();
    let v: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{base}{path}: {e}: {body}"));
    assert_eq!(v["status"], "success", "{base}{path} {params:?}: {body}");
    v["data"].clone()
}

/// A sample value as the API writes it (`"NaN"` and `"+Inf"` included,
/// which `f64::from_str` reads too).
fn number(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad value {v}"))
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Per series (its labels as sorted JSON): timestamp (ms) → value.
type Samples = BTreeMap<String, BTreeMap<i64, f64>>;

/// The raw samples of `selector` in the `range_s` seconds up to `at`.
fn raw(
    client: &reqwest::blocking::Client,
    base: &str,
    selector: &str,
    range_s: i64,
    at: i64,
) -> Samples {
    let q = format!("{selector}[{range_s}s]");
    let d = api(
        client,
        base,
        "/api/v1/query",
        &[("query", q), ("time", secs(at))],
    );
    let mut out = Samples::new();
    for s in d["result"].as_array().expect("matrix") {
        let metric: BTreeMap<&String, &Value> =
            s["metric"].as_object().expect("labels").iter().collect();
        let key = serde_json::to_string(&metric).unwrap();
        let points = s["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|p| {
                (
                    (p[0].as_f64().unwrap() * 1000.0).round() as i64,
                    number(&p[1]),
                )
            })
            .collect();
        assert!(
            out.insert(key.clone(), points).is_none(),
            "{base}: {key} twice"
        );
    }
    out
}

/// The timestamps (ms) of a `time()` rule's samples: the group's
/// evaluations.
fn evaluations(s: &Samples, name: &str) -> BTreeSet<i64> {
    let key = format!(r#"{{"__name__":"{name}"}}"#);
    s.get(&key)
        .map(|p| p.keys().copied().collect())
        .unwrap_or_default()
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Every disagreement between `ours` and `theirs` at the timestamps in
/// `at`.
fn diff(ours: &Samples, theirs: &Samples, at: &BTreeSet<i64>) -> Vec<String> {
    let mut out = Vec::new();
    let keys: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let empty = BTreeMap::new();
    for key in keys {
        let a = ours.get(key).unwrap_or(&empty);
        let b = theirs.get(key).unwrap_or(&empty);
        for t in at {
            match (a.get(t), b.get(t)) {
                (Some(x), Some(y)) if close(*x, *y) => {}
                (None, None) => {}
                (x, y) => out.push(format!(
                    "{key} @ {}: ferroprom {x:?}, prometheus {y:?}",
                    secs(*t)
                )),
            }
        }
    }
    out
}

/// Polls `name` on `base` until it has a sample; returns its timestamp (ms).
fn first_evaluation(client: &reqwest::blocking::Client, base: &str, name: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = api(
            client,
            base,
            "/api/v1/query",
            &[("query", name.to_string())],
        );
        if let Some(s) = d["result"].as_array().and_then(|r| r.first()) {
            return (number(&s["value"][1]) * 1000.0).round() as i64;
        }
        assert!(Instant::now() < deadline, "{base}: {name} never evaluated");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn rule_results_match_prometheus() {
    let Some(bin) = peers::require("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let cfg = config(&rules);
    let prom = Peer::prometheus(&bin, &cfg);
    let ours = Server::start(Some(&cfg), &["--web.enable-remote-write-receiver"]);
    let (pc, pu) = (&prom.client, prom.url(""));
    let (oc, ou) = (&ours.client, ours.url(""));

    // Same file and group name: the same slot within the second.
    let slot = |t: i64| t.rem_euclid(INTERVAL_MS);
    let slots: Vec<i64> = ["metrics", "alerts"]
        .iter()
        .map(|group| {
            let name = format!("{group}:eval:time");
            let a = slot(first_evaluation(oc, &ou, &name));
            let b = slot(first_evaluation(pc, &pu, &name));
            assert_eq!(
                a, b,
                "group {group:?} evaluates at +{a} ms in ferroprom, +{b} ms in Prometheus"
            );
            a
        })
        .collect();

    // Inputs off both groups' slots: half an interval after the metrics
    // group's, and never on the alerts group's.
    let mut phase = (slots[0] + INTERVAL_MS / 2) % INTERVAL_MS;
    if phase == slots[1] {
        phase = (phase + 1) % INTERVAL_MS;
    }
    // Far enough ahead for both writes to be done before it.
    let start = (now_ms() / 1000 + 5) * 1000;
    let inputs = inputs(start, phase);
    dataset::push(pc, &prom.url("/api/v1/write"), &inputs, 60_000);
    dataset::push(oc, &ours.url("/api/v1/write"), &inputs, 60_000);
    let pushed = now_ms();
    assert!(
        pushed < start,
        "writing the inputs took until {} ms after the window started",
        pushed - start
    );

    let end = start + WINDOW_MS;
    while now_ms() < end + 2_500 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let range_s = WINDOW_MS / 1000 + 5;
    let a = raw(oc, &ou, OUTPUTS, range_s, end);
    let b = raw(pc, &pu, OUTPUTS, range_s, end);
    let both: BTreeSet<i64> = ["metrics:eval:time", "alerts:eval:time"]
        .iter()
        .flat_map(|n| {
            let x = evaluations(&a, n);
            let y = evaluations(&b, n);
            x.intersection(&y).copied().collect::<Vec<_>>()
        })
        .filter(|t| (start..=end).contains(t))
        .collect();
    assert!(
        both.len() >= 30,
        "only {} evaluations made by both in the window",
        both.len()
    );

    let problems = diff(&a, &b, &both);
    let compared: usize = a
        .values()
        .map(|p| p.keys().filter(|t| both.contains(t)).count())
        .sum();
    println!(
        "{} series, {compared} samples at {} common evaluation timestamps compared",
        a.len(),
        both.len()
    );
    assert!(
        problems.is_empty(),
        "{} differences, first ones:\n{}",
        problems.len(),
        problems
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The window exercised what it is meant to.
    let has = |needle: &str| a.keys().any(|k| k.contains(needle));
    for needle in [
        r#""alertstate":"pending""#,
        r#""alertstate":"firing""#,
        r#""severity":"critical""#,
        r#""severity":"warning""#,
        r#""alertname":"HottestRoomHigh""#,
        r#""alertname":"ErrorsSeen""#,
        r#""__name__":"ALERTS_FOR_STATE""#,
        r#""tier":"frontend""#,
    ] {
        assert!(has(needle), "no series with {needle} in the window");
    }
}
