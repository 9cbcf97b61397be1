//! One `remote_write` queue: a WAL-reader thread feeding the shards, a
//! task that resizes the shard set, a task that records progress, and
//! (with `metadata_config.send`) a task sending metric metadata.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use storage::wal::{Start, WalPosition, WalWatcher};
use storage::Label;
use tokio::sync::watch;

use super::client::Client;
use super::metadata::MetadataSource;
use super::metrics::{Families, QueueMetrics};
use super::progress::ProgressFile;
use super::reshard::ShardCalc;
use super::shards::{ShardCtx, ShardSet};
use super::watcher::Sink;
use super::SendError;
use crate::config::RemoteWriteConfig;
use crate::relabel::compile_with_scheme;

/// How often the reader looks for new WAL data when it found none.
const POLL: Duration = Duration::from_millis(10);
/// How often the shard count is reconsidered (Prometheus: 10 s).
const RESHARD_EVERY: Duration = Duration::from_secs(10);
/// How often progress is written while it moves.
const SAVE_EVERY: Duration = Duration::from_millis(200);

/// State shared by the reader thread, the shards and the tasks.
pub(crate) struct QueueInner {
    pub(crate) name: String,
    ctx: Arc<ShardCtx>,
    shards: RwLock<Arc<ShardSet>>,
    /// Shard count the reader should switch to at its next chance.
    desired: AtomicUsize,
    /// Stops the reader.
    pub(crate) stop: AtomicBool,
    /// Everything before this was fully queued (`None` until the reader
    /// knows its start).
    read_pos: Mutex<Option<WalPosition>>,
    pub(crate) samples_in: AtomicU64,
    pub(crate) read_highest_ms: AtomicI64,
    progress: ProgressFile,
    saved: Mutex<Option<WalPosition>>,
}

impl QueueInner {
    pub(crate) fn metrics(&self) -> &QueueMetrics {
        &self.ctx.metrics
    }

    /// The position up to which everything is acknowledged.
    fn acked(&self) -> Option<WalPosition> {
        // The reader's position first: a record it had fully queued is then
        // either still in a shard (seen below) or acknowledged.
        let read = (*self.read_pos.lock())?;
        let shards = Arc::clone(&self.shards.read());
        Some(shards.min_pending().map_or(read, |p| p.min(read)))
    }

    fn save_progress(&self, durable: bool) {
        let Some(at) = self.acked() else { return };
        let mut saved = self.saved.lock();
        if *saved == Some(at) && !durable {
            return;
        }
        match self.progress.save(at, durable) {
            Ok(()) => *saved = Some(at),
            Err(e) => {
                tracing::warn!(remote_name = %self.name, error = %e, "remote write: saving progress")
            }
        }
    }
}

/// A running queue.
pub(crate) struct Queue {
    pub(crate) inner: Arc<QueueInner>,
    /// The endpoint, the `url` label of the queue's metrics.
    pub(crate) url: String,
    reader: Option<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    flush_deadline: Duration,
}

impl Queue {
    /// Starts a queue reading `wal_dir`, its state kept under `state_dir`.
    pub(crate) fn start(
        cfg: Arc<RemoteWriteConfig>,
        external: Vec<Label>,
        scheme: crate::config::NameValidationScheme,
        wal_dir: &Path,
        state_dir: &Path,
        families: &Families,
        metadata: Option<MetadataSource>,
    ) -> Result<Queue, SendError> {
        let name = cfg.queue_name();
        let rules = compile_with_scheme(&cfg.write_relabel_configs, scheme)
            .map_err(|e| SendError::Relabel(name.clone(), e.error.to_string()))?;
        let client = Client::new(Arc::clone(&cfg))
            .map_err(|e| SendError::Client(name.clone(), e.to_string()))?;
        let q = &cfg.queue_config;
        let metrics = families.for_queue(&name, &cfg.url);
        metrics.shards_min.set(q.min_shards as f64);
        metrics.shards_max.set(q.max_shards as f64);
        metrics.shards_desired.set(q.min_shards as f64);
        let (abort, _) = watch::channel(false);
        let ctx = Arc::new(ShardCtx {
            client,
            metrics,
            name: name.clone(),
            capacity: q.capacity,
            max_per_send: q.max_samples_per_send,
            deadline: q.batch_send_deadline.as_std(),
            min_backoff: q.min_backoff.as_std(),
            max_backoff: q.max_backoff.as_std(),
            abort,
            samples_out: AtomicU64::new(0),
            send_nanos: AtomicU64::new(0),
            last_success_ms: AtomicI64::new(0),
        });
        let rt = tokio::runtime::Handle::current();
        let shards = Arc::new(ShardSet::start(q.min_shards, Arc::clone(&ctx), &rt));
        let progress = ProgressFile::new(&state_dir.join(cfg.destination_key()), &cfg.url);
        let start = match progress.load() {
            Ok(Some(p)) => {
                tracing::info!(remote_name = %name, from = %p, "remote write: resuming from saved progress");
                Start::At(p)
            }
            // A new queue sends only what is appended from now on; the
            // start is saved at once so a crash before the first send
            // does not move it.
            Ok(None) => match storage::wal::watcher::end_position(wal_dir) {
                Ok(end) => {
                    if let Err(e) = progress.save(end, true) {
                        tracing::warn!(remote_name = %name, error = %e, "remote write: saving progress");
                    }
                    Start::At(end)
                }
                Err(e) => {
                    tracing::warn!(remote_name = %name, error = %e, "remote write: reading the WAL");
                    Start::End
                }
            },
            Err(e) => {
                tracing::warn!(remote_name = %name, error = %e, "remote write: progress unreadable; resending from the oldest WAL segment");
                Start::At(WalPosition::default())
            }
        };
        let inner = Arc::new(QueueInner {
            name: name.clone(),
            ctx,
            shards: RwLock::new(Arc::clone(&shards)),
            desired: AtomicUsize::new(q.min_shards),
            stop: AtomicBool::new(false),
            read_pos: Mutex::new(None),
            samples_in: AtomicU64::new(0),
            read_highest_ms: AtomicI64::new(i64::MIN),
            progress,
            saved: Mutex::new(None),
        });
        let sink = Sink::new(Arc::clone(&inner), shards, external, rules);
        let reader = {
            let inner = Arc::clone(&inner);
            let dir = wal_dir.to_path_buf();
            std::thread::Builder::new()
                .name(format!("remote-write-{name}"))
                .spawn(move || read_wal(inner, dir, start, sink, rt))
                .map_err(|e| SendError::Thread(name.clone(), e))?
        };
        let mut tasks = vec![
            tokio::spawn(save_loop(Arc::clone(&inner))),
            tokio::spawn(reshard_loop(
                Arc::clone(&inner),
                q.min_shards,
                q.max_shards,
                q.batch_send_deadline.as_std(),
            )),
        ];
        if let Some(source) = metadata.filter(|_| cfg.metadata_config.send) {
            tasks.push(tokio::spawn(super::metadata::run(
                Arc::clone(&inner.ctx),
                source,
                cfg.metadata_config.clone(),
            )));
        }
        tracing::info!(remote_name = %name, url = %crate::config::redact::redact_url(&cfg.url), "remote write: queue started");
        Ok(Queue {
            inner,
            url: cfg.url.clone(),
            reader: Some(reader),
            tasks,
            flush_deadline: Duration::from_secs(5).max(q.batch_send_deadline.as_std()),
        })
    }

    /// Stops reading, tries to send what is queued within the flush
    /// deadline, then abandons the rest (it stays in the WAL and the
    /// progress file points at it) and saves progress durably.
    pub(crate) async fn stop(mut self) {
        let inner = Arc::clone(&self.inner);
        inner.stop.store(true, Ordering::Release);
        if let Some(r) = self.reader.take() {
            let _ = tokio::task::spawn_blocking(move || r.join()).await;
        }
        for t in &self.tasks {
            t.abort();
        }
        let shards = Arc::clone(&inner.shards.read());
        shards.close();
        let deadline = Instant::now() + self.flush_deadline;
        while !shards.drained() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !shards.drained() {
            tracing::warn!(remote_name = %inner.name, "remote write: flush deadline passed; unsent samples stay in the WAL for the next start");
        }
        inner.ctx.abort.send_replace(true);
        shards.join().await;
        inner.save_progress(true);
        tracing::info!(remote_name = %inner.name, "remote write: queue stopped");
    }
}

/// The reader thread: polls the WAL, reshards when asked.
fn read_wal(
    inner: Arc<QueueInner>,
    dir: PathBuf,
    start: Start,
    mut sink: Sink,
    rt: tokio::runtime::Handle,
) {
    let mut watcher = WalWatcher::new(&dir, start);
    let mut last_error: Option<Instant> = None;
    while !inner.stop.load(Ordering::Acquire) {
        match watcher.poll(&mut sink) {
            Ok(stats) => {
                let pos = sink.interrupted.unwrap_or_else(|| watcher.position());
                let mut read = inner.read_pos.lock();
                if read.is_none_or(|r| pos > r) {
                    *read = Some(pos);
                }
                drop(read);
                if sink.interrupted.is_some() {
                    break;
                }
                if stats.records == 0 {
                    std::thread::sleep(POLL);
                }
            }
            Err(e) => {
                if last_error.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    tracing::error!(remote_name = %inner.name, error = %e, "remote write: reading the WAL");
                    last_error = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        let want = inner.desired.load(Ordering::Relaxed);
        if want != sink.shards.len() && !reshard(&inner, &mut sink, want, &rt) {
            break;
        }
    }
}

/// Drains the current shards (so no series' samples can overtake each
/// other across the switch) and starts `want` new ones. False if the
/// queue was stopped meanwhile.
fn reshard(inner: &QueueInner, sink: &mut Sink, want: usize, rt: &tokio::runtime::Handle) -> bool {
    let old = Arc::clone(&sink.shards);
    old.flush();
    while !old.drained() {
        if inner.stop.load(Ordering::Acquire) {
            return false;
        }
        std::thread::sleep(POLL);
    }
    old.close();
    let new = Arc::new(ShardSet::start(want, Arc::clone(&inner.ctx), rt));
    *inner.shards.write() = Arc::clone(&new);
    sink.set_shards(new);
    tracing::info!(remote_name = %inner.name, from = old.len(), to = want, "remote write: resharded");
    true
}

async fn save_loop(inner: Arc<QueueInner>) {
    let mut tick = tokio::time::interval(SAVE_EVERY);
    loop {
        tick.tick().await;
        let i = Arc::clone(&inner);
        let _ = tokio::task::spawn_blocking(move || i.save_progress(false)).await;
    }
}

async fn reshard_loop(inner: Arc<QueueInner>, min: usize, max: usize, deadline: Duration) {
    let mut calc = ShardCalc::default();
    let mut tick = tokio::time::interval(RESHARD_EVERY);
    let mut last = Instant::now();
    loop {
        tick.tick().await;
        let ctx = &inner.ctx;
        calc.update(
            inner.samples_in.load(Ordering::Relaxed),
            ctx.samples_out.load(Ordering::Relaxed),
            ctx.send_nanos.load(Ordering::Relaxed),
            last.elapsed().as_secs_f64(),
        );
        last = Instant::now();
        let current = inner.shards.read().len();
        let read = inner.read_highest_ms.load(Ordering::Relaxed);
        let sent = (ctx.metrics.highest_sent.get() * 1000.0) as i64;
        let lag = if read == i64::MIN || sent <= 0 {
            0.0
        } else {
            (read - sent).max(0) as f64 / 1000.0
        };
        let want = calc.desired(current, min, max, lag);
        ctx.metrics.shards_desired.set(want as f64);
        // Resharding drains every shard first: pointless (and stuck) while
        // the receiver is failing.
        let last_ok = ctx.last_success_ms.load(Ordering::Relaxed);
        let now = chrono::Utc::now().timestamp_millis();
        let healthy = last_ok > 0 && now - last_ok < 2 * deadline.as_millis() as i64 + 10_000;
        if want != current && healthy {
            inner.desired.store(want, Ordering::Relaxed);
        }
    }
}
