//! Chunks: compressed runs of up to 120 samples of one series.
//!
//! Byte layouts: `docs/formats/chunks.md` (one chunk) and
//! `docs/formats/chunk-files.md` (segment files holding many).
//!
//! Two encodings: the head appends to `Xor` chunks (`xor/`); blocks keep
//! each chunk in whichever of `Xor` and `Alp` (`alp/`) is smaller
//! (`recode.rs`). Readers take both.

mod alp;
mod bstream;
mod bytes;
mod file;
mod head_file;
mod iter;
mod recode;
#[cfg(test)]
mod testing;
mod xor;

pub use alp::{encode as encode_alp, AlpIter};
pub use bytes::ChunkBytes;
pub use file::{ChunkFileReader, ChunkFileWriter, ChunkRef, HeadChunkMeta};
pub use head_file::{HeadChunkFile, LoadedChunk, HEAD_SEGMENT_BYTES};
pub use iter::ChunkIter;
pub use recode::{densest, recode};
pub use xor::{XorBuilder, XorIter};

/// How a chunk's bytes are encoded; stored as one byte next to the chunk.
/// The byte is the version: an encoding's bytes never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Encoding {
    /// Columnar Gorilla: delta-of-delta timestamps, XOR values.
    Xor = 1,
    /// Bit-packed columns: timestamps as integers, values as scaled
    /// decimals (with exceptions) or XOR.
    Alp = 2,
}

impl Encoding {
    pub fn from_u8(b: u8) -> Option<Encoding> {
        match b {
            1 => Some(Encoding::Xor),
            2 => Some(Encoding::Alp),
            _ => None,
        }
    }
}

/// Samples after which the head seals a chunk and starts a new one.
pub const MAX_SAMPLES_PER_CHUNK: usize = 120;

/// An immutable encoded chunk.
#[derive(Clone, Debug)]
pub struct Chunk {
    pub encoding: Encoding,
    pub data: ChunkBytes,
}

impl Chunk {
    pub fn new(encoding: Encoding, data: ChunkBytes) -> Chunk {
        Chunk { encoding, data }
    }

    /// Validates the header (sample count, column lengths) so iteration can
    /// be infallible.
    pub fn validate(&self) -> Result<(), String> {
        match self.encoding {
            Encoding::Xor => xor::parse_header(self.data.as_slice()).map(|_| ()),
            Encoding::Alp => alp::parse_header(self.data.as_slice()).map(|_| ()),
        }
    }

    /// The sample count from the header, without decoding (both encodings
    /// start with it); 0 if the header is unreadable.
    pub fn num_samples(&self) -> usize {
        sample_count(self.data.as_slice()).unwrap_or(0)
    }

    /// Appends the samples with `mint <= t <= maxt` to `out`, decoded in
    /// bulk: exactly what [`Chunk::iter`] yields in that range.
    pub fn read_into(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        match self.encoding {
            Encoding::Xor => xor::decode_into(self.data.as_slice(), mint, maxt, out),
            Encoding::Alp => alp::decode_into(self.data.as_slice(), mint, maxt, out),
        }
    }

    /// Iterates the samples; owns a clone of the bytes. Yields nothing for a
    /// chunk that fails [`Chunk::validate`], and stops early on corrupt data.
    pub fn iter(&self) -> ChunkIter {
        match self.encoding {
            Encoding::Xor => ChunkIter::Xor(XorIter::new(self.data.clone())),
            Encoding::Alp => ChunkIter::Alp(AlpIter::new(self.data.clone())),
        }
    }
}

/// The sample count both encodings start with (2 bytes, big-endian).
fn sample_count(b: &[u8]) -> Result<usize, String> {
    match b {
        [hi, lo, ..] => Ok(crate::encoding::be_u16([*hi, *lo]) as usize),
        _ => Err(format!(
            "chunk of {} bytes is shorter than its header",
            b.len()
        )),
    }
}
