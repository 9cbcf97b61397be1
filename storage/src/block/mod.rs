//! Immutable on-disk blocks: one directory per block holding `meta.json`,
//! the `index`, chunk segments under `chunks/` and optional `tombstones`.
//! The directory layout and its crash-safety protocol (temp directory plus
//! rename on creation and deletion) are specified in `docs/formats/block.md`.

pub mod meta;
mod reader;
pub mod ulid;
mod writer;

pub use meta::{BlockDesc, BlockMeta, BlockStats, Compaction, META_FILENAME, META_VERSION};
pub use reader::{Block, BlockQuerier};
pub use ulid::{ParseUlidError, Ulid};
pub use writer::write_block;

/// Suffix of a block directory that is still being written.
pub const TMP_CREATION_SUFFIX: &str = ".tmp-for-creation";
/// Suffix of a block directory that is being deleted.
pub const TMP_DELETION_SUFFIX: &str = ".tmp-for-deletion";
/// Directory holding chunk segment files inside a block.
pub const CHUNKS_DIRNAME: &str = "chunks";
/// Index file name inside a block.
pub const INDEX_FILENAME: &str = "index";
/// Tombstones file name inside a block.
pub const TOMBSTONES_FILENAME: &str = "tombstones";
