//! A scrape pool: one job's targets and their loops. `sync` follows the
//! job's discovered groups (start loops for new targets, stop vanished ones
//! with staleness markers); `reload` applies a changed job config.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use storage::{Db, Labels};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::cache::SharedMetadata;
use super::client::ScrapeClient;
use super::ingest::{IngestOptions, Ingester};
use super::metrics::ScrapeMetrics;
use super::scrape_loop::{self, LoopHandle, LoopSpec, Start, StopMode};
use super::status::{ActiveTarget, DroppedTarget, MetricMetadata};
use super::target::{targets_from_group, Target, TargetOutcome};
use super::target_health::TargetHealth;
use super::ScrapeError;
use crate::config::ScrapeConfig;
use crate::discovery::TargetGroup;
use crate::relabel::{self, CompiledRule};

/// What pools share from the manager while it holds its lock.
pub(crate) struct Ctx<'a> {
    pub(crate) rt: &'a tokio::runtime::Handle,
    pub(crate) db: &'a Arc<Db>,
    pub(crate) metrics: &'a Arc<ScrapeMetrics>,
    pub(crate) seed: u64,
    pub(crate) shutdown: &'a watch::Receiver<bool>,
    pub(crate) ingest_slots: &'a Arc<tokio::sync::Semaphore>,
    /// Loops told to stop, still finishing (end-of-run staleness); the
    /// manager waits for them on shutdown.
    pub(crate) retiring: &'a mut Vec<JoinHandle<Option<Ingester>>>,
}

struct Active {
    target: Arc<Target>,
    health: Arc<TargetHealth>,
    handle: LoopHandle,
}

pub(crate) struct Pool {
    cfg: ScrapeConfig,
    client: Arc<ScrapeClient>,
    target_rules: Vec<CompiledRule>,
    opts: IngestOptions,
    forced: Arc<Mutex<Option<ScrapeError>>>,
    active: HashMap<u64, Active>,
    dropped: Vec<Labels>,
}

/// Client, relabel rules and ingest options of a job.
fn build(
    cfg: &ScrapeConfig,
) -> Result<(Arc<ScrapeClient>, Vec<CompiledRule>, IngestOptions), ScrapeError> {
    let client = Arc::new(ScrapeClient::new(cfg)?);
    let rules =
        relabel::compile(&cfg.relabel_configs).map_err(|e| ScrapeError::Config(e.to_string()))?;
    let metric_rules = relabel::compile(&cfg.metric_relabel_configs)
        .map_err(|e| ScrapeError::Config(e.to_string()))?;
    let opts = IngestOptions::from_config(cfg, metric_rules.into());
    Ok((client, rules, opts))
}

/// The config without what only affects how targets are found: two
/// configs equal here scrape the same targets the same way.
fn without_discovery(cfg: &ScrapeConfig) -> ScrapeConfig {
    let mut c = cfg.clone();
    c.with_sd_configs(|sd| *sd = Default::default());
    c
}

/// The config without what cannot change a scraped series' final labels
/// (timing, limits on sample counts, HTTP settings): when only those
/// change, a restarted loop keeps its cache, as Prometheus's
/// `reusableCache` decides.
fn cache_relevant(cfg: &ScrapeConfig) -> ScrapeConfig {
    let mut c = without_discovery(cfg);
    c.scrape_interval = None;
    c.scrape_timeout = None;
    c.sample_limit = None;
    c.body_size_limit = None;
    c.body_size_limit_bytes = 0;
    c.basic_auth = None;
    c.authorization = None;
    c.bearer_token = None;
    c.bearer_token_file = None;
    c.tls_config = None;
    c.follow_redirects = true;
    c.enable_http2 = true;
    c.enable_compression = true;
    c
}

impl Pool {
    pub(crate) fn new(cfg: &ScrapeConfig) -> Result<Pool, ScrapeError> {
        let (client, target_rules, opts) = build(cfg)?;
        Ok(Pool {
            cfg: cfg.clone(),
            client,
            target_rules,
            opts,
            forced: Arc::new(Mutex::new(None)),
            active: HashMap::new(),
            dropped: Vec::new(),
        })
    }

    pub(crate) fn config(&self) -> &ScrapeConfig {
        &self.cfg
    }

    /// Applies a changed config. When only discovery settings changed the
    /// loops keep running (discovery will send the new groups); otherwise
    /// every loop restarts with the new settings, keeping its cache when
    /// the change cannot affect label sets. On error the pool keeps its old
    /// config.
    pub(crate) fn reload(
        &mut self,
        cfg: &ScrapeConfig,
        groups: &[TargetGroup],
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ScrapeError> {
        if without_discovery(&self.cfg) == without_discovery(cfg) {
            self.cfg = cfg.clone();
            return Ok(());
        }
        let (client, rules, opts) = build(cfg)?;
        let reusable = cache_relevant(&self.cfg) == cache_relevant(cfg);
        self.cfg = cfg.clone();
        self.client = client;
        self.target_rules = rules;
        self.opts = opts;
        self.apply(groups, ctx, Some(reusable));
        Ok(())
    }

    /// Follows a new full set of groups for this job.
    pub(crate) fn sync(&mut self, groups: &[TargetGroup], ctx: &mut Ctx<'_>) {
        self.apply(groups, ctx, None);
    }

    /// Stops every loop (the job was removed): its series go stale.
    pub(crate) fn stop_all(&mut self, ctx: &mut Ctx<'_>) {
        for (_, a) in self.active.drain() {
            ctx.retiring.push(a.handle.stop(StopMode::Stale));
        }
        let job = [self.cfg.job_name.as_str()];
        ctx.metrics.pool_targets.remove(&job);
        ctx.metrics.pool_target_limit.remove(&job);
    }

    /// The tasks of all loops, for shutdown (which the loops learn about
    /// through the manager's shutdown signal).
    pub(crate) fn into_tasks(self) -> Vec<JoinHandle<Option<Ingester>>> {
        self.active
            .into_values()
            .map(|a| a.handle.into_task())
            .collect()
    }

    /// `restart`: `Some(reusable)` restarts surviving loops (reload).
    fn apply(&mut self, groups: &[TargetGroup], ctx: &mut Ctx<'_>, restart: Option<bool>) {
        let started = Instant::now();
        let job = self.cfg.job_name.clone();
        let mut wanted: HashMap<u64, Target> = HashMap::new();
        let mut dropped = Vec::new();
        let mut failures = 0u64;
        for g in groups {
            for o in targets_from_group(&self.cfg, &self.target_rules, g) {
                match o {
                    TargetOutcome::Active(t) => {
                        wanted.entry(t.hash()).or_insert(t);
                    }
                    TargetOutcome::Dropped(l) => {
                        // keep_dropped_targets bounds the memory the
                        // API's list of dropped targets takes; 0 = all.
                        let keep = self.cfg.keep_dropped_targets.unwrap_or(0) as usize;
                        if keep == 0 || dropped.len() < keep {
                            dropped.push(l);
                        }
                    }
                    TargetOutcome::Failed { index, error } => {
                        failures += 1;
                        tracing::error!(
                            job = %job, group = %g.source, index, error = %error,
                            "creating target failed"
                        );
                    }
                }
            }
        }
        self.dropped = dropped;

        let gone: Vec<u64> = self
            .active
            .keys()
            .filter(|h| !wanted.contains_key(h))
            .copied()
            .collect();
        for h in gone {
            if let Some(a) = self.active.remove(&h) {
                ctx.retiring.push(a.handle.stop(StopMode::Stale));
            }
        }

        if let Some(reusable) = restart {
            let kept: Vec<u64> = self.active.keys().copied().collect();
            for h in kept {
                let Some(old) = self.active.remove(&h) else {
                    continue;
                };
                let target = wanted.remove(&h).map_or(old.target, Arc::new);
                let start = if reusable {
                    Start::After(old.handle.stop(StopMode::Handover))
                } else {
                    ctx.retiring.push(old.handle.stop(StopMode::Stale));
                    Start::Fresh
                };
                let handle = self.spawn(&target, &old.health, start, ctx);
                self.active.insert(
                    h,
                    Active {
                        target,
                        health: old.health,
                        handle,
                    },
                );
            }
        }

        for (h, t) in wanted {
            if let Some(a) = self.active.get_mut(&h) {
                // The same target (labels and URL), perhaps discovered with
                // other meta labels (a pod turned not ready): the loop runs
                // on, and the API shows the newest discovered labels, as
                // Prometheus does.
                if a.target.discovered_labels() != t.discovered_labels() {
                    a.target = Arc::new(t);
                }
                continue;
            }
            let target = Arc::new(t);
            let health = TargetHealth::new(SharedMetadata::default());
            let handle = self.spawn(&target, &health, Start::Fresh, ctx);
            self.active.insert(
                h,
                Active {
                    target,
                    health,
                    handle,
                },
            );
        }

        let n = self.active.len();
        let limit = self.cfg.target_limit.unwrap_or(0) as usize;
        let forced = if limit > 0 && n > limit {
            ctx.metrics.exceeded_target_limit.inc();
            Some(ScrapeError::TargetLimit { count: n, limit })
        } else {
            None
        };
        *self.forced.lock() = forced;

        let m = ctx.metrics;
        m.pool_targets.with(&[&job]).set(n as f64);
        m.pool_target_limit.with(&[&job]).set(limit as f64);
        m.sync_failed.with(&[&job]).add(failures as f64);
        m.syncs.with(&[&job]).inc();
        m.sync_length
            .with(&[&job])
            .observe(started.elapsed().as_secs_f64());
    }

    fn spawn(
        &self,
        target: &Arc<Target>,
        health: &Arc<TargetHealth>,
        start: Start,
        ctx: &Ctx<'_>,
    ) -> LoopHandle {
        let spec = LoopSpec {
            target: Arc::clone(target),
            health: Arc::clone(health),
            client: Arc::clone(&self.client),
            opts: self.opts.clone(),
            body_limit: self.cfg.body_size_limit_bytes,
            seed: ctx.seed,
            db: Arc::clone(ctx.db),
            metrics: Arc::clone(ctx.metrics),
            forced: Arc::clone(&self.forced),
            ingest_slots: Arc::clone(ctx.ingest_slots),
        };
        scrape_loop::spawn(ctx.rt, spec, start, ctx.shutdown.clone())
    }

    pub(crate) fn active_targets(&self) -> Vec<ActiveTarget> {
        let mut v: Vec<ActiveTarget> = self
            .active
            .values()
            .map(|a| {
                let t = &a.target;
                let h = a.health.snapshot();
                ActiveTarget {
                    discovered_labels: t.discovered_labels().clone(),
                    labels: t.labels().clone(),
                    scrape_pool: self.cfg.job_name.clone(),
                    scrape_url: t.url().to_string(),
                    global_url: t.global_url(),
                    last_error: h.last_error,
                    last_scrape: h.last_scrape,
                    last_scrape_duration_seconds: h.last_duration.as_secs_f64(),
                    health: h.health,
                    scrape_interval: t.interval().to_string(),
                    scrape_timeout: t.timeout().to_string(),
                }
            })
            .collect();
        v.sort_by(|a, b| a.scrape_url.cmp(&b.scrape_url));
        v
    }

    pub(crate) fn dropped_targets(&self) -> Vec<DroppedTarget> {
        self.dropped
            .iter()
            .map(|l| DroppedTarget {
                discovered_labels: l.clone(),
                scrape_pool: self.cfg.job_name.clone(),
            })
            .collect()
    }

    pub(crate) fn metadata(&self) -> Vec<(Labels, Vec<MetricMetadata>)> {
        let mut v: Vec<(Labels, Vec<MetricMetadata>)> = self
            .active
            .values()
            .map(|a| (a.target.labels().clone(), a.health.metadata().lock().list()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(extra: &str) -> ScrapeConfig {
        crate::config::parse_str(&format!(
            "scrape_configs:\n  - job_name: j\n    scrape_interval: 10s\n{extra}"
        ))
        .unwrap()
        .scrape_configs
        .remove(0)
    }

    #[test]
    fn cache_reuse_follows_label_relevant_changes() {
        let base = job("");
        let timing = job("    scrape_timeout: 5s\n    sample_limit: 10\n");
        assert_eq!(cache_relevant(&base), cache_relevant(&timing));
        let labels = job("    honor_labels: true\n");
        assert_ne!(cache_relevant(&base), cache_relevant(&labels));
        let sd = job("    static_configs: [{targets: ['a:1']}]\n");
        assert_eq!(without_discovery(&base), without_discovery(&sd));
        assert_ne!(without_discovery(&base), without_discovery(&timing));
    }
}
