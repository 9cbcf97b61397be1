//! One scrape's payload into storage: parse, resolve each series through
//! the target's cache (labels, `honor_labels`, metric relabeling and label
//! limits only on a miss), append, mark vanished series stale, and write the
//! report series (`up`, `scrape_duration_seconds`, ...).
//!
//! Everything here is synchronous: storage appends and the WAL fsync on
//! commit block, so the scrape loop runs it on a blocking thread. Benches
//! and tests drive [`Ingester::ingest`] directly with a body in memory.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use storage::head::Appender;
use storage::{Db, Label, Labels, METRIC_NAME};

use super::cache::{Meta, Resolved, ScrapeCache, SharedMetadata};
use super::error::ScrapeError;
use super::sample_labels::{
    check_limits, check_valid, duplicate_name, merge_target_labels, LabelLimits,
};
use crate::config::{NameValidationScheme, ScrapeConfig};
use crate::exposition::{Entry, Format, Parser};
use crate::relabel::{self, CompiledRule};

/// Names of the report series, in the order of [`ReportValues`].
const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

type ReportValues = [f64; 5];

/// How a job treats its samples.
#[derive(Clone)]
pub struct IngestOptions {
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    /// Staleness markers also for series exposed with explicit timestamps.
    pub track_timestamps_staleness: bool,
    /// Which metric and label names a scraped series may have.
    pub name_scheme: NameValidationScheme,
    /// Compiled `metric_relabel_configs`.
    pub metric_relabel: Arc<[CompiledRule]>,
    /// Samples per scrape after metric relabeling; 0 = unlimited.
    pub sample_limit: usize,
    pub label_limits: LabelLimits,
}

impl Default for IngestOptions {
    /// A job's defaults: target labels win, timestamps honoured, no metric
    /// relabeling, no limits.
    fn default() -> Self {
        IngestOptions {
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            name_scheme: NameValidationScheme::Utf8,
            metric_relabel: Vec::new().into(),
            sample_limit: 0,
            label_limits: LabelLimits::default(),
        }
    }
}

impl IngestOptions {
    /// The options of job `cfg`, whose `metric_relabel_configs` were
    /// compiled into `metric_relabel`.
    pub fn from_config(cfg: &ScrapeConfig, metric_relabel: Arc<[CompiledRule]>) -> Self {
        let n = |v: Option<u64>| v.unwrap_or(0).min(usize::MAX as u64) as usize;
        IngestOptions {
            honor_labels: cfg.honor_labels,
            honor_timestamps: cfg.honor_timestamps,
            track_timestamps_staleness: cfg.track_timestamps_staleness.unwrap_or(false),
            name_scheme: cfg.metric_name_validation_scheme.unwrap_or_default(),
            metric_relabel,
            sample_limit: n(cfg.sample_limit),
            label_limits: LabelLimits {
                label_limit: n(cfg.label_limit),
                label_name_length_limit: n(cfg.label_name_length_limit),
                label_value_length_limit: n(cfg.label_value_length_limit),
            },
        }
    }
}

/// Counts of one scrape; on a failed scrape, what was counted up to the
/// failure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScrapeReport {
    /// Samples in the payload (`scrape_samples_scraped`).
    pub samples_scraped: usize,
    /// Samples left after metric relabeling
    /// (`scrape_samples_post_metric_relabeling`).
    pub samples_post_relabel: usize,
    /// Series not in the scrape cache before (`scrape_series_added`).
    pub series_added: usize,
    /// Samples storage rejected; they are skipped, the scrape goes on.
    pub out_of_order: usize,
    pub duplicates: usize,
    pub out_of_bounds: usize,
    /// Of `out_of_bounds`: samples further ahead of the clock than the
    /// storage's future grace. Any fails the scrape.
    pub too_far_in_future: usize,
    /// Staleness markers written for series that disappeared.
    pub stale_markers: usize,
}

/// The result of a whole scrape as [`Ingester::finish`] stored it.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrapeOutcome {
    /// `None` when the target is healthy (`up` = 1).
    pub error: Option<ScrapeError>,
    pub report: ScrapeReport,
    /// From the scrape's start until the report was written.
    pub duration: Duration,
}

/// A target's ingest state: its labels, options and scrape cache. One per
/// target, owned by its scrape loop (and moved to a blocking thread for
/// each scrape).
pub struct Ingester {
    /// The target's public labels, sorted by name.
    target: Vec<Label>,
    opts: IngestOptions,
    cache: ScrapeCache,
    /// Reused label buffer for cache misses.
    scratch: Vec<Label>,
    /// Series refs of the report series, by [`REPORT_NAMES`] index.
    report_refs: [Option<u64>; 5],
    /// Refs due a staleness marker after a failed scrape; written into a
    /// fresh appender once the failed batch is rolled back.
    pending_stale: Vec<u64>,
    scraped_once: bool,
}

impl Ingester {
    /// A fresh ingester (empty cache) for a target with labels `target`.
    pub fn new(target: &Labels, opts: IngestOptions) -> Self {
        Self::with_metadata(target, opts, SharedMetadata::default())
    }

    pub(crate) fn with_metadata(
        target: &Labels,
        opts: IngestOptions,
        metadata: SharedMetadata,
    ) -> Self {
        Ingester {
            target: target.iter().cloned().collect(),
            opts,
            cache: ScrapeCache::new(metadata),
            scratch: Vec::with_capacity(16),
            report_refs: [None; 5],
            pending_stale: Vec::new(),
            scraped_once: false,
        }
    }

    /// Keeps the cache, takes new options (a reload whose changes leave
    /// the cached label sets valid, e.g. a new sample_limit).
    pub(crate) fn set_options(&mut self, opts: IngestOptions) {
        self.opts = opts;
    }

    pub(crate) fn metadata(&self) -> &SharedMetadata {
        self.cache.metadata()
    }

    /// Whether any scrape went through this ingester (end-of-run staleness
    /// has nothing to do otherwise).
    pub(crate) fn scraped_once(&self) -> bool {
        self.scraped_once
    }

    /// Parses `body` and appends its samples at default timestamp `ts`
    /// (ms) to `app`, with staleness markers for series the previous
    /// scrape had and this one lacks. On error the caller must roll `app`
    /// back: the scrape stores nothing; [`Ingester::finish`] does all that.
    pub fn ingest(
        &mut self,
        body: &[u8],
        format: Format,
        ts: i64,
        app: &mut Appender<'_>,
    ) -> Result<ScrapeReport, ScrapeError> {
        let mut rep = ScrapeReport::default();
        self.ingest_counting(body, format, ts, app, &mut rep)
            .map(|()| rep)
    }

    fn ingest_counting(
        &mut self,
        body: &[u8],
        format: Format,
        ts: i64,
        app: &mut Appender<'_>,
        rep: &mut ScrapeReport,
    ) -> Result<(), ScrapeError> {
        self.scraped_once = true;
        self.cache.begin();
        match self.append_payload(body, format, ts, app, rep) {
            Ok(()) => {
                let stale = storage::stale_nan();
                let n = &mut rep.stale_markers;
                // Rejections (the series got a newer sample from another
                // loop, or was removed) need no marker: ignore them.
                self.cache.finish_ok(|r| {
                    if app.append_ref(r, ts, stale).is_ok() {
                        *n += 1;
                    }
                });
                Ok(())
            }
            Err(e) => {
                let pending = &mut self.pending_stale;
                self.cache.finish_failed(|r| pending.push(r));
                Err(e)
            }
        }
    }

    fn append_payload(
        &mut self,
        body: &[u8],
        format: Format,
        ts: i64,
        app: &mut Appender<'_>,
        rep: &mut ScrapeReport,
    ) -> Result<(), ScrapeError> {
        let mut parser = Parser::new(body, format);
        // The first series with a timestamp too far in the future; only
        // set on that rejection, so the hot path does not allocate.
        let mut first_future: Option<String> = None;
        let attempt = self.cache.attempt();
        let limit = self.opts.sample_limit;
        let honor_ts = self.opts.honor_timestamps;
        let track_explicit = self.opts.track_timestamps_staleness;
        let mut limit_hit = false;
        loop {
            let entry = parser
                .next()
                .map_err(|e| ScrapeError::Parse(e.to_string()))?;
            let (series, value, explicit) = match entry {
                None => break,
                Some(Entry::Sample {
                    series,
                    value,
                    timestamp,
                }) => (series, value, timestamp.filter(|_| honor_ts)),
                Some(Entry::Type { metric, kind }) => {
                    self.cache.set_meta(metric, Meta::Type(kind.as_str()));
                    continue;
                }
                Some(Entry::Help { metric, help }) => {
                    self.cache.set_meta(metric, Meta::Help(&help));
                    continue;
                }
                Some(Entry::Unit { metric, unit }) => {
                    self.cache.set_meta(metric, Meta::Unit(unit));
                    continue;
                }
            };
            rep.samples_scraped += 1;
            let t = explicit.unwrap_or(ts);

            // Hot path: a known series, appended by ref.
            if let Some(e) = self.cache.get(series) {
                let r = match e.resolved {
                    Resolved::Dropped => continue,
                    Resolved::Series(r) => r,
                };
                rep.samples_post_relabel += 1;
                if limit > 0 && rep.samples_post_relabel > limit {
                    // Keep parsing so samples_scraped counts the payload.
                    limit_hit = true;
                    continue;
                }
                match app.append_ref(r, t, value) {
                    Ok(()) => {
                        if explicit.is_none() || track_explicit {
                            ScrapeCache::track(attempt, e);
                        }
                        continue;
                    }
                    // The ref is gone from the head (garbage collected):
                    // resolve the series again below.
                    Err(storage::Error::InvalidLabels(_)) => {
                        rep.samples_post_relabel -= 1;
                        self.cache.remove(series);
                    }
                    Err(err) => {
                        reject(err, rep, series, &mut first_future)?;
                        continue;
                    }
                }
            }

            // Cache miss: build the final label set once.
            self.scratch.clear();
            parser
                .labels(&mut self.scratch)
                .map_err(|e| ScrapeError::Parse(e.to_string()))?;
            if let Some(d) = duplicate_name(&self.scratch) {
                return Err(ScrapeError::DuplicateLabel(d.to_string()));
            }
            merge_target_labels(&mut self.scratch, &self.target, self.opts.honor_labels);
            if !self.opts.metric_relabel.is_empty()
                && !relabel::process(&self.opts.metric_relabel, &mut self.scratch)
            {
                self.cache.insert(series, Resolved::Dropped);
                continue;
            }
            check_valid(&self.scratch, self.opts.name_scheme)?;
            check_limits(&self.scratch, &self.opts.label_limits)?;
            rep.samples_post_relabel += 1;
            if limit > 0 && rep.samples_post_relabel > limit {
                limit_hit = true;
                continue;
            }
            let labels = Labels::new(self.scratch.clone());
            match app.append(&labels, t, value) {
                Ok(r) => {
                    let e = self.cache.insert(series, Resolved::Series(r));
                    if explicit.is_none() || track_explicit {
                        ScrapeCache::track(attempt, e);
                    }
                    rep.series_added += 1;
                }
                Err(err) => reject(err, rep, series, &mut first_future)?,
            }
        }
        if limit_hit {
            return Err(ScrapeError::SampleLimit);
        }
        if let Some(series) = first_future {
            return Err(ScrapeError::TooFarInFuture {
                count: rep.too_far_in_future,
                series,
            });
        }
        Ok(())
    }

    /// Stores a whole scrape: the payload (or the fetch error), staleness
    /// markers, the report series, then commits. A failed scrape stores
    /// none of its samples, marks the previous scrape's series stale and
    /// reports `up` = 0. `ts` is the scrape's timestamp (ms), `started`
    /// when it began.
    pub fn finish(
        &mut self,
        db: &Db,
        fetched: Result<(&[u8], Format), ScrapeError>,
        ts: i64,
        started: Instant,
    ) -> ScrapeOutcome {
        let mut app = db.appender();
        let mut report = ScrapeReport::default();
        let result = match fetched {
            Ok((body, format)) => self.ingest_counting(body, format, ts, &mut app, &mut report),
            Err(e) => {
                self.scraped_once = true;
                self.cache.begin();
                let pending = &mut self.pending_stale;
                self.cache.finish_failed(|r| pending.push(r));
                Err(e)
            }
        };
        let mut error = result.err();
        if error.is_some() {
            app.rollback();
            app = db.appender();
            report.stale_markers = self.write_pending_stale(ts, &mut app);
        }
        let duration = started.elapsed();
        let up = if error.is_none() { 1.0 } else { 0.0 };
        self.append_report(
            &mut app,
            ts,
            [
                up,
                duration.as_secs_f64(),
                report.samples_scraped as f64,
                report.samples_post_relabel as f64,
                report.series_added as f64,
            ],
        );
        if let Err(e) = app.commit() {
            tracing::error!(error = %e, "scrape commit failed");
            // Nothing of this scrape was stored: say so on the target.
            error.get_or_insert(ScrapeError::Storage(e.to_string()));
        }
        ScrapeOutcome {
            error,
            report,
            duration,
        }
    }

    /// A stopped target: staleness markers at `ts` for the last successful
    /// scrape's series and for the report series.
    pub(crate) fn finish_stopped(&mut self, db: &Db, ts: i64) {
        if !self.scraped_once {
            return;
        }
        self.cache.begin();
        let pending = &mut self.pending_stale;
        self.cache.finish_failed(|r| pending.push(r));
        let mut app = db.appender();
        self.write_pending_stale(ts, &mut app);
        self.append_report(&mut app, ts, [storage::stale_nan(); 5]);
        if let Err(e) = app.commit() {
            tracing::warn!(error = %e, "writing end-of-run staleness markers failed");
        }
    }

    fn write_pending_stale(&mut self, ts: i64, app: &mut Appender<'_>) -> usize {
        let stale = storage::stale_nan();
        let mut n = 0;
        for r in self.pending_stale.drain(..) {
            if app.append_ref(r, ts, stale).is_ok() {
                n += 1;
            }
        }
        n
    }

    fn append_report(&mut self, app: &mut Appender<'_>, ts: i64, values: ReportValues) {
        for (i, v) in values.into_iter().enumerate() {
            if let Some(r) = self.report_refs[i] {
                match app.append_ref(r, ts, v) {
                    Ok(()) => continue,
                    Err(storage::Error::InvalidLabels(_)) => self.report_refs[i] = None,
                    // Expected when a target comes back on a new loop.
                    Err(_) => continue,
                }
            }
            let mut ls = self.target.clone();
            ls.push(Label::new(METRIC_NAME, REPORT_NAMES[i]));
            match app.append(&Labels::new(ls), ts, v) {
                Ok(r) => self.report_refs[i] = Some(r),
                Err(
                    storage::Error::OutOfOrderSample
                    | storage::Error::DuplicateSample
                    | storage::Error::OutOfBounds
                    | storage::Error::TooFarInFuture,
                ) => {}
                Err(e) => tracing::warn!(error = %e, "appending scrape report failed"),
            }
        }
    }
}

/// Counts a storage rejection of one sample; other storage errors fail
/// the scrape.
fn count_rejection(err: storage::Error, rep: &mut ScrapeReport) -> Result<(), ScrapeError> {
    match err {
        storage::Error::OutOfOrderSample => rep.out_of_order += 1,
        storage::Error::DuplicateSample => rep.duplicates += 1,
        storage::Error::OutOfBounds => rep.out_of_bounds += 1,
        // Counted as out of bounds too, as Prometheus's
        // `prometheus_target_scrapes_sample_out_of_bounds_total` covers
        // samples "too old or too far into the future".
        storage::Error::TooFarInFuture => {
            rep.out_of_bounds += 1;
            rep.too_far_in_future += 1;
        }
        other => return Err(ScrapeError::Storage(other.to_string())),
    }
    Ok(())
}

/// [`count_rejection`] that also keeps the first series refused as too far
/// in the future, which the scrape's error names.
fn reject(
    err: storage::Error,
    rep: &mut ScrapeReport,
    series: &[u8],
    first_future: &mut Option<String>,
) -> Result<(), ScrapeError> {
    if matches!(err, storage::Error::TooFarInFuture) && first_future.is_none() {
        *first_future = Some(String::from_utf8_lossy(series).into_owned());
    }
    count_rejection(err, rep)
}

/// Wall-clock time in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RelabelAction, RelabelConfig};
    use storage::querier::Queryable;
    use storage::Matcher;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            storage::Options {
                compaction_interval: None,
                ..Default::default()
            },
        )
        .unwrap();
        (dir, db)
    }

    fn opts() -> IngestOptions {
        IngestOptions::default()
    }

    fn target() -> Labels {
        Labels::from_pairs([("job", "j"), ("instance", "t:1")])
    }

    /// Samples of the series with exactly `labels`.
    fn samples(db: &Db, labels: &[(&str, &str)]) -> Vec<(i64, f64)> {
        let want = Labels::from_pairs(labels.iter().copied());
        let ms: Vec<Matcher> = labels.iter().map(|(n, v)| Matcher::equal(*n, *v)).collect();
        let q = db.querier(i64::MIN, i64::MAX).unwrap();
        q.select(&storage::querier::SelectHints::default(), &ms)
            .unwrap()
            .series
            .into_iter()
            .filter(|s| s.labels == want)
            .flat_map(|s| s.iter().collect::<Vec<_>>())
            .collect()
    }

    fn store(ing: &mut Ingester, db: &Db, body: &str, ts: i64) -> ScrapeOutcome {
        ing.finish(db, Ok((body.as_bytes(), Format::Text)), ts, Instant::now())
    }

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn stores_samples_with_target_labels_and_reports() {
        let (_d, db) = db();
        let mut ing = Ingester::new(&target(), opts());
        let out = store(
            &mut ing,
            &db,
            "# TYPE a counter\na_total 1\nb{x=\"y\"} 2\n",
            T0,
        );
        assert_eq!(out.error, None);
        assert_eq!(
            (
                out.report.samples_scraped,
                out.report.samples_post_relabel,
                out.report.series_added
            ),
            (2, 2, 2)
        );
        assert_eq!(
            samples(
                &db,
                &[("__name__", "a_total"), ("job", "j"), ("instance", "t:1")]
            ),
            vec![(T0, 1.0)]
        );
        assert_eq!(
            samples(
                &db,
                &[
                    ("__name__", "b"),
                    ("x", "y"),
                    ("job", "j"),
                    ("instance", "t:1")
                ]
            ),
            vec![(T0, 2.0)]
        );
        let up = [("__name__", "up"), ("job", "j"), ("instance", "t:1")];
        assert_eq!(samples(&db, &up), vec![(T0, 1.0)]);
        let added = [
            ("__name__", "scrape_series_added"),
            ("job", "j"),
            ("instance", "t:1"),
        ];
        assert_eq!(samples(&db, &added), vec![(T0, 2.0)]);

        // Second scrape: all cache hits, nothing new.
        let out = store(
            &mut ing,
            &db,
            "# TYPE a counter\na_total 3\nb{x=\"y\"} 4\n",
            T0 + 1000,
        );
        assert_eq!(out.report.series_added, 0);
        assert_eq!(samples(&db, &added), vec![(T0, 2.0), (T0 + 1000, 0.0)]);
        let md = ing.metadata().lock().list();
        assert_eq!(md.len(), 1);
        assert_eq!(
            (md[0].metric.as_str(), md[0].kind.as_str()),
            ("a", "counter")
        );
    }

    #[test]
    fn vanished_series_get_one_staleness_marker() {
        let (_d, db) = db();
        let mut ing = Ingester::new(&target(), opts());
        store(&mut ing, &db, "a 1\nb 1\n", T0);
        let out = store(&mut ing, &db, "a 2\n", T0 + 1000);
        assert_eq!(out.report.stale_markers, 1);
        store(&mut ing, &db, "a 3\n", T0 + 2000);
        let b = samples(&db, &[("__name__", "b"), ("job", "j"), ("instance", "t:1")]);
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].0, T0 + 1000);
        assert!(storage::is_stale_nan(b[1].1));
    }

    #[test]
    fn failed_scrape_stores_nothing_and_marks_previous_series_stale() {
        let (_d, db) = db();
        let mut ing = Ingester::new(&target(), opts());
        store(&mut ing, &db, "a 1\n", T0);
        let out = store(&mut ing, &db, "a 2\nb 1\nc{ 3\n", T0 + 1000);
        let err = out.error.unwrap().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(samples(&db, &[("__name__", "b"), ("job", "j"), ("instance", "t:1")]).is_empty());
        let a = samples(&db, &[("__name__", "a"), ("job", "j"), ("instance", "t:1")]);
        assert_eq!(a.len(), 2);
        assert!(storage::is_stale_nan(a[1].1));
        let up = [("__name__", "up"), ("job", "j"), ("instance", "t:1")];
        assert_eq!(samples(&db, &up), vec![(T0, 1.0), (T0 + 1000, 0.0)]);
        let scraped = [
            ("__name__", "scrape_samples_scraped"),
            ("job", "j"),
            ("instance", "t:1"),
        ];
        assert_eq!(samples(&db, &scraped)[1], (T0 + 1000, 2.0));
    }

    #[test]
    fn fetch_errors_report_down() {
        let (_d, db) = db();
        let mut ing = Ingester::new(&target(), opts());
        let out = ing.finish(&db, Err(ScrapeError::BodySizeLimit), T0, Instant::now());
        assert_eq!(out.error, Some(ScrapeError::BodySizeLimit));
        let up = [("__name__", "up"), ("job", "j"), ("instance", "t:1")];
        assert_eq!(samples(&db, &up), vec![(T0, 0.0)]);
    }

    #[test]
    fn sample_limit_fails_the_whole_scrape() {
        let (_d, db) = db();
        let mut o = opts();
        o.sample_limit = 2;
        let mut ing = Ingester::new(&target(), o);
        let out = store(&mut ing, &db, "a 1\nb 1\nc 1\n", T0);
        assert_eq!(out.error, Some(ScrapeError::SampleLimit));
        assert_eq!(out.report.samples_scraped, 3);
        assert!(samples(&db, &[("__name__", "a"), ("job", "j"), ("instance", "t:1")]).is_empty());
        assert_eq!(store(&mut ing, &db, "a 1\nb 1\n", T0 + 1000).error, None);
    }

    #[test]
    fn timestamps_honored_or_replaced() {
        let (_d, db) = db();
        let mut ing = Ingester::new(&target(), opts());
        store(&mut ing, &db, "a 1 1699999995000\n", T0);
        let a = [("__name__", "a"), ("job", "j"), ("instance", "t:1")];
        assert_eq!(samples(&db, &a), vec![(T0 - 5000, 1.0)]);
        // Same explicit timestamp, other value: a rejected duplicate, counted.
        let out = store(&mut ing, &db, "a 2 1699999995000\n", T0 + 1000);
        assert_eq!((out.error, out.report.duplicates), (None, 1));
        // Explicit timestamps are not subject to staleness...
        let out = store(&mut ing, &db, "", T0 + 2000);
        assert_eq!(out.report.stale_markers, 0);
        // ...unless track_timestamps_staleness says so.
        let (_d3, db3) = super::tests::db();
        let mut o = opts();
        o.track_timestamps_staleness = true;
        let mut ing = Ingester::new(&target(), o);
        store(&mut ing, &db3, "a 1 1699999995000\n", T0);
        assert_eq!(store(&mut ing, &db3, "", T0 + 1000).report.stale_markers, 1);

        let (_d2, db2) = super::tests::db();
        let mut o = opts();
        o.honor_timestamps = false;
        let mut ing = Ingester::new(&target(), o);
        store(&mut ing, &db2, "a 1 1699999995000\n", T0);
        assert_eq!(samples(&db2, &a), vec![(T0, 1.0)]);
    }

    #[test]
    fn metric_relabeling_drops_and_rewrites() {
        let (_d, db) = db();
        let mut o = opts();
        let rules = vec![
            RelabelConfig {
                source_labels: vec!["__name__".into()],
                separator: ";".into(),
                regex: "drop_.*".into(),
                modulus: 0,
                target_label: None,
                replacement: "$1".into(),
                action: RelabelAction::Drop,
            },
            RelabelConfig {
                source_labels: vec!["x".into()],
                separator: ";".into(),
                regex: "(.*)".into(),
                modulus: 0,
                target_label: Some("y".into()),
                replacement: "got_$1".into(),
                action: RelabelAction::Replace,
            },
        ];
        o.metric_relabel = relabel::compile(&rules).unwrap().into();
        let mut ing = Ingester::new(&target(), o);
        for ts in [T0, T0 + 1000] {
            let out = store(&mut ing, &db, "drop_me 1\nkeep{x=\"1\"} 2\n", ts);
            assert_eq!(out.report.samples_scraped, 2);
            assert_eq!(out.report.samples_post_relabel, 1);
        }
        assert!(samples(
            &db,
            &[("__name__", "drop_me"), ("job", "j"), ("instance", "t:1")]
        )
        .is_empty());
        assert_eq!(
            samples(
                &db,
                &[
                    ("__name__", "keep"),
                    ("x", "1"),
                    ("y", "got_1"),
                    ("job", "j"),
                    ("instance", "t:1")
                ]
            )
            .len(),
            2
        );
    }

    #[test]
    fn legacy_name_validation_rejects_utf8_names() {
        let (_d, db) = db();
        let body = "{\"my.metric\"} 1\n";
        let mut ing = Ingester::new(&target(), opts());
        assert_eq!(store(&mut ing, &db, body, T0).error, None);
        let mut o = opts();
        o.name_scheme = NameValidationScheme::Legacy;
        let mut ing = Ingester::new(&target(), o);
        let err = store(&mut ing, &db, body, T0 + 1000)
            .error
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("invalid metric name or label names: "),
            "{err}"
        );
    }

    #[test]
    fn label_limits_fail_the_scrape() {
        let (_d, db) = db();
        let mut o = opts();
        o.label_limits.label_limit = 3;
        let mut ing = Ingester::new(&target(), o);
        let out = store(&mut ing, &db, "ok 1\nbad{a=\"1\"} 1\n", T0);
        assert_eq!(
            out.error.unwrap().to_string(),
            "label_limit exceeded (metric: bad, number of labels: 4, limit: 3)"
        );
        assert!(samples(
            &db,
            &[("__name__", "ok"), ("job", "j"), ("instance", "t:1")]
        )
        .is_empty());
    }

    #[test]
    fn end_of_run_marks_series_and_report_stale() {
        let (_d, db) = db();
        let mut ing = Ingester::new(&target(), opts());
        store(&mut ing, &db, "a 1\n", T0);
        ing.finish_stopped(&db, T0 + 1000);
        for name in ["a", "up", "scrape_duration_seconds", "scrape_series_added"] {
            let s = samples(
                &db,
                &[("__name__", name), ("job", "j"), ("instance", "t:1")],
            );
            assert_eq!(s.len(), 2, "{name}");
            assert!(storage::is_stale_nan(s[1].1), "{name}");
        }
    }
}
