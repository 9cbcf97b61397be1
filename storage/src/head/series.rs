//! One in-memory series: its interned labels, the refs of its full chunks
//! (which live in the head-chunks file, not on the heap) and its open chunk.

use crate::chunk::MAX_SAMPLES_PER_CHUNK;
use crate::chunk::{
    Chunk, ChunkBytes, ChunkRef, Encoding, HeadChunkFile, HeadChunkMeta, XorBuilder,
};
use crate::error::{Error, Result};

/// A full chunk that has left the open state.
pub(crate) enum ClosedChunk {
    /// Written to the head-chunks file; only the reference stays in memory.
    Mapped {
        chunk_ref: ChunkRef,
        mint: i64,
        maxt: i64,
    },
    /// Kept on the heap because writing it out failed (e.g. disk full); it is
    /// still served and still recoverable from the WAL.
    Memory { chunk: Chunk, mint: i64, maxt: i64 },
}

impl ClosedChunk {
    pub fn bounds(&self) -> (i64, i64) {
        match self {
            ClosedChunk::Mapped { mint, maxt, .. } | ClosedChunk::Memory { mint, maxt, .. } => {
                (*mint, *maxt)
            }
        }
    }
}

/// What happened to an appended sample that was not rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Stored.
    New,
    /// Same timestamp and same value bits as the last sample: nothing to do.
    Duplicate,
}

pub(crate) struct MemSeries {
    /// Flattened (name, value) symbol ids, sorted by name.
    pub labels: Box<[u32]>,
    pub closed: Vec<ClosedChunk>,
    pub open: Option<XorBuilder>,
    /// Timestamp at which the open chunk must be cut (next block-range boundary).
    open_end: i64,
    pub last_t: i64,
    last_v_bits: u64,
    /// Whether any sample was ever appended (`last_t` alone cannot tell,
    /// since every i64 is a valid timestamp).
    any: bool,
    /// Whether the series record is in the WAL; until then every committing
    /// appender that touches the series logs it again.
    pub wal_logged: bool,
    /// Appenders holding uncommitted samples for this series; garbage
    /// collection leaves such series alone.
    pub pending: u32,
}

impl MemSeries {
    pub fn new(labels: Box<[u32]>) -> Self {
        MemSeries {
            labels,
            closed: Vec::new(),
            open: None,
            open_end: i64::MIN,
            last_t: i64::MIN,
            last_v_bits: 0,
            any: false,
            wal_logged: false,
            pending: 0,
        }
    }

    pub fn has_samples(&self) -> bool {
        self.any
    }

    /// Checks whether a sample could be appended, without changing anything.
    pub fn check(&self, t: i64, v: f64) -> Result<Appended> {
        check_after(self.last_t, self.last_v_bits, self.has_samples(), t, v)
    }

    /// Appends a sample, cutting the open chunk at 120 samples or at the
    /// block-range boundary so no chunk straddles two blocks.
    pub fn append(
        &mut self,
        id: u32,
        t: i64,
        v: f64,
        block_range: i64,
        file: &HeadChunkFile,
    ) -> Result<Appended> {
        if self.check(t, v)? == Appended::Duplicate {
            return Ok(Appended::Duplicate);
        }
        let full = self
            .open
            .as_ref()
            .is_some_and(|o| o.num_samples() >= MAX_SAMPLES_PER_CHUNK || t >= self.open_end);
        if full {
            self.cut(id, file);
        }
        let open = self.open.get_or_insert_with(|| {
            self.open_end = (t.div_euclid(block_range) + 1).saturating_mul(block_range);
            XorBuilder::new()
        });
        open.append(t, v);
        self.last_t = t;
        self.last_v_bits = v.to_bits();
        self.any = true;
        Ok(Appended::New)
    }

    /// Moves the open chunk out of the heap into the head-chunks file.
    pub fn cut(&mut self, id: u32, file: &HeadChunkFile) {
        let Some(open) = self.open.take() else { return };
        if open.num_samples() == 0 {
            return;
        }
        let (mint, maxt) = (open.min_time(), open.max_time());
        let data = open.encode();
        let meta = HeadChunkMeta {
            series_ref: id as u64,
            mint,
            maxt,
        };
        match file.write(meta, &data, Encoding::Xor) {
            Ok(chunk_ref) => self.closed.push(ClosedChunk::Mapped {
                chunk_ref,
                mint,
                maxt,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "head chunk kept in memory");
                self.closed.push(ClosedChunk::Memory {
                    chunk: Chunk::new(Encoding::Xor, ChunkBytes::from_vec(data)),
                    mint,
                    maxt,
                });
            }
        }
    }

    /// Replay: takes chunks a previous run wrote to the head-chunks file
    /// (`(ref, mint, maxt)`, oldest first) as this series' full chunks, so
    /// the WAL samples they hold need not be appended again. The series must
    /// be empty. The last sample's value is read by [`MemSeries::finish_replay`]
    /// only if no WAL sample follows.
    pub fn attach_mapped(&mut self, chunks: &[(ChunkRef, i64, i64)]) {
        debug_assert!(!self.any && self.closed.is_empty());
        let Some(&(_, _, maxt)) = chunks.last() else {
            return;
        };
        self.closed = chunks
            .iter()
            .map(|&(chunk_ref, mint, maxt)| ClosedChunk::Mapped {
                chunk_ref,
                mint,
                maxt,
            })
            .collect();
        self.last_t = maxt;
        self.any = true;
    }

    /// Replay: whether a WAL sample at `t` is already held. While the
    /// series holds only chunks taken by [`MemSeries::attach_mapped`] (no
    /// open chunk yet), a sample inside one of their time ranges is. One at
    /// or before their end but in no chunk's range shows that a chunk is
    /// missing (a damaged or deleted record): the chunks from there on are
    /// dropped and the caller appends the WAL samples, so a bad chunk file
    /// costs replay time, never samples.
    pub fn in_loaded_chunk(&mut self, t: i64, file: &HeadChunkFile) -> bool {
        if self.open.is_some() || !self.any || t > self.last_t {
            return false;
        }
        let i = self.closed.partition_point(|c| c.bounds().1 < t);
        if self.closed.get(i).is_some_and(|c| c.bounds().0 <= t) {
            return true;
        }
        self.closed.truncate(i);
        self.any = false;
        self.last_t = i64::MIN;
        self.finish_replay(file);
        false
    }

    /// After replay: when the newest sample is in a chunk taken by
    /// [`MemSeries::attach_mapped`], reads its value (the duplicate check of
    /// the next append compares it). Keeps the time of the chunk's end if
    /// the chunk cannot be read.
    pub fn finish_replay(&mut self, file: &HeadChunkFile) {
        if self.open.is_some() {
            return;
        }
        let Some(ClosedChunk::Mapped {
            chunk_ref, maxt, ..
        }) = self.closed.last()
        else {
            return;
        };
        self.any = true;
        self.last_t = *maxt;
        match file.chunk(*chunk_ref).map(|c| c.iter().last()) {
            Ok(Some((t, v))) => {
                self.last_t = t;
                self.last_v_bits = v.to_bits();
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "head chunk unreadable after replay"),
        }
    }

    /// Drops chunks that end before `mint`. Returns whether the series is now
    /// empty (and may be garbage collected).
    pub fn truncate(&mut self, mint: i64) -> bool {
        self.closed.retain(|c| c.bounds().1 >= mint);
        if self.open.as_ref().is_some_and(|o| o.max_time() < mint) {
            self.open = None;
        }
        self.closed.is_empty() && self.open.is_none()
    }

    /// Bounds of the data held, if any.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        let first = self
            .closed
            .first()
            .map(|c| c.bounds().0)
            .or_else(|| self.open.as_ref().map(|o| o.min_time()))?;
        Some((first, self.last_t))
    }

    /// Loads what a check and an append read (see [`XorBuilder::warm`]).
    pub fn warm(&self) -> u64 {
        self.warm_check() ^ self.open.as_ref().map_or(0, XorBuilder::warm)
    }

    /// Loads what a check reads: the series, not its open chunk's bytes.
    pub fn warm_check(&self) -> u64 {
        self.last_t as u64 ^ self.last_v_bits ^ u64::from(self.pending)
    }

    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.labels.len() * 4
            + self.closed.capacity() * std::mem::size_of::<ClosedChunk>()
            + self.open.as_ref().map_or(0, |o| o.heap_bytes())
    }
}

/// Sample validation shared by the live series and an appender's pending
/// batch: timestamps must increase; an equal timestamp is accepted only with
/// a bit-identical value (and then ignored).
pub(crate) fn check_after(
    last_t: i64,
    last_bits: u64,
    has: bool,
    t: i64,
    v: f64,
) -> Result<Appended> {
    if !has || t > last_t {
        return Ok(Appended::New);
    }
    if t < last_t {
        return Err(Error::OutOfOrderSample);
    }
    if v.to_bits() == last_bits {
        Ok(Appended::Duplicate)
    } else {
        Err(Error::DuplicateSample)
    }
}
