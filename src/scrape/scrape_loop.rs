//! One task per target: wait for the target's phase offset, then every
//! interval fetch the payload (async) and store it (on a blocking thread:
//! appends and the WAL fsync block).
//!
//! Stopping, as Prometheus does it:
//! - a target that went away (`StopMode::Stale`) finishes its current
//!   scrape, then waits until just over two intervals have passed and
//!   writes staleness markers for its series, timestamped when its next
//!   scrape would have been; if the target came back on a new loop
//!   meanwhile, those markers are older than its samples and storage
//!   ignores them;
//! - a loop replaced on reload with a reusable cache (`StopMode::Handover`)
//!   hands its ingester (cache) to its successor and writes no markers;
//! - shutdown aborts at once and writes nothing: the server will resume
//!   where it was.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use storage::Db;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::cache::SharedMetadata;
use super::client::ScrapeClient;
use super::ingest::{IngestOptions, Ingester};
use super::metrics::ScrapeMetrics;
use super::target::Target;
use super::target_health::TargetHealth;
use super::ScrapeError;

/// Why a loop is being stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// The target is gone: write end-of-run staleness markers.
    Stale,
    /// A successor takes the ingester over.
    Handover,
}

/// How a loop ended up stopping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    Stop(StopMode),
    Shutdown,
}

/// Everything a loop needs, fixed for its lifetime.
pub(crate) struct LoopSpec {
    pub(crate) target: Arc<Target>,
    pub(crate) health: Arc<TargetHealth>,
    pub(crate) client: Arc<ScrapeClient>,
    pub(crate) opts: IngestOptions,
    pub(crate) body_limit: u64,
    pub(crate) seed: u64,
    pub(crate) db: Arc<Db>,
    pub(crate) metrics: Arc<ScrapeMetrics>,
    /// The pool's forced error (target_limit exceeded): while set, every
    /// scrape fails with it without contacting the target.
    pub(crate) forced: Arc<Mutex<Option<ScrapeError>>>,
    /// Bounds how many loops store at once to the number of cores: a
    /// thousand blocking threads fighting over storage locks finish later
    /// than the same work done a few at a time.
    pub(crate) ingest_slots: Arc<tokio::sync::Semaphore>,
}

/// Where a new loop's ingester comes from.
pub(crate) enum Start {
    Fresh,
    /// Take over the predecessor's cache when it hands it over.
    After(JoinHandle<Option<Ingester>>),
}

/// The running loop, as its pool holds it.
pub(crate) struct LoopHandle {
    stop: watch::Sender<Option<StopMode>>,
    join: JoinHandle<Option<Ingester>>,
}

impl LoopHandle {
    /// Asks the loop to stop; returns its task so the caller can wait for
    /// it (or hand it to a successor).
    pub(crate) fn stop(self, mode: StopMode) -> JoinHandle<Option<Ingester>> {
        let _ = self.stop.send(Some(mode));
        self.join
    }

    /// The loop's task, without a stop request (shutdown is signalled to
    /// all loops at once).
    pub(crate) fn into_task(self) -> JoinHandle<Option<Ingester>> {
        self.join
    }
}

pub(crate) fn spawn(
    rt: &tokio::runtime::Handle,
    spec: LoopSpec,
    start: Start,
    shutdown: watch::Receiver<bool>,
) -> LoopHandle {
    let (tx, rx) = watch::channel(None);
    let join = rt.spawn(run(spec, start, rx, shutdown));
    LoopHandle { stop: tx, join }
}

async fn run(
    spec: LoopSpec,
    start: Start,
    mut stop: watch::Receiver<Option<StopMode>>,
    mut shutdown: watch::Receiver<bool>,
) -> Option<Ingester> {
    let mut ing = match start {
        Start::Fresh => None,
        Start::After(prev) => prev.await.ok().flatten(),
    };
    match &mut ing {
        Some(i) => {
            i.set_options(spec.opts.clone());
            spec.health.set_metadata(Arc::clone(i.metadata()));
        }
        None => {
            // A fresh store: a predecessor still finishing must not write
            // into what this loop shows.
            let md = SharedMetadata::default();
            spec.health.set_metadata(Arc::clone(&md));
            ing = Some(Ingester::with_metadata(
                spec.target.labels(),
                spec.opts.clone(),
                md,
            ));
        }
    }
    let mut ing = ing?;
    let interval = spec
        .target
        .interval()
        .as_std()
        .max(Duration::from_millis(1));
    let timeout = spec.target.timeout().as_std();
    let offset = spec.target.offset(interval, spec.seed, unix_nanos());
    tokio::select! {
        _ = tokio::time::sleep(offset) => {}
        exit = stopped(&mut stop, &mut shutdown) => {
            return match exit {
                Exit::Stop(StopMode::Handover) => Some(ing),
                _ => None,
            };
        }
    }

    let mut ticker = tokio::time::interval(interval);
    // Go tickers drop ticks a slow scrape missed; so do we.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticker.tick().await;
    let interval_label = crate::config::PromDuration(interval.as_millis() as i64).to_string();
    let mut aligned = SystemTime::now();
    let mut last: Option<Instant> = None;
    let mut body = Vec::new();
    let exit = loop {
        let started = Instant::now();
        if let Some(prev) = last {
            spec.metrics
                .interval_length
                .with(&[&interval_label])
                .observe((started - prev).as_secs_f64());
        }
        last = Some(started);
        let (wall, ts) = scrape_time(&mut aligned, interval);

        let forced = spec.forced.lock().clone();
        let fetched = match forced {
            Some(e) => Err(e),
            None => {
                let fetch =
                    spec.client
                        .fetch(spec.target.url(), timeout, spec.body_limit, &mut body);
                tokio::select! {
                    r = fetch => r,
                    _ = shutdown.wait_for(|s| *s) => break Exit::Shutdown,
                }
            }
        };
        let fetch_secs = started.elapsed().as_secs_f64();
        let fetch_ok = fetched.is_ok();
        let db = Arc::clone(&spec.db);
        let permit = tokio::select! {
            p = Arc::clone(&spec.ingest_slots).acquire_owned() => p.ok(),
            _ = shutdown.wait_for(|s| *s) => break Exit::Shutdown,
        };
        let stored = tokio::task::spawn_blocking(move || {
            let out = ing.finish(&db, fetched.map(|f| (&body[..], f)), ts, started);
            drop(permit);
            (ing, body, out)
        })
        .await;
        let out = match stored {
            Ok((i, b, out)) => {
                ing = i;
                body = b;
                out
            }
            Err(e) => {
                // A panic while storing lost the ingester; start over
                // with an empty cache rather than stopping the target.
                tracing::error!(target = %spec.target.url(), error = %e, "scrape ingest panicked");
                ing = Ingester::with_metadata(
                    spec.target.labels(),
                    spec.opts.clone(),
                    spec.health.metadata(),
                );
                body = Vec::new();
                continue;
            }
        };
        if fetch_ok {
            spec.metrics.scrape_duration.observe(fetch_secs);
        }
        spec.metrics.observe(&out.report, out.error.as_ref());
        if let Some(e) = &out.error {
            tracing::debug!(target = %spec.target.url(), error = %e, "scrape failed");
        }
        spec.health.report(wall, out.duration, out.error.as_ref());

        tokio::select! {
            _ = ticker.tick() => {}
            exit = stopped(&mut stop, &mut shutdown) => break exit,
        }
    };
    match exit {
        Exit::Shutdown => None,
        Exit::Stop(StopMode::Handover) => Some(ing),
        Exit::Stop(StopMode::Stale) => {
            end_of_run(&spec, ing, &mut ticker, interval, &mut shutdown).await;
            None
        }
    }
}

/// Waits for a stop request or shutdown. A dropped sender counts as
/// shutdown: nobody is left to want staleness markers.
async fn stopped(
    stop: &mut watch::Receiver<Option<StopMode>>,
    shutdown: &mut watch::Receiver<bool>,
) -> Exit {
    loop {
        if *shutdown.borrow_and_update() {
            return Exit::Shutdown;
        }
        if let Some(m) = *stop.borrow_and_update() {
            return Exit::Stop(m);
        }
        tokio::select! {
            r = stop.changed() => if r.is_err() { return Exit::Shutdown },
            r = shutdown.changed() => if r.is_err() { return Exit::Shutdown },
        }
    }
}

async fn end_of_run(
    spec: &LoopSpec,
    mut ing: Ingester,
    ticker: &mut tokio::time::Interval,
    interval: Duration,
    shutdown: &mut watch::Receiver<bool>,
) {
    if !ing.scraped_once() {
        return;
    }
    // The markers carry the time the next scrape would have happened...
    tokio::select! {
        _ = ticker.tick() => {}
        _ = shutdown.wait_for(|s| *s) => return,
    }
    let ts = crate::scrape::ingest::now_ms();
    // ...but are written only once a recreated target would have been
    // scraped, with 10% to spare, so they cannot hide its fresh samples.
    tokio::select! {
        _ = ticker.tick() => {}
        _ = shutdown.wait_for(|s| *s) => return,
    }
    tokio::select! {
        _ = tokio::time::sleep(interval / 10) => {}
        _ = shutdown.wait_for(|s| *s) => return,
    }
    let db = Arc::clone(&spec.db);
    let permit = Arc::clone(&spec.ingest_slots).acquire_owned().await.ok();
    let _ = tokio::task::spawn_blocking(move || {
        ing.finish_stopped(&db, ts);
        drop(permit);
    })
    .await;
}

/// The wall time of this scrape and its timestamp in ms: within a small
/// tolerance of the interval grid the grid time is used, so timestamps of
/// successive scrapes are exactly one interval apart (better compression,
/// as Prometheus does).
fn scrape_time(aligned: &mut SystemTime, interval: Duration) -> (SystemTime, i64) {
    let now = SystemTime::now();
    let tolerance = (interval / 100).max(Duration::from_millis(2));
    while now.duration_since(*aligned).is_ok_and(|d| d >= interval) {
        *aligned += interval;
    }
    let t = match now.duration_since(*aligned) {
        Ok(d) if d <= tolerance => *aligned,
        _ => now,
    };
    (t, unix_ms(t))
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_times_snap_to_the_interval_grid() {
        let iv = Duration::from_secs(10);
        let start = SystemTime::now() - Duration::from_millis(20_001);
        let mut aligned = start;
        let (t, ms) = scrape_time(&mut aligned, iv);
        // 20.001s after the grid start: two intervals on, 1ms late.
        assert_eq!(aligned, start + 2 * iv);
        assert_eq!(t, start + 2 * iv);
        assert_eq!(ms, unix_ms(start + 2 * iv));

        let mut aligned = SystemTime::now() - Duration::from_millis(3_000);
        let before = aligned;
        let (t, _) = scrape_time(&mut aligned, iv);
        assert_eq!(aligned, before, "within the interval: grid unchanged");
        assert!(
            t > before + Duration::from_secs(2),
            "3s late: real time used"
        );
    }
}
