//! Prometheus 2.42 scrapes a test exporter every second and remote-writes
//! everything to ferroprom; afterwards every series Prometheus holds must be
//! in ferroprom with exactly the same samples over the same range.

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use common::exporter::Exporter;
use common::peers::{self, Peer};
use common::Server;

/// Label set (canonical JSON) → (timestamp, value bits) per sample.
type Samples = BTreeMap<String, Vec<(f64, u64)>>;

fn body(tick: u64) -> String {
    let mut s = String::from("# TYPE ex_requests_total counter\n");
    for (path, rate) in [("/a", 7), ("/b", 1), ("/c", 0)] {
        s += &format!("ex_requests_total{{path=\"{path}\"}} {}\n", tick * rate);
    }
    s += "# TYPE ex_temperature_celsius gauge\n";
    for (room, base) in [("lab", 21.0), ("hall", 17.5)] {
        let v = base + ((tick as f64) * 0.37).sin() * 3.0;
        s += &format!("ex_temperature_celsius{{room=\"{room}\"}} {v}\n");
    }
    s += &format!("ex_ratio {}\n", 1.0 / (tick as f64 + 3.0));
    // Comes and goes, so Prometheus sends staleness markers too.
    if (tick / 20).is_multiple_of(2) {
        s += &format!("ex_flapping {}\n", tick % 20);
    }
    s
}

fn samples(v: &Value) -> Samples {
    let mut out = Samples::new();
    for s in v["result"].as_array().expect("matrix result") {
        let m: BTreeMap<String, Value> = s["metric"]
            .as_object()
            .unwrap()
            .clone()
            .into_iter()
            .collect();
        let pts = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let t = p[0].as_f64().unwrap();
                let v: f64 = match p[1].as_str().unwrap() {
                    "NaN" => f64::NAN,
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    x => x.parse().unwrap(),
                };
                (t, v.to_bits())
            })
            .collect();
        out.insert(serde_json::to_string(&m).unwrap(), pts);
    }
    out
}

fn query(get: impl Fn(&[(&str, &str)]) -> (u16, String), at: &str) -> Samples {
    let (code, body) = get(&[("query", r#"{__name__=~".+"}[5m]"#), ("time", at)]);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    samples(&v["data"])
}

fn diff(ours: &Samples, theirs: &Samples) -> Vec<String> {
    let mut out = Vec::new();
    for (k, p) in theirs {
        match ours.get(k) {
            None => out.push(format!("missing in ferroprom: {k}")),
            Some(q) if q != p => out.push(format!(
                "{k}: ferroprom has {} samples, prometheus {}; first difference at {:?}",
                q.len(),
                p.len(),
                q.iter().zip(p).find(|(a, b)| a != b)
            )),
            _ => {}
        }
    }
    for k in ours.keys().filter(|k| !theirs.contains_key(*k)) {
        out.push(format!("only in ferroprom: {k}"));
    }
    out
}

#[test]
fn prometheus_remote_writes_to_ferroprom() {
    let Some(bin) = peers::require("prometheus") else {
        return;
    };
    let ours = Server::start(
        Some("global:\n  scrape_interval: 15s\n"),
        &["--web.enable-remote-write-receiver"],
    );
    let exporter = Exporter::start(&body(0));
    let handle = exporter.clone_handle();
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut tick = 0;
            while !stop.load(Ordering::Relaxed) {
                tick += 1;
                handle.set_body(&body(tick));
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: exp\n    static_configs:\n      - targets: ['{}']\n\
         remote_write:\n  - url: {}\n    queue_config:\n      batch_send_deadline: 200ms\n      \
         max_samples_per_send: 200\n      min_backoff: 50ms\n      max_backoff: 500ms\n",
        exporter.addr(),
        ours.url("/api/v1/write")
    );
    let prom = Peer::prometheus(&bin, &config);

    std::thread::sleep(Duration::from_secs(16));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // A fixed time a little in the past: everything up to it has been
    // scraped; the sender may still be a moment behind, so poll below.
    let at = format!("{}", now / 1000 - 2);
    let theirs = query(|p| prom.get("/api/v1/query", p), &at);
    let scraped: usize = theirs.values().map(Vec::len).sum();
    assert!(
        theirs.len() >= 8 && scraped >= 8 * 10,
        "Prometheus scraped too little: {} series, {scraped} samples",
        theirs.len()
    );
    assert!(
        theirs.keys().any(|k| k.contains("ex_requests_total")),
        "{:?}",
        theirs.keys()
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    let problems = loop {
        let got = query(|p| ours.get("/api/v1/query", p), &at);
        let problems = diff(&got, &theirs);
        if problems.is_empty() || Instant::now() > deadline {
            break problems;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    println!(
        "interop: {} series, {scraped} samples from Prometheus",
        theirs.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
