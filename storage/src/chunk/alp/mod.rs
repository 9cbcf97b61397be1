//! Bit-packed columns with decimal values (`Encoding::Alp`), the encoding
//! blocks use where it is smaller than `Xor`; layout in
//! `docs/formats/chunks.md`.
//!
//! After ALP (Afroozeh, Kuffo, Boncz, SIGMOD 2024): most monitoring values
//! are integers or short decimals, which become small integers once scaled
//! by a power of ten. Timestamps and scaled values are each an integer
//! column (`ints.rs`: frame of reference, deltas or residuals from a line,
//! bit-packed or as dictionary indexes, `pack.rs`); values that do not
//! scale losslessly are kept verbatim as exceptions, or the whole value
//! column falls back to XOR.
//!
//! [`encode`] writes a chunk from all its samples at once; a chunk is read
//! sample by sample with [`AlpIter`] or in bulk with [`decode_into`], whose
//! results must be the same.

mod decimal;
mod decode;
mod encode;
mod header;
mod ints;
mod iter;
mod pack;
#[cfg(test)]
mod testing;

pub(crate) use decode::decode_into;
pub use encode::encode;
pub(crate) use header::parse_header;
pub use iter::AlpIter;
