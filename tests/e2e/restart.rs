//! Restart after `kill -9` of the real binary while remote write is
//! streaming in: the head chunks it left in `chunks_head/` are taken back,
//! and every acknowledged sample is served again — also when the chunk
//! files are damaged, cut short or deleted between runs, and after several
//! restarts in a row.
//!
//! Sized by `FERROPROM_RESTART_SERIES` (default 100 series; 10 samples per
//! series per request).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Server;
use ferroprom::remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;

const PER_REQUEST: i64 = 10;

fn series_count() -> usize {
    std::env::var("FERROPROM_RESTART_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

fn value(s: usize, t: i64) -> f64 {
    (t / 1000) as f64 * 0.5 + s as f64
}

/// Request `round`: samples `round * 10 ..` (1 s apart from `t0`) of every
/// series.
fn request(round: i64, series: usize, t0: i64) -> Vec<u8> {
    let timeseries = (0..series)
        .map(|s| TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: "restart_test".into(),
                },
                Label {
                    name: "s".into(),
                    value: s.to_string(),
                },
            ],
            samples: (0..PER_REQUEST)
                .map(|k| {
                    let t = t0 + (round * PER_REQUEST + k) * 1000;
                    Sample {
                        value: value(s, t),
                        timestamp: t,
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let raw = WriteRequest {
        timeseries,
        ..Default::default()
    }
    .encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy")
}

/// Sends rounds from `from` on until `stop` is set or a request fails;
/// returns the number of the first round not acknowledged and the failure.
fn push_until(
    url: String,
    from: i64,
    series: usize,
    t0: i64,
    stop: Arc<AtomicBool>,
) -> (i64, String) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut round = from;
    while !stop.load(Ordering::Relaxed) {
        let r = client
            .post(&url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(request(round, series, t0))
            .send();
        match r {
            Ok(r) if r.status().is_success() => round += 1,
            Ok(r) => {
                return (
                    round,
                    format!("{}: {}", r.status(), r.text().unwrap_or_default()),
                )
            }
            Err(e) => return (round, e.to_string()),
        }
    }
    (round, "stopped".into())
}

/// Streams remote write into `s` and kills it with SIGKILL once at least
/// `rounds` requests were acknowledged, mid-stream. Returns the directory
/// and the number of rounds acknowledged in total.
fn ingest_and_kill(
    s: Server,
    from: i64,
    rounds: i64,
    series: usize,
    t0: i64,
) -> (tempfile::TempDir, i64) {
    let stop = Arc::new(AtomicBool::new(false));
    let url = s.url("/api/v1/write");
    let pusher = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || push_until(url, from, series, t0, stop))
    };
    // Wait until enough is acknowledged, seen through the data itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    while rounds_present(&s) < from + rounds {
        if pusher.is_finished() {
            panic!("sending stopped: {:?}", pusher.join().unwrap());
        }
        assert!(Instant::now() < deadline, "ingest too slow");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Killed while requests are still being sent.
    let dir = s.kill();
    stop.store(true, Ordering::Relaxed);
    let (acked, _) = pusher.join().unwrap();
    assert!(acked >= from + rounds, "acknowledged {acked}");
    (dir, acked)
}

/// Requests whose samples the server holds (series 0's count; a request
/// in flight at a kill may be stored without having been acknowledged).
fn rounds_present(s: &Server) -> i64 {
    let r = s.query("count_over_time(restart_test{s=\"0\"}[6h])");
    let n = r
        .first()
        .and_then(|v| v["value"][1].as_str()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    n as i64 / PER_REQUEST
}

/// Checks that every sample of rounds `..acked` is served with its value.
fn check_all_back(s: &Server, acked: i64, series: usize, t0: i64, what: &str) {
    let mut got: BTreeMap<usize, BTreeMap<i64, f64>> = BTreeMap::new();
    for r in s.query("restart_test[6h]") {
        let sid: usize = r["metric"]["s"].as_str().unwrap().parse().unwrap();
        let m = got.entry(sid).or_default();
        for p in r["values"].as_array().unwrap() {
            let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
            let v: f64 = p[1].as_str().unwrap().parse().unwrap();
            assert!(m.insert(t, v).is_none(), "{what}: duplicate {sid}@{t}");
        }
    }
    assert_eq!(got.len(), series, "{what}: series");
    for (sid, m) in &got {
        for k in 0..acked * PER_REQUEST {
            let t = t0 + k * 1000;
            let v = m
                .get(&t)
                .unwrap_or_else(|| panic!("{what}: acknowledged sample s={sid} t={t} lost"));
            assert_eq!(
                v.to_bits(),
                value(*sid, t).to_bits(),
                "{what}: s={sid} t={t}"
            );
        }
    }
}

/// Head chunk segment files holding at least one record.
fn chunk_segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("data/chunks_head"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 8))
        .collect();
    v.sort();
    v
}

#[test]
fn kill_9_mid_ingest_loses_no_acknowledged_sample() {
    let series = series_count();
    let extra = ["--web.enable-remote-write-receiver"];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Rounds go 10 s of data per request from 30 min back: all within
    // the half block range behind the self-scrape's newest sample.
    let t0 = (now - 1_800_000) / 1000 * 1000;

    // Run 1: over 120 samples per series, so full chunks are on disk.
    let s = Server::start(None, &extra);
    let (dir, acked) = ingest_and_kill(s, 0, 30, series, t0);
    let segs = chunk_segments(dir.path());
    assert!(!segs.is_empty(), "no head chunks written");

    // Restarts in a row, each killed mid-ingest again: chunks of earlier
    // runs and of this one come back.
    let mut dir = dir;
    let mut acked = acked;
    for run in 2..4 {
        let s = Server::start_in(dir, None, &extra);
        check_all_back(&s, acked, series, t0, &format!("restart {run}"));
        let from = rounds_present(&s);
        (dir, acked) = ingest_and_kill(s, from, 15, series, t0);
    }
    assert!(chunk_segments(dir.path()).len() >= 2);

    // Damage between runs: a flipped byte in the first segment, the last
    // one cut short; then everything deleted.
    let segs = chunk_segments(dir.path());
    let mut b = std::fs::read(&segs[0]).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0xff;
    std::fs::write(&segs[0], b).unwrap();
    let last = segs.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let s = Server::start_in(dir, None, &extra);
    check_all_back(&s, acked, series, t0, "damaged chunk files");
    let from = rounds_present(&s);
    let (dir, acked) = ingest_and_kill(s, from, 5, series, t0);

    std::fs::remove_dir_all(dir.path().join("data/chunks_head")).unwrap();
    let s = Server::start_in(dir, None, &extra);
    check_all_back(&s, acked, series, t0, "chunk files deleted");
}
