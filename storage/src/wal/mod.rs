//! The write-ahead log: every batch the head commits is appended here first,
//! so a crash loses nothing that was acknowledged (per [`SyncPolicy`]).
//!
//! A WAL directory holds numbered segment files and at most one published
//! checkpoint. [`Wal`] appends typed [`Record`]s as CRC32C-checked,
//! Snappy-compressed frames and cuts segments by size; [`replay`] reads the
//! checkpoint and then the segments back, repairing a torn tail and reporting
//! mid-log corruption; [`checkpoint()`] folds old segments into a compact
//! checkpoint so they can be deleted. The byte layout and the repair policy
//! are specified in `docs/formats/wal.md`.
//!
//! All of them frame bytes with one codec, [`frame`], which knows nothing
//! of records; [`record`] encodes and decodes the bodies it carries.
//!
//! [`WalWatcher`] tails a live WAL directory for readers that follow the
//! writer (the remote-write sender).
//!
//! Typical use: `replay` the directory into the head, then [`Wal::open`]
//! (which starts a fresh segment), then [`Wal::log`] each commit.

pub mod checkpoint;
pub mod checkpoint_dir;
pub mod frame;
pub mod reader;
pub mod record;
pub mod segment;
pub mod watcher;
pub mod writer;

pub use checkpoint::{checkpoint, CheckpointStats};
pub use checkpoint_dir::{checkpoint_name, latest_checkpoint};
pub use reader::{replay, ReadError, ReplayStats, WalReader};
pub use record::{Record, RefSample, RefSeries, RefTombstone};
pub use watcher::{SeriesMap, Start, WalPosition, WalSink, WalWatcher};
pub use writer::{SyncPolicy, Wal, WalOptions};
