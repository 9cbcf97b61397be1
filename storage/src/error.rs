//! The storage crate's one error type.

use std::path::{Path, PathBuf};

/// Everything that can go wrong inside the storage engine.
///
/// Append rejections (`OutOfOrderSample`, `DuplicateSample`, `OutOfBounds`,
/// `TooFarInFuture`) are
/// expected in normal operation and are counted in [`crate::Stats`]; the others
/// name the file involved so an operator can find it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corruption in {}: {detail}", path.display())]
    Corruption { path: PathBuf, detail: String },
    #[error("out of order sample")]
    OutOfOrderSample,
    #[error("duplicate sample for timestamp")]
    DuplicateSample,
    #[error("out of bounds")]
    OutOfBounds,
    /// The sample is further ahead of the server clock than the head's
    /// future grace allows; accepting it would move the head's max time and
    /// make every later sample out of bounds.
    /// Worded as Prometheus's remote-write handler words the same refusal.
    #[error("out of bounds: timestamp is too far in the future")]
    TooFarInFuture,
    #[error("invalid matcher: {0}")]
    InvalidMatcher(String),
    #[error("invalid labels: {0}")]
    InvalidLabels(String),
    #[error("storage is closed")]
    Closed,
    /// A thread helping with one query's per-series work panicked; the
    /// query fails with this instead of taking the process down.
    #[error("query worker thread panicked: {0}")]
    WorkerPanicked(String),
}

/// `Result` with the storage error as default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Bytes in `path` that fail a checksum or do not decode.
    pub fn corruption(path: impl AsRef<Path>, detail: impl Into<String>) -> Self {
        Error::Corruption {
            path: path.as_ref().to_path_buf(),
            detail: detail.into(),
        }
    }
}
