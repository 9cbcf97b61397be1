//! Columnar Gorilla encoding (`Encoding::Xor`); layout in `docs/formats/chunks.md`.
//!
//! [`XorBuilder`] writes a chunk; a chunk is read either sample by sample
//! with [`XorIter`] or in bulk with [`decode_into`], whose result must be
//! exactly the iterator's. The value column alone (`values.rs`) is also the
//! `Alp` chunk's fallback for values that are not short decimals.

mod builder;
mod decode;
mod header;
mod iter;
#[cfg(test)]
pub(crate) mod testing;
mod values;

pub use builder::XorBuilder;
pub(crate) use decode::{decode_into, decode_values};
pub(crate) use header::parse_header;
pub use iter::XorIter;
pub(crate) use values::{encode_values, ValueReader};

// Delta-of-delta buckets: (prefix ones, payload bits). Prefix of `k` ones
// followed by a zero, except the last bucket whose 5 ones need no terminator.
const DOD_BUCKETS: [(u32, u32); 4] = [(1, 4), (2, 8), (3, 14), (4, 24)];
const DOD_ESCAPE_ONES: u32 = 5;
