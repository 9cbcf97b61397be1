//! The rule manager: one task per group running it on its aligned
//! schedule, reloads that keep the state of unchanged groups and carry
//! the alerts of surviving rules into changed ones, and the read model.
//!
//! A group's evaluation runs on the blocking pool (queries, template
//! expansion and WAL appends all block); the group value moves into the
//! blocking closure and back, so no lock is held across an evaluation and
//! readers use the snapshot published after it.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use promql::Engine;
use storage::Db;

use super::context::{EvalContext, Settings};
use super::error::RulesError;
use super::group::{Group, GroupDefaults, GroupSpec};
use super::loader::load_groups;
use super::metrics::RuleMetrics;
use super::notify::AlertSink;
use super::snapshot::GroupSnapshot;
use crate::config::Config;
use crate::metrics::Registry;
use crate::remote::FanoutStorage;

/// What the manager evaluates against and reports to.
pub struct ManagerOptions {
    pub engine: Engine,
    pub queryable: Arc<FanoutStorage>,
    pub db: Arc<Db>,
    pub sink: Arc<dyn AlertSink>,
    /// Flags and external URL; external labels are taken from each
    /// configuration given to [`Manager::load`].
    pub settings: Settings,
}

/// Groups read from the rule files, not running yet.
#[derive(Debug)]
pub struct LoadedRules {
    groups: Vec<Group>,
    settings: Settings,
}

/// Runs the rule groups.
pub struct Manager {
    shared: Arc<Shared>,
    groups: tokio::sync::Mutex<BTreeMap<GroupId, GroupHandle>>,
    views: RwLock<BTreeMap<GroupId, View>>,
    /// Set once the first set of groups started: groups loaded later do
    /// not restore `for` state.
    started: AtomicBool,
}

/// (file, group name): a group's identity across reloads.
type GroupId = (String, String);
type View = Arc<RwLock<GroupSnapshot>>;

struct Shared {
    engine: Engine,
    queryable: Arc<FanoutStorage>,
    db: Arc<Db>,
    sink: Arc<dyn AlertSink>,
    settings: RwLock<Arc<Settings>>,
    metrics: RuleMetrics,
    /// Aborts running queries on shutdown.
    cancel: Arc<AtomicBool>,
    /// Becomes true when the manager stops.
    done: watch::Sender<bool>,
}

impl Shared {
    /// Runs `f` with an evaluation context over the current settings.
    fn with_ctx<R>(&self, f: impl FnOnce(&EvalContext) -> R) -> R {
        let settings = Arc::clone(&self.settings.read());
        let view = self.queryable.view(Arc::clone(&self.cancel), None);
        let ctx = EvalContext {
            engine: &self.engine,
            queryable: &view,
            db: &self.db,
            sink: &*self.sink,
            settings: &settings,
            metrics: Some(&self.metrics),
            cancel: &self.cancel,
        };
        f(&ctx)
    }
}

struct GroupHandle {
    spec: GroupSpec,
    stop: watch::Sender<bool>,
    task: JoinHandle<Option<Group>>,
    view: View,
}

impl GroupHandle {
    /// Stops the group after its running evaluation and returns it (`None`
    /// if its task died).
    async fn stop(self) -> Option<Group> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "rule group task failed");
                None
            }
        }
    }
}

impl Manager {
    pub fn new(opts: ManagerOptions, registry: &Registry) -> Manager {
        let (done, _) = watch::channel(false);
        Manager {
            shared: Arc::new(Shared {
                engine: opts.engine,
                queryable: opts.queryable,
                db: opts.db,
                sink: opts.sink,
                settings: RwLock::new(Arc::new(opts.settings)),
                metrics: RuleMetrics::register(registry),
                cancel: Arc::new(AtomicBool::new(false)),
                done,
            }),
            groups: tokio::sync::Mutex::new(BTreeMap::new()),
            views: RwLock::new(BTreeMap::new()),
            started: AtomicBool::new(false),
        }
    }

    /// Reads `cfg.rule_files` and builds their groups without touching the
    /// running ones, so a reload can fail before anything changed.
    pub fn load(&self, cfg: &Config) -> Result<LoadedRules, RulesError> {
        let defaults = GroupDefaults {
            interval_ms: cfg.global.evaluation_interval.ms(),
            query_offset_ms: cfg.global.rule_query_offset.map_or(0, |d| d.ms()),
        };
        let should_restore = !self.started.load(Ordering::Acquire);
        let groups = load_groups(&cfg.rule_files, defaults, should_restore)?;
        let mut settings = (**self.shared.settings.read()).clone();
        settings.external_labels = cfg.global.external_labels.clone();
        Ok(LoadedRules { groups, settings })
    }

    /// Runs `loaded` in place of the current groups: an unchanged group
    /// keeps running; a changed one replaces the old after taking over
    /// its state; a removed one stops, and its series are marked stale two
    /// intervals later (time for a renamed rule to take them over).
    pub async fn apply(&self, loaded: LoadedRules) {
        *self.shared.settings.write() = Arc::new(loaded.settings);
        let mut running = self.groups.lock().await;
        let mut old = std::mem::take(&mut *running);
        for mut g in loaded.groups {
            let id = (g.file().to_string(), g.name().to_string());
            let handle = match old.remove(&id) {
                Some(h) if h.spec == g.spec => h,
                prev => {
                    if let Some(mut prev) = match prev {
                        Some(h) => h.stop().await,
                        None => None,
                    } {
                        g.copy_state(&mut prev);
                    }
                    self.spawn(g)
                }
            };
            running.insert(id, handle);
        }
        for ((file, name), h) in old {
            let key = format!("{file};{name}");
            if let Some(g) = h.stop().await {
                self.retire(g);
            }
            self.shared.metrics.remove_group(&key);
        }
        *self.views.write() = running
            .iter()
            .map(|(id, h)| (id.clone(), Arc::clone(&h.view)))
            .collect();
        self.started.store(true, Ordering::Release);
    }

    /// [`Manager::load`] then [`Manager::apply`].
    pub async fn update(&self, cfg: &Config) -> Result<(), RulesError> {
        let loaded = self.load(cfg)?;
        self.apply(loaded).await;
        Ok(())
    }

    /// The groups' current state, ordered by file then group name.
    pub fn groups(&self) -> Vec<GroupSnapshot> {
        self.views
            .read()
            .values()
            .map(|v| v.read().clone())
            .collect()
    }

    /// Stops every group (abandoning running queries); no staleness
    /// markers are written, as on upstream shutdown.
    pub async fn stop(&self) {
        self.shared.cancel.store(true, Ordering::Relaxed);
        self.shared.done.send_replace(true);
        let groups = std::mem::take(&mut *self.groups.lock().await);
        for (_, h) in groups {
            h.stop().await;
        }
    }

    fn spawn(&self, g: Group) -> GroupHandle {
        let (stop, stop_rx) = watch::channel(false);
        let view = Arc::new(RwLock::new(g.snapshot()));
        let spec = g.spec.clone();
        let task = tokio::spawn(run(g, Arc::clone(&self.shared), stop_rx, Arc::clone(&view)));
        GroupHandle {
            spec,
            stop,
            task,
            view,
        }
    }

    /// Marks a removed group's series stale after two intervals, unless the
    /// manager stops first.
    fn retire(&self, mut g: Group) {
        g.mark_all_stale();
        let shared = Arc::clone(&self.shared);
        let mut done = shared.done.subscribe();
        let wait = Duration::from_millis(2 * g.interval_ms().max(0) as u64);
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = done.wait_for(|d| *d) => return,
            }
            let _ = tokio::task::spawn_blocking(move || {
                shared.with_ctx(|ctx| g.cleanup_stale_series(now_ms(), ctx));
            })
            .await;
        });
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Sleeps until wall-clock `target_ms`; true when told to stop instead.
async fn wait_until(target_ms: i64, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    let delay = Duration::from_millis((target_ms - now_ms()).max(0) as u64);
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = stop.changed() => true,
    }
}

/// The slot to evaluate when woken at `now` for slot `ts`: slots that
/// passed while the last evaluation overran are skipped (and counted).
fn skip_missed(ts: i64, now: i64, interval: i64) -> (i64, i64) {
    let missed = ((now - ts) / interval).max(0);
    (ts + missed * interval, missed)
}

/// A group's task: evaluate at each aligned slot until stopped, then hand
/// the group back.
async fn run(
    mut g: Group,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    view: View,
) -> Option<Group> {
    let interval = g.interval_ms().max(1);
    let gm = shared.metrics.group(&g.key(), interval, g.rules().len());
    let mut ts = g.eval_timestamp(now_ms()) + interval;
    let mut evaluations = 0u64;
    loop {
        if wait_until(ts, &mut stop).await {
            return Some(g);
        }
        if evaluations > 0 {
            let (next, missed) = skip_missed(ts, now_ms(), interval);
            if missed > 0 {
                gm.missed.add(missed as f64);
                gm.iterations.add(missed as f64);
            }
            ts = next;
        }
        gm.iterations.inc();
        // `for` state is restored once the group evaluated twice after
        // start, so recording rules it depends on have caught up.
        let restore = g.should_restore && evaluations == 1;
        let started = Instant::now();
        let wall = SystemTime::now();
        let sh = Arc::clone(&shared);
        let joined = tokio::task::spawn_blocking(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                sh.with_ctx(|ctx| {
                    g.eval(ts, ctx);
                    if restore {
                        g.restore_for_state(now_ms(), ctx);
                    }
                })
            }));
            if outcome.is_err() {
                tracing::error!(group = %g.name(), "rule group evaluation panicked");
            }
            g
        })
        .await;
        g = match joined {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "rule group evaluation task failed");
                return None;
            }
        };
        let took = started.elapsed();
        g.evaluation_time = took;
        g.last_evaluation = Some(wall);
        g.last_eval_ts = Some(ts);
        gm.last_duration.set(took.as_secs_f64());
        gm.last_timestamp.set(ts as f64 / 1000.0);
        *view.write() = g.snapshot();
        evaluations += 1;
        ts += interval;
    }
}

#[cfg(test)]
mod tests;
