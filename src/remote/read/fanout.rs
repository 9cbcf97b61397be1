//! What queries read: the local database merged with every `remote_read:`
//! endpoint, like Prometheus's fanout storage with remote queriers as
//! secondaries. Series with the same labels become one, their samples
//! merged by timestamp (one per timestamp). A failing endpoint does not
//! fail the query: its error becomes a warning of the answer. The
//! select's hints go to the endpoints as their read hints.
//!
//! Only `select` goes remote. Label names and values come from local
//! storage alone: Prometheus 2.42's remote querier answers them with a
//! "not implemented" error, which its fanout turns into a warning, so each
//! endpoint that would be asked for the range adds that same warning (one
//! per endpoint, as Prometheus lists them).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use storage::querier::{
    merge_series, Querier, Queryable, SelectHints, Series, SeriesSet, Warnings,
};
use storage::{Db, Label, Labels, Matcher};

use super::client::{FetchError, Plan, Policy, ReadClient, ReadMetrics, RemoteSeries};
use crate::config::Config;
use crate::metrics::Registry;

/// How often a thread waiting for remote answers looks at the query's
/// cancellation flag.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Why the remote-read endpoints of a config could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("remote_read {name:?}: {message}")]
pub struct RemoteReadError {
    name: String,
    message: String,
}

/// One endpoint with what to ask it.
struct Endpoint {
    client: ReadClient,
    policy: Policy,
}

/// The remote-read endpoints of a config, built and ready to swap in.
#[derive(Clone, Default)]
pub struct Endpoints(Arc<[Arc<Endpoint>]>);

impl Endpoints {
    /// Builds a client for each `remote_read:` entry of `cfg`.
    fn from_config(
        cfg: &Config,
        metrics: Option<&ReadMetrics>,
    ) -> Result<Endpoints, RemoteReadError> {
        let mut out = Vec::with_capacity(cfg.remote_read.len());
        for rr in &cfg.remote_read {
            let client = ReadClient::new(rr, metrics).map_err(|e| RemoteReadError {
                name: rr.display_name().to_string(),
                message: e.to_string(),
            })?;
            let policy = Policy {
                read_recent: rr.read_recent,
                required_matchers: rr.required_matchers.clone(),
                external_labels: if rr.filter_external_labels {
                    cfg.global.external_labels.clone()
                } else {
                    Default::default()
                },
            };
            out.push(Arc::new(Endpoint { client, policy }));
        }
        Ok(Endpoints(out.into()))
    }

    /// How many endpoints there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (queries read local storage only).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The local database plus the current endpoints; the endpoints are
/// replaced on config reload, queries in flight keep the ones they
/// started with.
pub struct FanoutStorage {
    db: Arc<Db>,
    endpoints: RwLock<Endpoints>,
    /// The runtime remote requests run on when the querying thread is not
    /// inside one.
    runtime: Option<tokio::runtime::Handle>,
    metrics: Option<ReadMetrics>,
}

impl FanoutStorage {
    /// Local storage only, until [`FanoutStorage::set_endpoints`]. Call
    /// inside a tokio runtime so remote requests have one to run on.
    pub fn new(db: Arc<Db>) -> FanoutStorage {
        FanoutStorage {
            db,
            endpoints: RwLock::new(Endpoints::default()),
            runtime: tokio::runtime::Handle::try_current().ok(),
            metrics: None,
        }
    }

    /// Counts the requests of endpoints built from now on in `registry`
    /// (Prometheus's `prometheus_remote_storage_read_*` metrics).
    pub fn with_metrics(mut self, registry: &Registry) -> FanoutStorage {
        self.metrics = Some(ReadMetrics::register(registry));
        self
    }

    /// Builds the endpoints of `cfg`'s `remote_read:` entries, to be put in
    /// place with [`FanoutStorage::set_endpoints`] once the rest of the
    /// config has been applied too.
    pub fn endpoints_for(&self, cfg: &Config) -> Result<Endpoints, RemoteReadError> {
        Endpoints::from_config(cfg, self.metrics.as_ref())
    }

    /// Replaces the endpoints; queries already running keep theirs.
    pub fn set_endpoints(&self, endpoints: Endpoints) {
        *self.endpoints.write() = endpoints;
    }

    /// A view for one query. Remote requests stop when `cancel` is set
    /// or `deadline` passes.
    pub fn view(&self, cancel: Arc<AtomicBool>, deadline: Option<Instant>) -> FanoutView<'_> {
        FanoutView {
            db: &self.db,
            endpoints: self.endpoints.read().clone(),
            runtime: tokio::runtime::Handle::try_current()
                .ok()
                .or_else(|| self.runtime.clone()),
            cancel,
            deadline,
        }
    }
}

/// The [`Queryable`] one query evaluates against; failed remote reads
/// become warnings of the selects that asked for them.
pub struct FanoutView<'a> {
    db: &'a Db,
    endpoints: Endpoints,
    runtime: Option<tokio::runtime::Handle>,
    cancel: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl FanoutView<'_> {
    /// Whether the view reads local storage only (no `remote_read:`
    /// endpoints).
    pub fn is_local(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The oldest timestamp local storage holds (`i64::MAX` when empty).
    fn local_start(&self) -> i64 {
        let head = self.db.head().min_time();
        self.db
            .blocks()
            .first()
            .map_or(head, |b| b.min_time.min(head))
    }

    /// Runs the reads concurrently on the runtime and waits for them
    /// here, watching for cancellation; `None` for a read that did not
    /// finish, with the reason added to `warnings`.
    fn fetch(
        &self,
        plans: &[(Arc<Endpoint>, Plan)],
        warnings: &mut Warnings,
    ) -> Vec<Option<Vec<RemoteSeries>>> {
        let mut out: Vec<Option<Vec<RemoteSeries>>> = vec![None; plans.len()];
        let mut warn = |msg: String| {
            if !warnings.contains(&msg) {
                warnings.push(msg);
            }
        };
        let Some(rt) = &self.runtime else {
            warn("remote_read: no async runtime to send requests on".into());
            return out;
        };
        let (tx, rx) = mpsc::channel::<(usize, Result<Vec<RemoteSeries>, FetchError>)>();
        let tasks: Vec<_> = plans
            .iter()
            .enumerate()
            .map(|(i, (ep, plan))| {
                let (ep, query, tx) = (Arc::clone(ep), plan.query.clone(), tx.clone());
                rt.spawn(async move {
                    let _ = tx.send((i, ep.client.read(query).await));
                })
            })
            .collect();
        drop(tx);
        let mut pending = plans.len();
        while pending > 0 {
            if self.cancel.load(Ordering::Relaxed) {
                warn("remote_read: query canceled".into());
                break;
            }
            let wait = match self.deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) => left.min(CANCEL_POLL),
                    None => {
                        warn("remote_read: query timed out".into());
                        break;
                    }
                },
                None => CANCEL_POLL,
            };
            match rx.recv_timeout(wait) {
                Ok((i, Ok(series))) => {
                    out[i] = Some(series);
                    pending -= 1;
                }
                Ok((_, Err(e))) => {
                    warn(format!("remote_read: {e}"));
                    pending -= 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // A task ended without answering: the runtime is
                    // shutting down.
                    warn("remote_read: request abandoned".into());
                    break;
                }
            }
        }
        for t in tasks {
            t.abort();
        }
        out
    }
}

impl Queryable for FanoutView<'_> {
    fn querier(&self, mint: i64, maxt: i64) -> storage::Result<Box<dyn Querier + '_>> {
        let local = self.db.querier(mint, maxt)?;
        if self.endpoints.is_empty() {
            return Ok(local);
        }
        let local_start = self.local_start();
        let remotes: Vec<(Arc<Endpoint>, i64, i64)> = self
            .endpoints
            .0
            .iter()
            .filter_map(|ep| {
                let (lo, hi) = ep.policy.range(mint, maxt, local_start)?;
                Some((Arc::clone(ep), lo, hi))
            })
            .collect();
        if remotes.is_empty() {
            return Ok(local);
        }
        Ok(Box::new(FanoutQuerier {
            local,
            remotes,
            view: self,
            mint,
            maxt,
        }))
    }
}

/// Local and remote series over one range.
struct FanoutQuerier<'a> {
    local: Box<dyn Querier + 'a>,
    /// Endpoints to ask, with the range to ask each for.
    remotes: Vec<(Arc<Endpoint>, i64, i64)>,
    view: &'a FanoutView<'a>,
    mint: i64,
    maxt: i64,
}

impl Querier for FanoutQuerier<'_> {
    fn select(&self, hints: &SelectHints, matchers: &[Matcher]) -> storage::Result<SeriesSet> {
        let local = self.local.select(hints, matchers)?;
        let plans: Vec<(Arc<Endpoint>, Plan)> = self
            .remotes
            .iter()
            .filter_map(|(ep, lo, hi)| {
                let mut plan = ep.policy.plan(*lo, *hi, matchers)?;
                if let Some(h) = plan.query.hints.as_mut() {
                    // The window stays the one asked for (cut by
                    // `read_recent`), not the caller's.
                    h.step_ms = hints.step;
                    h.func = hints.func.unwrap_or_default().to_string();
                    h.range_ms = hints.range;
                }
                Some((Arc::clone(ep), plan))
            })
            .collect();
        if plans.is_empty() {
            return Ok(local);
        }
        let SeriesSet {
            series: local,
            mut warnings,
        } = local;
        let answers = self.view.fetch(&plans, &mut warnings);
        let mut remote = Vec::new();
        for ((_, plan), answer) in plans.iter().zip(answers) {
            for rs in answer.into_iter().flatten() {
                let (lo, hi) = (plan.query.start_timestamp_ms, plan.query.end_timestamp_ms);
                // A series lookup wants label sets: an endpoint answering
                // it (Prometheus does) may send series without samples.
                let keep_empty = hints.labels_only;
                if let Some(s) =
                    to_series(rs, &plan.strip, lo, hi, self.mint, self.maxt, keep_empty)
                {
                    remote.push(s);
                }
            }
        }
        Ok(SeriesSet {
            // Local series come first among equal labels.
            series: merge_series(vec![local, remote]),
            warnings,
        })
    }

    /// Local names, and Prometheus 2.42's warning for each endpoint (its
    /// remote querier does not implement label lookups).
    fn label_names(&self, matchers: &[Matcher]) -> storage::Result<(Vec<String>, Warnings)> {
        let (names, local) = self.local.label_names(matchers)?;
        Ok((names, self.not_implemented(local)))
    }

    /// Local values, with the warnings of [`Self::label_names`].
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
    ) -> storage::Result<(Vec<String>, Warnings)> {
        let (values, local) = self.local.label_values(name, matchers)?;
        Ok((values, self.not_implemented(local)))
    }
}

impl FanoutQuerier<'_> {
    /// What Prometheus 2.42 answers a label lookup with when remote read
    /// is configured: one "not implemented" per endpoint, not merged,
    /// before the local lookup's own warnings.
    fn not_implemented(&self, local: Warnings) -> Warnings {
        let mut w: Warnings = self
            .remotes
            .iter()
            .map(|_| "not implemented".to_string())
            .collect();
        w.extend(local);
        w
    }
}

/// A remote series as storage serves one: `strip` labels removed, samples
/// outside `[lo, hi]` (what was asked for) dropped, cut into chunks
/// ([`Series::from_samples`]); `None` when nothing is left, unless
/// `keep_empty`. The series covers the querier's `[mint, maxt]` so it
/// merges with local ones of the same labels.
fn to_series(
    rs: RemoteSeries,
    strip: &[String],
    lo: i64,
    hi: i64,
    mint: i64,
    maxt: i64,
    keep_empty: bool,
) -> Option<Series> {
    let start = rs.samples.partition_point(|s| s.0 < lo);
    let end = rs.samples.partition_point(|s| s.0 <= hi).max(start);
    let samples = &rs.samples[start..end];
    if samples.is_empty() && !keep_empty {
        return None;
    }
    let labels = Labels::new(
        rs.labels
            .into_iter()
            .filter(|l| !strip.contains(&l.name))
            .map(|l| Label::new(l.name, l.value))
            .collect(),
    );
    Some(Series::from_samples(labels, samples, mint, maxt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::proto::Label as ProtoLabel;

    fn remote(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> RemoteSeries {
        RemoteSeries {
            labels: labels
                .iter()
                .map(|(n, v)| ProtoLabel {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            samples: samples.to_vec(),
        }
    }

    fn all_samples(s: &Series) -> Vec<(i64, f64)> {
        let mut v = Vec::new();
        s.read_into(&mut v);
        assert_eq!(v, s.iter().collect::<Vec<_>>(), "read_into and iter differ");
        v
    }

    #[test]
    fn remote_series_are_cut_to_the_asked_range_and_stripped() {
        let samples: Vec<(i64, f64)> = (0..300).map(|i| (i * 10, i as f64)).collect();
        let s = to_series(
            remote(&[("__name__", "up"), ("region", "eu")], &samples),
            &["region".to_string()],
            100,
            2500,
            0,
            10_000,
            false,
        )
        .unwrap();
        assert_eq!(s.labels, Labels::from_pairs([("__name__", "up")]));
        let got = all_samples(&s);
        assert_eq!(got.first(), Some(&(100, 10.0)));
        assert_eq!(got.last(), Some(&(2500, 250.0)));
        assert_eq!(got.len(), 241);
        assert_eq!(s.spans().len(), 3);
        assert!(to_series(
            remote(&[("a", "b")], &samples),
            &[],
            5000,
            6000,
            0,
            10_000,
            false
        )
        .is_none());
        assert!(to_series(remote(&[("a", "b")], &[]), &[], 0, 10, 0, 10, false).is_none());
    }

    /// For a series lookup, label sets without samples (what Prometheus
    /// answers a `series` hint with) are kept.
    #[test]
    fn series_lookups_keep_remote_series_without_samples() {
        let s = to_series(
            remote(&[("__name__", "up"), ("region", "eu")], &[]),
            &["region".to_string()],
            0,
            10,
            0,
            10,
            true,
        )
        .unwrap();
        assert_eq!(s.labels, Labels::from_pairs([("__name__", "up")]));
        assert!(all_samples(&s).is_empty());
        // Samples outside the asked range still do not come through.
        let s = to_series(remote(&[("a", "b")], &[(50, 1.0)]), &[], 0, 10, 0, 10, true).unwrap();
        assert!(all_samples(&s).is_empty());
        // An inverted range is empty, not a panic.
        assert!(to_series(remote(&[("a", "b")], &[(5, 1.0)]), &[], 9, 1, 0, 10, false).is_none());
    }

    /// Overlapping local and remote data of one series: one series, one
    /// sample per timestamp, ascending, through both read paths.
    #[test]
    fn equal_labels_merge_without_duplicate_timestamps() {
        let local: Vec<(i64, f64)> = (0..200).map(|i| (i * 10, i as f64)).collect();
        let far: Vec<(i64, f64)> = (100..400).map(|i| (i * 10, i as f64)).collect();
        let other: Vec<(i64, f64)> = vec![(5, 1.0)];
        let l = [("__name__", "m"), ("job", "a")];
        let all = vec![
            to_series(remote(&l, &local), &[], 0, 10_000, 0, 10_000, false).unwrap(),
            to_series(
                remote(&[("__name__", "m")], &other),
                &[],
                0,
                10_000,
                0,
                10_000,
                false,
            )
            .unwrap(),
            to_series(
                remote(&[("__name__", "m"), ("job", "a"), ("r", "x")], &far),
                &["r".to_string()],
                0,
                10_000,
                0,
                10_000,
                false,
            )
            .unwrap(),
        ];
        let merged = merge_series(vec![all]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].labels, Labels::from_pairs([("__name__", "m")]));
        assert_eq!(merged[1].labels, Labels::from_pairs(l));
        let got = all_samples(&merged[1]);
        let want: Vec<(i64, f64)> = (0..400).map(|i| (i * 10, i as f64)).collect();
        assert_eq!(got, want);
        // Seeking into the overlap works too.
        let mut it = merged[1].iter();
        assert_eq!(it.seek(1505), Some((1510, 151.0)));
        assert_eq!(it.next(), Some((1520, 152.0)));
    }

    fn db() -> (tempfile::TempDir, Arc<Db>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            storage::Options {
                compaction_interval: None,
                ..Default::default()
            },
        )
        .unwrap();
        (dir, Arc::new(db))
    }

    /// An endpoint nobody listens on: its failure is a warning, local data
    /// still answers, and a selector it is not asked for adds nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failing_endpoint_becomes_a_warning() {
        let (_dir, db) = db();
        let mut app = db.appender();
        let l = Labels::from_pairs([("__name__", "up"), ("env", "prod")]);
        for i in 0..10 {
            app.append(&l, 1_000_000 + i * 1000, 1.0).unwrap();
        }
        app.commit().unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cfg = crate::config::parse_str(&format!(
            "remote_read:\n  - url: http://127.0.0.1:{port}/api/v1/read\n    read_recent: true\n    remote_timeout: 5s\n    required_matchers: {{env: prod}}\n"
        ))
        .unwrap();
        let fanout = FanoutStorage::new(Arc::clone(&db));
        fanout.set_endpoints(fanout.endpoints_for(&cfg).unwrap());
        let fanout = Arc::new(fanout);
        let f = Arc::clone(&fanout);
        let (series, warnings, skipped) = tokio::task::spawn_blocking(move || {
            let view = f.view(Arc::new(AtomicBool::new(false)), None);
            let q = view.querier(0, 2_000_000).unwrap();
            let SeriesSet { series, warnings } = q
                .select(
                    &SelectHints::default(),
                    &[
                        Matcher::equal("__name__", "up"),
                        Matcher::equal("env", "prod"),
                    ],
                )
                .unwrap();
            let skipped = q
                .select(&SelectHints::default(), &[Matcher::equal("__name__", "up")])
                .unwrap();
            (series, warnings, (skipped.series.len(), skipped.warnings))
        })
        .await
        .unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(all_samples(&series[0]).len(), 10);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("remote_read: error sending request: "),
            "{warnings:?}"
        );
        // No env=prod matcher: the endpoint is not asked, so no warning.
        assert_eq!(skipped, (1, vec![]));
    }

    /// A canceled query stops waiting for a slow endpoint at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancellation_stops_the_wait() {
        let (_dir, db) = db();
        // Accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((c, _)) = listener.accept().await {
                conns.push(c);
            }
        });
        let cfg = crate::config::parse_str(&format!(
            "remote_read:\n  - url: http://127.0.0.1:{port}/read\n    read_recent: true\n"
        ))
        .unwrap();
        let fanout = Arc::new(FanoutStorage::new(Arc::clone(&db)));
        fanout.set_endpoints(fanout.endpoints_for(&cfg).unwrap());
        let cancel = Arc::new(AtomicBool::new(false));
        let (f, c) = (Arc::clone(&fanout), Arc::clone(&cancel));
        let started = Instant::now();
        let job = tokio::task::spawn_blocking(move || {
            let view = f.view(c, Some(Instant::now() + Duration::from_secs(20)));
            let q = view.querier(0, 10).unwrap();
            let set = q
                .select(&SelectHints::default(), &[Matcher::equal("__name__", "x")])
                .unwrap();
            (set.series.len(), set.warnings)
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.store(true, Ordering::Relaxed);
        let (n, warnings) = job.await.unwrap();
        assert_eq!(n, 0);
        assert_eq!(warnings, ["remote_read: query canceled"]);
        assert!(started.elapsed() < Duration::from_secs(5));

        // The deadline works the same way.
        let f = Arc::clone(&fanout);
        let warnings = tokio::task::spawn_blocking(move || {
            let view = f.view(
                Arc::new(AtomicBool::new(false)),
                Some(Instant::now() + Duration::from_millis(100)),
            );
            let q = view.querier(0, 10).unwrap();
            q.select(&SelectHints::default(), &[Matcher::equal("__name__", "x")])
                .unwrap()
                .warnings
        })
        .await
        .unwrap();
        assert_eq!(warnings, ["remote_read: query timed out"]);
        hold.abort();
    }

    /// Without read_recent, a range the local storage covers is not sent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn covered_ranges_are_not_sent_without_read_recent() {
        let (_dir, db) = db();
        let mut app = db.appender();
        app.append(&Labels::from_pairs([("__name__", "x")]), 5_000, 1.0)
            .unwrap();
        app.commit().unwrap();
        // A port nobody listens on: being asked would leave a warning.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cfg = crate::config::parse_str(&format!(
            "remote_read:\n  - url: http://127.0.0.1:{port}/read\n"
        ))
        .unwrap();
        let fanout = Arc::new(FanoutStorage::new(Arc::clone(&db)));
        fanout.set_endpoints(fanout.endpoints_for(&cfg).unwrap());
        let f = Arc::clone(&fanout);
        let (recent, old) = tokio::task::spawn_blocking(move || {
            let ask = |mint, maxt| {
                let view = f.view(Arc::new(AtomicBool::new(false)), None);
                let q = view.querier(mint, maxt).unwrap();
                q.select(&SelectHints::default(), &[Matcher::equal("__name__", "x")])
                    .unwrap()
                    .warnings
            };
            (ask(5_001, 9_000), ask(1_000, 9_000))
        })
        .await
        .unwrap();
        assert!(recent.is_empty(), "{recent:?}");
        assert_eq!(old.len(), 1, "{old:?}");
    }
}
