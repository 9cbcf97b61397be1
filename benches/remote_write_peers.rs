//! Remote-write receivers side by side: ferroprom, Prometheus and
//! VictoriaMetrics take the same prepared requests over loopback.
//!
//! Each server runs in a fresh temp dir on a free 127.0.0.1 port and is
//! killed by its PID when its run ends. The requests are built once, before
//! any server starts: node-exporter-like series, snappy-compressed
//! `WriteRequest`s as Prometheus's sender posts them. Shapes:
//!
//! - `2000x1`: rounds of one sample per series, 15 s apart; each connection
//!   owns a fixed subset of the series (as a sender shard does, so every
//!   series arrives in order) and cuts its stream into requests of 2000
//!   `TimeSeries` of one sample (`max_samples_per_send` 2000).
//! - `500x20`: the same data as 500 series × 20 samples per request.
//!
//! Per server and shape: accepted samples/s over the wall time of the whole
//! upload (every response must be 2xx), the server's CPU seconds (from
//! `/proc/<pid>/stat`, steadier than wall time on a shared machine), peak
//! RSS (`VmHWM`) and the size of its data dir afterwards (VictoriaMetrics
//! is told to flush first; the others hold the data in their WAL and head).
//!
//! Run: `cargo bench --bench remote_write_peers`. Knobs (env): `RW_SERIES`
//! (20000), `RW_ROUNDS` (120 rounds of 15 s per series), `RW_CONNS` (4
//! concurrent connections), `RW_RUNS` (3 fresh runs per server and shape),
//! `RW_RESTARTS` (0; with N, each run then `kill -9`s its server N times,
//! restarts it on the same data dir and port and reports the time from
//! start to `/-/ready` answering 200, and checks with a
//! `count_over_time` query that every acknowledged sample is back),
//! `RW_KEEP_CRASHED` (a directory: each crashed data dir is copied to
//! `<dir>/<server>` before its restart, to profile a restart by hand),
//! `RW_SERVERS` (`ferroprom,prometheus,victoria-metrics`), `RW_SHAPES`
//! (`2000x1,500x20`), `RW_FERROPROM` / `RW_PROMETHEUS` / `RW_VICTORIA`
//! (binary paths; default the one cargo built, `/usr/bin/prometheus`,
//! `/usr/bin/victoria-metrics`; an older ferroprom build gives a
//! before/after comparison). A server
//! whose binary is missing is skipped with a note.

use std::io;
use std::time::Duration;

use ferroprom::remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;

// Each bench uses its own part of the shared module.
#[allow(dead_code)]
#[path = "support/peers.rs"]
mod peers;
use peers::{dir_size, env_list, env_or, sh, upload, Kind, Server};

// ---------------------------------------------------------------- data

const NAMES: [&str; 13] = [
    "node_cpu_seconds_total",
    "node_cpu_guest_seconds_total",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "node_disk_read_bytes_total",
    "node_disk_written_bytes_total",
    "node_disk_io_time_seconds_total",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_memory_MemAvailable_bytes",
    "node_load1",
    "node_context_switches_total",
    "node_intr_total",
];
const MODES: [&str; 4] = ["idle", "user", "system", "iowait"];

/// Series `i`: 100 per host, unique by (host, name, cpu).
fn labels(i: usize) -> Vec<Label> {
    let (host, k) = (i / 100, i % 100);
    let l = |n: &str, v: String| Label {
        name: n.into(),
        value: v,
    };
    vec![
        l("__name__", NAMES[k / 8].into()),
        l("cpu", (k % 8).to_string()),
        l("env", "prod".into()),
        l("instance", format!("host-{host:04}.dc1.example.org:9100")),
        l("job", "node".into()),
        l("mode", MODES[k % 4].into()),
        l("region", ["eu-west", "us-east"][host % 2].into()),
    ]
}

/// Sample `round` of series `i`: counters that grow at a per-series rate,
/// timestamps 15 s apart with a per-series scrape offset.
fn sample(i: usize, round: usize, t0: i64) -> Sample {
    let rate = 1.0 + (i % 17) as f64 * 0.25;
    Sample {
        value: (i * 1000) as f64 + rate * round as f64 * 15.0,
        timestamp: t0 + round as i64 * 15_000 + (i as i64 * 7919) % 15_000,
    }
}

struct Shape {
    name: String,
    /// Samples per `TimeSeries` entry.
    per_entry: usize,
    /// `TimeSeries` entries per request.
    entries: usize,
}

impl Shape {
    fn parse(s: &str) -> Shape {
        let (e, p) = s
            .split_once('x')
            .unwrap_or_else(|| panic!("shape {s:?}: want ENTRIESxSAMPLES"));
        Shape {
            name: s.into(),
            entries: e.parse().expect("entries per request"),
            per_entry: p.parse().expect("samples per entry"),
        }
    }
}

/// Per connection, its compressed request bodies in sending order.
struct Load {
    per_conn: Vec<Vec<Vec<u8>>>,
    samples: u64,
    bytes: u64,
}

fn build_load(shape: &Shape, series: usize, rounds: usize, conns: usize, t0: i64) -> Load {
    let blocks = rounds / shape.per_entry;
    assert!(blocks > 0, "RW_ROUNDS must be at least {}", shape.per_entry);
    let all_labels: Vec<Vec<Label>> = (0..series).map(labels).collect();
    let mut per_conn = Vec::with_capacity(conns);
    let (mut samples, mut bytes) = (0u64, 0u64);
    let mut enc = snap::raw::Encoder::new();
    for c in 0..conns {
        // Series c, c+conns, ...: a sender shard's fixed share.
        let mine: Vec<usize> = (c..series).step_by(conns).collect();
        let mut bodies = Vec::new();
        let mut pending = Vec::with_capacity(shape.entries);
        let mut flush = |pending: &mut Vec<TimeSeries>, bodies: &mut Vec<Vec<u8>>| {
            if pending.is_empty() {
                return;
            }
            let req = WriteRequest {
                timeseries: std::mem::take(pending),
                metadata: vec![],
            };
            let body = enc.compress_vec(&req.encode_to_vec()).expect("snappy");
            bytes += body.len() as u64;
            bodies.push(body);
        };
        for b in 0..blocks {
            for &i in &mine {
                let first = b * shape.per_entry;
                pending.push(TimeSeries {
                    labels: all_labels[i].clone(),
                    samples: (first..first + shape.per_entry)
                        .map(|r| sample(i, r, t0))
                        .collect(),
                    ..Default::default()
                });
                samples += shape.per_entry as u64;
                if pending.len() == shape.entries {
                    flush(&mut pending, &mut bodies);
                }
            }
        }
        flush(&mut pending, &mut bodies);
        per_conn.push(bodies);
    }
    Load {
        per_conn,
        samples,
        bytes,
    }
}

/// Samples held for the load's series at `at` (ms) over the last `range`,
/// as a query counts them: one query per metric name, since
/// `count_over_time` drops the name and the names' series would collide.
fn count_samples(server: &Server, at: i64, range: &str) -> io::Result<u64> {
    let mut total = 0;
    for name in NAMES {
        total += count_one(server, name, at, range)?;
    }
    Ok(total)
}

fn count_one(server: &Server, name: &str, at: i64, range: &str) -> io::Result<u64> {
    let q = format!(
        "/api/v1/query?query=sum(count_over_time({name}%7Bjob%3D%22node%22%7D%5B{range}%5D))&time={}.{:03}",
        at.div_euclid(1000),
        at.rem_euclid(1000)
    );
    let (st, body) = peers::Conn::open(server.port)?.request("GET", &q, b"")?;
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    if st != 200 {
        return Err(bad(format!("{st}: {body}")));
    }
    if body.contains("\"result\":[]") {
        return Ok(0);
    }
    // `"value":[<time>,"<count>"]`: the count is the last quoted string.
    let v = body
        .rsplit('"')
        .nth(1)
        .ok_or_else(|| bad(format!("no value in {body}")))?;
    v.parse::<f64>()
        .map(|f| f as u64)
        .map_err(|_| bad(format!("bad count in {body}")))
}

// ---------------------------------------------------------------- runs

struct Result {
    wall: Duration,
    cpu: f64,
    rss: u64,
    disk: u64,
    failed: usize,
    first_error: Option<String>,
    /// Per `kill -9` and restart after the upload: time to ready, and the
    /// samples a query then counts (or why it failed).
    restarts: Vec<(Duration, std::result::Result<u64, String>)>,
}

/// Query time and range covering every sample of a load, for counting.
struct CountAt {
    at: i64,
    range: String,
}

fn run(kind: Kind, load: &Load, restarts: usize, count_at: &CountAt) -> Result {
    let mut server = Server::start(kind);
    let port = server.port;
    let cpu_before = server.cpu_seconds();
    let up = upload(port, &load.per_conn);
    let cpu = server.cpu_seconds() - cpu_before;
    if kind == Kind::Victoria {
        // Recent rows sit in memory for up to a few seconds; count them.
        let _ = peers::Conn::open(port)
            .and_then(|mut c| c.request("GET", "/internal/force_flush", b""));
        std::thread::sleep(Duration::from_secs(2));
    }
    let rss = server.peak_rss();
    let disk = dir_size(&server.data);
    let restarts = (0..restarts)
        .map(|_| {
            let ready = server.crash_and_restart(kind);
            let n = count_samples(&server, count_at.at, &count_at.range).map_err(|e| e.to_string());
            (ready, n)
        })
        .collect();
    drop(server);
    Result {
        wall: up.wall,
        cpu,
        rss,
        disk,
        failed: up.failed,
        first_error: up.first_error,
        restarts,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let series: usize = env_or("RW_SERIES", 20_000);
    let rounds: usize = env_or("RW_ROUNDS", 120);
    let conns: usize = env_or("RW_CONNS", 4);
    let runs: usize = env_or("RW_RUNS", 3);
    let restarts: usize = env_or("RW_RESTARTS", 0);
    let servers: Vec<Kind> = env_list("RW_SERVERS", "ferroprom,prometheus,victoria-metrics")
        .iter()
        .map(|s| Kind::parse(s))
        .collect();
    let shapes: Vec<Shape> = env_list("RW_SHAPES", "2000x1,500x20")
        .iter()
        .map(|s| Shape::parse(s))
        .collect();
    println!(
        "remote-write receivers: {} series, {rounds} rounds of 15 s, {conns} connections, {runs} run(s) each",
        series
    );
    println!(
        "machine: {} CPUs, {}, {}",
        sh("nproc", &[]),
        sh("uname", &["-sr"]),
        sh("date", &["-u", "+%Y-%m-%dT%H:%MZ"])
    );
    let available: Vec<Kind> = servers
        .into_iter()
        .filter(|k| {
            let ok = k.binary().exists();
            if ok {
                println!("  {:<17} {}", k.name(), k.version());
            } else {
                println!(
                    "  {:<17} skipped: {} not installed",
                    k.name(),
                    k.binary().display()
                );
            }
            ok
        })
        .collect();
    // Start an hour back so every server takes the whole range as recent.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let t0 = (now_ms - 3_600_000) / 1000 * 1000;
    let count_at = CountAt {
        at: t0 + (rounds as i64 + 1) * 15_000,
        range: format!("{}s", rounds * 15 + 60),
    };
    for shape in &shapes {
        let load = build_load(shape, series, rounds, conns, t0);
        let requests: usize = load.per_conn.iter().map(Vec::len).sum();
        println!(
            "\nshape {}: {} requests, {} samples, {:.1} MiB compressed",
            shape.name,
            requests,
            load.samples,
            load.bytes as f64 / (1 << 20) as f64
        );
        println!(
            "{:<17} {:>13} {:>15} {:>7} {:>8} {:>13} {:>9} {:>9} {:>8} {:>6}",
            "server",
            "best kS/s",
            "spread kS/s",
            "ratio",
            "wall s",
            "kS/CPU-s",
            "RSS MiB",
            "disk MiB",
            "B/smpl",
            "errors"
        );
        let mut best_ferro = None;
        for &kind in &available {
            let results: Vec<Result> = (0..runs.max(1))
                .map(|_| run(kind, &load, restarts, &count_at))
                .collect();
            let rate = |r: &Result| load.samples as f64 / r.wall.as_secs_f64();
            let best = results
                .iter()
                .max_by(|a, b| rate(a).total_cmp(&rate(b)))
                .expect("one run");
            let lo = results.iter().map(rate).fold(f64::MAX, f64::min);
            let hi = rate(best);
            if kind == Kind::Ferroprom {
                best_ferro = Some(hi);
            }
            let ratio = best_ferro.map_or("-".to_string(), |f| format!("{:.2}", f / hi));
            let errors: usize = results.iter().map(|r| r.failed).sum();
            println!(
                "{:<17} {:>13.0} {:>15} {:>7} {:>8.2} {:>13.0} {:>9.0} {:>9.1} {:>8.2} {:>6}",
                kind.name(),
                hi / 1e3,
                format!("{:.0}-{:.0}", lo / 1e3, hi / 1e3),
                ratio,
                best.wall.as_secs_f64(),
                load.samples as f64 / best.cpu / 1e3,
                best.rss as f64 / (1 << 20) as f64,
                best.disk as f64 / (1 << 20) as f64,
                best.disk as f64 / load.samples as f64,
                errors
            );
            if let Some(e) = results.iter().find_map(|r| r.first_error.as_ref()) {
                println!("    first error: {e}");
            }
            print_restarts(&results, load.samples);
        }
    }
    println!("\nratio = ferroprom's best samples/s / this server's best samples/s");
    if restarts > 0 {
        println!("ready = start after kill -9 until /-/ready answers 200");
    }
}

/// The restart figures of one server's runs: every time to ready, their
/// median, and whether a query counts every sample the upload had
/// acknowledged.
fn print_restarts(results: &[Result], acknowledged: u64) {
    let mut ready: Vec<Duration> = results
        .iter()
        .flat_map(|r| r.restarts.iter().map(|x| x.0))
        .collect();
    if ready.is_empty() {
        return;
    }
    ready.sort();
    let all: Vec<String> = ready
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    println!(
        "    ready after kill -9: median {:.2} s (all: {})",
        ready[ready.len() / 2].as_secs_f64(),
        all.join(" ")
    );
    for r in results {
        let lost = r.failed > 0;
        for (i, (_, n)) in r.restarts.iter().enumerate() {
            match n {
                Ok(n) if *n == acknowledged || lost => {}
                Ok(n) => println!(
                    "    restart {}: {n} samples counted, {acknowledged} acknowledged: MISSING {}",
                    i + 1,
                    acknowledged as i64 - *n as i64
                ),
                Err(e) => println!("    restart {}: count failed: {e}", i + 1),
            }
        }
    }
    let counted = results
        .iter()
        .flat_map(|r| &r.restarts)
        .filter(|(_, n)| n.as_ref().is_ok_and(|n| *n == acknowledged))
        .count();
    println!(
        "    every acknowledged sample back after {counted} of {} restarts",
        ready.len()
    );
}
