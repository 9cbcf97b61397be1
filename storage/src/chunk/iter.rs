//! Iterating a chunk of any encoding.

use super::alp::AlpIter;
use super::xor::XorIter;

/// Iterator over `(t, v)` pairs of one chunk, ascending `t`, whatever its
/// encoding (see [`Chunk::iter`](super::Chunk::iter)).
pub enum ChunkIter {
    Xor(XorIter),
    Alp(AlpIter),
}

impl ChunkIter {
    /// Advances to the first sample with timestamp >= `t` (never moves
    /// backwards; if the current sample already has ts >= `t` it is returned
    /// again). Returns it, or `None` if exhausted.
    #[inline]
    pub fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        match self {
            ChunkIter::Xor(it) => it.seek(t),
            ChunkIter::Alp(it) => it.seek(t),
        }
    }
}

impl Iterator for ChunkIter {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        match self {
            ChunkIter::Xor(it) => it.next(),
            ChunkIter::Alp(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            ChunkIter::Xor(it) => it.size_hint(),
            ChunkIter::Alp(it) => it.size_hint(),
        }
    }
}
