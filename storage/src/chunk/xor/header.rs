//! The `Xor` chunk header: sample count and where each column lives.

/// Header of an `Xor` chunk: sample count and where each column lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub(crate) num_samples: usize,
    pub(crate) ts_start: usize,
    pub(crate) ts_end: usize,
}

/// Parses and checks the header; `Err` describes what is wrong.
pub(crate) fn parse_header(b: &[u8]) -> Result<Header, String> {
    let n = super::super::sample_count(b)?;
    let mut d = crate::encoding::Decbuf::new(&b[2..]);
    let ts_len = d
        .uvarint()
        .map_err(|e| format!("timestamp column length: {e}"))?;
    let ts_start = b.len() - d.remaining();
    if ts_len > d.remaining() as u64 {
        return Err(format!(
            "timestamp column of {ts_len} bytes exceeds the {} bytes left",
            d.remaining()
        ));
    }
    let ts_end = ts_start + ts_len as usize;
    // One byte of each column is all a sample is sure to take: the first
    // value is XORed against 0.0, so a 0.0 costs a single bit (not the 8
    // bytes a raw float would). Deeper truncation shows when decoding.
    if n > 0 && (ts_len == 0 || b.len() == ts_end) {
        return Err(format!(
            "{n} samples but timestamp column {ts_len} bytes, value column {} bytes",
            b.len() - ts_end
        ));
    }
    Ok(Header {
        num_samples: n,
        ts_start,
        ts_end,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bits, build};
    use super::*;
    use crate::chunk::{Chunk, ChunkBytes, Encoding};

    fn value_column_len(c: &Chunk) -> usize {
        let h = parse_header(c.data.as_slice()).expect("valid chunk");
        c.data.len() - h.ts_end
    }

    #[test]
    fn value_column_shorter_than_a_float_is_valid() {
        // What the encoder writes: one sample of 0.0 is a single `0` bit, a
        // 1.0 is `11`, 5 + 6 bits of window and 10 meaningful bits, and 56
        // zeros are 56 bits.
        let zeros: Vec<(i64, f64)> = (0..56).map(|i| (i * 15_000, 0.0)).collect();
        for (s, want) in [(vec![(1_000, 0.0)], 1), (vec![(1_000, 1.0)], 3), (zeros, 7)] {
            let c = build(&s);
            assert_eq!(value_column_len(&c), want);
            assert!(c.validate().is_ok());
            let got: Vec<(i64, f64)> = c.iter().collect();
            assert_eq!(bits(&got), bits(&s));
        }
    }

    #[test]
    fn truncated_value_column() {
        // A first value with all 64 bits meaningful takes 2 + 5 + 6 + 64
        // bits, so cutting its column to 1..=7 bytes leaves it incomplete.
        let s = [
            (1_000, f64::from_bits(0x8000_0000_0000_0001)),
            (16_000, 2.0),
        ];
        let full = build(&s);
        assert!(value_column_len(&full) >= 10);
        let ts_end = full.data.len() - value_column_len(&full);
        let cut = |keep: usize| {
            let b = full.data.as_slice()[..ts_end + keep].to_vec();
            Chunk::new(Encoding::Xor, ChunkBytes::from_vec(b))
        };
        // No value bytes: corruption, reported by validation.
        let err = cut(0).validate().expect_err("empty value column");
        assert!(err.contains("value column 0 bytes"), "{err}");
        // Some value bytes: the header is sound; decoding stops at the
        // incomplete first value, without panicking.
        for keep in 1..=7 {
            let c = cut(keep);
            assert_eq!(value_column_len(&c), keep);
            assert!(c.validate().is_ok(), "{keep} bytes");
            assert_eq!(c.iter().count(), 0, "{keep} bytes");
            assert_eq!(c.iter().seek(0), None, "{keep} bytes");
            let mut got = Vec::new();
            c.read_into(i64::MIN, i64::MAX, &mut got);
            assert!(got.is_empty(), "{keep} bytes: {got:?}");
        }
    }
}
