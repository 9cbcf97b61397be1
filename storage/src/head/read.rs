//! Reading the head: a [`Querier`] over the series in memory.

use std::collections::HashMap;
use std::ops::Range;
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
use crate::tombstones::{Intervals, Tombstones};

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

/// A matching series with data in range, found under its shard lock and
/// waiting to be put in label order and built.
struct Found {
    /// Its label symbol ids (name, value, ...) in [`Gathered::syms`].
    syms: Range<usize>,
    /// Its chunks in [`Gathered::chunks`].
    chunks: Range<usize>,
    deleted: Option<Arc<Intervals>>,
}

/// What a select gathered under shard locks, for a run of series ids.
#[derive(Default)]
struct Gathered {
    found: Vec<Found>,
    syms: Vec<u32>,
    chunks: Vec<Pending>,
}

impl Gathered {
    /// Appends `other`, whose ranges start at 0.
    fn append(&mut self, other: Gathered) {
        let (s, c) = (self.syms.len(), self.chunks.len());
        self.found.extend(other.found.into_iter().map(|f| Found {
            syms: f.syms.start + s..f.syms.end + s,
            chunks: f.chunks.start + c..f.chunks.end + c,
            deleted: f.deleted,
        }));
        self.syms.extend(other.syms);
        self.chunks.extend(other.chunks);
    }
}

/// Series (`found`, label symbol ids in `syms`) ordered by their labels,
/// without building a label set: the distinct symbols are sorted once by
/// their strings, and series are compared by the ranks of their symbols,
/// which order as the strings do (each string has one id). Returns indices
/// into `found`.
fn label_order(found: &[Found], syms: &[u32], head: &Head) -> Vec<u32> {
    // Ranks by symbol id in a dense table unless the symbol table is much
    // larger than what this select uses.
    let dense = head.symbols.len() <= syms.len().saturating_mul(4).max(1 << 16);
    label_order_ranked(found, syms, head, dense)
}

/// [`label_order`] with the ranks of symbols in a table indexed by id
/// (`use_dense`) or in a hash map.
fn label_order_ranked(found: &[Found], syms: &[u32], head: &Head, use_dense: bool) -> Vec<u32> {
    // Rank of every symbol in use; `u32::MAX` marks one not seen yet.
    let table = head.symbols.len();
    let mut dense: Vec<u32> = Vec::new();
    let mut sparse: HashMap<u32, u32> = HashMap::new();
    let mut distinct: Vec<u32> = Vec::new();
    if use_dense {
        dense = vec![u32::MAX; table];
        for &id in syms {
            let r = &mut dense[id as usize];
            if *r == u32::MAX {
                *r = 0;
                distinct.push(id);
            }
        }
    } else {
        for &id in syms {
            sparse.entry(id).or_insert_with(|| {
                distinct.push(id);
                0
            });
        }
    }
    head.symbols
        .with(|r| distinct.sort_unstable_by(|&a, &b| r.get(a).cmp(r.get(b))));
    for (rank, &id) in distinct.iter().enumerate() {
        let rank = rank as u32;
        if use_dense {
            dense[id as usize] = rank;
        } else {
            sparse.insert(id, rank);
        }
    }
    let ranks: Vec<u32> = if use_dense {
        syms.iter().map(|&id| dense[id as usize]).collect()
    } else {
        syms.iter().map(|id| sparse[id]).collect()
    };
    // Pairs compare name then value, then the next pair; a label set that
    // is a prefix of another comes first: exactly `[u32]` order on ranks.
    let mut order: Vec<u32> = (0..found.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        ranks[found[a as usize].syms.clone()].cmp(&ranks[found[b as usize].syms.clone()])
    });
    order
}

/// Series ids below this many are selected on the calling thread only.
const PARALLEL_MIN: usize = 2048;

impl HeadQuerier<'_> {
    /// The series among `ids` with chunks overlapping the range: their
    /// symbols and chunks, read under their shard locks.
    fn gather(&self, ids: &[u32], tombstones: &Tombstones) -> Gathered {
        let mut g = Gathered::default();
        for &id in ids {
            let shard = self.head.shard(id).lock();
            let Some(s) = shard.series.get(&id) else {
                continue;
            };
            let deleted = tombstones.get(id as u64).cloned().map(Arc::new);
            let first = g.chunks.len();
            for c in &s.closed {
                let (lo, hi) = c.bounds();
                if hi < self.mint || lo > self.maxt {
                    continue;
                }
                g.chunks.push(match c {
                    ClosedChunk::Mapped { chunk_ref, .. } => Pending::Mapped(*chunk_ref, lo, hi),
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
                    g.chunks.push(Pending::Ready(ChunkSpan {
                        mint: open.min_time(),
                        maxt: open.max_time(),
                        chunk: Chunk::new(Encoding::Xor, ChunkBytes::from_vec(open.encode())),
                        deleted: deleted.clone(),
                    }));
                }
            }
            if g.chunks.len() == first {
                continue;
            }
            let at = g.syms.len();
            g.syms.extend_from_slice(&s.labels);
            g.found.push(Found {
                syms: at..g.syms.len(),
                chunks: first..g.chunks.len(),
                deleted,
            });
        }
        g
    }

    /// The series `order[..]` of `g`: labels built, memory-mapped chunks
    /// read (outside any shard lock).
    fn build(&self, g: &Gathered, order: &[u32]) -> Result<Vec<Series>> {
        let mut out = Vec::with_capacity(order.len());
        for &i in order {
            let f = &g.found[i as usize];
            let labels = self.head.labels_of(&g.syms[f.syms.clone()]);
            let mut spans = Vec::with_capacity(f.chunks.len());
            for p in &g.chunks[f.chunks.clone()] {
                spans.push(match p {
                    Pending::Ready(span) => span.clone(),
                    &Pending::Mapped(r, mint, maxt) => ChunkSpan {
                        mint,
                        maxt,
                        chunk: self.head.chunks.chunk(r)?,
                        deleted: f.deleted.clone(),
                    },
                });
            }
            out.push(Series::new(labels, spans, self.mint, self.maxt));
        }
        Ok(out)
    }
}

impl Querier for HeadQuerier<'_> {
    /// Of the hints only `workers` is used: the chunks are at hand. Series
    /// are gathered and built on up to that many threads.
    fn select(&self, hints: &SelectHints, matchers: &[Matcher]) -> Result<SeriesSet> {
        let ids: Vec<u32> = self.head.postings_for(matchers)?.iter().collect();
        let tombstones = self.head.tombstones.read();
        let workers = &hints.workers;
        let mut g = Gathered::default();
        for part in workers.map_ranges(ids.len(), PARALLEL_MIN, |r| {
            self.gather(&ids[r], &tombstones)
        })? {
            g.append(part);
        }
        drop(tombstones);
        let order = label_order(&g.found, &g.syms, self.head);
        let mut series = Vec::with_capacity(order.len());
        for part in workers.map_ranges(order.len(), PARALLEL_MIN, |r| self.build(&g, &order[r]))? {
            series.extend(part?);
        }
        Ok(SeriesSet {
            series,
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

    /// A head holding `sets` (in the given order), one sample each.
    fn head_of(sets: &[Labels]) -> (tempfile::TempDir, Head) {
        let dir = tempfile::tempdir().unwrap();
        let (head, _) = Head::open(dir.path(), super::super::HeadOptions::default()).unwrap();
        let mut app = head.appender();
        for l in sets {
            app.append(l, 0, 1.0).unwrap();
        }
        app.commit().unwrap();
        (dir, head)
    }

    /// Every series of `head` as `select` returns them with `threads`.
    fn select_all(head: &Head, threads: usize) -> Vec<Labels> {
        let hints = SelectHints {
            workers: crate::Workers::new(threads),
            ..SelectHints::default()
        };
        let all = Matcher::new(crate::MatchOp::RegexMatch, "zz", ".*").unwrap();
        let q = head.querier(i64::MIN, i64::MAX).unwrap();
        q.select(&hints, &[all])
            .unwrap()
            .series
            .into_iter()
            .map(|s| s.labels)
            .collect()
    }

    /// The deterministic shuffle of `sets` by `seed`.
    fn shuffled(sets: &[Labels], seed: u64) -> Vec<Labels> {
        let mut out = sets.to_vec();
        let mut x = seed | 1;
        for i in (1..out.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.swap(i, (x % (i as u64 + 1)) as usize);
        }
        out
    }

    proptest! {
        #[test]
        fn select_orders_series_as_labels_order(sets in label_sets(), seed in any::<u64>()) {
            let sets: Vec<Labels> = sets.into_iter().filter(|l| !l.is_empty()).collect();
            let (_dir, head) = head_of(&shuffled(&sets, seed));
            prop_assert_eq!(select_all(&head, 1), sets.clone());
            // Ranks kept in a hash map give the same order.
            let q = HeadQuerier::new(&head, i64::MIN, i64::MAX);
            let ids: Vec<u32> = head.postings_for(&[]).unwrap().iter().collect();
            let g = q.gather(&ids, &head.tombstones.read());
            let sparse = label_order_ranked(&g.found, &g.syms, &head, false);
            prop_assert_eq!(sparse, label_order_ranked(&g.found, &g.syms, &head, true));
        }
    }

    #[test]
    fn threads_select_the_same_series_in_the_same_order() {
        let sets: Vec<Labels> = (0..3 * PARALLEL_MIN)
            .map(|i| {
                Labels::from_pairs([
                    ("__name__", format!("m{}", i % 3)),
                    ("a", format!("{}", i % 7)),
                    ("b", format!("v{i}")),
                ])
            })
            .collect();
        let mut sorted = sets.clone();
        sorted.sort();
        let (_dir, head) = head_of(&shuffled(&sets, 42));
        assert_eq!(select_all(&head, 1), sorted);
        assert_eq!(select_all(&head, 2), sorted);
        assert_eq!(select_all(&head, 3), sorted);
    }
}
