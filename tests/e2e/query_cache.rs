//! The range-query result cache through the real binary: a server with
//! the cache answers every request byte for byte as one without it, while
//! data is appended, backfilled and deleted, and its metrics say what it
//! served.

use crate::common;

use common::dataset::send;
use common::Server;
use ferroprom::remote::proto::{Label, Sample, TimeSeries, WriteRequest};

const CONFIG: &str = "global:\n  scrape_interval: 1h\n";
const MIN: i64 = 60_000;

const QUERIES: &[&str] = &[
    "http_requests_total",
    "sum by (job) (rate(http_requests_total[2m]))",
    "rate(http_requests_total[1m]) > 0.2",
    "topk(2, http_requests_total)",
    "count(http_requests_total)",
    "absent(http_requests_total{instance=\"i1\"})",
    "temp",
    "avg_over_time(temp[5m])",
    "max_over_time(temp[10m:1m])",
    "scalar(sum(temp))",
    "time() - timestamp(temp)",
    "http_requests_total offset 3m",
    "vector(1)",
];

fn start(extra: &[&str]) -> Server {
    let mut flags = vec![
        "--web.enable-remote-write-receiver",
        "--web.enable-admin-api",
    ];
    flags.extend_from_slice(extra);
    Server::start(Some(CONFIG), &flags)
}

/// A series to write: its labels and its samples.
type Written<'a> = (Vec<(&'a str, String)>, Vec<(i64, f64)>);

/// Writes `series` to every server.
fn write(servers: &[&Server], series: &[Written]) {
    let req = WriteRequest {
        timeseries: series
            .iter()
            .map(|(labels, samples)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| Label {
                        name: n.to_string(),
                        value: v.clone(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|&(timestamp, value)| Sample { value, timestamp })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    for s in servers {
        send(&s.client, &s.url("/api/v1/write"), &req);
    }
}

/// Counters of four instances (i1 stops halfway through the first hour,
/// i3 resets) and gauges with a NaN now and then, every 15 s over
/// `[from, to)` minutes after `base`.
fn fill(servers: &[&Server], base: i64, from: i64, to: i64) {
    let mut series = Vec::new();
    for i in 0..4i64 {
        let labels = vec![
            ("__name__", "http_requests_total".to_string()),
            ("job", if i % 2 == 0 { "api" } else { "web" }.to_string()),
            ("instance", format!("i{i}")),
        ];
        let samples: Vec<(i64, f64)> = (from * 4..to * 4)
            .filter(|&k| i != 1 || k < 120)
            .map(|k| {
                let since = if i == 3 && k >= 100 { k - 100 } else { k };
                (base + k * 15_000, (since * (i + 1)) as f64)
            })
            .collect();
        series.push((labels, samples));
        let room = vec![("__name__", "temp".to_string()), ("room", format!("r{i}"))];
        let samples = (from * 4..to * 4)
            .map(|k| {
                let v = if (k + i) % 13 == 0 {
                    f64::NAN
                } else {
                    ((k * 7 + i * 3) % 40) as f64
                };
                (base + k * 15_000, v)
            })
            .collect();
        series.push((room, samples));
    }
    write(servers, &series);
}

/// The raw answer to a range query, by GET or POST.
fn range(s: &Server, q: &str, start: i64, end: i64, post: bool) -> String {
    let (start, end) = (
        format!("{:.3}", start as f64 / 1000.0),
        format!("{:.3}", end as f64 / 1000.0),
    );
    let params = [
        ("query", q),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("step", "15s"),
    ];
    let (code, body) = if post {
        s.post("/api/v1/query_range", &params)
    } else {
        s.get("/api/v1/query_range", &params)
    };
    assert_eq!(code, 200, "{q}: {body}");
    body
}

/// Every query over `[start, end]`: the cached server answers as the
/// plain one, twice.
fn compare(cached: &Server, plain: &Server, start: i64, end: i64) {
    for (n, q) in QUERIES.iter().enumerate() {
        let want = range(plain, q, start, end, false);
        assert_eq!(range(cached, q, start, end, n % 2 == 0), want, "{q}");
        assert_eq!(range(cached, q, start, end, n % 2 == 1), want, "{q}");
    }
}

fn requests(s: &Server, result: &str) -> f64 {
    s.self_metric(
        "ferroprom_query_cache_requests_total",
        &[&format!("result=\"{result}\"")],
    )
    .unwrap_or(0.0)
}

#[test]
fn cached_answers_equal_uncached_ones_as_data_changes() {
    let cached = start(&[]);
    let plain = start(&["--query.cache-max-bytes=0"]);
    let both = [&cached, &plain];
    let now = (common::now_secs() * 1000.0) as i64;
    let base = (now - 120 * MIN) / 15_000 * 15_000;
    fill(&both, base, 0, 60);

    compare(&cached, &plain, base + 5 * MIN, base + 60 * MIN);
    let hits = requests(&cached, "hit");
    assert!(hits >= QUERIES.len() as f64, "hits {hits}");

    // New data in the tail, and the dashboard's range moved forward.
    fill(&both, base, 60, 65);
    let partial = requests(&cached, "partial");
    compare(&cached, &plain, base + 10 * MIN, base + 65 * MIN);
    assert!(requests(&cached, "partial") > partial);

    // A new series backfilled into the middle of cached results.
    let late = vec![
        ("__name__", "http_requests_total".to_string()),
        ("job", "api".to_string()),
        ("instance", "late".to_string()),
    ];
    let samples = (80..100).map(|k| (base + k * 15_000, k as f64)).collect();
    write(&both, &[(late, samples)]);
    compare(&cached, &plain, base + 10 * MIN, base + 65 * MIN);

    // A deletion in the middle.
    let (from, to) = (
        format!("{}", (base + 30 * MIN) / 1000),
        format!("{}", (base + 40 * MIN) / 1000),
    );
    for s in both {
        let (code, body) = s.post(
            "/api/v1/admin/tsdb/delete_series",
            &[
                ("match[]", "{instance=\"i0\"}"),
                ("start", &from),
                ("end", &to),
            ],
        );
        assert_eq!(code, 204, "{body}");
    }
    compare(&cached, &plain, base + 10 * MIN, base + 65 * MIN);

    let metric = |name: &str| cached.self_metric(name, &[]).unwrap_or(0.0);
    assert!(metric("ferroprom_query_cache_invalidations_total") > 0.0);
    assert!(metric("ferroprom_query_cache_entries") >= QUERIES.len() as f64);
    assert!(metric("ferroprom_query_cache_bytes") > 0.0);
    assert_eq!(
        metric("ferroprom_query_cache_max_bytes"),
        (128 << 20) as f64
    );
    let served = |source: &str| {
        cached
            .self_metric(
                "ferroprom_query_cache_steps_total",
                &[&format!("source=\"{source}\"")],
            )
            .unwrap_or(0.0)
    };
    assert!(served("cache") > served("evaluated"));

    // Off: nothing registered; the flag is listed either way.
    assert_eq!(
        plain.self_metric("ferroprom_query_cache_requests_total", &[]),
        None
    );
    let flags = |s: &Server| s.api("/api/v1/status/flags", &[])["query.cache-max-bytes"].clone();
    assert_eq!(flags(&cached), "128MiB");
    assert_eq!(flags(&plain), "0");
}

#[test]
fn uncacheable_requests_are_counted_and_answered() {
    let cached = start(&[]);
    let plain = start(&["--query.cache-max-bytes=0"]);
    let now = (common::now_secs() * 1000.0) as i64;
    let base = (now - 120 * MIN) / 15_000 * 15_000;
    fill(&[&cached, &plain], base, 0, 30);
    let (s, e) = (base + 5 * MIN, base + 30 * MIN);
    for q in [
        "temp @ end()",
        "http_requests_total offset -1m",
        "max_over_time(temp[5m:1m] @ start())",
    ] {
        assert_eq!(
            range(&cached, q, s, e, false),
            range(&plain, q, s, e, false)
        );
    }
    assert_eq!(requests(&cached, "uncacheable"), 3.0);
    assert_eq!(requests(&cached, "miss"), 0.0);
    // `stats` asks for per-step counts the cache does not keep.
    let (start, end) = (format!("{}", s / 1000), format!("{}", e / 1000));
    cached.api(
        "/api/v1/query_range",
        &[
            ("query", "temp"),
            ("start", &start),
            ("end", &end),
            ("step", "15s"),
            ("stats", "all"),
        ],
    );
    assert_eq!(requests(&cached, "uncacheable"), 4.0);
}
