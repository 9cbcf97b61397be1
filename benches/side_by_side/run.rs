//! One server's run over one load: start it fresh, upload, let it settle,
//! check that it holds every sample, time the queries, and measure its
//! disk after compaction.

use std::time::{Duration, Instant};

use crate::load::Load;
use crate::peers::{dir_len, upload, Kind, Server, Upload};
use crate::queries::{self, Timing, Window};

/// What a run does besides the upload.
pub struct Plan<'a> {
    /// Wait after the upload and after the last query before reading CPU
    /// time and RSS, so background work the load caused is counted and
    /// the figures do not catch a server mid-request.
    pub settle: Duration,
    /// Metric names to count samples by; empty skips the check.
    pub names: &'a [String],
    pub window: Window,
    /// Repetitions per query; 0 runs no queries.
    pub reps: usize,
    pub disk: bool,
}

pub struct Figures {
    pub upload: Upload,
    /// CPU seconds from the first request until `settle` after the last.
    pub cpu: f64,
    pub rss_ingest: u64,
    pub rss_queries: Option<u64>,
    /// The highest `VmHWM` before the disk step (a snapshot writes a block
    /// and would count its own buffers): of the ingest and of each query.
    pub peak_rss: u64,
    /// `VmHWM` from the start until the queries.
    pub peak_ingest: u64,
    /// Samples a query finds afterwards.
    pub counted: Option<Result<u64, String>>,
    pub queries: Vec<[Timing; 2]>,
    /// Bytes after compaction.
    pub disk: Option<u64>,
}

/// Flags beyond what taking remote writes needs.
fn flags(kind: Kind) -> Vec<String> {
    let v: &[&str] = match kind {
        // Snapshots are an admin call. ferroprom's range-result cache is
        // off: each query repeats, and the peers (VictoriaMetrics' cache is
        // off too) recompute every repetition; `dashboard_cache` measures it.
        Kind::Ferroprom => &["--web.enable-admin-api", "--query.cache-max-bytes=0"],
        Kind::Prometheus => &["--web.enable-admin-api"],
        // Fresh data visible at once and never served from a cache, every
        // sample kept, and no limits on the series a query may touch or on
        // its duration that the others lack (Prometheus: 2 min timeout).
        Kind::Victoria => &[
            "-retentionPeriod=100y",
            "-search.latencyOffset=0",
            "-search.disableCache",
            "-search.maxUniqueTimeseries=100000000",
            "-search.maxQueryDuration=2m",
        ],
    };
    v.iter().map(|s| s.to_string()).collect()
}

pub fn run(kind: Kind, load: &Load, plan: &Plan) -> Figures {
    eprintln!("  {}: start", kind.name());
    let server = Server::start_with(kind, &flags(kind));
    let cpu0 = server.cpu_seconds();
    let upload = upload(server.port, &load.per_conn);
    eprintln!(
        "  {}: {} samples in {:.1} s, {} failed requests",
        kind.name(),
        load.samples,
        upload.wall.as_secs_f64(),
        upload.failed
    );
    std::thread::sleep(plan.settle);
    let cpu = server.cpu_seconds() - cpu0;
    let rss_ingest = server.rss();
    if kind == Kind::Victoria {
        // Rows a few seconds old may still sit in memory, invisible to
        // queries.
        vm_call(&server, "/internal/force_flush");
    }
    // Whole seconds past the newest sample, the range back past the oldest.
    let at = (load.max_t / 1000 + 1) * 1000;
    let counted = (!plan.names.is_empty())
        .then(|| queries::count_samples(&server, plan.names, at, at - load.min_t + 60_000));
    // Each query resets the peak to measure its own.
    let peak_ingest = server.peak_rss();
    let (queries, rss_queries) = if plan.reps > 0 {
        eprintln!("  {}: queries", kind.name());
        let q = queries::run_all(&server, plan.window, plan.reps);
        std::thread::sleep(plan.settle);
        (q, Some(server.rss()))
    } else {
        (Vec::new(), None)
    };
    let peak_rss = queries
        .iter()
        .flatten()
        .map(|t: &Timing| t.peak)
        .fold(peak_ingest.max(server.peak_rss()), u64::max);
    let disk = plan.disk.then(|| {
        eprintln!("  {}: disk after compaction", kind.name());
        disk_after_compaction(&server, kind, load)
    });
    Figures {
        upload,
        cpu,
        rss_ingest,
        rss_queries,
        peak_rss,
        peak_ingest,
        counted,
        queries,
        disk,
    }
}

fn vm_call(server: &Server, path: &str) {
    match server.call("GET", path) {
        Ok((200 | 204, _)) => {}
        Ok((st, body)) => panic!("victoria-metrics {path}: {st}: {body}"),
        Err(e) => panic!("victoria-metrics {path}: {e}"),
    }
}

/// Prometheus and ferroprom: a snapshot with the head (written as a
/// compacted block), measured alone. VictoriaMetrics: everything flushed,
/// the data's months force-merged and the merges settled, then its data
/// and index parts measured.
fn disk_after_compaction(server: &Server, kind: Kind, load: &Load) -> u64 {
    match kind {
        Kind::Ferroprom | Kind::Prometheus => {
            let (st, body) = server
                .call("POST", "/api/v1/admin/tsdb/snapshot")
                .expect("snapshot call");
            assert_eq!(st, 200, "{} snapshot: {body}", kind.name());
            let v: serde_json::Value = serde_json::from_str(&body).expect("snapshot answer");
            let name = v["data"]["name"].as_str().expect("snapshot name");
            dir_len(&server.data.join("snapshots").join(name))
        }
        Kind::Victoria => {
            vm_call(server, "/internal/force_flush");
            for month in months(load.min_t, load.max_t) {
                vm_call(
                    server,
                    &format!("/internal/force_merge?partition_prefix={month}"),
                );
            }
            let size =
                || dir_len(&server.data.join("data")) + dir_len(&server.data.join("indexdb"));
            wait_merges(server, size)
        }
    }
}

/// The partitions (`YYYY_MM`) holding `[min, max]` (ms).
fn months(min: i64, max: i64) -> Vec<String> {
    let month = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .expect("timestamp")
            .format("%Y_%m")
            .to_string()
    };
    let mut v = vec![month(min), month(max)];
    v.dedup();
    v
}

/// Waits until VictoriaMetrics reports no merge running and `size` has
/// stayed the same for three polls a second apart (a force merge starts in
/// the background, possibly after the first poll); returns that size.
fn wait_merges(server: &Server, size: impl Fn() -> u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(600);
    let (mut last, mut stable) = (u64::MAX, 0);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        let (_, metrics) = server.call("GET", "/metrics").expect("metrics");
        let active: f64 = metrics
            .lines()
            .filter(|l| {
                l.starts_with("vm_active_force_merges") || l.starts_with("vm_active_merges{")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        let now = size();
        if active == 0.0 && now == last {
            stable += 1;
            if stable == 3 {
                return now;
            }
        } else {
            stable = 0;
        }
        last = now;
    }
    panic!("victoria-metrics merges did not settle within 600 s");
}
