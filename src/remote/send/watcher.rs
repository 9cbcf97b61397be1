//! The queue's side of the WAL watcher: turns WAL series into the label
//! sets to send (external labels added, write relabeling applied, dropped
//! series remembered as dropped) and hands samples to the shards.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use storage::wal::{RefSample, SeriesMap, WalPosition, WalSink};
use storage::{Label, Labels};

use super::encode::{Pending, SeriesLabels};
use super::queue::QueueInner;
use super::shards::ShardSet;
use crate::relabel::{process, CompiledRule};
use crate::remote::proto;

/// Feeds one queue's shards from the WAL.
pub(crate) struct Sink {
    pub(crate) inner: Arc<QueueInner>,
    pub(crate) shards: Arc<ShardSet>,
    /// Sorted by name.
    external: Vec<Label>,
    rules: Vec<CompiledRule>,
    /// Per-shard staging, reused.
    staged: Vec<Vec<Pending>>,
    scratch: Vec<Label>,
    /// The start of the record a stop interrupted: it and everything after
    /// it were not fully queued.
    pub(crate) interrupted: Option<WalPosition>,
    highest: i64,
}

impl Sink {
    pub(crate) fn new(
        inner: Arc<QueueInner>,
        shards: Arc<ShardSet>,
        external: Vec<Label>,
        rules: Vec<CompiledRule>,
    ) -> Self {
        let n = shards.len();
        Sink {
            inner,
            shards,
            external,
            rules,
            staged: (0..n).map(|_| Vec::new()).collect(),
            scratch: Vec::new(),
            interrupted: None,
            highest: i64::MIN,
        }
    }

    /// Switches to a new shard set (after a reshard).
    pub(crate) fn set_shards(&mut self, shards: Arc<ShardSet>) {
        self.staged = (0..shards.len()).map(|_| Vec::new()).collect();
        self.shards = shards;
    }
}

/// `labels` plus `external` (the series' own labels win a conflict), sorted.
pub(crate) fn with_external(labels: &Labels, external: &[Label], out: &mut Vec<Label>) {
    out.clear();
    let mut ext = external.iter().peekable();
    for l in labels.iter() {
        while let Some(e) = ext.next_if(|e| e.name < l.name) {
            out.push(e.clone());
        }
        if ext.peek().is_some_and(|e| e.name == l.name) {
            ext.next();
        }
        out.push(l.clone());
    }
    out.extend(ext.cloned());
}

impl WalSink for Sink {
    /// `None`: dropped by relabeling.
    type Series = Option<SeriesLabels>;

    fn series(&mut self, labels: &Labels) -> Option<SeriesLabels> {
        let mut ls = std::mem::take(&mut self.scratch);
        with_external(labels, &self.external, &mut ls);
        let keep = process(&self.rules, &mut ls) && !ls.is_empty();
        let out = keep.then(|| {
            ls.iter()
                .map(|l| proto::Label {
                    name: l.name.clone(),
                    value: l.value.clone(),
                })
                .collect()
        });
        self.scratch = ls;
        out
    }

    fn samples(
        &mut self,
        at: WalPosition,
        samples: &[RefSample],
        series: &SeriesMap<Option<SeriesLabels>>,
    ) {
        if self.interrupted.is_some() {
            return;
        }
        let n = self.staged.len() as u64;
        let mut dropped = 0u64;
        for s in samples {
            self.highest = self.highest.max(s.t);
            match series.get(s.series_ref) {
                Some(Some(labels)) => self.staged[(s.series_ref % n) as usize].push(Pending {
                    series: Arc::clone(labels),
                    t: s.t,
                    v: s.v,
                    at,
                }),
                // Dropped by relabeling, or a ref with no series record
                // (its definition was lost): counted, as Prometheus does.
                _ => dropped += 1,
            }
        }
        if dropped > 0 {
            self.inner.metrics().dropped.add(dropped as f64);
        }
        super::metrics::raise(
            &self.inner.metrics().highest_in,
            self.highest as f64 / 1000.0,
        );
        self.inner
            .read_highest_ms
            .fetch_max(self.highest, Ordering::Relaxed);
        let mut queued = 0u64;
        for i in 0..self.staged.len() {
            if self.staged[i].is_empty() {
                continue;
            }
            let k = self.staged[i].len() as u64;
            if !self.shards.push(i, &mut self.staged[i], &self.inner.stop) {
                self.interrupted = Some(at);
                for s in &mut self.staged {
                    s.clear();
                }
                return;
            }
            queued += k;
        }
        self.inner.samples_in.fetch_add(queued, Ordering::Relaxed);
    }

    fn gap(&mut self, from: WalPosition, to: WalPosition, why: &str) {
        tracing::warn!(
            remote_name = %self.inner.name,
            %from,
            %to,
            why,
            "remote write: WAL data will not be sent"
        );
        self.inner.metrics().wal_gaps.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_labels_lose_to_series_labels() {
        let series = Labels::from_pairs([("__name__", "up"), ("dc", "own"), ("job", "j")]);
        let ext = vec![
            Label::new("a", "1"),
            Label::new("dc", "eu"),
            Label::new("zone", "z"),
        ];
        let mut out = Vec::new();
        with_external(&series, &ext, &mut out);
        let got: Vec<_> = out
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("__name__", "up"),
                ("a", "1"),
                ("dc", "own"),
                ("job", "j"),
                ("zone", "z")
            ]
        );
        with_external(&series, &[], &mut out);
        assert_eq!(out.len(), 3);
    }
}
