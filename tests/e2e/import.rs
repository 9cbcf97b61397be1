//! `ferroprom tsdb import openmetrics`: the real binary imports a file, then
//! the real server started on the same directory answers queries on it.

use crate::common;

use std::io::Read;

use serde_json::Value;

use common::{run_import, Server};

fn range(server: &Server, q: &str, start: i64, end: i64, step: &str) -> Vec<Value> {
    let d = server.api(
        "/api/v1/query_range",
        &[
            ("query", q),
            ("start", &start.to_string()),
            ("end", &end.to_string()),
            ("step", step),
        ],
    );
    d["result"].as_array().cloned().unwrap()
}

/// Samples in the past (so retention keeps them) across three 2h ranges.
#[test]
fn imported_blocks_are_served_after_start() {
    let dir = tempfile::tempdir().unwrap();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Six hours ago, aligned to the minute, every 60s for 5h.
    let start = (now_s - 6 * 3600) / 60 * 60;
    let mut om = String::from("# TYPE backfill counter\n");
    for host in ["a", "b"] {
        for i in 0..300 {
            om.push_str(&format!(
                "backfill_total{{host=\"{host}\"}} {i} {}\n",
                start + i * 60
            ));
        }
    }
    om.push_str("# EOF\n");
    let file = dir.path().join("in.om");
    std::fs::write(&file, om).unwrap();
    let data = dir.path().join("data");
    let (ok, stderr) = run_import(&file, &data);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("imported 600 samples of 2 series into"),
        "{stderr}"
    );

    let server = Server::start_in(dir, None, &[]);
    let r = range(&server, "backfill_total", start, start + 299 * 60, "60");
    assert_eq!(r.len(), 2);
    for s in &r {
        let values = s["values"].as_array().unwrap();
        assert_eq!(values.len(), 300, "{}", s["metric"]);
        assert_eq!(values[0], serde_json::json!([start, "0"]));
        assert_eq!(values[299], serde_json::json!([start + 299 * 60, "299"]));
    }
    let r = server.query(&format!(
        "sum(increase(backfill_total[1h] @ {}))",
        start + 3 * 3600
    ));
    // 60 samples a host in the hour, extrapolated to the window: 60 each.
    let v: f64 = r[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((v - 120.0).abs() < 1e-9, "{v}");
}

#[test]
fn bad_input_fails_with_the_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.om");
    std::fs::write(&file, "a 1 100\na{b=\"c\"} 2\n# EOF\n").unwrap();
    let data = dir.path().join("data");
    let (ok, stderr) = run_import(&file, &data);
    assert!(!ok);
    assert!(stderr.contains("line 2"), "{stderr}");
    let left = std::fs::read_dir(&data).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "nothing written on error");

    let (ok, stderr) = run_import(&dir.path().join("missing.om"), &data);
    assert!(!ok);
    assert!(stderr.contains("missing.om"), "{stderr}");
}

/// The shared real dataset: the counts in its README, and a server on the
/// imported blocks agrees.
#[test]
fn real_exporters_dataset() {
    let src = common::shared_file("datasets/real-exporters-1h.om.txt.gz");
    let Ok(gz) = std::fs::read(&src) else {
        eprintln!("skipping: {} not found", src.display());
        return;
    };
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut text)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("real.om");
    std::fs::write(&file, &text).unwrap();
    let data = dir.path().join("data");

    // The library reports the counts; the README says 415,573 / 1,745.
    let check = tempfile::tempdir().unwrap();
    let s = ferroprom::import::import(&text, check.path(), &mut std::io::sink()).unwrap();
    assert_eq!(s.samples, 415_573);
    assert_eq!(s.series, 1_745);
    let stored: u64 = s.blocks.iter().map(|b| b.stats.num_samples).sum();
    assert_eq!(stored, 415_573);

    let (ok, stderr) = run_import(&file, &data);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("imported 415573 samples of 1745 series"),
        "{stderr}"
    );
    let (min_s, max_s) = (s.min_time / 1000, s.max_time / 1000 + 1);
    let server = Server::start_in(
        dir,
        None,
        // The data is older than the default 15d retention may allow.
        &["--storage.tsdb.retention.time=100y"],
    );
    let series = server.api(
        "/api/v1/series",
        &[
            ("match[]", "{__name__=~\".+\"}"),
            ("start", &min_s.to_string()),
            ("end", &max_s.to_string()),
        ],
    );
    assert_eq!(series.as_array().unwrap().len(), 1_745);
    // A range selector at an instant returns the raw samples.
    let raw = server.api(
        "/api/v1/query",
        &[
            ("query", "{__name__=~\".+\"}[2h]"),
            ("time", &max_s.to_string()),
        ],
    );
    let total: usize = raw["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["values"].as_array().unwrap().len())
        .sum();
    assert_eq!(total, 415_573);
}
