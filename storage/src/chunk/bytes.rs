//! Chunk bytes that may live on the heap or inside a memory-mapped file.

use std::ops::Range;
use std::sync::Arc;

/// Cheaply clonable, immutable bytes of one chunk. Cloning bumps a refcount,
/// so an iterator can own its chunk while the mmap it points into stays alive.
#[derive(Clone)]
pub struct ChunkBytes {
    owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
    range: Range<usize>,
}

impl ChunkBytes {
    /// Bytes owned on the heap.
    pub fn from_vec(v: Vec<u8>) -> Self {
        let len = v.len();
        ChunkBytes {
            owner: Arc::new(v),
            range: 0..len,
        }
    }

    /// A sub-range of a shared owner, e.g. an `Arc<memmap2::Mmap>`.
    ///
    /// Panics if `range` is outside the owner's bytes.
    pub fn from_shared(owner: Arc<dyn AsRef<[u8]> + Send + Sync>, range: Range<usize>) -> Self {
        assert!(range.start <= range.end && range.end <= (*owner).as_ref().len());
        ChunkBytes { owner, range }
    }

    pub fn as_slice(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.range.clone()]
    }

    pub fn len(&self) -> usize {
        self.range.len()
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
}

impl std::fmt::Debug for ChunkBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChunkBytes({} bytes)", self.len())
    }
}
