//! The watches of one `consul_sd_configs` entry, run as Prometheus runs
//! them. The datacenter comes first (asked from the agent until it
//! answers, unless configured). Then, when no `services` are listed or
//! `tags` or `filter` narrow the catalog, the catalog is watched and every
//! service it lists that matches gets a watch of its own; otherwise each
//! listed service is watched directly.
//!
//! A watch is a loop of blocking queries: each carries the index of the
//! last answer, Consul holds it until something changes or the wait runs
//! out, and an answer with the same index is no news. Queries start at most
//! once per `refresh_interval`; after a failed one the watch pauses for
//! [`Timing::retry`] first and keeps what it last reported, so targets stay
//! while Consul is unreachable.
//!
//! Each answer that is news is reported as a batch of changed groups (the
//! service's group; an empty group for a service gone from the catalog; an
//! empty group with an empty source when no service matches at all), as
//! Prometheus's discoverer reports them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Mutex};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};

use super::api::ConsulApi;
use super::{metrics, targets};
use crate::config::ConsulSdConfig;
use crate::discovery::TargetGroup;

/// The pauses of a discoverer; tests shorten them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// How long Consul may hold a blocking query (Prometheus: 2 minutes).
    pub(crate) wait: Duration,
    /// The pause after a failed call (Prometheus: 15 seconds).
    pub(crate) retry: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            wait: Duration::from_secs(120),
            retry: Duration::from_secs(15),
        }
    }
}

/// The index a blocking query waits on, kept as Consul asks clients to
/// keep it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WaitIndex(u64);

impl WaitIndex {
    /// What to send as `index` (0: answer at once).
    pub(crate) fn get(self) -> u64 {
        self.0
    }

    /// Takes the index of an answer; returns whether the answer is news.
    /// The same index again means the wait ran out with nothing new. An
    /// index that went backwards (Consul's state was restored or its
    /// leader changed) is news and restarts with a query that does not
    /// block; so does a missing index (0), which never blocks and so
    /// turns the watch into polling every `refresh_interval`.
    pub(crate) fn advance(&mut self, got: u64) -> bool {
        if got != 0 && got == self.0 {
            return false;
        }
        self.0 = if got < self.0 { 0 } else { got };
        true
    }
}

/// Whether the catalog must be watched for the service list, rather than
/// each listed service directly.
fn watches_catalog(cfg: &ConsulSdConfig) -> bool {
    cfg.services.is_empty() || !cfg.tags.is_empty() || !cfg.filter.is_empty()
}

/// Whether a catalog service is wanted: listed (or no list), and carrying
/// every configured tag.
pub(crate) fn should_watch(cfg: &ConsulSdConfig, name: &str, tags: &[String]) -> bool {
    let listed = cfg.services.is_empty() || cfg.services.iter().any(|s| s == name);
    listed && cfg.tags.iter().all(|want| tags.contains(want))
}

/// Where watches report. A service watch reports only while its id is
/// live: the catalog watch retires the id, under the same lock, before it
/// reports the service gone, so a late report of a removed service can
/// never follow its removal.
struct Output {
    tx: mpsc::Sender<Vec<TargetGroup>>,
    live: HashSet<u64>,
}

type SharedOutput = Arc<Mutex<Output>>;

/// What every watch of one config shares.
struct Context {
    api: ConsulApi,
    cfg: ConsulSdConfig,
    timing: Timing,
    datacenter: String,
    out: SharedOutput,
}

/// A ticker firing now and then every `refresh_interval`; a query that
/// outlasts it is followed by the next at once, as Go's ticker does.
fn ticker(cfg: &ConsulSdConfig) -> tokio::time::Interval {
    let period = cfg.refresh_interval.as_std().max(Duration::from_millis(1));
    let mut t = tokio::time::interval(period);
    t.set_missed_tick_behavior(MissedTickBehavior::Skip);
    t
}

/// Runs the discoverer for `cfg` until dropped, reporting batches of
/// changed groups to `tx`.
pub(crate) async fn discover(
    api: ConsulApi,
    cfg: ConsulSdConfig,
    timing: Timing,
    tx: mpsc::Sender<Vec<TargetGroup>>,
) {
    let datacenter = datacenter(&api, &cfg, timing.retry).await;
    let ctx = Arc::new(Context {
        api,
        cfg,
        timing,
        datacenter,
        out: Arc::new(Mutex::new(Output {
            tx,
            live: HashSet::new(),
        })),
    });
    if watches_catalog(&ctx.cfg) {
        watch_catalog(ctx).await;
    } else {
        let mut watches = JoinSet::new();
        let mut names: Vec<&String> = ctx.cfg.services.iter().collect();
        names.sort();
        names.dedup();
        for (id, name) in names.into_iter().enumerate() {
            ctx.out.lock().await.live.insert(id as u64);
            watches.spawn(watch_service(ctx.clone(), name.clone(), id as u64));
        }
        // The watches run until this future is dropped with them.
        std::future::pending::<()>().await;
    }
}

/// The configured datacenter, or the agent's, asked until it answers.
async fn datacenter(api: &ConsulApi, cfg: &ConsulSdConfig, retry: Duration) -> String {
    if !cfg.datacenter.is_empty() {
        return cfg.datacenter.clone();
    }
    loop {
        match api.agent_datacenter().await {
            Ok(dc) => return dc,
            Err(e) => {
                if e.is_rpc_failure() {
                    metrics::failed();
                }
                tracing::error!(server = %cfg.server, error = %e, "consul_sd: cannot read the datacenter; retrying");
                tokio::time::sleep(retry).await;
            }
        }
    }
}

/// Watches the catalog and keeps one service watch per wanted service.
async fn watch_catalog(ctx: Arc<Context>) {
    let mut ticker = ticker(&ctx.cfg);
    let mut index = WaitIndex::default();
    let mut watches = JoinSet::new();
    let mut watched: HashMap<String, (u64, AbortHandle)> = HashMap::new();
    let mut next_id = 0u64;
    loop {
        ticker.tick().await;
        // Reap the tasks of removed services.
        while watches.try_join_next().is_some() {}
        let started = Instant::now();
        let answer = ctx.api.catalog_services(index.get()).await;
        metrics::services_call(started.elapsed());
        let services = match answer {
            Ok(a) if !index.advance(a.index) => continue,
            Ok(a) => a.body,
            Err(e) => {
                metrics::failed();
                tracing::error!(server = %ctx.cfg.server, error = %e, "consul_sd: cannot read the service list; keeping the current targets");
                tokio::time::sleep(ctx.timing.retry).await;
                continue;
            }
        };
        for (name, tags) in &services {
            if watched.contains_key(name) || !should_watch(&ctx.cfg, name, tags) {
                continue;
            }
            let id = next_id;
            next_id += 1;
            ctx.out.lock().await.live.insert(id);
            let handle = watches.spawn(watch_service(ctx.clone(), name.clone(), id));
            watched.insert(name.clone(), (id, handle));
        }
        // As Prometheus: a service stops being watched only when it leaves
        // the catalog.
        let gone: Vec<String> = watched
            .keys()
            .filter(|n| !services.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            let (id, handle) = watched.remove(&name).expect("listed above");
            handle.abort();
            let mut out = ctx.out.lock().await;
            out.live.remove(&id);
            let cleared = TargetGroup {
                source: name,
                ..TargetGroup::default()
            };
            if out.tx.send(vec![cleared]).await.is_err() {
                return;
            }
        }
        if watched.is_empty() {
            let out = ctx.out.lock().await;
            if out.tx.send(vec![TargetGroup::default()]).await.is_err() {
                return;
            }
        }
    }
}

/// Watches one service's instances for as long as it is wanted.
async fn watch_service(ctx: Arc<Context>, name: String, id: u64) {
    let mut ticker = ticker(&ctx.cfg);
    let mut index = WaitIndex::default();
    loop {
        ticker.tick().await;
        let started = Instant::now();
        let answer = ctx.api.health_service(&name, index.get()).await;
        metrics::service_call(started.elapsed());
        let entries = match answer {
            Ok(a) if !index.advance(a.index) => continue,
            Ok(a) => a.body,
            Err(e) => {
                metrics::failed();
                tracing::error!(server = %ctx.cfg.server, service = %name, error = %e, "consul_sd: cannot read the service; keeping its targets");
                tokio::time::sleep(ctx.timing.retry).await;
                continue;
            }
        };
        let group = targets::group(&name, &ctx.datacenter, &ctx.cfg.tag_separator, &entries);
        let out = ctx.out.lock().await;
        if !out.live.contains(&id) || out.tx.send(vec![group]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_advances_resets_and_tells_news() {
        let mut i = WaitIndex::default();
        assert!(i.advance(5), "the first answer is news");
        assert_eq!(i.get(), 5);
        assert!(!i.advance(5), "same index: the wait ran out");
        assert!(i.advance(9));
        assert_eq!(i.get(), 9);
        assert!(i.advance(3), "backwards is news");
        assert_eq!(i.get(), 0, "and the next query does not block");
        assert!(i.advance(3));
        assert_eq!(i.get(), 3);
        assert!(i.advance(0), "no index: news every time");
        assert_eq!(i.get(), 0);
        assert!(i.advance(0));
    }

    fn cfg(yaml: &str) -> ConsulSdConfig {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    /// Upstream's `TestConfiguredService`, `TestConfiguredServiceWithTag`,
    /// `TestConfiguredServiceWithTags` and `TestNonConfiguredService`.
    #[test]
    fn services_and_tags_choose_what_is_watched() {
        let tags = |t: &[&str]| -> Vec<String> { t.iter().map(|s| s.to_string()).collect() };
        let c = cfg("services: [configuredServiceName]");
        assert!(should_watch(&c, "configuredServiceName", &tags(&[""])));
        assert!(!should_watch(&c, "nonConfiguredServiceName", &tags(&[""])));

        let c = cfg("{services: [configuredServiceName], tags: [http]}");
        assert!(!should_watch(&c, "configuredServiceName", &tags(&[""])));
        assert!(should_watch(&c, "configuredServiceName", &tags(&["http"])));
        assert!(!should_watch(&c, "nonConfiguredServiceName", &tags(&[""])));
        assert!(!should_watch(
            &c,
            "nonConfiguredServiceName",
            &tags(&["http"])
        ));

        let two = "{services: [configuredServiceName], tags: [http, v1]}";
        let three = "{services: [configuredServiceName], tags: [http, v1, foo]}";
        for (conf, name, service_tags, want) in [
            (two, "configuredServiceName", &[""][..], false),
            (two, "configuredServiceName", &["http", "v1"][..], true),
            (two, "nonConfiguredServiceName", &[""][..], false),
            (two, "nonConfiguredServiceName", &["http, v1"][..], false),
            (
                two,
                "configuredServiceName",
                &["http", "v1", "foo"][..],
                true,
            ),
            (
                three,
                "configuredServiceName",
                &["http", "v1", "foo"][..],
                true,
            ),
            (
                two,
                "configuredServiceName",
                &["http", "v1", "v1"][..],
                true,
            ),
        ] {
            let got = should_watch(&cfg(conf), name, &tags(service_tags));
            assert_eq!(got, want, "{conf} / {name} {service_tags:?}");
        }

        assert!(should_watch(
            &cfg("{}"),
            "nonConfiguredServiceName",
            &tags(&[""])
        ));
    }

    #[test]
    fn catalog_is_watched_unless_services_are_fully_listed() {
        assert!(watches_catalog(&cfg("{}")));
        assert!(!watches_catalog(&cfg("services: [a]")));
        assert!(watches_catalog(&cfg("{services: [a], tags: [t]}")));
        assert!(watches_catalog(&cfg("{services: [a], filter: 'x'}")));
        assert!(!watches_catalog(&cfg(
            "{services: [a], health_filter: 'x'}"
        )));
    }
}
