//! ferroprom, Prometheus and VictoriaMetrics side by side on the same data,
//! one Markdown table per data size for `docs/performance.md`.
//!
//! Per size (`SERIESxSAMPLES`, one sample every 15 s ending just before
//! now, or before the last 2 h block boundary if the data would cross it:
//! see `data_end`; `synthetic.rs` describes the series) the remote-write requests are
//! built once, then each server in turn (never two at once: they would
//! compete for the cores) runs fresh in a temp dir and:
//!
//! 1. takes the requests over `RW_CONNS` keep-alive connections: ingest
//!    samples/s over the wall time of the upload;
//! 2. idles `SBS_SETTLE` s (5): server CPU seconds (`/proc/<pid>/stat`
//!    utime + stime) from the first request to here, per 1M samples, and
//!    RSS after ingest (`VmRSS`);
//! 3. must hold every sample: `sum(count_over_time(...))` per metric name
//!    has to add up to the samples sent, or the bench stops (timing queries
//!    over different data would mean nothing);
//! 4. answers the 30 queries of `queries.rs`, each as an instant query at
//!    the end of the data and as a 1 h range query (15 s step), `SBS_REPS`
//!    times (3), keeping the median wall time (client side, request sent
//!    to response read) and the number of series returned;
//! 5. idles `SBS_SETTLE` s again: RSS after queries (`VmRSS`), and peak RSS
//!    (`VmHWM`);
//! 6. disk after compaction, bytes per sample: ferroprom and Prometheus
//!    take an admin snapshot including the head (written as a compacted
//!    block) and the snapshot dir is measured; VictoriaMetrics gets
//!    `/internal/force_flush`, `/internal/force_merge` for the data's
//!    months, and a wait until no merge runs and the size holds still for
//!    3 s, then its `data` and `indexdb` dirs are measured. Sizes are the
//!    files' lengths (not blocks in use, which round small parts up).
//!
//! Then, per size, ferroprom alone takes the same data over each number of
//! connections in `SBS_GROUP_CONNS` (4,16): the WAL group-commits the
//! fsyncs of concurrent requests, so more connections should mean fewer
//! syncs per sample. Last, the real hour (`SBS_REAL`, default
//! `$FERROPROM_SHARED_DIR/datasets/real-exporters-1h.om.txt.gz`) goes to
//! each server the same way (no queries): bytes per sample for data as
//! exporters produce it.
//!
//! Every ratio compares figures measured in the same run of this bench,
//! since the machine is noisy. Tables go to stdout, progress to stderr.
//!
//! Run: `cargo bench --bench side_by_side > out.txt`. Knobs (env):
//! `SBS_SIZES` (`50000x240`; e.g. `50000x240,300000x20`), `RW_CONNS` (4),
//! `RW_SERVERS` (`ferroprom,prometheus,victoria-metrics`), `SBS_PARTS`
//! (`synthetic,queries,group-commit,real`; leave parts out to skip them),
//! `SBS_REPS` (3), `SBS_SETTLE` (5 seconds), `SBS_GROUP_CONNS` (`4,16`),
//! `SBS_PER_REQUEST` (2000 samples per request, one per series), `SBS_REAL`,
//! and the binaries `RW_FERROPROM` / `RW_PROMETHEUS` / `RW_VICTORIA`
//! (default the ferroprom cargo built, `/usr/bin/prometheus`,
//! `/usr/bin/victoria-metrics`). A quick try:
//! `SBS_SIZES=2000x240 SBS_REPS=1 cargo bench --bench side_by_side`.

mod load;
// Each bench uses its own part of the shared module.
#[allow(dead_code)]
#[path = "../support/peers.rs"]
mod peers;
mod queries;
mod real;
mod report;
mod run;
mod synthetic;

use std::path::PathBuf;
use std::time::Duration;

use load::Load;
use peers::{env_list, env_or, sh, Kind};
use queries::{Window, QUERIES};
use report::{geomean, int, mib, num, ratio, Table};
use run::{Figures, Plan};

const HOUR_MS: i64 = 3_600_000;

struct Knobs {
    servers: Vec<Kind>,
    conns: usize,
    parts: Vec<String>,
    reps: usize,
    settle: Duration,
    group_conns: Vec<usize>,
    per_request: usize,
}

impl Knobs {
    fn part(&self, p: &str) -> bool {
        self.parts.iter().any(|x| x == p)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let knobs = Knobs {
        servers: env_list("RW_SERVERS", "ferroprom,prometheus,victoria-metrics")
            .iter()
            .map(|s| Kind::parse(s))
            .filter(|k| k.binary().exists())
            .collect(),
        conns: env_or("RW_CONNS", 4),
        parts: env_list("SBS_PARTS", "synthetic,queries,group-commit,real"),
        reps: env_or("SBS_REPS", 3),
        settle: Duration::from_secs(env_or("SBS_SETTLE", 5)),
        group_conns: env_list("SBS_GROUP_CONNS", "4,16")
            .iter()
            .map(|c| c.parse().expect("SBS_GROUP_CONNS: numbers"))
            .collect(),
        per_request: env_or("SBS_PER_REQUEST", 2000),
    };
    let sizes: Vec<(usize, usize)> = env_list("SBS_SIZES", "50000x240")
        .iter()
        .map(|s| {
            let (a, b) = s.split_once('x').expect("SBS_SIZES: SERIESxSAMPLES");
            (a.parse().expect("series"), b.parse().expect("samples"))
        })
        .collect();
    header(&knobs, &sizes);
    for &(series, samples) in &sizes {
        if knobs.part("synthetic") {
            synthetic_size(&knobs, series, samples);
        }
        if knobs.part("group-commit") {
            group_commit(&knobs, series, samples);
        }
    }
    if knobs.part("real") {
        real_hour(&knobs);
    }
    println!("load average at the end: {}", loadavg());
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn header(knobs: &Knobs, sizes: &[(usize, usize)]) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    println!("## Side by side: ferroprom, Prometheus, VictoriaMetrics\n");
    println!(
        "{}; {} × {cpu}; {}; load average at the start: {}",
        sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        sh("nproc", &[]),
        sh("uname", &["-sr"]),
        loadavg()
    );
    for k in &knobs.servers {
        println!("- {}: {}", k.name(), k.version());
    }
    let sizes: Vec<String> = sizes.iter().map(|(a, b)| format!("{a}x{b}")).collect();
    println!(
        "- sizes {}, {} connections, {} samples per request, {} repetitions per query, {} s settle\n",
        sizes.join(", "),
        knobs.conns,
        knobs.per_request,
        knobs.reps,
        knobs.settle.as_secs()
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// Prometheus's (and ferroprom's) block range: chunks are cut where one
/// ends.
const BLOCK_MS: i64 = 2 * HOUR_MS;

/// Where data spanning `span` ms should end: just before now, unless that
/// would cross a block boundary, which makes ferroprom and Prometheus cut
/// every series' chunks there and so changes bytes/sample with the time of
/// day the bench runs; then just before that boundary (at most `span` ago,
/// still recent for every server).
fn data_end(span: i64) -> i64 {
    let end = now_ms() - 15_000;
    let boundary = end.div_euclid(BLOCK_MS) * BLOCK_MS;
    if end - span < boundary {
        boundary - 1_000
    } else {
        end
    }
}

fn synthetic_load(series: usize, samples: usize, conns: usize, per_request: usize) -> Load {
    // The last round (plus up to one interval of scrape offset) ends just
    // before now: every server takes it as recent.
    let span = (samples as i64 + 1) * synthetic::INTERVAL_MS;
    let t0 = (data_end(span) - span) / 1000 * 1000;
    let mut gen = synthetic::Synthetic::new(series, samples, t0);
    let load = load::build(
        series,
        samples,
        conns,
        per_request,
        synthetic::labels,
        |i, r| gen.sample(i, r),
    );
    eprintln!(
        "{series}x{samples}: {} requests, {} samples, {:.1} MiB compressed",
        load.requests(),
        load.samples,
        load.bytes as f64 / (1 << 20) as f64
    );
    load
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn window(load: &Load) -> Window {
    Window {
        end: (load.max_t / 1000 + 1) * 1000,
        range: HOUR_MS,
        step: 15_000,
    }
}

fn synthetic_size(knobs: &Knobs, series: usize, samples: usize) {
    let load = synthetic_load(series, samples, knobs.conns, knobs.per_request);
    let names = names(&synthetic::NAMES);
    let plan = Plan {
        settle: knobs.settle,
        names: &names,
        window: window(&load),
        reps: if knobs.part("queries") { knobs.reps } else { 0 },
        disk: true,
    };
    let mut all: Vec<(Kind, Figures)> = Vec::new();
    for &kind in &knobs.servers {
        let f = run::run(kind, &load, &plan);
        check_counts(kind, &f, load.samples);
        all.push((kind, f));
    }
    println!(
        "### {series} series × {samples} samples ({} samples), {} connections\n",
        int(load.samples as f64),
        knobs.conns
    );
    summary(&all, &load, knobs.conns, plan.reps > 0);
    if plan.reps > 0 {
        per_query(&all);
        per_query_peak(&all);
    }
}

/// Fails loudly when a server lost samples: the figures would compare
/// different data.
fn check_counts(kind: Kind, f: &Figures, sent: u64) {
    if f.upload.failed > 0 {
        panic!(
            "{} refused {} requests, first: {}",
            kind.name(),
            f.upload.failed,
            f.upload.first_error.as_deref().unwrap_or("")
        );
    }
    match &f.counted {
        Some(Ok(n)) if *n == sent => {}
        Some(Ok(n)) => panic!("{} holds {n} samples of the {sent} sent", kind.name()),
        Some(Err(e)) => panic!("{}: counting samples: {e}", kind.name()),
        None => {}
    }
}

/// One figure per server, and ferroprom's ÷ the others'.
fn figure_row(
    all: &[(Kind, Figures)],
    what: &str,
    f: impl Fn(&Figures) -> Option<f64>,
    fmt: impl Fn(f64) -> String,
) -> Vec<String> {
    let get = |k: Kind| all.iter().find(|x| x.0 == k).and_then(|x| f(&x.1));
    let mut row = vec![what.to_string()];
    for (_, fig) in all {
        row.push(f(fig).map_or("-".into(), &fmt));
    }
    row.push(ratio(get(Kind::Ferroprom), get(Kind::Prometheus)));
    row.push(ratio(get(Kind::Ferroprom), get(Kind::Victoria)));
    row
}

fn header_row(all: &[(Kind, Figures)]) -> Vec<String> {
    let mut h = vec!["figure".to_string()];
    h.extend(all.iter().map(|x| x.0.name().to_string()));
    h.push("ferroprom ÷ Prometheus".into());
    h.push("ferroprom ÷ VM".into());
    h
}

fn new_table(h: Vec<String>, text: usize) -> Table {
    let refs: Vec<&str> = h.iter().map(String::as_str).collect();
    Table::new(&refs, text)
}

/// Median latency ratios of `kind` to Prometheus over the queries both
/// answered, geometric mean; `mode` 0 = instant, 1 = range.
fn latency_geomean(all: &[(Kind, Figures)], f: &Figures, mode: usize) -> Option<f64> {
    let prom = &all.iter().find(|x| x.0 == Kind::Prometheus)?.1;
    let ratios: Vec<f64> = f
        .queries
        .iter()
        .zip(&prom.queries)
        .filter(|(a, b)| a[mode].series.is_ok() && b[mode].series.is_ok())
        .map(|(a, b)| a[mode].median.as_secs_f64() / b[mode].median.as_secs_f64())
        .collect();
    geomean(&ratios)
}

/// How many queries `f` answered slower than VictoriaMetrics, instant and
/// range.
fn slower_than_vm(all: &[(Kind, Figures)], f: &Figures) -> Option<[usize; 2]> {
    let vm = &all.iter().find(|x| x.0 == Kind::Victoria)?.1;
    let n = |mode: usize| {
        f.queries
            .iter()
            .zip(&vm.queries)
            .filter(|(a, b)| a[mode].median > b[mode].median)
            .count()
    };
    Some([n(0), n(1)])
}

fn summary(all: &[(Kind, Figures)], load: &Load, conns: usize, queries: bool) {
    let mut t = new_table(header_row(all), 1);
    let samples = load.samples as f64;
    t.row(figure_row(
        all,
        &format!("remote-write ingest, samples/s ({conns} connections)"),
        |f| Some(samples / f.upload.wall.as_secs_f64()),
        int,
    ));
    t.row(figure_row(
        all,
        "server CPU s per 1M samples ingested",
        |f| Some(f.cpu / samples * 1e6),
        num,
    ));
    t.row(figure_row(
        all,
        "disk after compaction, bytes/sample",
        |f| f.disk.map(|d| d as f64 / samples),
        num,
    ));
    t.row(figure_row(
        all,
        "RSS after ingest, MiB",
        |f| Some(f.rss_ingest as f64),
        |b| mib(b as u64),
    ));
    if queries {
        t.row(figure_row(
            all,
            "RSS after queries, MiB",
            |f| f.rss_queries.map(|b| b as f64),
            |b| mib(b as u64),
        ));
    }
    t.row(figure_row(
        all,
        "peak RSS (VmHWM), MiB",
        |f| Some(f.peak_rss as f64),
        |b| mib(b as u64),
    ));
    if queries {
        t.row(figure_row(
            all,
            "peak RSS until the queries, MiB",
            |f| Some(f.peak_ingest as f64),
            |b| mib(b as u64),
        ));
    }
    if queries {
        for (mode, what) in [(0, "instant"), (1, "range")] {
            t.row(figure_row(
                all,
                &format!(
                    "{what} query latency ÷ Prometheus (geomean of {})",
                    QUERIES.len()
                ),
                |f| latency_geomean(all, f, mode),
                |x| format!("{x:.2}"),
            ));
        }
        let mut row = vec!["queries slower than VictoriaMetrics (instant, range)".to_string()];
        for (kind, f) in all {
            row.push(match (kind, slower_than_vm(all, f)) {
                (Kind::Victoria, _) | (_, None) => "-".into(),
                (_, Some([i, r])) => format!("{i}, {r}"),
            });
        }
        row.extend(["-".to_string(), "-".to_string()]);
        t.row(row);
    }
    t.print();
    println!("{LEGEND}\n");
}

/// How the summary's figures are taken, printed under it.
const LEGEND: &str = "Ingest: the same prepared requests (one sample per series entry, \
as many entries per request as the header says), wall time of the whole upload. CPU: the server's utime + stime from \
the first request until the settle delay after the last. Disk: ferroprom and Prometheus \
take an admin snapshot including the head, measured alone; VictoriaMetrics is force-flushed \
and force-merged until no merge runs, then its data and indexdb dirs are measured; file \
lengths, per sample sent. RSS: VmRSS after the settle delay following the upload and the \
last query; peak: VmHWM before the disk step. Query latency: client wall time, median of \
the repetitions; the geometric mean is over the queries both servers answered. \
Ratios: ferroprom's figure divided by the other server's, all from this one run.";

fn per_query(all: &[(Kind, Figures)]) {
    let mut h = vec!["#".to_string(), "query".to_string()];
    for mode in ["instant", "range"] {
        for (k, _) in all {
            h.push(format!("{mode} ms {}", short(*k)));
        }
    }
    h.push("series (instant; range)".into());
    let mut t = new_table(h, 2);
    let mut notes = Vec::new();
    for (i, (what, q)) in QUERIES.iter().enumerate() {
        let mut row = vec![(i + 1).to_string(), what.to_string()];
        for mode in 0..2 {
            for (_, f) in all {
                let tm = &f.queries[i][mode];
                row.push(match &tm.series {
                    Ok(_) => num(tm.median.as_secs_f64() * 1e3),
                    Err(_) => "error".into(),
                });
            }
        }
        let mut counts = Vec::new();
        let mut differ = false;
        for mode in 0..2 {
            let c: Vec<String> = all
                .iter()
                .map(|(_, f)| match &f.queries[i][mode].series {
                    Ok(n) => n.to_string(),
                    Err(_) => "err".into(),
                })
                .collect();
            differ |= c.windows(2).any(|w| w[0] != w[1]);
            counts.push(c.join("/"));
        }
        let mut cell = counts.join("; ");
        if differ {
            cell.push_str(" DIFFER");
        }
        row.push(cell);
        t.row(row);
        notes.push(format!("{}. `{q}`", i + 1));
        for (k, f) in all {
            for mode in 0..2 {
                if let Err(e) = &f.queries[i][mode].series {
                    notes.push(format!(
                        "   - {} {}: {e}",
                        k.name(),
                        ["instant", "range"][mode]
                    ));
                }
            }
        }
    }
    t.print();
    println!("Series counts are ferroprom/Prometheus/VictoriaMetrics (in the order of the columns); DIFFER marks a query whose servers returned different numbers of series.\n");
    for n in notes {
        println!("{n}");
    }
    println!();
}

/// Each query's own peak RSS (`VmHWM` reset before it), to find the
/// queries that make the run's peak.
fn per_query_peak(all: &[(Kind, Figures)]) {
    let mut h = vec!["#".to_string(), "query".to_string()];
    for mode in ["instant", "range"] {
        for (k, _) in all {
            h.push(format!("{mode} peak MiB {}", short(*k)));
        }
    }
    let mut t = new_table(h, 2);
    for (i, (what, _)) in QUERIES.iter().enumerate() {
        let mut row = vec![(i + 1).to_string(), what.to_string()];
        for mode in 0..2 {
            for (_, f) in all {
                row.push(mib(f.queries[i][mode].peak));
            }
        }
        t.row(row);
    }
    t.print();
    println!("Peak RSS per query: VmHWM, set back to the RSS of the moment before the query's first repetition, read after its last.\n");
}

fn short(k: Kind) -> &'static str {
    match k {
        Kind::Ferroprom => "ferroprom",
        Kind::Prometheus => "Prom",
        Kind::Victoria => "VM",
    }
}

fn group_commit(knobs: &Knobs, series: usize, samples: usize) {
    if !knobs.servers.contains(&Kind::Ferroprom) {
        return;
    }
    let plan = Plan {
        settle: knobs.settle,
        names: &[],
        window: Window {
            end: 0,
            range: 0,
            step: 1,
        },
        reps: 0,
        disk: false,
    };
    let mut rows = Vec::new();
    for &conns in &knobs.group_conns {
        let load = synthetic_load(series, samples, conns, knobs.per_request);
        let f = run::run(Kind::Ferroprom, &load, &plan);
        let rate = load.samples as f64 / f.upload.wall.as_secs_f64();
        rows.push((
            conns,
            rate,
            f.cpu / load.samples as f64 * 1e6,
            f.upload.failed,
        ));
    }
    println!("### ferroprom ingest by client connections, {series} series × {samples} samples\n");
    let mut t = Table::new(
        &[
            "connections",
            "samples/s",
            "÷ first row",
            "server CPU s per 1M samples",
            "failed requests",
        ],
        0,
    );
    let first = rows.first().map(|r| r.1);
    for (conns, rate, cpu, failed) in rows {
        t.row(vec![
            conns.to_string(),
            int(rate),
            ratio(Some(rate), first),
            num(cpu),
            failed.to_string(),
        ]);
    }
    t.print();
}

fn real_hour(knobs: &Knobs) {
    let path: PathBuf = std::env::var("SBS_REAL")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let shared =
                std::env::var("FERROPROM_SHARED_DIR").unwrap_or_else(|_| "/work/shared".into());
            PathBuf::from(shared).join("datasets/real-exporters-1h.om.txt.gz")
        });
    if !path.exists() {
        println!("real hour skipped: {} not found\n", path.display());
        return;
    }
    // The file's hour, plus a minute of slack for its scrape jitter.
    let data = real::RealData::load(&path, data_end(HOUR_MS + 60_000));
    let load = load::build(
        data.series.len(),
        data.rounds(),
        knobs.conns,
        knobs.per_request,
        |i| data.series[i].0.clone(),
        |i, r| data.series[i].1.get(r).cloned(),
    );
    assert_eq!(
        load.samples, data.samples,
        "every sample of the file in the load"
    );
    eprintln!(
        "real hour: {} series, {} samples, {} requests",
        data.series.len(),
        load.samples,
        load.requests()
    );
    let plan = Plan {
        settle: knobs.settle,
        names: &data.names,
        window: window(&load),
        reps: 0,
        disk: true,
    };
    let all: Vec<(Kind, Figures)> = knobs
        .servers
        .iter()
        .map(|&k| (k, run::run(k, &load, &plan)))
        .collect();
    println!(
        "### The real hour: {} ({} series, {} samples)\n",
        path.file_name().unwrap_or_default().to_string_lossy(),
        int(data.series.len() as f64),
        int(load.samples as f64)
    );
    let samples = load.samples as f64;
    let mut t = new_table(header_row(&all), 1);
    t.row(figure_row(
        &all,
        "disk after compaction, bytes/sample",
        |f| f.disk.map(|d| d as f64 / samples),
        num,
    ));
    t.row(figure_row(
        &all,
        "disk after compaction, bytes",
        |f| f.disk.map(|d| d as f64),
        int,
    ));
    t.row(figure_row(
        &all,
        &format!(
            "remote-write ingest, samples/s ({} connections)",
            knobs.conns
        ),
        |f| Some(samples / f.upload.wall.as_secs_f64()),
        int,
    ));
    t.row(figure_row(
        &all,
        "samples a query counts afterwards",
        |f| match &f.counted {
            Some(Ok(n)) => Some(*n as f64),
            _ => None,
        },
        int,
    ));
    t.row(figure_row(
        &all,
        "refused requests",
        |f| Some(f.upload.failed as f64),
        int,
    ));
    t.print();
    println!(
        "The file holds {} NaN samples, which VictoriaMetrics' count_over_time leaves out.\n",
        int(data.nan as f64)
    );
    for (k, f) in &all {
        if let Some(e) = &f.upload.first_error {
            println!("- {} first refusal: {e}", k.name());
        }
        if let Some(Err(e)) = &f.counted {
            println!("- {} counting failed: {e}", k.name());
        }
    }
}
