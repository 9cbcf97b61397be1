//! The one check every snappy body this server decompresses passes first.
//!
//! A snappy block starts with the length it decompresses to, and the
//! decoder needs an output buffer of that length before it reads anything
//! else. Without this check a 5-byte request claiming 30 MB makes the
//! server allocate 30 MB to find out the body is broken (found by
//! `tests/fuzz.rs`).

/// How much larger than its compressed form a snappy block can be: its
/// densest element is a 3-byte copy of 64 bytes (about 21×); the margin
/// covers the header and literals.
const MAX_EXPANSION: usize = 32;

/// Checks that `len`, the length `body`'s header announces
/// (`snap::raw::decompress_len`), is one the body's size can produce. Run
/// after the caller's own size limit and before allocating.
pub fn check_expansion(body: &[u8], len: usize) -> Result<(), snap::Error> {
    let max = body.len().saturating_mul(MAX_EXPANSION).saturating_add(16);
    if len > max {
        return Err(snap::Error::TooBig {
            given: len as u64,
            max: max as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz finding: `[0x80, 0x80, 0x80, 0x03]` claims 6 MiB.
    #[test]
    fn tiny_body_claiming_megabytes_is_rejected_before_allocating() {
        let body = [0x80, 0x80, 0x80, 0x03];
        assert_eq!(snap::raw::decompress_len(&body).unwrap(), 6 << 20);
        assert!(matches!(
            check_expansion(&body, 6 << 20),
            Err(snap::Error::TooBig { given, .. }) if given == 6 << 20
        ));
    }

    /// The densest real bodies (long runs) stay well within the bound.
    #[test]
    fn highly_compressible_bodies_pass() {
        for raw in [vec![0u8; 4 << 20], b"ab".repeat(1 << 20), Vec::new()] {
            let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
            let len = snap::raw::decompress_len(&body).unwrap();
            assert_eq!(len, raw.len());
            check_expansion(&body, len).unwrap();
        }
    }
}
