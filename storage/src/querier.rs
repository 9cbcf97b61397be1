//! The query interface: the only thing the PromQL engine and the HTTP layer
//! use to read data. Head, blocks and the merged view of both implement it.

use std::sync::Arc;

use crate::chunk::{Chunk, ChunkIter};
use crate::error::Result;
use crate::labels::{Labels, Matcher};
use crate::tombstones::Intervals;

/// Something that can open a [`Querier`] over a time range.
pub trait Queryable: Send + Sync {
    /// Opens a querier over `[mint, maxt]` (milliseconds, both inclusive).
    /// Data appended after this call may or may not be visible.
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>>;
}

/// A read view over a fixed time range.
///
/// Contract, for every implementation:
/// - `select` returns the series whose labels satisfy *all* matchers, sorted
///   by [`Labels`] order, each label set at most once. A series is returned
///   only if it has chunks overlapping the range; its iterator yields samples
///   with `mint <= t <= maxt` only, ascending, one per timestamp, with deleted
///   (tombstoned) samples already removed. A series may still yield no sample
///   when all its samples in range were deleted.
/// - Errors (I/O, corruption) come out of `select`; iteration is infallible
///   because chunks are checksummed when they are loaded.
/// - `label_names` and `label_values` return sorted, deduplicated strings for
///   the series matching the matchers (all series when `matchers` is empty)
///   that have data overlapping the range; blocks may answer from their index
///   without checking sample times, as Prometheus does.
pub trait Querier {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series>>;
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>>;
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>>;
}

/// One chunk of a series as seen by a querier, with the deletions that apply
/// to it.
#[derive(Clone, Debug)]
pub struct ChunkSpan {
    pub mint: i64,
    pub maxt: i64,
    pub chunk: Chunk,
    pub deleted: Option<Arc<Intervals>>,
}

/// A selected series: its labels and the chunks that overlap the query range.
#[derive(Clone, Debug)]
pub struct Series {
    pub labels: Labels,
    spans: Vec<ChunkSpan>,
    mint: i64,
    maxt: i64,
}

impl Series {
    /// A series restricted to `[mint, maxt]`; spans may overlap each other.
    pub fn new(labels: Labels, mut spans: Vec<ChunkSpan>, mint: i64, maxt: i64) -> Self {
        spans.retain(|s| s.maxt >= mint && s.mint <= maxt);
        spans.sort_by_key(|s| (s.mint, s.maxt));
        Series {
            labels,
            spans,
            mint,
            maxt,
        }
    }

    /// Adds the chunks of the same series from another source (head or block).
    pub fn merge(&mut self, other: Series) {
        debug_assert_eq!(self.labels, other.labels);
        self.mint = self.mint.min(other.mint);
        self.maxt = self.maxt.max(other.maxt);
        self.spans.extend(other.spans);
        self.spans.sort_by_key(|s| (s.mint, s.maxt));
    }

    pub fn spans(&self) -> &[ChunkSpan] {
        &self.spans
    }

    /// Iterates the samples in range, merging overlapping chunks (a timestamp
    /// present in several chunks is yielded once).
    pub fn iter(&self) -> SeriesIter {
        SeriesIter {
            spans: self.spans.clone(),
            next_span: 0,
            active: Vec::new(),
            maxt: self.maxt,
            next_min: self.mint,
            done: false,
        }
    }
}

struct Active {
    cur: (i64, f64),
    it: ChunkIter,
    deleted: Option<Arc<Intervals>>,
}

/// Samples of one series in ascending time order. See [`Series::iter`].
pub struct SeriesIter {
    spans: Vec<ChunkSpan>,
    next_span: usize,
    active: Vec<Active>,
    maxt: i64,
    /// Smallest timestamp not yet returned.
    next_min: i64,
    /// Set once `i64::MAX` was returned, as `next_min` cannot go past it.
    done: bool,
}

impl SeriesIter {
    /// Returns the first sample with timestamp `>= t` that has not been
    /// returned yet, and consumes it: the next `next()` returns the sample
    /// after it. Seeking backwards is a no-op beyond returning the next sample.
    pub fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if t > self.next_min {
            self.next_min = t;
        }
        self.advance()
    }

    fn advance(&mut self) -> Option<(i64, f64)> {
        if self.done {
            return None;
        }
        loop {
            let target = self.next_min;
            if target > self.maxt {
                return self.finish();
            }
            // Bring active iterators up to the target.
            self.active.retain_mut(|a| {
                if a.cur.0 >= target {
                    return true;
                }
                match a.it.seek(target) {
                    Some(s) => {
                        a.cur = s;
                        true
                    }
                    None => false,
                }
            });
            // Open every chunk that could hold the next sample.
            loop {
                let frontier = self.active.iter().map(|a| a.cur.0).min();
                let Some(span) = self.spans.get(self.next_span) else {
                    break;
                };
                if frontier.is_some_and(|f| span.mint > f) {
                    break;
                }
                self.next_span += 1;
                if span.maxt < target {
                    continue;
                }
                let mut it = span.chunk.iter();
                if let Some(cur) = it.seek(target) {
                    self.active.push(Active {
                        cur,
                        it,
                        deleted: span.deleted.clone(),
                    });
                }
            }
            let (idx, _) = self
                .active
                .iter()
                .enumerate()
                .min_by_key(|(_, a)| a.cur.0)?;
            let (t, v) = self.active[idx].cur;
            if t > self.maxt {
                return self.finish();
            }
            let deleted = self.active[idx]
                .deleted
                .as_ref()
                .is_some_and(|d| d.contains(t));
            match t.checked_add(1) {
                Some(n) => self.next_min = n,
                None => self.done = true,
            }
            if !deleted {
                return Some((t, v));
            }
        }
    }

    fn finish(&mut self) -> Option<(i64, f64)> {
        self.active.clear();
        self.next_span = self.spans.len();
        None
    }
}

impl Iterator for SeriesIter {
    type Item = (i64, f64);
    fn next(&mut self) -> Option<(i64, f64)> {
        self.advance()
    }
}

/// Sorted, deduplicated label names of `sets`: how queriers answer
/// `label_names` with matchers.
pub(crate) fn label_names_of(sets: impl IntoIterator<Item = Labels>) -> Vec<String> {
    let mut names: Vec<String> = sets
        .into_iter()
        .flat_map(|l| l.into_vec().into_iter().map(|l| l.name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Sorted, deduplicated non-empty values of label `name` in `sets`.
pub(crate) fn label_values_of(sets: impl IntoIterator<Item = Labels>, name: &str) -> Vec<String> {
    let mut values: Vec<String> = sets
        .into_iter()
        .map(|l| l.get(name).to_string())
        .filter(|v| !v.is_empty())
        .collect();
    values.sort_unstable();
    values.dedup();
    values
}

/// A querier over several sources (blocks and the head) whose results are
/// merged: series with equal labels are combined and overlapping samples
/// deduplicated.
pub struct MergeQuerier<'a> {
    queriers: Vec<Box<dyn Querier + 'a>>,
}

impl<'a> MergeQuerier<'a> {
    pub fn new(queriers: Vec<Box<dyn Querier + 'a>>) -> Self {
        MergeQuerier { queriers }
    }
}

impl Querier for MergeQuerier<'_> {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series>> {
        let mut all: Vec<Series> = Vec::new();
        for q in &self.queriers {
            all.extend(q.select(matchers)?);
        }
        // Stable sort keeps each source's order; equal labels end up adjacent.
        all.sort_by(|a, b| a.labels.cmp(&b.labels));
        let mut out: Vec<Series> = Vec::with_capacity(all.len());
        for s in all {
            match out.last_mut() {
                Some(last) if last.labels == s.labels => last.merge(s),
                _ => out.push(s),
            }
        }
        Ok(out)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for q in &self.queriers {
            names.extend(q.label_names(matchers)?);
        }
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut values = Vec::new();
        for q in &self.queriers {
            values.extend(q.label_values(name, matchers)?);
        }
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }
}
