//! The scrape manager: one scrape pool per job of the configuration, fed
//! with the job's target groups from service discovery.
//!
//! `apply_config` and `update_targets` only start and signal tasks, so they
//! may be called from async code without blocking it; `stop` waits for the
//! loops to end.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use storage::{Db, Labels};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::hash::Fnv64a;
use super::ingest::Ingester;
use super::metrics::ScrapeMetrics;
use super::pool::{Ctx, Pool};
use super::status::{ActiveTarget, DroppedTarget, MetricMetadata, ScrapeStatus};
use super::target::hostname;
use super::ScrapeError;
use crate::config::{Config, ScrapeConfig};
use crate::discovery::TargetGroup;
use crate::metrics::Registry;

#[derive(Default)]
struct State {
    pools: BTreeMap<String, Pool>,
    /// Latest full group set per job, kept so a job (re)configured later
    /// starts with its targets.
    groups: HashMap<String, Vec<TargetGroup>>,
    retiring: Vec<JoinHandle<Option<Ingester>>>,
    seed: u64,
    stopped: bool,
}

/// Scrapes every configured target into the database.
pub struct ScrapeManager {
    db: Arc<Db>,
    metrics: Arc<ScrapeMetrics>,
    runtime: Option<tokio::runtime::Handle>,
    shutdown: watch::Sender<bool>,
    ingest_slots: Arc<tokio::sync::Semaphore>,
    state: Mutex<State>,
}

/// Spreads the phases of this server's targets differently from another
/// server scraping the same targets (as Prometheus seeds its jitter with
/// the host name and external labels).
fn jitter_seed(external: &BTreeMap<String, String>) -> u64 {
    let mut h = Fnv64a::default();
    h.write(hostname().unwrap_or_default().as_bytes());
    for (n, v) in external {
        h.write(n.as_bytes());
        h.write(&[0xff]);
        h.write(v.as_bytes());
        h.write(&[0xff]);
    }
    h.finish()
}

impl ScrapeManager {
    /// A manager with no jobs; its self-metrics go into `registry`. Called
    /// inside a Tokio runtime, it runs its loops there.
    pub fn new(db: Arc<Db>, registry: &Registry) -> Arc<Self> {
        let (shutdown, _) = watch::channel(false);
        Arc::new(ScrapeManager {
            db,
            metrics: Arc::new(ScrapeMetrics::new(registry)),
            runtime: tokio::runtime::Handle::try_current().ok(),
            shutdown,
            ingest_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            state: Mutex::new(State::default()),
        })
    }

    fn runtime(&self) -> Result<tokio::runtime::Handle, ScrapeError> {
        self.runtime
            .clone()
            .or_else(|| tokio::runtime::Handle::try_current().ok())
            .ok_or(ScrapeError::NoRuntime)
    }

    /// Applies a (re)loaded configuration: pools of removed jobs stop
    /// (their series go stale), new jobs start with the groups already
    /// known for them, changed jobs reload. A job whose pool cannot be
    /// built (unreadable CA file, ...) keeps its previous state; the first
    /// such error is returned after all other jobs were applied.
    pub fn apply_config(&self, cfg: &Config) -> Result<(), ScrapeError> {
        let rt = self.runtime()?;
        let shutdown = self.shutdown.subscribe();
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if st.stopped {
            return Ok(());
        }
        st.seed = jitter_seed(&cfg.global.external_labels);
        let jobs: BTreeMap<&str, &ScrapeConfig> = cfg
            .scrape_configs
            .iter()
            .map(|sc| (sc.job_name.as_str(), sc))
            .collect();
        let mut ctx = Ctx {
            rt: &rt,
            db: &self.db,
            metrics: &self.metrics,
            seed: st.seed,
            shutdown: &shutdown,
            ingest_slots: &self.ingest_slots,
            retiring: &mut st.retiring,
        };
        let removed: Vec<String> = st
            .pools
            .keys()
            .filter(|j| !jobs.contains_key(j.as_str()))
            .cloned()
            .collect();
        for job in removed {
            if let Some(mut p) = st.pools.remove(&job) {
                p.stop_all(&mut ctx);
            }
            st.groups.remove(&job);
            self.metrics.sd_discovered.remove(&[&job, "scrape"]);
        }
        let mut first_err = None;
        for (job, sc) in jobs {
            let groups = st.groups.get(job).map_or(&[][..], |g| &g[..]);
            match st.pools.get_mut(job) {
                None => {
                    self.metrics.pools.inc();
                    match Pool::new(sc) {
                        Ok(mut p) => {
                            p.sync(groups, &mut ctx);
                            st.pools.insert(job.to_string(), p);
                        }
                        Err(e) => {
                            self.metrics.pools_failed.inc();
                            tracing::error!(job, error = %e, "creating scrape pool failed");
                            first_err.get_or_insert(e);
                        }
                    }
                }
                Some(p) if p.config() != sc => {
                    self.metrics.pool_reloads.inc();
                    if let Err(e) = p.reload(sc, groups, &mut ctx) {
                        self.metrics.pool_reloads_failed.inc();
                        tracing::error!(job, error = %e, "reloading scrape pool failed");
                        first_err.get_or_insert(e);
                    }
                }
                Some(_) => {}
            }
        }
        st.retiring.retain(|h| !h.is_finished());
        first_err.map_or(Ok(()), Err)
    }

    /// Sets the full set of target groups of `job`: new targets start,
    /// vanished ones stop and their series go stale. Groups for a job not
    /// (yet) configured are kept until it is.
    pub fn update_targets(&self, job: &str, groups: Vec<TargetGroup>) -> Result<(), ScrapeError> {
        let rt = self.runtime()?;
        let shutdown = self.shutdown.subscribe();
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if st.stopped {
            return Ok(());
        }
        let discovered: usize = groups.iter().map(|g| g.targets.len()).sum();
        self.metrics
            .sd_discovered
            .with(&[job, "scrape"])
            .set(discovered as f64);
        st.groups.insert(job.to_string(), groups);
        if let Some(p) = st.pools.get_mut(job) {
            let mut ctx = Ctx {
                rt: &rt,
                db: &self.db,
                metrics: &self.metrics,
                seed: st.seed,
                shutdown: &shutdown,
                ingest_slots: &self.ingest_slots,
                retiring: &mut st.retiring,
            };
            p.sync(&st.groups[job], &mut ctx);
        }
        st.retiring.retain(|h| !h.is_finished());
        Ok(())
    }

    /// Stops all scraping and waits for the loops to end. As Prometheus,
    /// no staleness markers are written: a restarted server continues the
    /// series. Later calls of the other methods do nothing.
    pub async fn stop(&self) {
        let tasks: Vec<JoinHandle<Option<Ingester>>> = {
            let mut st = self.state.lock();
            st.stopped = true;
            let _ = self.shutdown.send(true);
            let pools = std::mem::take(&mut st.pools);
            let mut tasks: Vec<_> = pools.into_values().flat_map(Pool::into_tasks).collect();
            tasks.append(&mut st.retiring);
            tasks
        };
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for ScrapeManager {
    fn drop(&mut self) {
        // Loops must not outlive their manager.
        let _ = self.shutdown.send(true);
    }
}

impl ScrapeStatus for ScrapeManager {
    fn active_targets(&self) -> Vec<ActiveTarget> {
        let st = self.state.lock();
        st.pools.values().flat_map(|p| p.active_targets()).collect()
    }

    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        let st = self.state.lock();
        st.pools
            .values()
            .flat_map(|p| p.dropped_targets())
            .collect()
    }

    fn metadata(&self) -> Vec<(Labels, Vec<MetricMetadata>)> {
        let st = self.state.lock();
        st.pools.values().flat_map(|p| p.metadata()).collect()
    }
}
