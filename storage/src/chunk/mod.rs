//! Chunks: compressed runs of up to 120 samples of one series.

mod bytes;

pub use bytes::ChunkBytes;
