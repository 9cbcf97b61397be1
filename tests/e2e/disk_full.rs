//! A real full disk: the data directory of the real binary on a small
//! tmpfs. Remote write fills it until appends fail; those requests must be
//! answered 500 (retryable, nothing acknowledged that was not stored), the
//! self-scrape shows the failure, and once a filler file on the same mount
//! is deleted ingestion resumes by itself. Every acknowledged sample is
//! then queryable, and again after a restart.
//!
//! Needs permission to mount (root); otherwise it prints why and passes.
//! Takes a few seconds.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use prost::Message;

use ferroprom::remote::proto::{Label, Sample, TimeSeries, WriteRequest};

/// Series per request: each request is a batch of new series whose WAL
/// records fill the disk quickly without cutting any head chunk.
const SERIES: usize = 1000;
const MOUNT_SIZE: &str = "6m";
const FILLER_BYTES: usize = 2 << 20;

/// Unmounts (lazily, in case something still holds it) and removes the
/// directory around the mount point, also when the test fails.
struct Mount {
    point: PathBuf,
    root: PathBuf,
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.point).status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Mounts a tmpfs at `point`; `None` (with the reason printed) when the
/// machine does not allow it.
fn mount_tmpfs(point: &Path, root: &Path) -> Option<Mount> {
    std::fs::create_dir_all(point).unwrap();
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={MOUNT_SIZE}"), "tmpfs"])
        .arg(point)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(Mount {
            point: point.to_path_buf(),
            root: root.to_path_buf(),
        }),
        Ok(o) => {
            eprintln!(
                "skipping disk_full: mount -t tmpfs not permitted here: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("skipping disk_full: cannot run mount: {e}");
            None
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// 64 hex digits that do not compress, so the WAL (Snappy) grows fast.
fn noise(seed: u64) -> String {
    let mut x = seed;
    (0..4)
        .map(|_| {
            // splitmix64
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            format!("{:016x}", z ^ (z >> 31))
        })
        .collect()
}

/// Request `n`: `SERIES` new series of metric `fill_<n>`, one sample each
/// with value `n`, labels padded so the WAL grows fast.
fn request(n: usize, t: i64) -> WriteRequest {
    WriteRequest {
        timeseries: (0..SERIES)
            .map(|i| TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: format!("fill_{n}"),
                    },
                    Label {
                        name: "i".into(),
                        value: format!("{i}-{}", noise((n * SERIES + i) as u64)),
                    },
                ],
                samples: vec![Sample {
                    value: n as f64,
                    timestamp: t,
                }],
                ..Default::default()
            })
            .collect(),
        metadata: vec![],
    }
}

fn post(srv: &common::Server, req: &WriteRequest) -> (u16, String) {
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let r = srv
        .client
        .post(srv.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .expect("the server answers (it did not crash)");
    let status = r.status().as_u16();
    (status, r.text().unwrap_or_default())
}

/// `agg by (__name__) (…)` over every `fill_*` series, by metric name.
fn by_name(srv: &common::Server, agg: &str) -> BTreeMap<String, f64> {
    srv.query(&format!("{agg} by (__name__) ({{__name__=~\"fill_.*\"}})"))
        .iter()
        .map(|s| {
            let name = s["metric"]["__name__"].as_str().unwrap().to_string();
            (name, s["value"][1].as_str().unwrap().parse().unwrap())
        })
        .collect()
}

/// Every acknowledged request's series are there, each with its value.
fn check_acknowledged(srv: &common::Server, acked: &[usize], when: &str) {
    let (count, min, max) = (
        by_name(srv, "count"),
        by_name(srv, "min"),
        by_name(srv, "max"),
    );
    for &n in acked {
        let name = format!("fill_{n}");
        assert_eq!(
            count.get(&name),
            Some(&(SERIES as f64)),
            "{when}: acknowledged request {n} not all stored"
        );
        assert_eq!(min.get(&name), Some(&(n as f64)), "{when}: {name}");
        assert_eq!(max.get(&name), Some(&(n as f64)), "{when}: {name}");
    }
}

#[test]
fn disk_full_answers_500_and_resumes_when_space_frees() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(_mount) = mount_tmpfs(&data, dir.path()) else {
        return;
    };
    let filler = data.join("filler");
    std::fs::write(&filler, vec![1u8; FILLER_BYTES]).unwrap();
    // A scrape target, so the scrape path meets the full disk too.
    // Its body is large enough that a scrape never fits in the last
    // partly used page of a WAL segment.
    let body: String = (0..200)
        .map(|i| format!("probe{{k=\"{}\"}} 1\n", noise(1 << 40 | i)))
        .collect();
    let exporter = common::exporter::Exporter::start(&body);
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: probe\n    \
         static_configs:\n      - targets: ['{}']\n",
        exporter.addr()
    );
    let recv = ["--web.enable-remote-write-receiver"];
    let mut srv = common::Server::start_in(dir, Some(&config), &recv);
    let _log = srv.keep_log();

    // Fill the disk.
    let t = now_ms();
    let mut acked = Vec::new();
    let mut n = 0;
    let first_500 = loop {
        assert!(n < 2000, "the disk never filled");
        let (status, body) = post(&srv, &request(n, t));
        match status {
            204 => acked.push(n),
            500 => break body,
            other => panic!("request {n}: unexpected {other}: {body}"),
        }
        n += 1;
    };
    assert!(
        !acked.is_empty(),
        "some requests fit before the disk filled"
    );
    assert!(
        first_500.contains("No space left") || first_500.contains("WAL"),
        "{first_500}"
    );
    // Take the last free pages too, so even a scrape's small batch finds
    // no room.
    let filler2 = data.join("filler2");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler2).unwrap();
        while f.write_all(&[2u8; 4096]).is_ok() {}
    }
    // Still full: more requests are refused, not acknowledged.
    for _ in 0..3 {
        n += 1;
        let (status, body) = post(&srv, &request(n, t));
        assert_eq!(status, 500, "{body}");
    }
    // The self-scrape cannot store either: counted and shown on the target.
    common::poll(20, "scrape append failure counted", || {
        srv.self_metric("ferroprom_target_scrapes_append_failed_total", &[])
            .filter(|v| *v > 0.0)
    });
    common::poll(20, "target lastError", || {
        let v = srv.api("/api/v1/targets", &[]);
        let t = &v["activeTargets"][0];
        (t["health"] == "down" && !t["lastError"].as_str().unwrap_or("").is_empty()).then_some(())
    });

    // The disk frees up: ingestion resumes without a restart.
    std::fs::remove_file(&filler).unwrap();
    std::fs::remove_file(&filler2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        n += 1;
        let (status, body) = post(&srv, &request(n, t));
        if status == 204 {
            acked.push(n);
            break;
        }
        assert_eq!(status, 500, "{body}");
        assert!(
            Instant::now() < deadline,
            "ingestion did not resume: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for _ in 0..3 {
        n += 1;
        let (status, body) = post(&srv, &request(n, t));
        assert_eq!(status, 204, "{body}");
        acked.push(n);
    }
    common::poll(20, "self-scrape healthy again", || {
        let v = srv.api("/api/v1/targets", &[]);
        (v["activeTargets"][0]["health"] == "up").then_some(())
    });
    eprintln!(
        "{} requests acknowledged, {} refused",
        acked.len(),
        n + 1 - acked.len()
    );
    check_acknowledged(&srv, &acked, "after the disk freed up");

    // And after a crash and restart (WAL replay from the full-disk era).
    let dir = srv.kill();
    let srv = common::Server::start_in(dir, Some(&config), &recv);
    check_acknowledged(&srv, &acked, "after restart");
}
