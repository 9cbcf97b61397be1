//! Runs discovery for every job of the config (or every Alertmanager set
//! of its `alerting:` section) and reports, per job, the full list of
//! target groups each time it changes.
//!
//! Each job has one aggregating task fed by a task per `file_sd_configs` /
//! `http_sd_configs` / `dns_sd_configs` / `consul_sd_configs` /
//! `kubernetes_sd_configs` entry. The first report of a job waits until every
//! source has answered once (or `initial_wait` has passed), so a job whose
//! HTTP endpoint is slow does not first appear without those targets and
//! then grow. On reload, jobs whose discovery settings are unchanged keep
//! running and re-report their last groups (the scrape side rebuilds its
//! state on reload); removed jobs report an empty list.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{consul, dns, file, http, kubernetes, TargetGroup};
use crate::config::{Config, SdConfigs};
use crate::metrics::{Collected, Gauge, Registry};

/// SD configs that could not start, per runner (`name="scrape"` for scrape
/// jobs, `"notify"` for Alertmanager sets), as of the last (re)load.
static FAILED_CONFIGS: LazyLock<[Gauge; 2]> = LazyLock::new(Default::default);

/// Adds `prometheus_sd_failed_configs` to `registry`.
pub(super) fn register_metrics(registry: &Registry) {
    registry.collector(|| {
        let samples = [Section::ScrapeJobs, Section::Alertmanagers]
            .into_iter()
            .map(|s| {
                (
                    vec![("name".to_string(), s.metric_name().to_string())],
                    FAILED_CONFIGS[s as usize].get(),
                )
            })
            .collect();
        vec![Collected {
            name: "prometheus_sd_failed_configs".to_string(),
            help: "Current number of service discovery configurations that failed to load."
                .to_string(),
            kind: "gauge",
            samples,
        }]
    });
}

/// The complete current target groups of one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryUpdate {
    /// The job name, or for an Alertmanager set `config-<index>` (its
    /// position in `alerting.alertmanagers`, as Prometheus names them).
    pub job: String,
    /// Static groups first, then file_sd, http_sd, dns_sd, consul_sd and
    /// kubernetes_sd, each in config order. Empty when the job was removed by a reload.
    pub groups: Vec<TargetGroup>,
}

/// Timing knobs; the defaults suit production, tests shorten them.
#[derive(Clone, Debug)]
pub struct DiscoveryOptions {
    /// How often file_sd checks its files for changes.
    pub file_poll_interval: Duration,
    /// How long a job's first report waits for slow sources.
    pub initial_wait: Duration,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        DiscoveryOptions {
            file_poll_interval: Duration::from_secs(5),
            initial_wait: Duration::from_secs(5),
        }
    }
}

/// A job's discovery settings; a reload restarts the job only when these
/// change.
type SdSettings = SdConfigs;

/// Which sections of the config a [`Discovery`] runs: the two never share
/// a runner, so scrape jobs and Alertmanager sets cannot collide on names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    ScrapeJobs,
    Alertmanagers,
}

impl Section {
    /// The `name` label of this runner's metrics, as Prometheus names its
    /// two discovery managers.
    fn metric_name(self) -> &'static str {
        match self {
            Section::ScrapeJobs => "scrape",
            Section::Alertmanagers => "notify",
        }
    }

    /// Every discovered set of `cfg` in config order, with its name.
    fn sets(self, cfg: &Config) -> Vec<(String, SdSettings)> {
        match self {
            Section::ScrapeJobs => cfg
                .scrape_configs
                .iter()
                .map(|j| (j.job_name.clone(), j.sd_configs()))
                .collect(),
            Section::Alertmanagers => cfg
                .alerting
                .alertmanagers
                .iter()
                .enumerate()
                .map(|(i, am)| (alertmanager_set_name(i), am.sd_configs()))
                .collect(),
        }
    }
}

/// The name updates carry for `alerting.alertmanagers[index]`.
pub fn alertmanager_set_name(index: usize) -> String {
    format!("config-{index}")
}

struct JobRunner {
    settings: SdSettings,
    generation: u64,
    /// The last groups reported, to re-report on reload.
    last: Arc<Mutex<Option<Vec<TargetGroup>>>>,
    /// How many of its SD configs could not start.
    failed: usize,
    /// Dropping the set aborts the job's tasks.
    _tasks: JoinSet<()>,
}

/// Sends updates for one job generation, and only while that generation
/// is current: a job restarted by a reload can never have a late update
/// from its old tasks overtake the new ones.
#[derive(Clone)]
struct Publisher {
    job: String,
    generation: u64,
    current: Arc<Mutex<HashMap<String, u64>>>,
    tx: mpsc::UnboundedSender<DiscoveryUpdate>,
}

impl Publisher {
    /// Records `groups` as the job's last report and sends them, unless
    /// they equal the last report and `force` is false. Locks `current`
    /// before `last`, the order [`Discovery::update`] uses too.
    fn publish(
        &self,
        last: &Mutex<Option<Vec<TargetGroup>>>,
        groups: Vec<TargetGroup>,
        force: bool,
    ) {
        let current = self.current.lock();
        let mut last = last.lock();
        if !force && last.as_ref() == Some(&groups) {
            return;
        }
        *last = Some(groups.clone());
        if current.get(&self.job) == Some(&self.generation) {
            let _ = self.tx.send(DiscoveryUpdate {
                job: self.job.clone(),
                groups,
            });
        }
    }
}

/// Service discovery for all jobs of a config. Must be created and updated
/// inside a Tokio runtime; dropping it stops all discovery tasks.
pub struct Discovery {
    section: Section,
    tx: mpsc::UnboundedSender<DiscoveryUpdate>,
    options: DiscoveryOptions,
    jobs: HashMap<String, JobRunner>,
    current: Arc<Mutex<HashMap<String, u64>>>,
    next_generation: u64,
}

impl Discovery {
    /// Starts discovery for every job in `cfg`; updates go to `tx`.
    pub fn start(cfg: &Config, tx: mpsc::UnboundedSender<DiscoveryUpdate>) -> Discovery {
        Discovery::with_options(cfg, tx, DiscoveryOptions::default())
    }

    /// [`Discovery::start`] with explicit timing.
    pub fn with_options(
        cfg: &Config,
        tx: mpsc::UnboundedSender<DiscoveryUpdate>,
        options: DiscoveryOptions,
    ) -> Discovery {
        Discovery::for_section(Section::ScrapeJobs, cfg, tx, options)
    }

    /// Starts discovery for every `alerting.alertmanagers` set of `cfg`
    /// instead of the scrape jobs; updates are named by
    /// [`alertmanager_set_name`].
    pub fn alertmanagers(
        cfg: &Config,
        tx: mpsc::UnboundedSender<DiscoveryUpdate>,
        options: DiscoveryOptions,
    ) -> Discovery {
        Discovery::for_section(Section::Alertmanagers, cfg, tx, options)
    }

    fn for_section(
        section: Section,
        cfg: &Config,
        tx: mpsc::UnboundedSender<DiscoveryUpdate>,
        options: DiscoveryOptions,
    ) -> Discovery {
        let mut d = Discovery {
            section,
            tx,
            options,
            jobs: HashMap::new(),
            current: Arc::new(Mutex::new(HashMap::new())),
            next_generation: 0,
        };
        d.update(cfg);
        d
    }

    /// Applies a reloaded config: stops removed jobs (reporting them with
    /// no groups), restarts jobs whose discovery settings changed, starts
    /// new ones, and re-reports the last groups of unchanged ones.
    pub fn update(&mut self, cfg: &Config) {
        let sets = self.section.sets(cfg);
        let wanted: HashSet<&str> = sets.iter().map(|(name, _)| name.as_str()).collect();
        let removed: Vec<String> = self
            .jobs
            .keys()
            .filter(|j| !wanted.contains(j.as_str()))
            .cloned()
            .collect();
        for job in removed {
            self.jobs.remove(&job);
            let mut current = self.current.lock();
            current.remove(&job);
            let _ = self.tx.send(DiscoveryUpdate {
                job,
                groups: Vec::new(),
            });
        }
        for (name, settings) in sets {
            match self.jobs.get(&name) {
                Some(r) if r.settings == settings => {
                    let current = self.current.lock();
                    if current.get(&name) == Some(&r.generation) {
                        if let Some(groups) = r.last.lock().clone() {
                            let _ = self.tx.send(DiscoveryUpdate { job: name, groups });
                        }
                    }
                }
                _ => {
                    let runner = self.spawn_job(&name, settings);
                    self.jobs.insert(name, runner);
                }
            }
        }
        let failed: usize = self.jobs.values().map(|j| j.failed).sum();
        FAILED_CONFIGS[self.section as usize].set(failed as f64);
    }

    /// Names of the jobs being discovered.
    pub fn jobs(&self) -> impl Iterator<Item = &str> {
        self.jobs.keys().map(String::as_str)
    }

    fn spawn_job(&mut self, job: &str, settings: SdSettings) -> JobRunner {
        self.next_generation += 1;
        let generation = self.next_generation;
        // Registering the new generation retires the old tasks' publisher
        // before the new tasks can send anything.
        self.current.lock().insert(job.to_string(), generation);
        let publisher = Publisher {
            job: job.to_string(),
            generation,
            current: self.current.clone(),
            tx: self.tx.clone(),
        };
        let last = Arc::new(Mutex::new(None));
        let mut tasks = JoinSet::new();
        let sources = settings.file_sd_configs.len()
            + settings.http_sd_configs.len()
            + settings.dns_sd_configs.len()
            + settings.consul_sd_configs.len()
            + settings.kubernetes_sd_configs.len();
        let (src_tx, src_rx) = mpsc::channel::<(usize, Vec<TargetGroup>)>(sources.max(1) * 2);
        for (i, f) in settings.file_sd_configs.iter().enumerate() {
            let (tx, rx) = mpsc::channel(1);
            tasks.spawn(file::run(f.clone(), self.options.file_poll_interval, tx));
            tasks.spawn(forward(i, rx, src_tx.clone()));
        }
        let offset = settings.file_sd_configs.len();
        for (i, h) in settings.http_sd_configs.iter().enumerate() {
            let (tx, rx) = mpsc::channel(1);
            tasks.spawn(http::run(h.clone(), tx));
            tasks.spawn(forward(offset + i, rx, src_tx.clone()));
        }
        let offset = offset + settings.http_sd_configs.len();
        for (i, d) in settings.dns_sd_configs.iter().enumerate() {
            let (tx, rx) = mpsc::channel(1);
            tasks.spawn(dns::run(d.clone(), tx));
            tasks.spawn(forward(offset + i, rx, src_tx.clone()));
        }
        let offset = offset + settings.dns_sd_configs.len();
        for (i, c) in settings.consul_sd_configs.iter().enumerate() {
            let (tx, rx) = mpsc::channel(1);
            tasks.spawn(consul::run(c.clone(), tx));
            tasks.spawn(forward(offset + i, rx, src_tx.clone()));
        }
        let offset = offset + settings.consul_sd_configs.len();
        let mut failed = 0;
        for (i, k) in settings.kubernetes_sd_configs.iter().enumerate() {
            match kubernetes::KubernetesSd::new(k) {
                Ok(sd) => {
                    let (tx, rx) = mpsc::channel(1);
                    tasks.spawn(sd.run(tx));
                    tasks.spawn(forward(offset + i, rx, src_tx.clone()));
                }
                Err(e) => {
                    // Counted in `prometheus_sd_failed_configs`; the source
                    // answers at once, with nothing, so the job's first
                    // report does not wait for it.
                    failed += 1;
                    tracing::error!(job, error = %e, "kubernetes_sd: cannot create the discoverer");
                    let tx = src_tx.clone();
                    tasks.spawn(async move {
                        let _ = tx.send((offset + i, Vec::new())).await;
                    });
                }
            }
        }
        drop(src_tx);
        let static_groups: Vec<TargetGroup> = settings
            .static_configs
            .iter()
            .enumerate()
            .map(|(i, sc)| TargetGroup::from_static(i, sc))
            .collect();
        tasks.spawn(aggregate(
            static_groups,
            sources,
            src_rx,
            self.options.initial_wait,
            publisher,
            last.clone(),
        ));
        JobRunner {
            settings,
            generation,
            last,
            failed,
            _tasks: tasks,
        }
    }
}

/// Tags a source's updates with its index.
async fn forward(
    index: usize,
    mut rx: mpsc::Receiver<Vec<TargetGroup>>,
    tx: mpsc::Sender<(usize, Vec<TargetGroup>)>,
) {
    while let Some(groups) = rx.recv().await {
        if tx.send((index, groups)).await.is_err() {
            return;
        }
    }
}

/// Combines a job's sources and publishes the whole list on each change.
async fn aggregate(
    static_groups: Vec<TargetGroup>,
    sources: usize,
    mut rx: mpsc::Receiver<(usize, Vec<TargetGroup>)>,
    initial_wait: Duration,
    publisher: Publisher,
    last: Arc<Mutex<Option<Vec<TargetGroup>>>>,
) {
    let mut latest: Vec<Option<Vec<TargetGroup>>> = vec![None; sources];
    let combine = |latest: &[Option<Vec<TargetGroup>>]| -> Vec<TargetGroup> {
        let mut all = static_groups.clone();
        all.extend(latest.iter().flatten().flatten().cloned());
        all
    };
    // Initial report: wait for every source or for the deadline.
    let deadline = tokio::time::Instant::now() + initial_wait;
    while latest.iter().any(Option::is_none) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((i, groups))) => latest[i] = Some(groups),
            Ok(None) | Err(_) => break,
        }
    }
    // Always report once, even an empty list, so the job is known.
    publisher.publish(&last, combine(&latest), true);

    while let Some((i, groups)) = rx.recv().await {
        latest[i] = Some(groups);
        publisher.publish(&last, combine(&latest), false);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::parse_str;

    fn options() -> DiscoveryOptions {
        DiscoveryOptions {
            file_poll_interval: Duration::from_millis(20),
            initial_wait: Duration::from_secs(5),
        }
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<DiscoveryUpdate>) -> DiscoveryUpdate {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an update within 5s")
            .expect("channel open")
    }

    fn addresses(u: &DiscoveryUpdate) -> Vec<&str> {
        u.groups
            .iter()
            .flat_map(|g| g.targets.iter().map(|t| t["__address__"].as_str()))
            .collect()
    }

    fn config(file: &Path, extra_job: &str) -> Config {
        parse_str(&format!(
            "
scrape_configs:
  - job_name: mixed
    static_configs:
      - targets: ['127.0.0.1:1']
        labels: {{kind: static}}
    file_sd_configs:
      - files: ['{}']
{extra_job}",
            file.display()
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn reports_static_and_file_groups_and_follows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.json");
        std::fs::write(&f, r#"[{"targets": ["127.0.0.1:2"]}]"#).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _d = Discovery::with_options(&config(&f, ""), tx, options());
        let u = next(&mut rx).await;
        assert_eq!(u.job, "mixed");
        assert_eq!(addresses(&u), ["127.0.0.1:1", "127.0.0.1:2"]);
        assert_eq!(u.groups[0].source, "0");
        assert_eq!(u.groups[0].labels["kind"], "static");
        assert_eq!(u.groups[1].labels["__meta_filepath"], f.to_string_lossy());

        std::fs::write(&f, r#"[{"targets": ["127.0.0.1:2", "127.0.0.1:3"]}]"#).unwrap();
        let u = next(&mut rx).await;
        assert_eq!(addresses(&u), ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]);
    }

    #[tokio::test]
    async fn reload_adds_removes_restarts_and_resends() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.yml");
        std::fs::write(&f, "- targets: ['127.0.0.1:2']\n").unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let extra = "  - job_name: other\n    static_configs: [{targets: ['127.0.0.1:7']}]\n";
        let mut d = Discovery::with_options(&config(&f, extra), tx, options());
        let mut first = [next(&mut rx).await, next(&mut rx).await];
        first.sort_by(|a, b| a.job.cmp(&b.job));
        assert_eq!(first[0].job, "mixed");
        assert_eq!(addresses(&first[1]), ["127.0.0.1:7"]);

        // Same settings for "mixed", "other" removed, "new" added.
        let extra = "  - job_name: new\n    static_configs: [{targets: ['127.0.0.1:8']}]\n";
        d.update(&config(&f, extra));
        let mut updates = [
            next(&mut rx).await,
            next(&mut rx).await,
            next(&mut rx).await,
        ];
        updates.sort_by(|a, b| a.job.cmp(&b.job));
        assert_eq!(updates[0].job, "mixed");
        assert_eq!(updates[0], first[0], "unchanged job re-reports its groups");
        assert_eq!(updates[1].job, "new");
        assert_eq!(addresses(&updates[1]), ["127.0.0.1:8"]);
        assert_eq!(updates[2].job, "other");
        assert!(
            updates[2].groups.is_empty(),
            "removed job reports no groups"
        );
        let mut jobs: Vec<&str> = d.jobs().collect();
        jobs.sort();
        assert_eq!(jobs, ["mixed", "new"]);

        // Changed settings restart the job; the old tasks fall silent.
        let changed = parse_str(&format!(
            "scrape_configs:\n  - job_name: mixed\n    file_sd_configs: [{{files: ['{}']}}]\n",
            f.display()
        ))
        .unwrap();
        d.update(&changed);
        let mut updates = [next(&mut rx).await, next(&mut rx).await];
        updates.sort_by(|a, b| a.job.cmp(&b.job));
        assert_eq!(addresses(&updates[0]), ["127.0.0.1:2"]);
        assert!(updates[1].job == "new" && updates[1].groups.is_empty());
        std::fs::write(&f, "- targets: ['127.0.0.1:5']\n").unwrap();
        let u = next(&mut rx).await;
        assert_eq!(
            (u.job.as_str(), addresses(&u)),
            ("mixed", vec!["127.0.0.1:5"])
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(200), rx.recv())
                .await
                .is_err(),
            "exactly one update per change"
        );
    }

    #[tokio::test]
    async fn slow_sources_do_not_hold_up_the_first_report_forever() {
        // Nothing listens on this port: the http_sd source never answers.
        let cfg = parse_str(
            "
scrape_configs:
  - job_name: j
    static_configs: [{targets: ['127.0.0.1:1']}]
    http_sd_configs: [{url: 'http://127.0.0.1:9/sd', refresh_interval: 1h}]
",
        )
        .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let opts = DiscoveryOptions {
            initial_wait: Duration::from_millis(100),
            ..options()
        };
        let _d = Discovery::with_options(&cfg, tx, opts);
        let u = next(&mut rx).await;
        assert_eq!(addresses(&u), ["127.0.0.1:1"]);
    }

    #[tokio::test]
    async fn alertmanager_sets_are_named_by_position_and_skip_scrape_jobs() {
        let cfg = parse_str(
            "
scrape_configs:
  - job_name: j
    static_configs: [{targets: ['127.0.0.1:1']}]
alerting:
  alertmanagers:
    - static_configs: [{targets: ['127.0.0.1:9093']}]
    - static_configs: [{targets: ['127.0.0.1:9094', '127.0.0.1:9095']}]
",
        )
        .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut d = Discovery::alertmanagers(&cfg, tx, options());
        let mut got = [next(&mut rx).await, next(&mut rx).await];
        got.sort_by(|a, b| a.job.cmp(&b.job));
        assert_eq!(got[0].job, "config-0");
        assert_eq!(addresses(&got[0]), ["127.0.0.1:9093"]);
        assert_eq!(got[1].job, alertmanager_set_name(1));
        assert_eq!(addresses(&got[1]), ["127.0.0.1:9094", "127.0.0.1:9095"]);

        // Removing the second set reports it empty.
        let one = parse_str(
            "alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['127.0.0.1:9093']}]\n",
        )
        .unwrap();
        d.update(&one);
        let mut got = [next(&mut rx).await, next(&mut rx).await];
        got.sort_by(|a, b| a.job.cmp(&b.job));
        assert_eq!(addresses(&got[0]), ["127.0.0.1:9093"]);
        assert!(got[1].job == "config-1" && got[1].groups.is_empty());
    }

    #[tokio::test]
    async fn dropping_discovery_stops_its_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.json");
        std::fs::write(&f, r#"[{"targets": ["127.0.0.1:2"]}]"#).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let d = Discovery::with_options(&config(&f, ""), tx, options());
        next(&mut rx).await;
        drop(d);
        std::fs::write(&f, r#"[{"targets": ["127.0.0.1:3"]}]"#).unwrap();
        // All senders are gone once the tasks are aborted.
        let end = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(end.unwrap(), None);
    }
}
