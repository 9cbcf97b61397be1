//! `meta.json`: a block's ID, time range, statistics and compaction lineage.
//! Format: `docs/formats/meta.json.md`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ulid::Ulid;
use crate::error::{Error, Result};
use crate::vfs::Fs;

/// Name of the metadata file inside a block directory.
pub const META_FILENAME: &str = "meta.json";
/// The only `version` this code reads and writes.
pub const META_VERSION: u32 = 1;

/// Contents of a block's `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockMeta {
    pub ulid: Ulid,
    /// Smallest sample timestamp, inclusive.
    #[serde(rename = "minTime")]
    pub min_time: i64,
    /// End of the block's range, exclusive.
    #[serde(rename = "maxTime")]
    pub max_time: i64,
    #[serde(default)]
    pub stats: BlockStats,
    pub compaction: Compaction,
    pub version: u32,
}

/// Counts describing a block's contents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlockStats {
    #[serde(rename = "numSamples")]
    pub num_samples: u64,
    #[serde(rename = "numSeries")]
    pub num_series: u64,
    #[serde(rename = "numChunks")]
    pub num_chunks: u64,
    /// Deletion intervals recorded in the block's `tombstones` file.
    #[serde(rename = "numTombstones")]
    pub num_tombstones: u64,
}

/// Where a block's data came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compaction {
    /// 1 for a block cut from the head; 1 + max parent level otherwise.
    pub level: u32,
    /// The level-1 blocks whose data this block holds, sorted ascending.
    #[serde(default)]
    pub sources: Vec<Ulid>,
    /// The blocks merged into this one; empty for level 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<BlockDesc>,
}

/// A reference to another block in [`Compaction::parents`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDesc {
    pub ulid: Ulid,
    #[serde(rename = "minTime")]
    pub min_time: i64,
    #[serde(rename = "maxTime")]
    pub max_time: i64,
}

impl BlockMeta {
    /// Meta of a fresh level-1 block (cut from the head) covering
    /// `[min_time, max_time)`.
    pub fn new_level1(ulid: Ulid, min_time: i64, max_time: i64, stats: BlockStats) -> Self {
        BlockMeta {
            ulid,
            min_time,
            max_time,
            stats,
            compaction: Compaction {
                level: 1,
                sources: vec![ulid],
                parents: Vec::new(),
            },
            version: META_VERSION,
        }
    }

    /// Meta of a block produced by compacting `parents` (time range is the
    /// union of theirs; stats left for the caller to fill in).
    pub fn compacted(ulid: Ulid, parents: &[BlockMeta], stats: BlockStats) -> Self {
        let min_time = parents.iter().map(|m| m.min_time).min().unwrap_or(0);
        let max_time = parents.iter().map(|m| m.max_time).max().unwrap_or(0);
        let level = parents
            .iter()
            .map(|m| m.compaction.level)
            .max()
            .unwrap_or(0)
            + 1;
        let mut sources: Vec<Ulid> = parents
            .iter()
            .flat_map(|m| m.compaction.sources.iter().copied())
            .collect();
        sources.sort_unstable();
        sources.dedup();
        BlockMeta {
            ulid,
            min_time,
            max_time,
            stats,
            compaction: Compaction {
                level,
                sources,
                parents: parents.iter().map(BlockMeta::desc).collect(),
            },
            version: META_VERSION,
        }
    }

    /// This block as a parent reference.
    pub fn desc(&self) -> BlockDesc {
        BlockDesc {
            ulid: self.ulid,
            min_time: self.min_time,
            max_time: self.max_time,
        }
    }

    /// Whether `[min_time, max_time)` intersects the other block's range.
    pub fn overlaps(&self, other: &BlockMeta) -> bool {
        self.min_time < other.max_time && other.min_time < self.max_time
    }

    /// Reads and validates `dir/meta.json`.
    pub fn read(dir: &Path) -> Result<BlockMeta> {
        let path = dir.join(META_FILENAME);
        let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        Self::decode(&data).map_err(|detail| Error::corruption(&path, detail))
    }

    fn decode(data: &[u8]) -> Result<BlockMeta, String> {
        let meta: BlockMeta =
            serde_json::from_slice(data).map_err(|e| format!("invalid JSON: {e}"))?;
        if meta.version != META_VERSION {
            return Err(format!(
                "unsupported version {} (want {META_VERSION})",
                meta.version
            ));
        }
        if meta.min_time > meta.max_time {
            return Err(format!(
                "minTime {} after maxTime {}",
                meta.min_time, meta.max_time
            ));
        }
        Ok(meta)
    }

    /// Writes `dir/meta.json` atomically (`meta.tmp`, fsync, rename, fsync dir).
    pub fn write(&self, fs: Fs, dir: &Path) -> Result<()> {
        let path = dir.join(META_FILENAME);
        let mut json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
        json.push(b'\n');
        fs.write_atomic(&path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BlockMeta {
        let a = BlockMeta::new_level1(Ulid::from_parts(1, 1), 0, 7_200_000, BlockStats::default());
        let b = BlockMeta::new_level1(
            Ulid::from_parts(2, 2),
            7_200_000,
            14_400_000,
            BlockStats::default(),
        );
        BlockMeta::compacted(
            Ulid::from_parts(3, 3),
            &[a, b],
            BlockStats {
                num_samples: 100,
                num_series: 10,
                num_chunks: 20,
                num_tombstones: 1,
            },
        )
    }

    #[test]
    fn roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let m = sample();
        assert_eq!(m.compaction.level, 2);
        assert_eq!(m.min_time, 0);
        assert_eq!(m.max_time, 14_400_000);
        assert_eq!(m.compaction.parents.len(), 2);
        m.write(Fs::os(), dir.path()).unwrap();
        assert_eq!(BlockMeta::read(dir.path()).unwrap(), m);
        assert!(!dir.path().join("meta.tmp").exists());

        let l1 = BlockMeta::new_level1(Ulid::new(), 5, 10, BlockStats::default());
        l1.write(Fs::os(), dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(META_FILENAME)).unwrap();
        assert!(!text.contains("parents"), "empty parents omitted: {text}");
        assert!(text.contains("\"minTime\": 5"));
        assert!(text.contains(&format!("\"{}\"", l1.ulid)));
        assert_eq!(BlockMeta::read(dir.path()).unwrap(), l1);
    }

    #[test]
    fn reads_prometheus_style_meta() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{
            "ulid": "01BKGV7JBM69T2G1BGBGM6KB12",
            "minTime": 1000, "maxTime": 2000,
            "stats": {"numSamples": 5},
            "compaction": {"level": 1, "sources": ["01BKGV7JBM69T2G1BGBGM6KB12"]},
            "version": 1, "extra": true
        }"#;
        std::fs::write(dir.path().join(META_FILENAME), text).unwrap();
        let m = BlockMeta::read(dir.path()).unwrap();
        assert_eq!(m.ulid.to_string(), "01BKGV7JBM69T2G1BGBGM6KB12");
        assert_eq!(m.stats.num_samples, 5);
        assert_eq!(m.stats.num_series, 0);
        assert!(m.compaction.parents.is_empty());
    }

    fn expect_corruption(dir: &Path, text: &str) -> String {
        std::fs::write(dir.join(META_FILENAME), text).unwrap();
        match BlockMeta::read(dir) {
            Err(e @ Error::Corruption { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("meta.json"), "{msg}");
                msg
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn corrupt_meta() {
        let dir = tempfile::tempdir().unwrap();
        expect_corruption(dir.path(), "{\"ulid\": ");
        expect_corruption(dir.path(), "not json");
        let good = serde_json::to_string(&sample()).unwrap();
        let msg = expect_corruption(dir.path(), &good.replace("\"version\":1", "\"version\":2"));
        assert!(msg.contains("version"), "{msg}");
        expect_corruption(dir.path(), &good.replace("\"ulid\":\"", "\"ulid\":\"X"));
        let bad_range = serde_json::to_string(&BlockMeta {
            min_time: 10,
            max_time: 5,
            ..sample()
        })
        .unwrap();
        expect_corruption(dir.path(), &bad_range);
    }

    #[test]
    fn missing_meta_is_io_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(BlockMeta::read(dir.path()), Err(Error::Io { .. })));
    }

    #[test]
    fn overlaps() {
        let m = |a, b| BlockMeta::new_level1(Ulid::from_parts(0, 0), a, b, BlockStats::default());
        assert!(m(0, 10).overlaps(&m(5, 15)));
        assert!(!m(0, 10).overlaps(&m(10, 20)));
        assert!(m(0, 100).overlaps(&m(10, 20)));
    }
}
