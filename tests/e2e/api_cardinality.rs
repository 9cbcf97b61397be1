//! `/api/v1/status/tsdb` as the cardinality explorer uses it: the real
//! binary fed by remote write, every field, drill-down calls, churn after
//! series creation and after head GC, and bad parameters.

use crate::common;

use serde_json::{json, Value};

use common::dataset::send;
use common::Server;
use ferroprom::remote::proto::{Label, Sample, TimeSeries, WriteRequest};

/// No scrape jobs: the head holds only what the test writes.
const CONFIG: &str = "global:\n  scrape_interval: 1h\n";

fn start_in(dir: tempfile::TempDir) -> Server {
    Server::start_in(dir, Some(CONFIG), &["--web.enable-remote-write-receiver"])
}

fn now_ms() -> i64 {
    (common::now_secs() * 1000.0) as i64
}

/// One remote-write request: a sample at `t` for each label set.
fn write(srv: &Server, sets: &[Vec<(&str, String)>], t: i64) {
    let req = WriteRequest {
        timeseries: sets
            .iter()
            .map(|set| TimeSeries {
                labels: set
                    .iter()
                    .map(|(n, v)| Label {
                        name: n.to_string(),
                        value: v.clone(),
                    })
                    .collect(),
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: t,
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    send(&srv.client, &srv.url("/api/v1/write"), &req);
}

/// `req_total` for jobs api (3 instances) and web (2), and `up` for both
/// jobs: 7 series.
fn fill(srv: &Server) {
    let mut sets = Vec::new();
    for (job, n) in [("api", 3), ("web", 2)] {
        for i in 0..n {
            sets.push(vec![
                ("__name__", "req_total".to_string()),
                ("instance", format!("h{i}:80")),
                ("job", job.to_string()),
            ]);
        }
        sets.push(vec![
            ("__name__", "up".to_string()),
            ("job", job.to_string()),
        ]);
    }
    write(srv, &sets, now_ms());
}

fn tsdb(srv: &Server, params: &[(&str, &str)]) -> Value {
    srv.api("/api/v1/status/tsdb", params)
}

fn ranking(d: &Value, field: &str) -> Vec<(String, u64)> {
    d[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} missing: {d}"))
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

fn churn(d: &Value) -> (u64, u64) {
    let c = &d["headChurn"];
    assert_eq!(c["windowSeconds"], 3600, "{d}");
    (
        c["seriesCreated"].as_u64().unwrap(),
        c["seriesRemoved"].as_u64().unwrap(),
    )
}

/// Asserts a 400 `bad_data` whose error contains `msg`.
fn bad(srv: &Server, params: &[(&str, &str)], msg: &str) {
    let (code, body) = srv.get("/api/v1/status/tsdb", params);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code, 400, "{params:?}: {body}");
    assert_eq!(v["errorType"], "bad_data", "{body}");
    let err = v["error"].as_str().unwrap();
    assert!(err.contains(msg), "{params:?}: {err:?} lacks {msg:?}");
}

#[test]
fn rankings_drill_down_and_errors() {
    let srv = start_in(tempfile::tempdir().unwrap());
    let empty = tsdb(&srv, &[]);
    assert_eq!(empty["headStats"]["numSeries"], 0);
    assert_eq!(churn(&empty), (0, 0));
    assert_eq!(empty["seriesCountByLabelName"], json!([]));

    fill(&srv);
    let d = tsdb(&srv, &[]);
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "headChurn",
            "headStats",
            "labelValueCountByLabelName",
            "memoryInBytesByLabelName",
            "seriesCountByLabelName",
            "seriesCountByLabelValuePair",
            "seriesCountByMetricName",
        ],
        "no focus label, no seriesCountByFocusLabelValue"
    );
    assert_eq!(d["headStats"]["numSeries"], 7);
    // __name__ 2, instance 3, job 2.
    assert_eq!(d["headStats"]["numLabelPairs"], 7);
    assert_eq!(
        ranking(&d, "seriesCountByMetricName"),
        pairs(&[("req_total", 5), ("up", 2)])
    );
    assert_eq!(
        ranking(&d, "seriesCountByLabelName"),
        pairs(&[("__name__", 7), ("job", 7), ("instance", 5)])
    );
    assert_eq!(churn(&d), (7, 0));

    // Drill into a metric: its labels' value counts and its series.
    let m = tsdb(&srv, &[("match[]", "{__name__=\"req_total\"}")]);
    assert_eq!(m["headStats"]["numSeries"], 5);
    // __name__ 1, instance 3, job 2.
    assert_eq!(m["headStats"]["numLabelPairs"], 6);
    assert_eq!(m["headStats"]["chunkCount"], 7, "the whole head's");
    assert_eq!(
        ranking(&m, "labelValueCountByLabelName"),
        pairs(&[("instance", 3), ("job", 2), ("__name__", 1)])
    );
    assert_eq!(
        ranking(&m, "seriesCountByLabelValuePair"),
        pairs(&[
            ("__name__=req_total", 5),
            ("job=api", 3),
            ("instance=h0:80", 2),
            ("instance=h1:80", 2),
            ("job=web", 2),
            ("instance=h2:80", 1),
        ])
    );
    // "req_total" × 5 + "h?:80" × 5 + "api" × 3 + "web" × 2.
    assert_eq!(
        ranking(&m, "memoryInBytesByLabelName"),
        pairs(&[("__name__", 45), ("instance", 25), ("job", 15)])
    );
    assert_eq!(churn(&m), (7, 0), "churn is the whole head's");

    // Drill into a label: its values, within a focus selector.
    let f = tsdb(
        &srv,
        &[
            ("match[]", "req_total"),
            ("focusLabel", "instance"),
            ("limit", "2"),
        ],
    );
    assert_eq!(
        ranking(&f, "seriesCountByFocusLabelValue"),
        pairs(&[("h0:80", 2), ("h1:80", 2)])
    );
    assert_eq!(ranking(&f, "seriesCountByMetricName").len(), 1);
    let jobs = tsdb(&srv, &[("focusLabel", "job")]);
    assert_eq!(
        ranking(&jobs, "seriesCountByFocusLabelValue"),
        pairs(&[("api", 4), ("web", 3)])
    );
    // An empty focusLabel is no focus label.
    assert!(tsdb(&srv, &[("focusLabel", "")])
        .get("seriesCountByFocusLabelValue")
        .is_none());

    // Several selectors: the union of their series, each counted once.
    let u = tsdb(&srv, &[("match[]", "up"), ("match[]", "{job=\"web\"}")]);
    assert_eq!(u["headStats"]["numSeries"], 4);
    assert_eq!(
        ranking(&u, "seriesCountByMetricName"),
        pairs(&[("req_total", 2), ("up", 2)])
    );
    let none = tsdb(&srv, &[("match[]", "absent_metric")]);
    assert_eq!(none["headStats"]["numSeries"], 0);
    assert_eq!(none["seriesCountByMetricName"], json!([]));

    // limit: one entry each; above the cap, served as the cap.
    let one = tsdb(&srv, &[("limit", "1")]);
    for field in [
        "seriesCountByMetricName",
        "labelValueCountByLabelName",
        "memoryInBytesByLabelName",
        "seriesCountByLabelValuePair",
        "seriesCountByLabelName",
    ] {
        assert_eq!(ranking(&one, field).len(), 1, "{field}");
    }
    let big = tsdb(&srv, &[("limit", "100000")]);
    assert_eq!(ranking(&big, "seriesCountByLabelValuePair").len(), 7);

    for l in ["0", "-3", "ten", "1.5"] {
        bad(&srv, &[("limit", l)], "limit must be a positive number");
    }
    bad(&srv, &[("match[]", "up{")], "parse error");
    bad(&srv, &[("match[]", "rate(x[5m])")], "parse error");
    bad(
        &srv,
        &[("match[]", "up"), ("match[]", "{job=\"\"}")],
        "match[] must contain at least one non-empty matcher",
    );
    bad(&srv, &[("match[]", "{job=~\"(\"}")], "");

    // A new series is churn; another sample of an old one is not.
    write(
        &srv,
        &[
            vec![("__name__", "up".to_string()), ("job", "new".to_string())],
            vec![("__name__", "up".to_string()), ("job", "api".to_string())],
        ],
        now_ms() + 1000,
    );
    let after = tsdb(&srv, &[]);
    assert_eq!(after["headStats"]["numSeries"], 8);
    assert_eq!(churn(&after), (8, 0));
}

/// Head GC: series whose data a block covers leave the head and count as
/// removed; the series replayed from the WAL at start do not count as
/// created.
#[test]
fn churn_counts_series_removed_by_head_gc() {
    let srv = start_in(tempfile::tempdir().unwrap());
    let now = now_ms();
    let old: Vec<Vec<(&str, String)>> = (0..3)
        .map(|i| vec![("__name__", "old_metric".to_string()), ("i", i.to_string())])
        .collect();
    // Five hours ago, then now: the old series end long before the block
    // imported below, the new one after it.
    write(&srv, &old, now - 5 * 3600 * 1000);
    write(&srv, &[vec![("__name__", "fresh".to_string())]], now);
    assert_eq!(churn(&tsdb(&srv, &[])), (4, 0));
    let (dir, status, log) = srv.stop();
    assert!(status.success(), "{log}");

    // A block ending at least an hour ago: at start the head drops what
    // the blocks cover, which is GC of the three old series.
    let file = dir.path().join("backfill.om");
    let t = (now / 1000) - 3 * 3600;
    std::fs::write(&file, format!("backfill 1 {t}\n# EOF\n")).unwrap();
    let (ok, stderr) = common::run_import(&file, &dir.path().join("data"));
    assert!(ok, "{stderr}");

    let srv = start_in(dir);
    let d = tsdb(&srv, &[]);
    assert_eq!(d["headStats"]["numSeries"], 1, "{d}");
    assert_eq!(
        ranking(&d, "seriesCountByMetricName"),
        pairs(&[("fresh", 1)])
    );
    assert_eq!(churn(&d), (0, 3), "replayed series are not created");

    write(&srv, &[vec![("__name__", "fresh2".to_string())]], now_ms());
    assert_eq!(churn(&tsdb(&srv, &[])), (1, 3));
}
