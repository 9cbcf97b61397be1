//! The two-tier choice of encoding: the head appends to `Xor` chunks (one
//! sample at a time, cheaply); a block stores each chunk in whichever of
//! `Xor` and `Alp` is smaller, decided when the block is written.

use super::{alp, Chunk, ChunkBytes, Encoding, XorBuilder};

/// The smaller of the `Xor` and `Alp` encodings of `samples` (ascending
/// timestamps, at most `u16::MAX` of them); `Xor` on a tie, as it is the
/// one every reader knows.
pub fn densest(samples: &[(i64, f64)]) -> Chunk {
    let mut b = XorBuilder::new();
    for &(t, v) in samples {
        b.append(t, v);
    }
    smaller(samples, b.encode())
}

/// `chunk` in the smaller of the two encodings. An `Xor` chunk is decoded
/// and re-encoded as `Alp` if that is smaller. Anything else is returned as
/// it is: an `Alp` chunk was the smaller one when it was written, and a
/// chunk that does not decode to the sample count its header gives is
/// left for readers to report.
pub fn recode(chunk: &Chunk) -> Chunk {
    if chunk.encoding != Encoding::Xor {
        return chunk.clone();
    }
    let mut samples = Vec::with_capacity(chunk.num_samples());
    chunk.read_into(i64::MIN, i64::MAX, &mut samples);
    if samples.len() != chunk.num_samples() {
        return chunk.clone();
    }
    match alp::encode(&samples) {
        Some(a) if a.len() < chunk.data.len() => Chunk::new(Encoding::Alp, ChunkBytes::from_vec(a)),
        _ => chunk.clone(),
    }
}

fn smaller(samples: &[(i64, f64)], xor: Vec<u8>) -> Chunk {
    match alp::encode(samples) {
        Some(a) if a.len() < xor.len() => Chunk::new(Encoding::Alp, ChunkBytes::from_vec(a)),
        _ => Chunk::new(Encoding::Xor, ChunkBytes::from_vec(xor)),
    }
}
