//! Hashing for the scrape side: FNV-1a for identities that must be stable
//! across restarts (target hash, jitter), and a fast seeded hasher for the
//! per-target series cache, which is looked up once per scraped sample.

use std::hash::{BuildHasher, Hasher};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a, as Go's `hash/fnv` `New64a`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv64a(u64);

impl Default for Fnv64a {
    fn default() -> Self {
        Fnv64a(FNV_OFFSET)
    }
}

impl Fnv64a {
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// Builds [`SeriesHasher`]s with a per-process random key, so a target
/// cannot precompute series names that all land in one bucket.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeriesHashBuilder {
    key: u64,
}

impl Default for SeriesHashBuilder {
    fn default() -> Self {
        use std::sync::OnceLock;
        static KEY: OnceLock<u64> = OnceLock::new();
        let key = *KEY.get_or_init(|| {
            // RandomState is seeded from the OS; hashing nothing through it
            // yields a process-random word without another dependency.
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
                | 1
        });
        SeriesHashBuilder { key }
    }
}

impl BuildHasher for SeriesHashBuilder {
    type Hasher = SeriesHasher;
    fn build_hasher(&self) -> SeriesHasher {
        SeriesHasher(self.key)
    }
}

/// Word-at-a-time multiply-rotate hash over raw series bytes (`name{...}`),
/// a few nanoseconds for typical 50–150 byte keys.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeriesHasher(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl SeriesHasher {
    #[inline]
    fn mix(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(23) ^ w).wrapping_mul(K);
    }
}

impl Hasher for SeriesHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Final avalanche so the low bits hashbrown uses depend on all input.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_vectors() {
        // Vectors of the FNV-1a 64 specification.
        let mut h = Fnv64a::default();
        assert_eq!(h.finish(), 0xcbf2_9ce4_8422_2325);
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
        let mut h = Fnv64a::default();
        h.write(b"foobar");
        assert_eq!(h.finish(), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn series_hash_distinguishes_lengths_and_bytes() {
        let b = SeriesHashBuilder::default();
        let h = |s: &[u8]| b.hash_one(s);
        assert_ne!(h(b"a"), h(b"a\0"));
        assert_ne!(h(b"up{a=\"1\"}"), h(b"up{a=\"2\"}"));
        assert_ne!(h(b"12345678"), h(b"123456789"));
        assert_eq!(h(b"same"), h(b"same"));
    }
}
