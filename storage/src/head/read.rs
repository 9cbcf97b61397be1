//! Reading the head: a [`Querier`] over the series in memory.

use std::sync::Arc;

use super::series::ClosedChunk;
use super::Head;
use crate::chunk::{Chunk, ChunkBytes, Encoding};
use crate::error::Result;
use crate::labels::{Labels, Matcher};
use crate::querier::{
    label_names_of, label_values_of, ChunkSpan, Querier, Queryable, SelectHints, Series, SeriesSet,
    Warnings,
};

/// A querier over the head for `[mint, maxt]`.
pub struct HeadQuerier<'h> {
    head: &'h Head,
    mint: i64,
    maxt: i64,
}

impl Queryable for Head {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        Ok(Box::new(HeadQuerier::new(self, mint, maxt)))
    }
}

enum Pending {
    Mapped(u64, i64, i64),
    Ready(ChunkSpan),
}

impl<'h> HeadQuerier<'h> {
    pub fn new(head: &'h Head, mint: i64, maxt: i64) -> Self {
        HeadQuerier { head, mint, maxt }
    }

    /// Label sets of the matching series (with data in range or not).
    fn matching(&self, matchers: &[Matcher]) -> Result<Vec<Labels>> {
        let ids = self.head.postings_for(matchers)?;
        let mut out = Vec::with_capacity(ids.len() as usize);
        for id in ids.iter() {
            if let Some(s) = self.head.shard(id).lock().series.get(&id) {
                out.push(self.head.labels_of(&s.labels));
            }
        }
        Ok(out)
    }
}

/// Sorts series with distinct label sets by labels.
///
/// The leading pairs that every series shares (usually the metric name of a
/// selector) cannot decide the order, so comparisons start after them:
/// `[Label]` slices order as [`Labels`] do, pair by pair, then by length.
fn sort_by_labels(series: &mut [Series]) {
    let Some((first, rest)) = series.split_first() else {
        return;
    };
    let first = first.labels.iter().as_slice();
    let shared = rest.iter().fold(first.len(), |n, s| {
        let l = s.labels.iter().as_slice();
        first[..n].iter().zip(l).take_while(|(a, b)| a == b).count()
    });
    // Distinct label sets: an unstable sort orders them the same.
    series.sort_unstable_by(|a, b| {
        a.labels.iter().as_slice()[shared..].cmp(&b.labels.iter().as_slice()[shared..])
    });
}

impl Querier for HeadQuerier<'_> {
    /// Hints are not needed: the chunks are at hand.
    fn select(&self, _hints: &SelectHints, matchers: &[Matcher]) -> Result<SeriesSet> {
        let ids = self.head.postings_for(matchers)?;
        let tombstones = self.head.tombstones.read();
        let mut out = Vec::new();
        let mut pending = Vec::new();
        for id in ids.iter() {
            pending.clear();
            let (labels, deleted) = {
                let shard = self.head.shard(id).lock();
                let Some(s) = shard.series.get(&id) else {
                    continue;
                };
                let deleted = tombstones.get(id as u64).cloned().map(Arc::new);
                for c in &s.closed {
                    let (lo, hi) = c.bounds();
                    if hi < self.mint || lo > self.maxt {
                        continue;
                    }
                    pending.push(match c {
                        ClosedChunk::Mapped { chunk_ref, .. } => {
                            Pending::Mapped(*chunk_ref, lo, hi)
                        }
                        ClosedChunk::Memory { chunk, .. } => Pending::Ready(ChunkSpan {
                            mint: lo,
                            maxt: hi,
                            chunk: chunk.clone(),
                            deleted: deleted.clone(),
                        }),
                    });
                }
                if let Some(open) = &s.open {
                    if open.num_samples() > 0
                        && open.max_time() >= self.mint
                        && open.min_time() <= self.maxt
                    {
                        pending.push(Pending::Ready(ChunkSpan {
                            mint: open.min_time(),
                            maxt: open.max_time(),
                            chunk: Chunk::new(Encoding::Xor, ChunkBytes::from_vec(open.encode())),
                            deleted: deleted.clone(),
                        }));
                    }
                }
                if pending.is_empty() {
                    continue;
                }
                (self.head.labels_of(&s.labels), deleted)
            };
            let mut spans = Vec::with_capacity(pending.len());
            // Mapped chunks are read outside the shard lock.
            for p in pending.drain(..) {
                spans.push(match p {
                    Pending::Ready(span) => span,
                    Pending::Mapped(r, mint, maxt) => ChunkSpan {
                        mint,
                        maxt,
                        chunk: self.head.chunks.chunk(r)?,
                        deleted: deleted.clone(),
                    },
                });
            }
            out.push(Series::new(labels, spans, self.mint, self.maxt));
        }
        sort_by_labels(&mut out);
        Ok(SeriesSet {
            series: out,
            warnings: Warnings::new(),
        })
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<(Vec<String>, Warnings)> {
        if matchers.is_empty() {
            return Ok((self.head.postings.read().label_names(), Warnings::new()));
        }
        Ok((label_names_of(self.matching(matchers)?), Warnings::new()))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<(Vec<String>, Warnings)> {
        if matchers.is_empty() {
            return Ok((
                self.head.postings.read().label_values(name),
                Warnings::new(),
            ));
        }
        Ok((
            label_values_of(self.matching(matchers)?, name),
            Warnings::new(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Label sets over a small alphabet, so that many share leading pairs
    /// (or are prefixes of each other) and the shared-prefix skip matters.
    fn label_sets() -> impl Strategy<Value = Vec<Labels>> {
        let pair = (
            prop::sample::select(vec!["__name__", "a", "b", "job", "l"]),
            prop::sample::select(vec!["", "0", "1", "10", "2", "x", "xy"]),
        );
        let set = proptest::collection::vec(pair, 0..5).prop_map(Labels::from_pairs);
        (
            proptest::collection::vec(set, 0..40),
            prop::option::of(Just(("__name__", "up"))),
        )
            .prop_map(|(sets, name)| {
                let mut sets: Vec<Labels> = sets
                    .into_iter()
                    .map(|l| match name {
                        // One shared metric name, as a selector gives.
                        Some((n, v)) => {
                            let mut pairs: Vec<_> = l
                                .iter()
                                .filter(|p| p.name != n)
                                .map(|p| (p.name.clone(), p.value.clone()))
                                .collect();
                            pairs.push((n.to_string(), v.to_string()));
                            Labels::from_pairs(pairs)
                        }
                        None => l,
                    })
                    .collect();
                sets.sort();
                sets.dedup();
                sets
            })
    }

    proptest! {
        #[test]
        fn sort_by_labels_matches_labels_order(sets in label_sets(), seed in any::<u64>()) {
            let mut shuffled = sets.clone();
            // A deterministic shuffle.
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut series: Vec<Series> = shuffled
                .into_iter()
                .map(|l| Series::new(l, Vec::new(), 0, 0))
                .collect();
            sort_by_labels(&mut series);
            let got: Vec<Labels> = series.into_iter().map(|s| s.labels).collect();
            prop_assert_eq!(got, sets);
        }
    }
}
