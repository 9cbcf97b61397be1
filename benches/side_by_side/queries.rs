//! The query set: 30 queries as Grafana dashboards send them over the
//! synthetic data, each run as an instant query at the end of the data and
//! as a range query over the hour before it.

use std::time::{Duration, Instant};

use crate::peers::{Conn, Server};

/// (what the query stands for, the query).
pub const QUERIES: [(&str, &str); 30] = [
    ("rate", r#"rate(http_requests_total{instance="host-0003:9100"}[5m])"#),
    ("sum(rate)", "sum(rate(http_requests_total[5m]))"),
    ("sum by", "sum by (handler) (rate(http_requests_total[5m]))"),
    ("sum by, filtered", r#"sum by (code) (rate(http_requests_total{handler="/api/orders"}[5m]))"#),
    ("error ratio", r#"sum by (instance) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (instance) (rate(http_requests_total[5m]))"#),
    ("histogram_quantile", "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    ("histogram_quantile by", r#"histogram_quantile(0.9, sum by (le, handler) (rate(http_request_duration_seconds_bucket{region="eu-west"}[5m])))"#),
    ("histogram_quantile, one target", r#"histogram_quantile(0.5, rate(http_request_duration_seconds_bucket{instance="host-0003:9100"}[5m]))"#),
    ("mean latency", "sum(rate(http_request_duration_seconds_sum[5m])) / sum(rate(http_request_duration_seconds_count[5m]))"),
    ("topk", "topk(5, sum by (instance) (rate(http_requests_total[5m])))"),
    ("avg_over_time", r#"avg_over_time(node_load1{region="us-east"}[10m])"#),
    ("max_over_time", r#"max_over_time(node_hwmon_temp_celsius{instance=~"host-00[0-4].*"}[10m])"#),
    ("offset", "sum(rate(http_requests_total[5m])) - sum(rate(http_requests_total[5m] offset 10m))"),
    ("resets", "sum by (instance) (resets(http_requests_total[1h])) > 0"),
    ("subquery", r#"max_over_time(rate(http_requests_total{instance="host-0003:9100"}[5m])[30m:1m])"#),
    ("deriv", r#"deriv(node_filesystem_avail_bytes{mountpoint="/", region="eu-west"}[15m])"#),
    ("predict_linear", r#"predict_linear(node_filesystem_avail_bytes{mountpoint="/var"}[30m], 4 * 3600) < 60e9"#),
    ("label_replace", r#"sum by (host) (label_replace(rate(node_cpu_seconds_total{mode="user"}[5m]), "host", "$1", "instance", "([^:]+):.*"))"#),
    ("group_left join", r#"sum by (instance, handler) (rate(http_requests_total{region="eu-west"}[5m])) / on (instance) group_left sum by (instance) (rate(http_requests_total{region="eu-west"}[5m]))"#),
    ("count by", "count by (mode) (node_cpu_seconds_total)"),
    ("quantile", r#"quantile by (region) (0.95, rate(node_cpu_seconds_total{mode="user"}[5m]))"#),
    ("irate", r#"irate(http_requests_total{instance="host-0011:9100", code="200"}[1m])"#),
    ("increase", r#"sum(increase(http_requests_total{code="500"}[1h]))"#),
    ("abs, clamp_max", r#"clamp_max(abs(delta(node_hwmon_temp_celsius{region="eu-west"}[10m])), 5)"#),
    ("and", r#"node_load1 > 2 and on (instance) rate(node_cpu_seconds_total{cpu="0", mode="iowait"}[5m]) > 0.002"#),
    ("unless", r#"node_filesystem_avail_bytes{mountpoint="/"} unless on (instance) node_load1 > 2"#),
    ("cpu busy", r#"1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))"#),
    ("memory used", "sum(node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / sum(node_memory_MemTotal_bytes)"),
    ("count of targets", "count(count by (instance) (http_requests_total))"),
    ("bottomk", "bottomk(3, min by (instance) (node_filesystem_avail_bytes / node_filesystem_size_bytes))"),
];

/// When the queries look: instant queries at `end`, range queries over
/// `[end - range, end]` every `step` (all ms).
#[derive(Clone, Copy)]
pub struct Window {
    pub end: i64,
    pub range: i64,
    pub step: i64,
}

/// One query's figures on one server.
pub struct Timing {
    /// Median over the repetitions of the wall time from sending the
    /// request to reading the whole response.
    pub median: Duration,
    /// Series in the result, or why the server refused.
    pub series: Result<usize, String>,
    /// The server's peak RSS over the repetitions (`VmHWM`, reset before
    /// the first), in bytes.
    pub peak: u64,
}

/// Instant and range timings of every query of [`QUERIES`].
pub fn run_all(server: &Server, window: Window, reps: usize) -> Vec<[Timing; 2]> {
    let mut conn = Conn::open(server.port).expect("connect");
    QUERIES
        .iter()
        .map(|(_, q)| {
            let instant = format!(
                "/api/v1/query?query={}&time={}",
                encode(q),
                seconds(window.end)
            );
            let range = format!(
                "/api/v1/query_range?query={}&start={}&end={}&step={}",
                encode(q),
                seconds(window.end - window.range),
                seconds(window.end),
                seconds(window.step)
            );
            [
                timed(&mut conn, server, &instant, reps),
                timed(&mut conn, server, &range, reps),
            ]
        })
        .collect()
}

fn timed(conn: &mut Conn, server: &Server, path: &str, reps: usize) -> Timing {
    let port = server.port;
    server.reset_peak_rss();
    let mut times = Vec::with_capacity(reps);
    let mut series = Err("not run".to_string());
    for rep in 0..reps.max(1) {
        let mut start = Instant::now();
        let mut answer = conn.call("GET", path);
        if answer.is_err() {
            // Servers close kept-alive connections (VictoriaMetrics after
            // `-http.connTimeout`, 2 min, however busy): retry once on a new
            // one, as HTTP clients do for idempotent requests.
            *conn = Conn::open(port).expect("reconnect");
            start = Instant::now();
            answer = conn.call("GET", path);
        }
        times.push(start.elapsed());
        match answer {
            Ok((200, body)) if rep == 0 => series = result_len(&body),
            Ok((200, _)) => {}
            Ok((st, body)) => {
                series = Err(format!(
                    "{st}: {}",
                    body.chars().take(200).collect::<String>()
                ));
            }
            Err(e) => {
                series = Err(e.to_string());
                *conn = Conn::open(port).expect("reconnect");
            }
        }
    }
    times.sort();
    Timing {
        median: times[times.len() / 2],
        series,
        peak: server.peak_rss(),
    }
}

fn result_len(body: &str) -> Result<usize, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    v["data"]["result"]
        .as_array()
        .map(Vec::len)
        .ok_or_else(|| format!("no result array in {}", &body[..body.len().min(200)]))
}

/// Samples stored for each of `names` as a `count_over_time` over `range`
/// (ms) at `at` counts them, summed: one query per name, since
/// `count_over_time` drops the name and series of different names would
/// collide.
pub fn count_samples(
    server: &Server,
    names: &[String],
    at: i64,
    range: i64,
) -> Result<u64, String> {
    let mut conn = Conn::open(server.port).map_err(|e| e.to_string())?;
    let mut total = 0.0;
    for name in names {
        let q = format!(
            r#"sum(count_over_time({{__name__="{name}"}}[{}s]))"#,
            range / 1000
        );
        let path = format!("/api/v1/query?query={}&time={}", encode(&q), seconds(at));
        let (st, body) = conn.call("GET", &path).map_err(|e| e.to_string())?;
        if st != 200 {
            return Err(format!("{q}: {st}: {body}"));
        }
        let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        if let Some(x) = v["data"]["result"][0]["value"][1].as_str() {
            total += x.parse::<f64>().map_err(|e| format!("{q}: {x}: {e}"))?;
        }
    }
    Ok(total as u64)
}

fn encode(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// Milliseconds as the API's decimal seconds.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}
