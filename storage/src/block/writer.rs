//! Writing a block: chunks, index, meta.json into a temp dir, fsync, rename.

use std::path::Path;

use super::meta::{BlockMeta, BlockStats};
use super::ulid::Ulid;
use super::{CHUNKS_DIRNAME, INDEX_FILENAME, TMP_CREATION_SUFFIX};
use crate::chunk::{densest, recode, Chunk, ChunkFileWriter, MAX_SAMPLES_PER_CHUNK};
use crate::error::Result;
use crate::index::{ChunkMeta, IndexWriter};
use crate::querier::Series;
use crate::vfs::Fs;

/// Chunk segment files in blocks are cut at this size.
const SEGMENT_BYTES: u64 = 512 << 20;

/// Writes `series` (sorted by labels, restricted to `[mint, maxt)`) as a new
/// block under `parent`, through `fs`. Chunks are kept as they are when they
/// fit the range, do not overlap and carry no deletions; otherwise the
/// series is cut into new chunks (merging duplicates, dropping deleted
/// samples). Either way each chunk is stored in the smaller of the `Xor`
/// and `Alp` encodings (head chunks arrive as `Xor`). `parents` are
/// the blocks being compacted (empty for a block cut from the head). Returns
/// `None` when no sample is left to write.
pub fn write_block(
    fs: Fs,
    parent: &Path,
    mint: i64,
    maxt: i64,
    parents: &[BlockMeta],
    series: impl IntoIterator<Item = Series>,
) -> Result<Option<BlockMeta>> {
    let ulid = Ulid::new();
    let tmp = parent.join(format!("{ulid}{TMP_CREATION_SUFFIX}"));
    fs.remove_dir_all(&tmp)?;
    fs.create_dir_all(&tmp)?;
    let result =
        write_into(fs, &tmp, ulid, mint, maxt, parents, series).and_then(|meta| match meta {
            Some(meta) => {
                fs.sync_dir(&tmp)?;
                fs.publish_dir(&tmp, &parent.join(ulid.to_string()))?;
                Ok(Some(meta))
            }
            None => Ok(None),
        });
    if !matches!(result, Ok(Some(_))) {
        // A failed write (a full disk) must not leave its files behind to
        // fill the disk again; when even that fails, the next open does it.
        if let Err(e) = fs.remove_dir_all(&tmp) {
            tracing::warn!(error = %e, "could not remove an unfinished block");
        }
    }
    result
}

fn write_into(
    fs: Fs,
    dir: &Path,
    ulid: Ulid,
    mint: i64,
    maxt: i64,
    parents: &[BlockMeta],
    series: impl IntoIterator<Item = Series>,
) -> Result<Option<BlockMeta>> {
    let mut chunks = ChunkFileWriter::create(fs, &dir.join(CHUNKS_DIRNAME), false, SEGMENT_BYTES)?;
    let mut index = IndexWriter::create(fs, &dir.join(INDEX_FILENAME))?;
    let mut stats = BlockStats::default();
    let mut metas = Vec::new();
    for s in series {
        metas.clear();
        for (lo, hi, chunk) in chunks_in_range(&s, mint, maxt - 1) {
            stats.num_samples += chunk.num_samples() as u64;
            stats.num_chunks += 1;
            let chunk_ref = chunks.write(None, &chunk)?;
            metas.push(ChunkMeta {
                mint: lo,
                maxt: hi,
                chunk_ref,
            });
        }
        if metas.is_empty() {
            continue;
        }
        index.add_series(&s.labels, &metas)?;
        stats.num_series += 1;
    }
    if stats.num_series == 0 {
        return Ok(None);
    }
    chunks.finish()?;
    index.finish()?;
    let mut meta = if parents.is_empty() {
        BlockMeta::new_level1(ulid, mint, maxt, stats)
    } else {
        BlockMeta::compacted(ulid, parents, stats)
    };
    meta.min_time = mint;
    meta.max_time = maxt;
    meta.write(fs, dir)?;
    Ok(Some(meta))
}

/// The chunks to store for `s` within `[mint, maxt]`.
fn chunks_in_range(s: &Series, mint: i64, maxt: i64) -> Vec<(i64, i64, Chunk)> {
    let spans = s.spans();
    let clean = spans
        .iter()
        .all(|c| c.mint >= mint && c.maxt <= maxt && c.deleted.is_none())
        && spans.windows(2).all(|w| w[0].maxt < w[1].mint);
    if clean {
        return spans
            .iter()
            .map(|c| (c.mint, c.maxt, recode(&c.chunk)))
            .collect();
    }
    let samples: Vec<(i64, f64)> = s.iter().filter(|&(t, _)| t >= mint && t <= maxt).collect();
    samples
        .chunks(MAX_SAMPLES_PER_CHUNK)
        .map(|c| (c[0].0, c[c.len() - 1].0, densest(c)))
        .collect()
}
