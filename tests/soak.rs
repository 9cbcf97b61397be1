//! The soak: the real binary for a while under scrape load (synthetic
//! targets with churning pods), remote write and a refreshing dashboard,
//! with config reloads, head compaction and retention, and one `kill -9` +
//! restart halfway. It then checks that memory stayed flat, that every
//! acknowledged remote-write sample reads back with its exact value, that
//! compaction and retention ran, and that the log holds no warning or error
//! beyond the expected ones.
//!
//! Sized by `FERROPROM_SOAK_SECS` (default 120) and `FERROPROM_SOAK_SERIES`
//! (default 20,000); the full run is 1800 s and 200,000 series
//! (`benches/soak.sh`). A shorter run compresses the full run's schedule
//! (scrapes every 15 s, 5% churn per hour, a reload every 5 minutes) by
//! the same factor; see `soak/plan.rs`.

mod common;

mod soak {
    pub mod dashboard;
    pub mod monitor;
    pub mod plan;
    pub mod process;
    pub mod report;
    pub mod targets;
    pub mod writer;

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    /// Milliseconds since the epoch, as sample timestamps are given.
    pub fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    }

    /// Sleeps until `deadline`, waking early (within 100 ms) on `stop`.
    pub fn sleep_until(deadline: Instant, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
        }
    }
}

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use soak::monitor::{self, Observation};
use soak::plan::Plan;
use soak::process::{write_config, Endpoint, Ferroprom, LogLine};
use soak::{dashboard, now_ms, report, sleep_until, targets::Targets, writer};

/// The server's block range (Prometheus's default, fixed here).
const BLOCK_MS: i64 = 2 * 3600 * 1000;
/// `--storage.tsdb.retention.time`, shorter than the backfilled history.
const RETENTION: &str = "1h";
const RETENTION_MS: i64 = 3600 * 1000;
/// The compaction thread's period in the server.
const COMPACTION_EVERY: Duration = Duration::from_secs(60);

/// Server log lines at WARN or ERROR level that the soak provokes on
/// purpose, each with why. Any other such line (or a panic) fails the run.
const EXPECTED_LOG: &[(&str, &str)] = &[];

/// The config of reload generation `gen`: no scrape jobs at 0 (so the
/// backfill meets an empty head); from 1 on the targets, plus a small
/// canary job in odd generations, so each reload changes the target set.
fn config(gen: u64, plan: &Plan, targets: &[String]) -> String {
    let interval = plan.scrape_interval.as_secs().max(1);
    let mut c = format!(
        "global:\n  scrape_interval: {interval}s\n  scrape_timeout: {interval}s\n  \
         external_labels:\n    soak_reload: \"{gen}\"\nscrape_configs:\n"
    );
    if gen == 0 {
        c.push_str("  []\n");
        return c;
    }
    let list = targets
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = write!(
        c,
        "  - job_name: soak\n    static_configs:\n      - targets: [{list}]\n        labels:\n          env: soak\n"
    );
    if gen % 2 == 1 {
        let _ = write!(
            c,
            "  - job_name: canary\n    metrics_path: /canary\n    static_configs:\n      - targets: ['{}']\n",
            targets[0]
        );
    }
    c
}

/// Reload outcome: how many went through, were lost to the crash, failed.
#[derive(Debug, Default)]
struct Reloads {
    done: u64,
    excused: u64,
    errors: Vec<String>,
}

/// Writes config generation `gen` and POSTs `/-/reload`; checks that the
/// server then shows it.
fn reload(
    endpoint: &Endpoint,
    dir: &Path,
    gen: u64,
    plan: &Plan,
    targets: &[String],
    out: &mut Reloads,
) {
    write_config(dir, &config(gen, plan, targets));
    let Some(live) = endpoint.live() else {
        out.excused += 1;
        return;
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let result = (|| -> Result<(), String> {
        let r = client
            .post(live.url("/-/reload"))
            .send()
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!(
                "reload {gen}: {}: {}",
                r.status(),
                r.text().unwrap_or_default()
            ));
        }
        let v: serde_json::Value = client
            .get(live.url("/api/v1/status/config"))
            .send()
            .and_then(|r| r.text())
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))?;
        let yaml = v["data"]["yaml"].as_str().unwrap_or_default();
        let shown_gen = yaml
            .lines()
            .find_map(|l| l.trim().strip_prefix("soak_reload:"))
            .map(|v| v.trim().trim_matches(['"', '\'']));
        if yaml.contains("canary") != (gen % 2 == 1) || shown_gen != Some(&gen.to_string()) {
            return Err(format!("after reload {gen} the server shows:\n{yaml}"));
        }
        Ok(())
    })();
    match result {
        Ok(()) => out.done += 1,
        Err(_) if !endpoint.unchanged(live) => out.excused += 1,
        Err(e) => out.errors.push(e),
    }
}

/// GETs an instant query at `at_ms` and returns its first value.
fn scalar(endpoint: &Endpoint, q: &str, at_ms: i64) -> Option<f64> {
    let live = endpoint.live()?;
    let text = reqwest::blocking::Client::new()
        .get(live.url("/api/v1/query"))
        .query(&[
            ("query", q),
            ("time", &format!("{}", at_ms as f64 / 1000.0)),
        ])
        .send()
        .ok()?
        .text()
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn soak() {
    let plan = Plan::from_env();
    println!("soak: {plan:?}");
    let targets = Targets::start(plan.series, plan.targets, plan.churn_per_sec);
    let addrs = targets.addrs();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = Arc::new(Endpoint::default());
    let log: Arc<Mutex<Vec<LogLine>>> = Arc::default();
    let flags: Vec<String> = [
        "--web.enable-lifecycle",
        "--web.enable-remote-write-receiver",
        // Retention shorter than the backfilled history, so the block the
        // head compaction cuts from it is deleted in the same run.
    ]
    .map(String::from)
    .into_iter()
    .chain([format!("--storage.tsdb.retention.time={RETENTION}")])
    .collect();
    write_config(dir.path(), &config(0, &plan, &addrs));
    let (server, first_ready) =
        Ferroprom::start(dir.path(), &flags, &endpoint, &log, Duration::from_secs(60));
    let mut server = Some(server);

    // History first, while the head is empty: from 3h30s ago to now, so at
    // the first compaction check (60 s after start) the head spans more
    // than 1.5 block ranges and its oldest block is cut; that block ends
    // more than 1h ago, so retention deletes it at once.
    let backfill_from = now_ms() - (3 * 3600 + 30) * 1000;
    let backfilled = writer::backfill(&endpoint, plan.backfill_series, backfill_from, now_ms());
    let first_block_end = (backfill_from.div_euclid(BLOCK_MS) + 1) * BLOCK_MS;

    let mut reloads = Reloads::default();
    reload(&endpoint, dir.path(), 1, &plan, &addrs, &mut reloads);
    assert!(reloads.errors.is_empty(), "{:?}", reloads.errors);

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let observations: Arc<Mutex<Vec<Observation>>> = Arc::default();
    let live_writer = {
        let (e, s, n, every) = (
            Arc::clone(&endpoint),
            Arc::clone(&stop),
            plan.remote_series,
            plan.scrape_interval,
        );
        std::thread::spawn(move || writer::run_live(&e, n, every, &s))
    };
    let dashboard = {
        let (e, s, p, instance) = (
            Arc::clone(&endpoint),
            Arc::clone(&stop),
            plan.clone(),
            addrs[0].clone(),
        );
        std::thread::spawn(move || dashboard::run(&p, &instance, &e, &s))
    };
    let monitor = {
        let (e, s, o, every) = (
            Arc::clone(&endpoint),
            Arc::clone(&stop),
            Arc::clone(&observations),
            plan.sample_every,
        );
        std::thread::spawn(move || monitor::run(start, every, &e, &s, &o))
    };
    let reloader = {
        let (e, s, p, a) = (
            Arc::clone(&endpoint),
            Arc::clone(&stop),
            plan.clone(),
            addrs.clone(),
        );
        let d = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let mut out = Reloads::default();
            let mut gen = 1;
            let mut next = start + p.reload_every;
            loop {
                sleep_until(next, &s);
                if s.load(Ordering::Relaxed) {
                    return out;
                }
                gen += 1;
                reload(&e, &d, gen, &p, &a, &mut out);
                next += p.reload_every;
            }
        })
    };
    // Stops the load threads however the test ends.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let _stop_guard = StopOnDrop(Arc::clone(&stop));

    // Halfway: kill -9, once the first maintenance cycle has been seen (it
    // is due 60 s after start; a crash in the middle of it would leave the
    // restarted server no time for its own in a short run).
    sleep_until(start + plan.run / 2, &stop);
    let waited_from = Instant::now();
    let maintained = |obs: &[Observation]| monitor::total(obs, |c| c.time_retentions) >= 1.0;
    while !maintained(&observations.lock().unwrap())
        && waited_from.elapsed() < COMPACTION_EVERY + Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    let waited = waited_from.elapsed();
    let killed_at = start.elapsed();
    server.take().unwrap().crash(&endpoint);
    let (restarted, restart_ready) = Ferroprom::start(
        dir.path(),
        &flags,
        &endpoint,
        &log,
        Duration::from_secs(600),
    );
    server = Some(restarted);
    let restarted_at = start.elapsed();

    // The second half runs its full length even when the kill waited.
    let run = killed_at + plan.run / 2;
    sleep_until(start + run, &Arc::new(AtomicBool::new(false)));
    stop.store(true, Ordering::Relaxed);
    let written = live_writer.join().unwrap();
    let panels = dashboard.join().unwrap();
    let reloads_later = reloader.join().unwrap();
    monitor.join().unwrap();
    let end_ms = now_ms();
    let run_secs = run.as_secs();

    // Last counters, after the load stopped.
    let live = endpoint.live().unwrap();
    let last_metrics = reqwest::blocking::get(live.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    let mut obs = observations.lock().unwrap().clone();
    obs.push(Observation {
        at: start.elapsed(),
        epoch: live.epoch,
        rss_kib: soak::process::rss_kib(live.pid).unwrap_or(0),
        counters: monitor::Counters::parse(&last_metrics),
    });

    let mut failures: Vec<String> = Vec::new();
    let live_check = writer::check(
        live,
        writer::LIVE,
        writer::shards(plan.remote_series),
        &written.acked,
        end_ms,
        run_secs + 120,
        writer::Retained::ALL,
    );
    // The first block cut from the backfill ends more than the retention
    // before the end, so retention deletes it. The server deletes a block
    // once all of it is older than the retention before its newest sample
    // (`storage/src/compact/retention.rs`), and that sample is no later
    // than `end_ms`; so a block ending after `end_ms - RETENTION_MS` is
    // kept. When the backfill started just before a block boundary, the
    // head spans more than 1.5 ranges again after the first cut, the next
    // block is cut too, and it may end before that limit: its samples may
    // go as well.
    let kept_from = (end_ms - RETENTION_MS).div_euclid(BLOCK_MS) * BLOCK_MS;
    let backfill_check = writer::check(
        live,
        writer::BACKFILL,
        1,
        &backfilled,
        end_ms,
        4 * 3600 + run_secs,
        writer::Retained {
            gone_before: first_block_end,
            kept_from: kept_from.max(first_block_end),
        },
    );
    for (what, c) in [("live", &live_check), ("backfill", &backfill_check)] {
        if c.lost_count > 0 {
            failures.push(format!(
                "{what}: {} acknowledged samples lost or changed, e.g. {:?}",
                c.lost_count, c.lost
            ));
        }
        if c.kept_count > 0 {
            failures.push(format!(
                "{what}: {} samples outlived retention, e.g. {:?}",
                c.kept_count, c.kept
            ));
        }
    }
    if live_check.expected == 0 || backfill_check.expected == 0 {
        failures.push("nothing acknowledged to check".into());
    }
    failures.extend(written.errors.iter().take(5).cloned());
    failures.extend(panels.errors.iter().take(5).cloned());
    failures.extend(reloads_later.errors.iter().cloned());

    let compactions = monitor::total(&obs, |c| c.compactions);
    let retentions = monitor::total(&obs, |c| c.time_retentions);
    let failed_compactions = monitor::total(&obs, |c| c.compactions_failed);
    if compactions < 1.0 || retentions < 1.0 || failed_compactions > 0.0 {
        failures.push(format!(
            "maintenance: {compactions} compactions, {retentions} time retentions, {failed_compactions} failed compactions"
        ));
    }

    // Churn: more pods seen over the run than exist at once.
    let groups = plan.series / soak::targets::SERIES_PER_GROUP;
    let pods_seen = scalar(
        &endpoint,
        &format!(
            "count(count by (pod) (count_over_time(app_build_info[{}s])))",
            run_secs + 60
        ),
        end_ms,
    )
    .unwrap_or(0.0);
    if pods_seen < (groups as u64 + targets.churned().min(groups as u64) / 2) as f64 {
        failures.push(format!(
            "churn: {pods_seen} pods seen, {groups} at once, {} replaced",
            targets.churned()
        ));
    }
    let targets_up = scalar(&endpoint, "count(up{job=\"soak\"} == 1)", end_ms).unwrap_or(0.0);
    if targets_up != plan.targets as f64 {
        failures.push(format!(
            "{targets_up} of {} targets up at the end",
            plan.targets
        ));
    }

    let rss = monitor::rss_verdict(&obs, run, restarted_at, plan.warm_up());
    if !rss.ok {
        failures.push(report::rss_line(&rss));
    }

    let status = server.take().unwrap().stop(&endpoint);
    if !status.success() {
        failures.push(format!("ferroprom exited with {status} on SIGTERM"));
    }
    let levels = {
        let lines = log.lock().unwrap();
        let count = |level: &str| lines.iter().filter(|l| l.text.contains(level)).count();
        format!(
            "{} lines: {} INFO, {} WARN, {} ERROR",
            lines.len(),
            count(" INFO "),
            count(" WARN "),
            count(" ERROR ")
        )
    };
    let bad_log: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| {
            let t = &l.text;
            (t.contains(" WARN ") || t.contains(" ERROR ") || t.contains("panicked"))
                && !EXPECTED_LOG.iter().any(|(pat, _)| t.contains(pat))
        })
        .map(|l| format!("[start {}] {}", l.epoch, l.text))
        .collect();
    if !bad_log.is_empty() {
        failures.push(format!(
            "{} unexpected log lines, e.g.:\n{}",
            bad_log.len(),
            bad_log
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }

    let mut r = String::new();
    let _ = writeln!(r, "soak: {} s (the full schedule compressed {:.0}×), {} scraped series on {} targets every {:?}, {} remote-written series, {} backfilled", run_secs, plan.compression, plan.series, plan.targets, plan.scrape_interval, plan.remote_series, plan.backfill_series);
    let _ = writeln!(
        r,
        "ingest: {:.0} samples/s appended (scrapes and remote write), {} scrapes served",
        report::ingest_rate(&obs),
        targets.scrapes()
    );
    let _ = writeln!(r, "{}", report::rss_line(&rss));
    let _ = writeln!(r, "restart: ready {:.2} s after spawn at first start, {:.2} s after kill -9 at {} s (waited {:.1} s for the first maintenance cycle)", first_ready.as_secs_f64(), restart_ready.as_secs_f64(), killed_at.as_secs(), waited.as_secs_f64());
    let end = obs.last().and_then(|o| o.counters).unwrap_or_default();
    let _ = writeln!(r, "maintenance: {compactions} compactions, {retentions} time-retention deletions, {failed_compactions} failed; at the end {} head series, {} blocks", end.head_series, end.blocks);
    let _ = writeln!(
        r,
        "churn: {} pods replaced, {pods_seen} distinct pods seen ({groups} at once)",
        targets.churned()
    );
    let _ = writeln!(r, "remote write: {} requests acknowledged, {} lost to the crash; {} live samples checked, {} found; {} backfilled samples checked, {} found, {} gone to retention as expected, {} in a block retention may reach also gone", written.acked.len(), written.excused, live_check.expected, live_check.found, backfill_check.expected, backfill_check.found, backfilled.iter().map(|a| (a.hi - a.lo) * a.ts.iter().filter(|(t, _)| *t < first_block_end).count()).sum::<usize>(), backfill_check.excused);
    let _ = writeln!(
        r,
        "reloads: {} done, {} during the restart",
        reloads.done + reloads_later.done,
        reloads_later.excused
    );
    let _ = writeln!(
        r,
        "dashboard: {} refreshes, {} queries cut by the crash",
        panels.refreshes, panels.excused
    );
    let _ = writeln!(r, "server log: {levels}");
    r.push_str(&report::latency_table(&panels.latencies));
    r.push_str(&report::rss_timeline(&obs, run));
    let _ = writeln!(
        r,
        "errors: {}",
        if failures.is_empty() {
            "none".into()
        } else {
            failures.join("\n")
        }
    );
    println!("{r}");
    if let Some(path) = &plan.report {
        std::fs::write(path, &r).unwrap();
        // Every RSS reading too, for plotting.
        let csv: String = obs
            .iter()
            .map(|o| format!("{:.1},{},{}\n", o.at.as_secs_f64(), o.epoch, o.rss_kib))
            .collect();
        std::fs::write(
            path.with_extension("rss.csv"),
            format!("seconds,start,vmrss_kib\n{csv}"),
        )
        .unwrap();
    }
    assert!(failures.is_empty(), "soak failed:\n{}", failures.join("\n"));
}
