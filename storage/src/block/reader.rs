//! An immutable on-disk block opened read-only: index and chunks through
//! mmap, tombstones in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use super::meta::BlockMeta;
use super::{CHUNKS_DIRNAME, INDEX_FILENAME, TOMBSTONES_FILENAME};
use crate::chunk::ChunkFileReader;
use crate::error::Result;
use crate::index::{postings_for_matchers, IndexReader, PostingsSource};
use crate::labels::Labels;
use crate::labels::Matcher;
use crate::querier::{
    label_names_of, label_values_of, ChunkSpan, Querier, SelectHints, Series, SeriesSet, Warnings,
};
use crate::tombstones::{Interval, Tombstones};
use crate::vfs::Fs;

/// An open block. Cheap to share behind an `Arc`; the mmaps stay valid after
/// the directory is deleted, so queries in flight finish safely.
pub struct Block {
    /// Where tombstones are written.
    fs: Fs,
    dir: PathBuf,
    meta: BlockMeta,
    index: IndexReader,
    chunks: ChunkFileReader,
    tombstones: RwLock<Arc<Tombstones>>,
    size: u64,
}

impl Block {
    /// Opens `dir`, checking meta.json, the index checksums and every chunk
    /// segment header. Errors name the offending file. Later writes (of
    /// tombstones) go through `fs`.
    pub fn open(fs: Fs, dir: &Path) -> Result<Block> {
        let meta = BlockMeta::read(dir)?;
        let index = IndexReader::open(&dir.join(INDEX_FILENAME))?;
        let chunks = ChunkFileReader::open(&dir.join(CHUNKS_DIRNAME), false)?;
        let tombstones = Tombstones::read(&dir.join(TOMBSTONES_FILENAME))?;
        let size = crate::fs::dir_size(dir);
        Ok(Block {
            fs,
            dir: dir.to_path_buf(),
            meta,
            index,
            chunks,
            tombstones: RwLock::new(Arc::new(tombstones)),
            size,
        })
    }

    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.size
    }

    pub fn num_tombstones(&self) -> usize {
        self.tombstones.read().len()
    }

    /// Whether the block holds data in `[mint, maxt]` (its max time is exclusive).
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.min_time <= maxt && self.meta.max_time > mint
    }

    /// Records deletion of the matching series' samples in `[mint, maxt]` in
    /// the block's tombstones file (written atomically). Returns the number
    /// of series affected.
    pub fn delete(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<u64> {
        let ids = postings_for_matchers(&self.index, matchers)?;
        if ids.is_empty() || !self.overlaps(mint, maxt) {
            return Ok(0);
        }
        let mut guard = self.tombstones.write();
        let mut ts = (**guard).clone();
        for id in ids.iter() {
            ts.add(id as u64, Interval { mint, maxt });
        }
        ts.write(self.fs, &self.dir.join(TOMBSTONES_FILENAME))?;
        *guard = Arc::new(ts);
        Ok(ids.len())
    }

    /// A querier over `[mint, maxt]` of this block.
    pub fn querier(self: &Arc<Self>, mint: i64, maxt: i64) -> BlockQuerier {
        BlockQuerier {
            block: Arc::clone(self),
            tombstones: Arc::clone(&self.tombstones.read()),
            mint,
            maxt,
        }
    }
}

/// Reads one block; series come out in label order because block series ids
/// are assigned in that order.
pub struct BlockQuerier {
    block: Arc<Block>,
    tombstones: Arc<Tombstones>,
    mint: i64,
    maxt: i64,
}

impl BlockQuerier {
    /// Label sets of the series matching `matchers`.
    fn matching(&self, matchers: &[Matcher]) -> Result<Vec<Labels>> {
        self.ids(matchers)?
            .iter()
            .map(|id| self.block.index.series(id).map(|(l, _)| l))
            .collect()
    }

    fn ids(&self, matchers: &[Matcher]) -> Result<roaring::RoaringBitmap> {
        if matchers.is_empty() {
            return self.block.index.all_postings();
        }
        postings_for_matchers(&self.block.index, matchers)
    }
}

impl Querier for BlockQuerier {
    /// Hints are not needed: the chunks are at hand.
    fn select(&self, _hints: &SelectHints, matchers: &[Matcher]) -> Result<SeriesSet> {
        let mut out = Vec::new();
        if !self.block.overlaps(self.mint, self.maxt) {
            return Ok(SeriesSet::default());
        }
        for id in self.ids(matchers)?.iter() {
            let (labels, metas) = self.block.index.series(id)?;
            let deleted = self.tombstones.get(id as u64).cloned().map(Arc::new);
            let mut spans = Vec::new();
            for m in metas {
                if m.maxt < self.mint || m.mint > self.maxt {
                    continue;
                }
                spans.push(ChunkSpan {
                    mint: m.mint,
                    maxt: m.maxt,
                    chunk: self.block.chunks.chunk(m.chunk_ref)?,
                    deleted: deleted.clone(),
                });
            }
            if !spans.is_empty() {
                out.push(Series::new(labels, spans, self.mint, self.maxt));
            }
        }
        Ok(SeriesSet {
            series: out,
            warnings: Warnings::new(),
        })
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<(Vec<String>, Warnings)> {
        if matchers.is_empty() {
            return Ok((self.block.index.label_names()?, Warnings::new()));
        }
        Ok((label_names_of(self.matching(matchers)?), Warnings::new()))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<(Vec<String>, Warnings)> {
        if matchers.is_empty() {
            return Ok((self.block.index.label_values(name)?, Warnings::new()));
        }
        Ok((
            label_values_of(self.matching(matchers)?, name),
            Warnings::new(),
        ))
    }
}
