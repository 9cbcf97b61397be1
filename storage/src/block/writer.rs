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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Block;
    use crate::chunk::Encoding;
    use crate::querier::{Querier, SelectHints};
    use crate::{Label, Labels};
    use std::sync::Arc;

    fn labels(name: &str) -> Labels {
        Labels::from_sorted(vec![Label {
            name: "__name__".into(),
            value: name.into(),
        }])
    }

    /// Series of every shape blocks meet, 300 samples each (three chunks):
    /// decimal gauges and counters, noise (`Alp` with an XOR value column:
    /// its timestamps still pack), the floats that only bit-exact storage
    /// keeps, and an accelerating scrape interval, whose delta-of-delta
    /// stays small while its deltas spread (stored `Xor`).
    fn shapes() -> Vec<(Labels, Vec<(i64, f64)>)> {
        let t = |i: i64| 1_700_000_000_000 + i * 15_000 + i % 3;
        let mut noise = 0x9e37_79b9_7f4a_7c15u64;
        let specials = [
            crate::stale_nan(),
            f64::NAN,
            f64::from_bits(0x7ff8_dead_beef_0001),
            -0.0,
            f64::INFINITY,
            f64::MIN_POSITIVE / 3.0,
            1e300,
        ];
        let shape = |name: &str, f: &mut dyn FnMut(i64) -> f64| {
            (labels(name), (0..300).map(|i| (t(i), f(i))).collect())
        };
        vec![
            shape("a_gauge", &mut |i| (i * 37 % 1000) as f64 / 100.0),
            shape("b_counter", &mut |i| (i * i) as f64),
            shape("c_noise", &mut |_| {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                f64::from_bits(noise >> 2)
            }),
            shape("d_specials", &mut |i| {
                if i % 10 == 0 {
                    specials[(i / 10) as usize % specials.len()]
                } else {
                    i as f64 * 0.5
                }
            }),
            (
                labels("e_drift"),
                (0..300).map(|i| (i * 15_000 + i * i, 1.0)).collect(),
            ),
        ]
    }

    fn bits(s: &[(i64, f64)]) -> Vec<(i64, u64)> {
        s.iter().map(|&(t, v)| (t, v.to_bits())).collect()
    }

    /// A series as read back: labels, encodings of its chunks, samples.
    type Read = (Labels, Vec<Encoding>, Vec<(i64, u64)>);

    /// Every series of the block at `dir` (samples read in bulk and by
    /// iteration, which must agree).
    fn read(dir: &Path) -> Vec<Read> {
        let b = Arc::new(Block::open(Fs::os(), dir).unwrap());
        let set = b
            .querier(i64::MIN, i64::MAX)
            .select(&SelectHints::default(), &[])
            .unwrap();
        set.series
            .into_iter()
            .map(|s| {
                let mut bulk = Vec::new();
                s.read_into(&mut bulk);
                let iterated: Vec<_> = s.iter().collect();
                assert_eq!(bits(&bulk), bits(&iterated), "{}", s.labels);
                let encodings = s.spans().iter().map(|c| c.chunk.encoding).collect();
                (s.labels.clone(), encodings, bits(&bulk))
            })
            .collect()
    }

    #[test]
    fn blocks_store_the_smaller_encoding_and_give_back_the_same_bits() {
        let dir = tempfile::tempdir().unwrap();
        let input = shapes();
        let series = input
            .iter()
            .map(|(l, s)| Series::from_samples(l.clone(), s, i64::MIN, i64::MAX));
        let meta = write_block(Fs::os(), dir.path(), i64::MIN, i64::MAX, &[], series)
            .unwrap()
            .unwrap();
        let first = read(&dir.path().join(meta.ulid.to_string()));
        assert_eq!(first.len(), input.len());
        for ((l, want), (got_l, encodings, got)) in input.iter().zip(&first) {
            assert_eq!(l, got_l);
            assert_eq!(&bits(want), got, "{l}");
            assert_eq!(encodings.len(), 3, "{l}");
            let expected = if l.get("__name__") == "e_drift" {
                Encoding::Xor
            } else {
                Encoding::Alp
            };
            assert!(
                encodings.iter().all(|e| *e == expected),
                "{l}: {encodings:?}"
            );
        }

        // Compacting that block: chunks kept whole (`Alp` stays `Alp`), or,
        // when the range cuts them, re-cut and re-encoded; the bits stay.
        let src = Arc::new(Block::open(Fs::os(), &dir.path().join(meta.ulid.to_string())).unwrap());
        for (mint, maxt) in [(i64::MIN, i64::MAX), (input[0].1[50].0, input[0].1[250].0)] {
            let set = src
                .querier(mint, maxt - 1)
                .select(&SelectHints::default(), &[])
                .unwrap();
            let out = tempfile::tempdir().unwrap();
            let m2 = write_block(
                Fs::os(),
                out.path(),
                mint,
                maxt,
                std::slice::from_ref(&meta),
                set.series,
            )
            .unwrap()
            .unwrap();
            let again = read(&out.path().join(m2.ulid.to_string()));
            for ((l, want), (_, encodings, got)) in input.iter().zip(&again) {
                let want: Vec<(i64, f64)> = want
                    .iter()
                    .copied()
                    .filter(|s| s.0 >= mint && s.0 < maxt)
                    .collect();
                assert_eq!(&bits(&want), got, "{l} in [{mint}, {maxt})");
                if mint == i64::MIN {
                    assert_eq!(encodings, &first.iter().find(|f| &f.0 == l).unwrap().1);
                }
            }
        }
    }
}
