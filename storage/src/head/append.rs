//! The append path: validate samples into a batch, log the batch to the WAL,
//! then apply it to memory.

use std::sync::atomic::Ordering;

use super::series::{check_after, Appended, MemSeries};
use super::{FastMap, Head, Shard, SHARDS};
use crate::error::{Error, Result};
use crate::labels::{validate_pairs, Label, Labels};
use crate::wal::{Record, RefSample, RefSeries};

/// A batch of appends. Nothing is visible to queries or durable until
/// [`Appender::commit`] returns `Ok`; dropping the appender rolls back.
///
/// Rejected samples (out of order, duplicate timestamp with another value,
/// older than the head's lower bound, too far ahead of the clock) return a typed error from `append`,
/// are counted in [`super::HeadStats`], and leave the rest of the batch
/// intact.
pub struct Appender<'h> {
    head: &'h Head,
    series: Vec<RefSeries>,
    samples: Vec<RefSample>,
    /// Parallel to `samples`: whether the sample is its series' first in
    /// this batch, the one whose commit ends the batch's hold on the series.
    first: Vec<bool>,
    /// Series held (their `pending` raised) with no sample in `samples`:
    /// their first sample was a duplicate.
    held_empty: Vec<u32>,
    /// Per touched series: the last pending (t, value bits).
    pending: FastMap<u32, (i64, u64)>,
    min_valid: i64,
    /// Newest timestamp accepted, fixed when the appender starts.
    max_valid: i64,
}

impl<'h> Appender<'h> {
    pub(super) fn new(head: &'h Head) -> Self {
        Appender {
            head,
            series: Vec::new(),
            samples: Vec::new(),
            first: Vec::new(),
            held_empty: Vec::new(),
            pending: FastMap::default(),
            min_valid: head.min_valid_time(),
            max_valid: head.max_valid_time(),
        }
    }

    /// Adds a sample for the series `labels`, creating the series if needed.
    /// Returns the series ref, which [`Appender::append_ref`] accepts for
    /// later samples of the same series.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<u64> {
        labels.validate()?;
        self.check_bounds(t)?;
        let (id, _) = self.head.get_or_create(labels, None);
        self.add(id, Some(labels), t, v)?;
        Ok(id as u64)
    }

    /// [`Appender::append`] for labels given as `(name, value)` pairs in
    /// `Labels` form (sorted by name, names unique, no empty value). An
    /// existing series is found without building `Labels`, so callers that
    /// decode label sets per request (remote write) allocate only for new
    /// series.
    pub fn append_pairs(&mut self, labels: &[(&str, &str)], t: i64, v: f64) -> Result<u64> {
        validate_pairs(labels)?;
        self.check_bounds(t)?;
        let id = match self.head.find_pairs(labels) {
            Some(id) => id,
            None => {
                let owned = labels.iter().map(|&(n, v)| Label::new(n, v)).collect();
                let labels = Labels::from_sorted(owned);
                let (id, _) = self.head.get_or_create(&labels, None);
                return self.add(id, Some(&labels), t, v).map(|()| id as u64);
            }
        };
        self.add(id, None, t, v)?;
        Ok(id as u64)
    }

    /// Adds a sample for a series known by its ref. Fails with
    /// `InvalidLabels` when the ref is unknown (e.g. the series was garbage
    /// collected); the caller then appends by labels.
    pub fn append_ref(&mut self, series_ref: u64, t: i64, v: f64) -> Result<()> {
        self.check_bounds(t)?;
        let id = u32::try_from(series_ref)
            .map_err(|_| Error::InvalidLabels(format!("unknown series ref {series_ref}")))?;
        self.add(id, None, t, v)
    }

    fn check_bounds(&self, t: i64) -> Result<()> {
        if t < self.min_valid {
            let stats = &self.head.stats;
            stats.out_of_bounds.fetch_add(1, Ordering::Relaxed);
            return Err(Error::OutOfBounds);
        }
        if t > self.max_valid {
            let stats = &self.head.stats;
            stats.too_far_in_future.fetch_add(1, Ordering::Relaxed);
            return Err(Error::TooFarInFuture);
        }
        Ok(())
    }

    /// [`Appender::append_ref`] for many series at once, each with its
    /// samples in time order: `out[i]` is `Ok` when all of `series[i]`'s
    /// samples were taken (or were duplicates), or the index of the first
    /// sample refused and why (an unknown ref is refused at 0 with
    /// `InvalidLabels`); a series stops at its first refusal, the others go
    /// on. `sample` reads a caller's sample as `(t, v)`.
    ///
    /// Series are visited shard by shard, each shard locked once, so the
    /// lookups of one shard run back to back (the CPU overlaps their cache
    /// misses) instead of one lock round trip per series.
    pub fn append_refs<T>(
        &mut self,
        series: &[(u64, &[T])],
        sample: impl Fn(&T) -> (i64, f64),
        out: &mut Vec<std::result::Result<(), (usize, Error)>>,
    ) {
        out.clear();
        out.resize_with(series.len(), || Ok(()));
        self.pending.reserve(series.len());
        let shard_of = |r: u64| u32::try_from(r).ok().map(|id| id % SHARDS);
        for (i, &(r, samples)) in series.iter().enumerate() {
            if !samples.is_empty() && shard_of(r).is_none() {
                out[i] = Err((0, Error::InvalidLabels(format!("unknown series ref {r}"))));
            }
        }
        let order = shard_order(series.len(), |i| {
            let (r, samples) = series[i];
            shard_of(r).filter(|_| !samples.is_empty())
        });
        let head = self.head;
        let mut next = 0;
        while next < order.len() {
            let k = shard_of(series[order[next] as usize].0).expect("grouped");
            let mut shard = head.shards[k as usize].lock();
            // Only the series: their chunks are written after the WAL
            // fsync, by when other requests have pushed loads made now out
            // of the CPU caches (warming them here too cost ~8% of the
            // receiver's CPU, in misses `commit` took again).
            warm(
                &shard,
                order[next..]
                    .iter()
                    .map(|&i| series[i as usize].0)
                    .take_while(|&r| shard_of(r) == Some(k))
                    .map(|r| r as u32),
                MemSeries::warm_check,
            );
            while let Some(&i) = order.get(next) {
                let (r, samples) = series[i as usize];
                if shard_of(r) != Some(k) {
                    break;
                }
                next += 1;
                for (j, s) in samples.iter().enumerate() {
                    let (t, v) = sample(s);
                    let res = self.check_bounds(t).and_then(|()| {
                        if self.pending.contains_key(&(r as u32)) {
                            self.add_again(r as u32, t, v)
                        } else {
                            self.add_first(&mut shard, r as u32, None, t, v)
                        }
                    });
                    if let Err(e) = res {
                        out[i as usize] = Err((j, e));
                        break;
                    }
                }
            }
        }
    }

    fn add(&mut self, id: u32, labels: Option<&Labels>, t: i64, v: f64) -> Result<()> {
        if self.pending.contains_key(&id) {
            return self.add_again(id, t, v);
        }
        let mut shard = self.head.shard(id).lock();
        self.add_first(&mut shard, id, labels, t, v)
    }

    /// A sample for a series this batch already holds.
    fn add_again(&mut self, id: u32, t: i64, v: f64) -> Result<()> {
        let last = self.pending.get_mut(&id).expect("held by this batch");
        let (lt, lb) = *last;
        let r = check_after(lt, lb, true, t, v);
        if matches!(r, Ok(Appended::New)) {
            *last = (t, v.to_bits());
        }
        self.record(id, r, false, t, v)
    }

    /// The batch's first sample for a series, with its shard (`shard`)
    /// locked: the series is held until commit or rollback.
    fn add_first(
        &mut self,
        shard: &mut Shard,
        id: u32,
        labels: Option<&Labels>,
        t: i64,
        v: f64,
    ) -> Result<()> {
        let Some(s) = shard.series.get_mut(&id) else {
            return Err(Error::InvalidLabels(format!("unknown series ref {id}")));
        };
        let r = s.check(t, v);
        if r.is_ok() {
            s.pending += 1;
            if !s.wal_logged {
                let labels = labels
                    .cloned()
                    .unwrap_or_else(|| self.head.labels_of(&s.labels));
                self.series.push(RefSeries {
                    series_ref: id as u64,
                    labels,
                });
            }
            self.pending.insert(id, (t, v.to_bits()));
            if !matches!(r, Ok(Appended::New)) {
                self.held_empty.push(id);
            }
        }
        self.record(id, r, true, t, v)
    }

    /// Queues an accepted sample; counts a refused one.
    fn record(&mut self, id: u32, r: Result<Appended>, first: bool, t: i64, v: f64) -> Result<()> {
        match r {
            Ok(Appended::New) => {
                self.samples.push(RefSample {
                    series_ref: id as u64,
                    t,
                    v,
                });
                self.first.push(first);
                Ok(())
            }
            Ok(Appended::Duplicate) => Ok(()),
            Err(e) => {
                let stats = &self.head.stats;
                match e {
                    Error::OutOfOrderSample => &stats.out_of_order,
                    _ => &stats.duplicates,
                }
                .fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Number of samples waiting in the batch.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Writes the batch to the WAL (fsynced per the WAL's policy), then makes
    /// it visible. When this returns `Ok` the samples are acknowledged.
    pub fn commit(self) -> Result<()> {
        self.commit_with(true)
    }

    /// [`Appender::commit`] without waiting for an fsync: the batch is in
    /// the WAL (it survives a process kill) and visible, and becomes
    /// power-loss durable at the WAL's next fsync
    /// ([`crate::wal::Wal::sync_per_policy`]). For derived data that no
    /// client is waiting to have acknowledged, such as rule results.
    pub fn commit_unsynced(self) -> Result<()> {
        self.commit_with(false)
    }

    fn commit_with(mut self, sync: bool) -> Result<()> {
        let head = self.head;
        let mut records = Vec::with_capacity(2);
        if !self.series.is_empty() {
            records.push(Record::Series(std::mem::take(&mut self.series)));
        }
        if !self.samples.is_empty() {
            records.push(Record::Samples(std::mem::take(&mut self.samples)));
        }
        if records.is_empty() {
            self.release();
            return Ok(());
        }
        let logged = if sync {
            head.wal.log(&records)
        } else {
            head.wal.log_unsynced(&records)
        };
        if let Err(e) = logged {
            self.release();
            return Err(e);
        }
        let mut applied = 0u64;
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        let mut cut = 0u64;
        for rec in &records {
            match rec {
                Record::Samples(samples) => {
                    // Applied shard by shard, one lock each; the stable
                    // grouping keeps every series' samples in order.
                    let order = shard_order(samples.len(), |i| {
                        Some(samples[i].series_ref as u32 % SHARDS)
                    });
                    let mut i = 0;
                    while i < order.len() {
                        let shard_idx = samples[order[i] as usize].series_ref as u32 % SHARDS;
                        let mut shard = head.shards[shard_idx as usize].lock();
                        warm(
                            &shard,
                            order[i..]
                                .iter()
                                .map(|&k| samples[k as usize].series_ref as u32)
                                .take_while(|id| id % SHARDS == shard_idx),
                            MemSeries::warm,
                        );
                        while let Some(&k) = order.get(i) {
                            let s = &samples[k as usize];
                            let id = s.series_ref as u32;
                            if id % SHARDS != shard_idx {
                                break;
                            }
                            i += 1;
                            let Some(series) = shard.series.get_mut(&id) else {
                                continue;
                            };
                            // Under this lock all the series' samples are
                            // applied, so the hold can end at its first.
                            if self.first[k as usize] {
                                series.pending = series.pending.saturating_sub(1);
                            }
                            let cut_before = series.closed.len();
                            match series.append(id, s.t, s.v, head.opts.block_range, &head.chunks) {
                                Ok(Appended::New) => {
                                    applied += 1;
                                    lo = lo.min(s.t);
                                    hi = hi.max(s.t);
                                }
                                Ok(Appended::Duplicate) => {}
                                // Another appender won a race on this series.
                                Err(_) => {
                                    head.stats.out_of_order.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            cut += (series.closed.len() - cut_before) as u64;
                        }
                    }
                }
                Record::Series(series) => {
                    for s in series {
                        let id = s.series_ref as u32;
                        if let Some(m) = head.shard(id).lock().series.get_mut(&id) {
                            m.wal_logged = true;
                        }
                    }
                }
                Record::Tombstones(_) => {}
            }
        }
        if cut > 0 {
            head.stats.chunks_cut.fetch_add(cut, Ordering::Relaxed);
        }
        // The holds of series with samples ended above; only the others
        // are left to release.
        self.pending.clear();
        for &id in &self.held_empty {
            if let Some(s) = head.shard(id).lock().series.get_mut(&id) {
                s.pending = s.pending.saturating_sub(1);
            }
        }
        if applied > 0 {
            head.note_time(lo);
            head.note_time(hi);
            // Every sample of the batch is visible now.
            head.changes.note(lo);
        }
        head.stats
            .samples_appended
            .fetch_add(applied, Ordering::Relaxed);
        head.stats.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Discards the batch.
    pub fn rollback(self) {
        // Drop does the work.
    }

    fn release(&mut self) {
        for (&id, _) in self.pending.iter() {
            if let Some(s) = self.head.shard(id).lock().series.get_mut(&id) {
                s.pending = s.pending.saturating_sub(1);
            }
        }
        self.pending.clear();
    }
}

/// Loads the series `ids` of a locked shard before they are worked on, in
/// a loop of independent lookups the CPU runs ahead in, overlapping their
/// cache misses; the work that follows then finds them cached. (Measured
/// on remote-write requests of 2000 different series.)
fn warm(shard: &Shard, ids: impl Iterator<Item = u32>, load: impl Fn(&MemSeries) -> u64) {
    let mut x = 0u64;
    for id in ids {
        if let Some(s) = shard.series.get(&id) {
            x ^= load(s);
        }
    }
    std::hint::black_box(x);
}

/// The indices `0..n` that have a shard (`shard_of`), grouped by it (a
/// counting sort, stable).
fn shard_order(n: usize, shard_of: impl Fn(usize) -> Option<u32>) -> Vec<u32> {
    let mut start = [0u32; SHARDS as usize + 1];
    for i in 0..n {
        if let Some(k) = shard_of(i) {
            start[k as usize + 1] += 1;
        }
    }
    for k in 1..start.len() {
        start[k] += start[k - 1];
    }
    let mut order = vec![0u32; start[SHARDS as usize] as usize];
    for i in 0..n {
        if let Some(k) = shard_of(i) {
            let slot = &mut start[k as usize];
            order[*slot as usize] = i as u32;
            *slot += 1;
        }
    }
    order
}

impl Drop for Appender<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::super::HeadOptions;
    use super::*;
    use crate::querier::Queryable;
    use crate::Matcher;
    use proptest::prelude::*;

    type Outcome = std::result::Result<(), (usize, String)>;

    fn head_with(series: usize) -> (tempfile::TempDir, Head, Vec<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let (head, _) = Head::open(dir.path(), HeadOptions::default()).unwrap();
        let mut app = head.appender();
        let refs = (0..series)
            .map(|i| {
                let l = Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
                app.append(&l, 0, 0.0).unwrap()
            })
            .collect();
        app.commit().unwrap();
        (dir, head, refs)
    }

    fn stored(head: &Head) -> Vec<(String, Vec<(i64, u64)>)> {
        let q = head.querier(i64::MIN, i64::MAX).unwrap();
        let mut out: Vec<_> = q
            .select(
                &crate::querier::SelectHints::default(),
                &[Matcher::equal("__name__", "m")],
            )
            .unwrap()
            .series
            .iter()
            .map(|s| {
                let mut got = Vec::new();
                s.read_into(&mut got);
                let got = got.iter().map(|&(t, v)| (t, v.to_bits())).collect();
                (format!("{:?}", s.labels), got)
            })
            .collect();
        out.sort();
        out
    }

    proptest! {
        // Each case opens two heads (WAL files, fsyncs): fewer cases.
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// `append_refs` does what `append_ref` sample by sample does,
        /// each series stopping at its first refusal.
        #[test]
        fn append_refs_matches_append_ref_one_by_one(
            batch in proptest::collection::vec(
                (0usize..7, proptest::collection::vec((-2i64..30, 0u8..3), 0..4)),
                0..40,
            )
        ) {
            let (_da, a, refs) = head_with(6);
            let (_db, b, _) = head_with(6);
            // Index 6 is a ref no series has.
            let r = |i: usize| refs.get(i).copied().unwrap_or(1 << 40);
            let samples: Vec<Vec<(i64, f64)>> = batch
                .iter()
                .map(|(_, ss)| ss.iter().map(|&(t, v)| (t, f64::from(v))).collect())
                .collect();
            let items: Vec<(u64, &[(i64, f64)])> = batch
                .iter()
                .zip(&samples)
                .map(|((i, _), ss)| (r(*i), ss.as_slice()))
                .collect();

            let mut app = a.appender();
            let mut got = Vec::new();
            app.append_refs(&items, |&s| s, &mut got);
            let got: Vec<Outcome> = got
                .into_iter()
                .map(|o| o.map_err(|(i, e)| (i, e.to_string())))
                .collect();
            let got_len = app.len();
            app.commit().unwrap();

            let mut app = b.appender();
            let mut want = Vec::new();
            for &(series_ref, ss) in &items {
                let mut res: Outcome = Ok(());
                for (i, &(t, v)) in ss.iter().enumerate() {
                    if let Err(e) = app.append_ref(series_ref, t, v) {
                        res = Err((i, e.to_string()));
                        break;
                    }
                }
                want.push(res);
            }
            prop_assert_eq!(got_len, app.len());
            app.commit().unwrap();
            prop_assert_eq!(got, want);
            prop_assert_eq!(stored(&a), stored(&b));
        }
    }
}
