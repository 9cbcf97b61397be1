//! ferroprom's storage engine.
//!
//! Samples enter through an appender into the in-memory [head](head), which
//! logs every committed batch to the [write-ahead log](wal) first. Full chunks
//! leave the heap for an mmapped head-chunks file; when the head spans 1.5×
//! the block range its oldest range is written out as an immutable
//! [block](block), and blocks are later compacted and dropped by retention.
//! Readers see head and blocks merged through one [`querier::Querier`].
//!
//! The on-disk formats are specified in `docs/formats/`.

pub mod block;
pub mod change_feed;
pub mod chunk;
pub mod compact;
mod db;
pub mod encoding;
pub mod error;
pub mod fs;
pub mod head;
pub mod index;
pub mod labels;
pub mod querier;
mod snapshot;
pub mod tombstones;
pub mod vfs;
pub mod wal;
pub mod workers;

pub use db::{Db, Options, Stats, WalReplayStatus};
pub use error::{Error, Result};
pub use labels::{Label, Labels, MatchOp, Matcher, METRIC_NAME};
pub use workers::Workers;

/// Bit pattern of the Prometheus staleness marker, a NaN that must round-trip
/// bit-exactly and stay distinct from ordinary NaNs.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as an `f64`.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is the staleness marker (and not just any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}
