//! The inverted index: series ids by label pair.
//!
//! * [`MemPostings`] is the head's in-memory index (its ids are not sorted).
//! * [`IndexWriter`] / [`IndexReader`] write and read a block's `index` file
//!   (format in `docs/formats/index.md`), whose ids follow label order.
//! * [`postings_for_matchers`] resolves label matchers against either.
//! * [`SymbolTable`] interns label strings for the head.

pub mod matchers;
pub mod postings;
mod postings_list;
pub mod reader;
pub mod symbols;
pub mod writer;

pub use matchers::{postings_for_matchers, PostingsSource};
pub use postings::MemPostings;
pub use reader::IndexReader;
pub use symbols::SymbolTable;
pub use writer::{ChunkMeta, IndexWriter};

/// First four bytes of an index file ("FPIX").
pub const MAGIC: u32 = 0x4650_4958;
/// Index format version the writer writes; readers also read
/// [`VERSION_1`].
pub const VERSION: u8 = 2;
/// The first version: 8-byte series offsets, every postings list a roaring
/// bitmap.
pub const VERSION_1: u8 = 1;
/// Header length: magic, version, three reserved bytes.
pub const HEADER_LEN: usize = 8;
/// TOC length: five u64 offsets and a CRC32C.
pub const TOC_LEN: usize = 5 * 8 + 4;
