//! A dashboard refreshing: every panel's query (instant and range: rate,
//! sum by, histogram_quantile, topk; label and series look-ups) once per
//! refresh, each checked for 200 and timed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::plan::Plan;
use super::process::{Endpoint, Live};

/// A panel: a name for the report, an API path and its parameters. `range`
/// panels get `start`, `end` and `step`; the others `time`, or `start` and
/// `end` for the look-ups.
struct Panel {
    name: &'static str,
    path: &'static str,
    params: Vec<(&'static str, String)>,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Instant,
    Range,
    Lookup,
}

fn panels(plan: &Plan, instance: &str) -> Vec<Panel> {
    let w = plan.rate_window();
    let q = |name, kind, query: String| Panel {
        name,
        path: if kind == Kind::Range {
            "/api/v1/query_range"
        } else {
            "/api/v1/query"
        },
        params: vec![("query", query)],
        kind,
    };
    let lookup = |name, path, params: Vec<(&'static str, String)>| Panel {
        name,
        path,
        params,
        kind: Kind::Lookup,
    };
    vec![
        q(
            "sum by (code) (rate)",
            Kind::Instant,
            format!("sum by (code) (rate(http_requests_total[{w}]))"),
        ),
        q(
            "topk(10, sum by (pod) (rate))",
            Kind::Instant,
            format!("topk(10, sum by (pod) (rate(http_requests_total{{code=\"500\"}}[{w}])))"),
        ),
        q(
            "range: sum by (handler) (rate)",
            Kind::Range,
            format!("sum by (handler) (rate(http_requests_total{{instance=\"{instance}\"}}[{w}]))"),
        ),
        q(
            "range: histogram_quantile",
            Kind::Range,
            format!(
                "histogram_quantile(0.99, sum by (le, handler) \
                 (rate(http_request_duration_seconds_bucket{{instance=\"{instance}\"}}[{w}])))"
            ),
        ),
        q(
            "range: avg by (namespace) (gauge)",
            Kind::Range,
            "avg by (namespace) (worker_queue_length)".into(),
        ),
        q(
            "range: remote-written rate",
            Kind::Range,
            format!("sum(rate({}{{shard=\"0\"}}[{w}]))", super::writer::LIVE),
        ),
        q(
            "count by (job) (up == 1)",
            Kind::Instant,
            "count by (job) (up == 1)".into(),
        ),
        lookup(
            "label values: pod",
            "/api/v1/label/pod/values",
            vec![("match[]", "app_build_info".into())],
        ),
        lookup("label names", "/api/v1/labels", vec![]),
        lookup(
            "series: up",
            "/api/v1/series",
            vec![("match[]", "up".into())],
        ),
    ]
}

/// Latencies and failures per panel.
#[derive(Debug, Default)]
pub struct Outcome {
    pub latencies: BTreeMap<&'static str, Vec<Duration>>,
    pub refreshes: u64,
    pub excused: u64,
    pub errors: Vec<String>,
}

/// Refreshes the dashboard every `plan.refresh_every` until `stop`.
/// `instance` is the target the per-instance panels look at.
pub fn run(plan: &Plan, instance: &str, endpoint: &Endpoint, stop: &AtomicBool) -> Outcome {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let panels = panels(plan, instance);
    // A range panel shows the last 30 steps of two scrape intervals each.
    let step = 2 * plan.scrape_interval.as_secs().max(1);
    let mut out = Outcome::default();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        if let Some(live) = endpoint.live() {
            out.refreshes += 1;
            for p in &panels {
                let now = super::now_ms() as f64 / 1000.0;
                let mut params = p.params.clone();
                match p.kind {
                    Kind::Instant => params.push(("time", format!("{now}"))),
                    Kind::Range => params.extend([
                        ("start", format!("{}", now - 30.0 * step as f64)),
                        ("end", format!("{now}")),
                        ("step", format!("{step}")),
                    ]),
                    Kind::Lookup => params.extend([
                        ("start", format!("{}", now - 300.0)),
                        ("end", format!("{now}")),
                    ]),
                }
                let t = Instant::now();
                match get(&client, live, p.path, &params) {
                    Ok(()) => out.latencies.entry(p.name).or_default().push(t.elapsed()),
                    Err(_) if !endpoint.unchanged(live) => out.excused += 1,
                    Err(e) => out.errors.push(format!("{}: {e}", p.name)),
                }
            }
        }
        super::sleep_until(started + plan.refresh_every, stop);
    }
    out
}

/// GETs `path`; `Ok` on 200 with `"status":"success"`.
fn get(
    client: &reqwest::blocking::Client,
    live: Live,
    path: &str,
    params: &[(&str, String)],
) -> Result<(), String> {
    let r = client
        .get(live.url(path))
        .query(params)
        .send()
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let body = r.text().map_err(|e| e.to_string())?;
    if status.as_u16() == 200 && body.contains("\"status\":\"success\"") {
        Ok(())
    } else {
        Err(format!("{status}: {}", &body[..body.len().min(300)]))
    }
}
