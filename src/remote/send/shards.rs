//! Shards: per-shard bounded queues filled by the WAL reader, each drained
//! by its own task that batches (up to `max_samples_per_send`, or whatever
//! is there after `batch_send_deadline`) and sends with retries.
//!
//! A series always maps to the same shard (`ref % shards`) and a shard
//! sends one batch at a time, so each series' samples arrive in order.
//! A full shard blocks the WAL reader rather than dropping anything.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use storage::wal::WalPosition;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::client::Client;
use super::encode::{Encoder, Pending};
use super::metrics::{raise, QueueMetrics};
use super::retry::{deliver, Delivered};

/// What every shard of a queue shares.
pub(crate) struct ShardCtx {
    pub(crate) client: Client,
    pub(crate) metrics: QueueMetrics,
    pub(crate) name: String,
    pub(crate) capacity: usize,
    pub(crate) max_per_send: usize,
    pub(crate) deadline: Duration,
    pub(crate) min_backoff: Duration,
    pub(crate) max_backoff: Duration,
    /// Set to true to abandon sending at once (after the final flush
    /// deadline): retries stop, in-flight requests are dropped.
    pub(crate) abort: watch::Sender<bool>,
    /// Samples acknowledged (2xx) and the seconds spent sending them, for
    /// the shard calculation.
    pub(crate) samples_out: AtomicU64,
    pub(crate) send_nanos: AtomicU64,
    /// Unix ms of the last 2xx (0: none yet).
    pub(crate) last_success_ms: AtomicI64,
}

struct State {
    queue: VecDeque<Pending>,
    /// Start position of the batch being sent (the lowest in it).
    in_flight: Option<WalPosition>,
    /// When the oldest queued sample arrived (for the batch deadline).
    since: Option<Instant>,
    /// Send partial batches at once (resharding or stopping).
    flush: bool,
    /// No more input: exit once empty.
    closed: bool,
}

struct Shard {
    state: Mutex<State>,
    /// The reader waits here for room.
    space: Condvar,
    /// The shard's task waits here for samples.
    wake: Notify,
}

/// A fixed set of running shards.
pub(crate) struct ShardSet {
    shards: Vec<Arc<Shard>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    ctx: Arc<ShardCtx>,
}

impl ShardSet {
    /// Starts `n` shard tasks on `rt`.
    pub(crate) fn start(n: usize, ctx: Arc<ShardCtx>, rt: &tokio::runtime::Handle) -> Self {
        let shards: Vec<Arc<Shard>> = (0..n.max(1))
            .map(|_| {
                Arc::new(Shard {
                    state: Mutex::new(State {
                        queue: VecDeque::new(),
                        in_flight: None,
                        since: None,
                        flush: false,
                        closed: false,
                    }),
                    space: Condvar::new(),
                    wake: Notify::new(),
                })
            })
            .collect();
        let tasks = shards
            .iter()
            .map(|s| rt.spawn(run(Arc::clone(s), Arc::clone(&ctx))))
            .collect();
        ctx.metrics.shards.set(shards.len() as f64);
        ShardSet {
            shards,
            tasks: Mutex::new(tasks),
            ctx,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.len()
    }

    /// Moves `items` into shard `i`, waiting for room while the shard is
    /// full. Returns false (with `items` partly queued, the rest dropped)
    /// if `stop` was set meanwhile. Blocking: call from the reader thread only.
    pub(crate) fn push(&self, i: usize, items: &mut Vec<Pending>, stop: &AtomicBool) -> bool {
        let shard = &self.shards[i];
        let mut st = shard.state.lock();
        while !items.is_empty() {
            let room = self.ctx.capacity.saturating_sub(st.queue.len());
            if room == 0 {
                if stop.load(Ordering::Acquire) {
                    drop(st);
                    items.clear();
                    return false;
                }
                shard.wake.notify_one();
                shard.space.wait_for(&mut st, Duration::from_millis(50));
                continue;
            }
            let k = room.min(items.len());
            let was_empty = st.queue.is_empty();
            st.queue.extend(items.drain(..k));
            self.ctx.metrics.pending.add(k as f64);
            if was_empty {
                st.since = Some(Instant::now());
            }
            if was_empty || st.queue.len() >= self.ctx.max_per_send {
                shard.wake.notify_one();
            }
        }
        true
    }

    /// The lowest WAL position still queued or in flight in any shard.
    pub(crate) fn min_pending(&self) -> Option<WalPosition> {
        self.shards
            .iter()
            .filter_map(|s| {
                let st = s.state.lock();
                match (st.in_flight, st.queue.front()) {
                    (Some(a), Some(b)) => Some(a.min(b.at)),
                    (a, b) => a.or(b.map(|p| p.at)),
                }
            })
            .min()
    }

    /// Whether nothing is queued or in flight.
    pub(crate) fn drained(&self) -> bool {
        self.shards.iter().all(|s| {
            let st = s.state.lock();
            st.queue.is_empty() && st.in_flight.is_none()
        })
    }

    /// Sends partial batches at once from now on.
    pub(crate) fn flush(&self) {
        for s in &self.shards {
            s.state.lock().flush = true;
            s.wake.notify_one();
        }
    }

    /// No more input: each task sends what it has, then exits.
    pub(crate) fn close(&self) {
        for s in &self.shards {
            let mut st = s.state.lock();
            st.closed = true;
            st.flush = true;
            drop(st);
            s.wake.notify_one();
        }
    }

    /// Waits for the tasks to exit (after [`close`](Self::close), or an
    /// abort).
    pub(crate) async fn join(&self) {
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// A shard's task: take a batch when it is full, due, or flushed; send it;
/// repeat until closed and empty, or aborted.
async fn run(shard: Arc<Shard>, ctx: Arc<ShardCtx>) {
    let mut enc = Encoder::new();
    let mut batch: Vec<Pending> = Vec::with_capacity(ctx.max_per_send);
    let mut abort = ctx.abort.subscribe();
    loop {
        let wait = {
            let mut st = shard.state.lock();
            let n = st.queue.len();
            let due = st.since.is_some_and(|t| t.elapsed() >= ctx.deadline);
            if n >= ctx.max_per_send || (n > 0 && (due || st.flush)) {
                let k = n.min(ctx.max_per_send);
                batch.extend(st.queue.drain(..k));
                st.in_flight = batch.first().map(|p| p.at);
                st.since = (!st.queue.is_empty()).then(Instant::now);
                shard.space.notify_all();
                None
            } else if n == 0 && st.closed {
                return;
            } else {
                Some(st.since.map(|t| ctx.deadline.saturating_sub(t.elapsed())))
            }
        };
        if let Some(timeout) = wait {
            tokio::select! {
                _ = async {
                    match timeout {
                        Some(d) => { let _ = tokio::time::timeout(d, shard.wake.notified()).await; }
                        None => shard.wake.notified().await,
                    }
                } => {}
                _ = abort.wait_for(|a| *a) => return,
            }
            continue;
        }
        if !send_batch(&ctx, &mut enc, &batch, &mut abort).await {
            // Aborted: the batch stays in flight, so the saved progress
            // stays before it and the next start sends it again.
            return;
        }
        shard.state.lock().in_flight = None;
        ctx.metrics.pending.add(-(batch.len() as f64));
        batch.clear();
    }
}

/// Sends one batch until it is acknowledged or refused; false if aborted
/// first (the batch stays unacknowledged).
async fn send_batch(
    ctx: &ShardCtx,
    enc: &mut Encoder,
    batch: &[Pending],
    abort: &mut watch::Receiver<bool>,
) -> bool {
    let body = enc.encode(batch);
    let n = batch.len() as f64;
    let highest = batch.iter().map(|p| p.t).max().unwrap_or(i64::MIN);
    let outcome = deliver(
        &ctx.client,
        &body,
        (ctx.min_backoff, ctx.max_backoff),
        abort,
        &ctx.metrics.batch_duration,
        |r| {
            ctx.metrics.retried.add(n);
            // One line per failing batch, not per attempt: an outage
            // must not flood the log.
            if r.attempt == 1 {
                tracing::warn!(
                    remote_name = %ctx.name,
                    error = %r.why,
                    retry_in = ?r.wait,
                    "remote write: recoverable error; retrying until it succeeds"
                );
            } else {
                tracing::debug!(remote_name = %ctx.name, error = %r.why, attempt = r.attempt, "remote write: retrying");
            }
        },
    )
    .await;
    match outcome {
        Delivered::Sent { took } => {
            ctx.metrics.samples.add(n);
            ctx.metrics.bytes.add(body.len() as f64);
            raise(&ctx.metrics.highest_sent, highest as f64 / 1000.0);
            ctx.samples_out
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            ctx.send_nanos
                .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
            ctx.last_success_ms
                .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
            true
        }
        Delivered::Refused { status, why } => {
            ctx.metrics.failed.add(n);
            tracing::error!(
                remote_name = %ctx.name,
                status,
                samples = batch.len(),
                error = %why,
                "remote write: non-recoverable error; dropping the batch"
            );
            true
        }
        Delivered::Aborted => false,
    }
}
