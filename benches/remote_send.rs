//! Remote-write sender throughput: ingest a fixed rate (default 500,000
//! samples/s, `RW_BENCH_RATE`) into a real `Db` for `RW_BENCH_SECS`
//! (default 20) while a sender ships to a loopback receiver that only
//! reads and snappy-decodes the bodies. Prints, once a second, what was
//! ingested and sent and the lag (newest appended timestamp minus the
//! newest acknowledged one); the sender keeps up when the lag stays flat.
//!
//! `cargo bench --bench remote_send`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Labels, Options};

use ferroprom::metrics::Registry;
use ferroprom::remote::send::RemoteWriteManager;

const SERIES: usize = 50_000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sums `name{...}` samples in the registry's exposition.
fn metric(registry: &Registry, name: &str) -> f64 {
    registry
        .render()
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn main() {
    let rate = env("RW_BENCH_RATE", 500_000);
    let secs = env("RW_BENCH_SECS", 20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    // The receiver: read the body, snappy-decode it, answer 204.
    let received_bytes = Arc::new(AtomicU64::new(0));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    {
        let rb = Arc::clone(&received_bytes);
        let app = axum::Router::new().route(
            "/write",
            post(move |body: Bytes| {
                let rb = Arc::clone(&rb);
                async move {
                    match snap::raw::Decoder::new().decompress_vec(&body) {
                        Ok(raw) => {
                            rb.fetch_add(raw.len() as u64, Ordering::Relaxed);
                            StatusCode::NO_CONTENT
                        }
                        Err(_) => StatusCode::BAD_REQUEST,
                    }
                }
            }),
        );
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    }

    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        Db::open(
            dir.path(),
            // The sender reads what the OS has; fsync per commit would
            // only measure the disk.
            Options {
                compaction_interval: None,
                wal: WalOptions {
                    sync: SyncPolicy::Never,
                    ..WalOptions::default()
                },
                ..Options::default()
            },
        )
        .unwrap(),
    );
    let registry = Registry::new();
    let cfg = ferroprom::config::parse_str(&format!(
        "global:\n  external_labels: {{replica: a}}\nremote_write:\n  - url: http://127.0.0.1:{port}/write\n    name: bench\n"
    ))
    .unwrap();
    let manager = RemoteWriteManager::new(dir.path(), db.head().wal().dir(), &registry);
    rt.block_on(manager.apply_config(&cfg)).unwrap();

    // Ingest: every 100 ms one commit of rate/10 samples spread over
    // SERIES series (a scrape-like batch), timestamps = wall clock.
    let stop = Arc::new(AtomicBool::new(false));
    let ingested = Arc::new(AtomicU64::new(0));
    let newest = Arc::new(AtomicU64::new(0));
    let ingest = {
        let (db, stop, ingested, newest) = (
            Arc::clone(&db),
            Arc::clone(&stop),
            Arc::clone(&ingested),
            Arc::clone(&newest),
        );
        std::thread::spawn(move || {
            let labels: Vec<Labels> = (0..SERIES)
                .map(|i| {
                    Labels::from_pairs([
                        ("__name__", format!("bench_metric_{}", i % 100)),
                        ("instance", format!("host-{}", i / 100)),
                        ("job", "bench".to_string()),
                    ])
                })
                .collect();
            let mut refs = Vec::with_capacity(SERIES);
            let per_tick = (rate / 10) as usize;
            let mut next = Instant::now();
            let mut cursor = 0usize;
            let mut last_t = 0i64;
            while !stop.load(Ordering::Relaxed) {
                // Distinct, increasing timestamps per series.
                let t = now_ms().max(last_t + 1);
                last_t = t;
                let mut app = db.appender();
                for k in 0..per_tick {
                    let i = (cursor + k) % SERIES;
                    let v = (t + i as i64) as f64;
                    if i < refs.len() {
                        app.append_ref(refs[i], t, v).unwrap();
                    } else {
                        refs.push(app.append(&labels[i], t, v).unwrap());
                    }
                }
                app.commit().unwrap();
                cursor = (cursor + per_tick) % SERIES;
                ingested.fetch_add(per_tick as u64, Ordering::Relaxed);
                newest.store(t as u64, Ordering::Relaxed);
                next += Duration::from_millis(100);
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
        })
    };

    println!("remote_send: ingest {rate} samples/s over {SERIES} series for {secs}s");
    println!(
        "{:>4} {:>12} {:>12} {:>12} {:>10} {:>7} {:>8}",
        "s", "ingested", "sent", "sent/s", "lag_ms", "shards", "pending"
    );
    let started = Instant::now();
    let mut last_sent = 0.0;
    let mut lags = Vec::new();
    for s in 1..=secs {
        std::thread::sleep(Duration::from_secs(1));
        let sent = metric(&registry, "prometheus_remote_storage_samples_total");
        let hs = metric(
            &registry,
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
        );
        // Before the first acknowledgement there is no lag to speak of.
        let lag = if hs > 0.0 {
            newest.load(Ordering::Relaxed) as f64 - hs * 1000.0
        } else {
            0.0
        };
        lags.push(lag);
        println!(
            "{s:>4} {:>12} {:>12} {:>12.0} {:>10.0} {:>7} {:>8}",
            ingested.load(Ordering::Relaxed),
            sent,
            sent - last_sent,
            lag,
            metric(&registry, "prometheus_remote_storage_shards"),
            metric(&registry, "prometheus_remote_storage_samples_pending"),
        );
        last_sent = sent;
    }
    stop.store(true, Ordering::Relaxed);
    ingest.join().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    // Let the queue catch up, then report.
    let total_in = ingested.load(Ordering::Relaxed) as f64;
    let drain_start = Instant::now();
    while metric(&registry, "prometheus_remote_storage_samples_total") < total_in
        && drain_start.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = metric(&registry, "prometheus_remote_storage_samples_total");
    let half = lags.len() / 2;
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "summary: ingested {total_in:.0} ({:.0}/s), sent {sent:.0} ({:.0}/s over the ingest window), drained in {:.2}s after ingest stopped",
        total_in / elapsed,
        sent / (elapsed + drain_start.elapsed().as_secs_f64()),
        drain_start.elapsed().as_secs_f64(),
    );
    println!(
        "lag: mean first half {:.0} ms, mean second half {:.0} ms, max {:.0} ms; receiver decoded {:.1} MiB",
        avg(&lags[..half]),
        avg(&lags[half..]),
        lags.iter().cloned().fold(0.0, f64::max),
        received_bytes.load(Ordering::Relaxed) as f64 / (1 << 20) as f64
    );
    rt.block_on(manager.stop());
}
