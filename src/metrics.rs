//! ferroprom's own metrics, served at `/metrics` in the Prometheus text
//! format: a small registry of counter, gauge, histogram and summary
//! families with labels, plus collectors that read numbers kept elsewhere
//! (storage stats) at render time.
//!
//! Handles ([`Counter`], [`Gauge`], [`Histogram`], [`Summary`]) are `Arc`s
//! that callers keep, so the hot path is one atomic operation (a short lock
//! for a summary) and no lookup.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::text_format::{self, push_series};

/// A float that can be added to atomically.
#[derive(Default, Debug)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn add(&self, d: f64) {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(cur) + d).to_bits();
            match self
                .0
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(v) => cur = v,
            }
        }
    }

    fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed)
    }

    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// A monotonically increasing value.
#[derive(Default, Debug)]
pub struct Counter(AtomicF64);

impl Counter {
    pub fn inc(&self) {
        self.0.add(1.0)
    }

    /// Adds `d`; negative amounts are ignored, as counters only go up.
    pub fn add(&self, d: f64) {
        if d > 0.0 {
            self.0.add(d)
        }
    }

    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

/// A value that goes up and down.
#[derive(Default, Debug)]
pub struct Gauge(AtomicF64);

impl Gauge {
    pub fn set(&self, v: f64) {
        self.0.set(v)
    }

    pub fn add(&self, d: f64) {
        self.0.add(d)
    }

    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

/// Observations counted into fixed cumulative buckets.
#[derive(Debug)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    counts: Box<[AtomicU64]>,
    sum: AtomicF64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: Arc<[f64]>) -> Self {
        Histogram {
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            bounds,
            sum: AtomicF64::default(),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|&b| v <= b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum.add(v);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// The quantiles a [`Summary`] reports: client_golang's objectives, which
/// every Prometheus summary we mirror uses.
const SUMMARY_QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];
/// How long an observation counts towards the quantiles (client_golang's
/// default `MaxAge`).
const SUMMARY_MAX_AGE: Duration = Duration::from_secs(600);
/// Observations kept for the quantiles; the oldest are dropped first, so
/// a busy summary costs bounded memory.
const SUMMARY_CAPACITY: usize = 4096;

/// Observations summarised as quantiles over the last ten minutes plus
/// the all-time sum and count, as a client_golang summary renders. The
/// quantiles are exact over the kept window rather than streamed
/// estimates; with no recent observation they are NaN, as in Go.
#[derive(Debug, Default)]
pub struct Summary {
    inner: Mutex<SummaryState>,
}

#[derive(Debug, Default)]
struct SummaryState {
    recent: VecDeque<(Instant, f64)>,
    sum: f64,
    count: u64,
}

impl Summary {
    pub fn observe(&self, v: f64) {
        let mut s = self.inner.lock();
        if s.recent.len() == SUMMARY_CAPACITY {
            s.recent.pop_front();
        }
        s.recent.push_back((Instant::now(), v));
        s.sum += v;
        s.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.inner.lock().count
    }

    /// `(quantile, value)` pairs, then the sum and the count.
    fn snapshot(&self) -> (Vec<(f64, f64)>, f64, u64) {
        let (mut values, sum, count) = {
            let mut s = self.inner.lock();
            let now = Instant::now();
            while s
                .recent
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > SUMMARY_MAX_AGE)
            {
                s.recent.pop_front();
            }
            let values: Vec<f64> = s.recent.iter().map(|(_, v)| *v).collect();
            (values, s.sum, s.count)
        };
        values.sort_by(f64::total_cmp);
        let quantiles = SUMMARY_QUANTILES
            .iter()
            .map(|&q| {
                let v = if values.is_empty() {
                    f64::NAN
                } else {
                    let i = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
                    values[i - 1]
                };
                (q, v)
            })
            .collect();
        (quantiles, sum, count)
    }
}

/// Prometheus's default buckets, in seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

enum Kind {
    Counter(Mutex<BTreeMap<Vec<String>, Arc<Counter>>>),
    Gauge(Mutex<BTreeMap<Vec<String>, Arc<Gauge>>>),
    Histogram(Arc<[f64]>, Mutex<BTreeMap<Vec<String>, Arc<Histogram>>>),
    Summary(Mutex<BTreeMap<Vec<String>, Arc<Summary>>>),
}

struct Family {
    name: String,
    help: String,
    label_names: Vec<String>,
    kind: Kind,
}

impl Family {
    fn new(name: &str, help: &str, labels: &[&str], kind: Kind) -> Arc<Family> {
        Arc::new(Family {
            name: name.to_string(),
            help: help.to_string(),
            label_names: labels.iter().map(|l| l.to_string()).collect(),
            kind,
        })
    }
}

/// A family of counters with the same name and label names.
#[derive(Clone)]
pub struct CounterVec(Arc<Family>);
/// A family of gauges.
#[derive(Clone)]
pub struct GaugeVec(Arc<Family>);
/// A family of histograms.
#[derive(Clone)]
pub struct HistogramVec(Arc<Family>);
/// A family of summaries.
#[derive(Clone)]
pub struct SummaryVec(Arc<Family>);

fn key(family: &Family, values: &[&str]) -> Vec<String> {
    assert_eq!(
        values.len(),
        family.label_names.len(),
        "metric {} takes labels {:?}",
        family.name,
        family.label_names
    );
    values.iter().map(|v| v.to_string()).collect()
}

impl CounterVec {
    /// The counter for these label values (in label-name order), created at
    /// zero on first use.
    pub fn with(&self, values: &[&str]) -> Arc<Counter> {
        let Kind::Counter(m) = &self.0.kind else {
            unreachable!()
        };
        Arc::clone(m.lock().entry(key(&self.0, values)).or_default())
    }

    /// Drops the child with these label values (e.g. a removed queue).
    pub fn remove(&self, values: &[&str]) {
        let Kind::Counter(m) = &self.0.kind else {
            unreachable!()
        };
        m.lock().remove(&key(&self.0, values));
    }
}

impl GaugeVec {
    pub fn with(&self, values: &[&str]) -> Arc<Gauge> {
        let Kind::Gauge(m) = &self.0.kind else {
            unreachable!()
        };
        Arc::clone(m.lock().entry(key(&self.0, values)).or_default())
    }

    /// Drops the child with these label values (e.g. a removed target).
    pub fn remove(&self, values: &[&str]) {
        let Kind::Gauge(m) = &self.0.kind else {
            unreachable!()
        };
        m.lock().remove(&key(&self.0, values));
    }
}

impl HistogramVec {
    pub fn with(&self, values: &[&str]) -> Arc<Histogram> {
        let Kind::Histogram(bounds, m) = &self.0.kind else {
            unreachable!()
        };
        let k = key(&self.0, values);
        Arc::clone(
            m.lock()
                .entry(k)
                .or_insert_with(|| Arc::new(Histogram::new(Arc::clone(bounds)))),
        )
    }

    /// Drops the child with these label values.
    pub fn remove(&self, values: &[&str]) {
        let Kind::Histogram(_, m) = &self.0.kind else {
            unreachable!()
        };
        m.lock().remove(&key(&self.0, values));
    }
}

impl SummaryVec {
    /// A family in no registry yet, for a process-wide static that each
    /// registry then shows through [`Registry::adopt_summary_vec`].
    pub fn unregistered(name: &str, help: &str, labels: &[&str]) -> SummaryVec {
        SummaryVec(Family::new(
            name,
            help,
            labels,
            Kind::Summary(Mutex::default()),
        ))
    }

    /// The summary for these label values, created empty on first use.
    pub fn with(&self, values: &[&str]) -> Arc<Summary> {
        let Kind::Summary(m) = &self.0.kind else {
            unreachable!()
        };
        Arc::clone(m.lock().entry(key(&self.0, values)).or_default())
    }
}

/// A value computed at render time: `(name, help, type, samples)` where a
/// sample is `(labels, value)`.
pub struct Collected {
    pub name: String,
    pub help: String,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    pub samples: Vec<(Vec<(String, String)>, f64)>,
}

type Collector = Box<dyn Fn() -> Vec<Collected> + Send + Sync>;

/// All of the process's metric families.
#[derive(Default)]
pub struct Registry {
    families: Mutex<Vec<Arc<Family>>>,
    collectors: Mutex<Vec<Collector>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    fn add(&self, name: &str, help: &str, labels: &[&str], kind: Kind) -> Arc<Family> {
        let f = Family::new(name, help, labels, kind);
        self.families.lock().push(Arc::clone(&f));
        f
    }

    /// Shows `family`, made by [`SummaryVec::unregistered`], in this
    /// registry too.
    pub fn adopt_summary_vec(&self, family: &SummaryVec) {
        self.families.lock().push(Arc::clone(&family.0));
    }

    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> CounterVec {
        CounterVec(self.add(name, help, labels, Kind::Counter(Mutex::default())))
    }

    /// A counter without labels.
    pub fn counter(&self, name: &str, help: &str) -> Arc<Counter> {
        self.counter_vec(name, help, &[]).with(&[])
    }

    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
        GaugeVec(self.add(name, help, labels, Kind::Gauge(Mutex::default())))
    }

    pub fn gauge(&self, name: &str, help: &str) -> Arc<Gauge> {
        self.gauge_vec(name, help, &[]).with(&[])
    }

    pub fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> HistogramVec {
        let bounds: Arc<[f64]> = buckets.into();
        HistogramVec(self.add(
            name,
            help,
            labels,
            Kind::Histogram(bounds, Mutex::default()),
        ))
    }

    pub fn summary_vec(&self, name: &str, help: &str, labels: &[&str]) -> SummaryVec {
        SummaryVec(self.add(name, help, labels, Kind::Summary(Mutex::default())))
    }

    /// A summary without labels.
    pub fn summary(&self, name: &str, help: &str) -> Arc<Summary> {
        self.summary_vec(name, help, &[]).with(&[])
    }

    /// Registers a function called at every render, for numbers that live
    /// elsewhere (storage statistics, build info).
    pub fn collector(&self, f: impl Fn() -> Vec<Collected> + Send + Sync + 'static) {
        self.collectors.lock().push(Box::new(f));
    }

    /// Renders every family in the text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        for f in self.families.lock().iter() {
            render_family(&mut out, f);
        }
        for c in self.collectors.lock().iter() {
            for fam in c() {
                header(&mut out, &fam.name, &fam.help, fam.kind);
                for (labels, v) in &fam.samples {
                    let pairs = labels.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                    push_series(&mut out, &fam.name, pairs, *v, None);
                }
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    text_format::push_help(out, name, help);
    text_format::push_type(out, name, kind);
}

/// A child's labels: the family's names paired with the child's values.
fn pairs<'a>(
    names: &'a [String],
    values: &'a [String],
) -> impl Iterator<Item = (&'a str, &'a str)> + Clone {
    names
        .iter()
        .map(String::as_str)
        .zip(values.iter().map(String::as_str))
}

fn render_family(out: &mut String, f: &Family) {
    match &f.kind {
        Kind::Counter(m) => {
            header(out, &f.name, &f.help, "counter");
            for (vals, c) in m.lock().iter() {
                push_series(out, &f.name, pairs(&f.label_names, vals), c.get(), None);
            }
        }
        Kind::Gauge(m) => {
            header(out, &f.name, &f.help, "gauge");
            for (vals, g) in m.lock().iter() {
                push_series(out, &f.name, pairs(&f.label_names, vals), g.get(), None);
            }
        }
        Kind::Histogram(bounds, m) => {
            header(out, &f.name, &f.help, "histogram");
            let bucket = format!("{}_bucket", f.name);
            let les: Vec<String> = bounds
                .iter()
                .map(|&b| text_format::format_float(b))
                .collect();
            for (vals, h) in m.lock().iter() {
                let base = pairs(&f.label_names, vals);
                let mut cum = 0u64;
                for (i, le) in les.iter().enumerate() {
                    cum += h.counts[i].load(Ordering::Relaxed);
                    let ls = base.clone().chain([("le", le.as_str())]);
                    push_series(out, &bucket, ls, cum as f64, None);
                }
                let total = h.count() as f64;
                let ls = base.clone().chain([("le", "+Inf")]);
                push_series(out, &bucket, ls, total, None);
                push_series(
                    out,
                    &format!("{}_sum", f.name),
                    base.clone(),
                    h.sum.get(),
                    None,
                );
                push_series(out, &format!("{}_count", f.name), base, total, None);
            }
        }
        Kind::Summary(m) => {
            header(out, &f.name, &f.help, "summary");
            for (vals, s) in m.lock().iter() {
                let (quantiles, sum, count) = s.snapshot();
                let names: Vec<String> = quantiles
                    .iter()
                    .map(|&(q, _)| text_format::format_float(q))
                    .collect();
                let base = pairs(&f.label_names, vals);
                for ((_, v), q) in quantiles.iter().zip(&names) {
                    let ls = base.clone().chain([("quantile", q.as_str())]);
                    push_series(out, &f.name, ls, *v, None);
                }
                push_series(out, &format!("{}_sum", f.name), base.clone(), sum, None);
                push_series(out, &format!("{}_count", f.name), base, count as f64, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_all_kinds_in_text_format() {
        let r = Registry::new();
        let c = r.counter_vec("reqs_total", "Requests.", &["handler", "code"]);
        c.with(&["/api/v1/query", "200"]).inc();
        c.with(&["/api/v1/query", "200"]).add(2.0);
        c.with(&["/a\"b", "400"]).inc();
        r.gauge("up_things", "Things.\nTwo lines.").set(f64::NAN);
        let h = r.histogram_vec("dur_seconds", "Durations.", &["h"], &[0.1, 1.0]);
        h.with(&["x"]).observe(0.05);
        h.with(&["x"]).observe(0.5);
        h.with(&["x"]).observe(5.0);
        r.collector(|| {
            vec![Collected {
                name: "head_series".into(),
                help: "Series.".into(),
                kind: "gauge",
                samples: vec![(vec![], 42.0)],
            }]
        });
        let text = r.render();
        let expected = "\
# HELP reqs_total Requests.
# TYPE reqs_total counter
reqs_total{handler=\"/a\\\"b\",code=\"400\"} 1
reqs_total{handler=\"/api/v1/query\",code=\"200\"} 3
# HELP up_things Things.\\nTwo lines.
# TYPE up_things gauge
up_things NaN
# HELP dur_seconds Durations.
# TYPE dur_seconds histogram
dur_seconds_bucket{h=\"x\",le=\"0.1\"} 1
dur_seconds_bucket{h=\"x\",le=\"1\"} 2
dur_seconds_bucket{h=\"x\",le=\"+Inf\"} 3
dur_seconds_sum{h=\"x\"} 5.55
dur_seconds_count{h=\"x\"} 3
# HELP head_series Series.
# TYPE head_series gauge
head_series 42
";
        assert_eq!(text, expected);
    }

    #[test]
    fn values_are_spelled_as_go_spells_them() {
        let r = Registry::new();
        r.gauge("big", "Big.").set(1e21);
        r.gauge("inf", "Inf.").set(f64::INFINITY);
        r.histogram_vec("h", "H.", &[], &[1e-7, 2.5])
            .with(&[])
            .observe(1.0);
        let text = r.render();
        for line in [
            "big 1e+21\n",
            "inf +Inf\n",
            "h_bucket{le=\"1e-07\"} 0\n",
            "h_bucket{le=\"2.5\"} 1\n",
            "h_bucket{le=\"+Inf\"} 1\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn summaries_render_quantiles_sum_and_count() {
        let r = Registry::new();
        let s = r.summary_vec("rpc_seconds", "RPCs.", &["call"]);
        let empty = s.with(&["idle"]);
        let busy = s.with(&["busy"]);
        for v in 1..=10 {
            busy.observe(v as f64);
        }
        assert_eq!((empty.count(), busy.count()), (0, 10));
        let expected = "\
# HELP rpc_seconds RPCs.
# TYPE rpc_seconds summary
rpc_seconds{call=\"busy\",quantile=\"0.5\"} 5
rpc_seconds{call=\"busy\",quantile=\"0.9\"} 9
rpc_seconds{call=\"busy\",quantile=\"0.99\"} 10
rpc_seconds_sum{call=\"busy\"} 55
rpc_seconds_count{call=\"busy\"} 10
rpc_seconds{call=\"idle\",quantile=\"0.5\"} NaN
rpc_seconds{call=\"idle\",quantile=\"0.9\"} NaN
rpc_seconds{call=\"idle\",quantile=\"0.99\"} NaN
rpc_seconds_sum{call=\"idle\"} 0
rpc_seconds_count{call=\"idle\"} 0
";
        assert_eq!(r.render(), expected);
    }

    #[test]
    fn counters_ignore_negative_adds() {
        let c = Counter::default();
        c.add(-5.0);
        c.inc();
        assert_eq!(c.get(), 1.0);
    }
}
