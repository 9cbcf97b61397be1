//! The query interface: the only thing the PromQL engine and the HTTP layer
//! use to read data. Head, blocks and the merged view of both implement it.

use std::sync::Arc;

use crate::chunk::{Chunk, ChunkBytes, ChunkIter, Encoding, XorBuilder, MAX_SAMPLES_PER_CHUNK};
use crate::error::Result;
use crate::labels::{Labels, Matcher};
use crate::tombstones::Intervals;
use crate::workers::Workers;

/// Something that can open a [`Querier`] over a time range.
pub trait Queryable: Send + Sync {
    /// Opens a querier over `[mint, maxt]` (milliseconds, both inclusive).
    /// Data appended after this call may or may not be visible.
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>>;
}

/// Warnings of an answer that is complete as far as it goes but may lack
/// data (a remote-read endpoint failed, a lookup it does not implement):
/// shown to the user next to the answer, never an error.
pub type Warnings = Vec<String>;

/// What a caller of [`Querier::select`] will do with the series, after
/// Prometheus's `storage.SelectHints`, so that a source can spare work:
/// local storage ignores them, remote read forwards them to its endpoints
/// as read hints. Any querier may ignore any hint, so callers must not
/// count on their effect; only `labels_only` may change the answer.
#[derive(Clone, Debug, Default)]
pub struct SelectHints {
    /// First millisecond the caller will read (inclusive).
    pub start: i64,
    /// Last millisecond the caller will read (inclusive).
    pub end: i64,
    /// The query's resolution step in ms; 0 for instant queries and
    /// lookups.
    pub step: i64,
    /// The function or aggregation the series feed (`rate`, `sum`), or
    /// `series` for a series lookup; `None` when there is none.
    pub func: Option<&'static str>,
    /// The range of a range selector in ms; 0 for an instant selector.
    pub range: i64,
    /// Only label sets are wanted: a querier may then also return series
    /// with no sample in the range (remote endpoints answering a
    /// `series` lookup do), and the caller must not rely on samples.
    pub labels_only: bool,
    /// Threads the select may spread its per-series work over.
    pub workers: Workers,
}

/// The answer of [`Querier::select`]: the series, and warnings about data
/// that may be missing from them.
#[derive(Debug, Default)]
pub struct SeriesSet {
    pub series: Vec<Series>,
    pub warnings: Warnings,
}

/// A read view over a fixed time range.
///
/// Errors (I/O, corruption) fail a call; data a source could not provide
/// (a remote endpoint failed) is no error but a warning of the answer
/// ([`Warnings`], in the order they arose, each once per call unless a
/// method says otherwise).
pub trait Querier {
    /// The series whose labels satisfy *all* `matchers`, sorted by
    /// [`Labels`] order, each label set at most once.
    ///
    /// A series is returned only if it has chunks overlapping the range
    /// (unless `hints.labels_only` allows otherwise). Its iterator yields
    /// samples with `mint <= t <= maxt` only, ascending, one per timestamp,
    /// with deleted (tombstoned) samples already removed; it may still
    /// yield none when all its samples in range were deleted. Iteration is
    /// infallible because chunks are checksummed when they are loaded.
    ///
    /// `hints` (see [`SelectHints`]) may be passed on or used to skip work
    /// they make unnecessary, or ignored. Their `start`/`end` lie within
    /// the querier's range and do not narrow the answer: series and
    /// samples are those of the whole range.
    fn select(&self, hints: &SelectHints, matchers: &[Matcher]) -> Result<SeriesSet>;

    /// Sorted, deduplicated label names of the series matching `matchers`
    /// (all series when `matchers` is empty) that have data overlapping the
    /// range; blocks may answer from their index without checking sample
    /// times, as Prometheus does. With them, the warnings of the lookup
    /// (possibly repeated: one per source that could not answer).
    fn label_names(&self, matchers: &[Matcher]) -> Result<(Vec<String>, Warnings)>;

    /// Sorted, deduplicated non-empty values of label `name`, under the
    /// same rules as [`Querier::label_names`].
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<(Vec<String>, Warnings)>;
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

impl ChunkSpan {
    /// One XOR chunk holding `samples` (at least one, ascending by
    /// timestamp), nothing deleted.
    fn xor(samples: &[(i64, f64)]) -> ChunkSpan {
        let mut b = XorBuilder::new();
        for &(t, v) in samples {
            b.append(t, v);
        }
        ChunkSpan {
            mint: b.min_time(),
            maxt: b.max_time(),
            chunk: Chunk::new(Encoding::Xor, ChunkBytes::from_vec(b.encode())),
            deleted: None,
        }
    }
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
        // Sources usually hand their chunks over in order.
        if !spans.is_sorted_by_key(|s| (s.mint, s.maxt)) {
            spans.sort_by_key(|s| (s.mint, s.maxt));
        }
        Series {
            labels,
            spans,
            mint,
            maxt,
        }
    }

    /// A series of raw samples (ascending by timestamp, one per timestamp),
    /// for sources that hold samples rather than chunks (imports, remote
    /// read answers). They are cut into XOR chunks of
    /// [`MAX_SAMPLES_PER_CHUNK`] samples each, the most the head and the
    /// block writer put in one chunk, so the series reads like one from
    /// storage. Samples are not filtered: pass those wanted; as with
    /// [`Series::new`], only those in `[mint, maxt]` are ever yielded. No
    /// samples make a series with no chunks.
    pub fn from_samples(labels: Labels, samples: &[(i64, f64)], mint: i64, maxt: i64) -> Self {
        let spans = samples
            .chunks(MAX_SAMPLES_PER_CHUNK)
            .map(ChunkSpan::xor)
            .collect();
        Series::new(labels, spans, mint, maxt)
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

    /// Appends the samples in range to `out`: the same samples as
    /// [`Series::iter`], decoded in bulk when the chunks do not overlap and
    /// nothing was deleted (the usual case).
    pub fn read_into(&self, out: &mut Vec<(i64, f64)>) {
        let simple = self.spans.windows(2).all(|w| w[0].maxt < w[1].mint)
            && self.spans.iter().all(|s| s.deleted.is_none());
        if !simple {
            out.extend(self.iter());
            return;
        }
        for span in &self.spans {
            span.chunk.read_into(self.mint, self.maxt, out);
        }
    }

    /// Iterates the samples in range, merging overlapping chunks (a timestamp
    /// present in several chunks is yielded once).
    pub fn iter(&self) -> SeriesIter {
        // Chunks that do not overlap (the usual case: one source, or blocks
        // and head covering disjoint times) are read one after the other
        // instead of merged.
        let sequential = self.spans.windows(2).all(|w| w[0].maxt < w[1].mint);
        SeriesIter {
            spans: self.spans.clone(),
            next_span: 0,
            active: Vec::new(),
            maxt: self.maxt,
            next_min: self.mint,
            done: false,
            sequential,
            cur: None,
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
    /// The spans are sorted and disjoint: `cur` reads them in turn and
    /// `active` is unused.
    sequential: bool,
    cur: Option<(ChunkIter, Option<Arc<Intervals>>)>,
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
        if self.sequential {
            return self.advance_sequential();
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

    /// [`SeriesIter::advance`] over sorted, disjoint spans.
    fn advance_sequential(&mut self) -> Option<(i64, f64)> {
        loop {
            let target = self.next_min;
            if target > self.maxt {
                return self.finish();
            }
            let (it, deleted) = match &mut self.cur {
                Some(c) => c,
                None => {
                    let span = loop {
                        let Some(span) = self.spans.get(self.next_span) else {
                            return self.finish();
                        };
                        self.next_span += 1;
                        if span.maxt >= target {
                            break span;
                        }
                    };
                    self.cur.insert((span.chunk.iter(), span.deleted.clone()))
                }
            };
            let Some((t, v)) = it.seek(target) else {
                self.cur = None;
                continue;
            };
            if t > self.maxt {
                return self.finish();
            }
            let deleted = deleted.as_ref().is_some_and(|d| d.contains(t));
            match t.checked_add(1) {
                Some(n) => self.next_min = n,
                None => self.done = true,
            }
            if !deleted {
                return Some((t, v));
            }
            if self.done {
                return None;
            }
        }
    }

    fn finish(&mut self) -> Option<(i64, f64)> {
        self.cur = None;
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

/// The series several sources selected, as one `select` answer: sorted by
/// labels, each label set once. Series with equal labels are joined with
/// [`Series::merge`], so their iterators yield a timestamp present in
/// several sources once. The lists need not be sorted; equal label sets
/// keep the order they come in (list by list), which makes the result the
/// same from run to run.
pub fn merge_series(lists: Vec<Vec<Series>>) -> Vec<Series> {
    let mut all: Vec<Series> = Vec::with_capacity(lists.iter().map(Vec::len).sum());
    for list in lists {
        all.extend(list);
    }
    // Stable: equal labels end up adjacent in input order.
    all.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out: Vec<Series> = Vec::with_capacity(all.len());
    for s in all {
        match out.last_mut() {
            Some(last) if last.labels == s.labels => last.merge(s),
            _ => out.push(s),
        }
    }
    out
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
    fn select(&self, hints: &SelectHints, matchers: &[Matcher]) -> Result<SeriesSet> {
        if let [only] = &self.queriers[..] {
            // Already sorted with distinct labels, by the `Querier` contract.
            return only.select(hints, matchers);
        }
        let mut lists = Vec::with_capacity(self.queriers.len());
        let mut warnings = Warnings::new();
        for q in &self.queriers {
            let set = q.select(hints, matchers)?;
            lists.push(set.series);
            extend_unique(&mut warnings, set.warnings);
        }
        Ok(SeriesSet {
            series: merge_series(lists),
            warnings,
        })
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<(Vec<String>, Warnings)> {
        let mut names = Vec::new();
        let mut warnings = Warnings::new();
        for q in &self.queriers {
            let (n, w) = q.label_names(matchers)?;
            names.extend(n);
            warnings.extend(w);
        }
        names.sort_unstable();
        names.dedup();
        Ok((names, warnings))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<(Vec<String>, Warnings)> {
        let mut values = Vec::new();
        let mut warnings = Warnings::new();
        for q in &self.queriers {
            let (v, w) = q.label_values(name, matchers)?;
            values.extend(v);
            warnings.extend(w);
        }
        values.sort_unstable();
        values.dedup();
        Ok((values, warnings))
    }
}

/// Appends the warnings of `more` not yet in `warnings`, in their order.
pub fn extend_unique(warnings: &mut Warnings, more: Warnings) {
    for w in more {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tombstones::Interval;

    fn span(samples: &[(i64, f64)], deleted: Option<Arc<Intervals>>) -> ChunkSpan {
        ChunkSpan {
            deleted,
            ..ChunkSpan::xor(samples)
        }
    }

    fn samples(from: i64, to: i64) -> Vec<(i64, f64)> {
        (from..to).map(|i| (i * 10, i as f64 * 1.5)).collect()
    }

    /// `read_into`, the sequential iterator (disjoint chunks) and the merging
    /// iterator (overlapping chunks) agree, with and without deletions.
    #[test]
    fn read_into_and_iter_agree() {
        let mut del = Intervals::new();
        del.add(Interval::new(120, 180));
        let del = Some(Arc::new(del));
        let cases: Vec<(Vec<ChunkSpan>, i64, i64)> = vec![
            (
                vec![span(&samples(0, 30), None), span(&samples(30, 50), None)],
                0,
                1000,
            ),
            (
                vec![span(&samples(0, 30), None), span(&samples(30, 50), None)],
                95,
                305,
            ),
            (
                vec![
                    span(&samples(0, 30), del.clone()),
                    span(&samples(30, 50), del.clone()),
                ],
                0,
                1000,
            ),
            (
                vec![span(&samples(0, 30), None), span(&samples(20, 50), None)],
                55,
                405,
            ),
            (
                vec![span(&samples(20, 50), None), span(&samples(0, 30), del)],
                0,
                1000,
            ),
        ];
        for (spans, mint, maxt) in cases {
            let s = Series::new(Labels::default(), spans.clone(), mint, maxt);
            let mut merged = Series::new(Labels::default(), Vec::new(), mint, maxt);
            merged.spans = spans;
            let want: Vec<(i64, f64)> = (0..50)
                .map(|i| (i * 10, i as f64 * 1.5))
                .filter(|&(t, _)| t >= mint && t <= maxt)
                .filter(|&(t, _)| {
                    !(s.spans.iter().any(|sp| sp.deleted.is_some()) && (120..=180).contains(&t))
                })
                .collect();
            let mut got = Vec::new();
            s.read_into(&mut got);
            assert_eq!(got, want);
            assert_eq!(s.iter().collect::<Vec<_>>(), want);
            // A seek inside the range, then the rest.
            let mut it = s.iter();
            let first = it.seek(mint + 95);
            let rest: Vec<_> = first.into_iter().chain(it).collect();
            let want_rest: Vec<_> = want
                .iter()
                .copied()
                .filter(|&(t, _)| t >= mint + 95)
                .collect();
            assert_eq!(rest, want_rest);
        }
    }
}
