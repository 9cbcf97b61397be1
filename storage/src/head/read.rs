//! Reading the head: a [`Querier`] over the series in memory.

use std::sync::Arc;

use super::series::ClosedChunk;
use super::Head;
use crate::chunk::{Chunk, ChunkBytes, Encoding};
use crate::error::Result;
use crate::labels::{Labels, Matcher};
use crate::querier::{label_names_of, label_values_of, ChunkSpan, Querier, Queryable, Series};

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

impl Querier for HeadQuerier<'_> {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series>> {
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
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        if matchers.is_empty() {
            return Ok(self.head.postings.read().label_names());
        }
        Ok(label_names_of(self.matching(matchers)?))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        if matchers.is_empty() {
            return Ok(self.head.postings.read().label_values(name));
        }
        Ok(label_values_of(self.matching(matchers)?, name))
    }
}
