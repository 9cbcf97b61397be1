//! The body of one postings list in an index file of version 2
//! (`docs/formats/index.md`, *Postings lists*): a roaring bitmap, or, when
//! shorter, the ids as delta varints. Short blocks have many lists of one
//! or a few series, where roaring's container headers cost more than the
//! ids.

use roaring::RoaringBitmap;

use crate::encoding::{Decbuf, Encbuf};

/// Kind byte: roaring's portable serialization follows.
const KIND_ROARING: u8 = 0;
/// Kind byte: a count and delta-coded ids follow.
const KIND_DELTAS: u8 = 1;

/// Appends the body of the list `bm` (not empty) to `out`: whichever kind
/// is shorter, deltas on a tie.
pub(crate) fn encode(bm: &RoaringBitmap, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut e = Encbuf::new();
    e.put_u8(KIND_DELTAS);
    e.put_uvarint(bm.len());
    let mut prev = None;
    for id in bm {
        e.put_uvarint(prev.map_or(id, |p| id - p) as u64);
        prev = Some(id);
    }
    if e.len() <= 1 + bm.serialized_size() {
        out.extend_from_slice(&e.buf);
        return Ok(());
    }
    out.push(KIND_ROARING);
    bm.serialize_into(out)
}

/// Decodes a list body; `Err` says what is wrong with it.
pub(crate) fn decode(body: &[u8]) -> Result<RoaringBitmap, String> {
    let Some((&kind, rest)) = body.split_first() else {
        return Err("empty postings list".into());
    };
    match kind {
        KIND_ROARING => RoaringBitmap::deserialize_from(rest).map_err(|e| e.to_string()),
        KIND_DELTAS => decode_deltas(rest),
        _ => Err(format!("unknown postings list kind {kind}")),
    }
}

fn decode_deltas(b: &[u8]) -> Result<RoaringBitmap, String> {
    let mut d = Decbuf::new(b);
    let count = d.uvarint().map_err(|e| format!("count: {e}"))?;
    // Every id takes at least a byte: a count beyond that is corrupt, and
    // checking first keeps a corrupt count from running long.
    if count == 0 || count > d.remaining() as u64 {
        return Err(format!("{count} ids in {} bytes", d.remaining()));
    }
    let mut ids = Vec::with_capacity(count as usize);
    let mut prev: Option<u64> = None;
    for i in 0..count {
        let x = d.uvarint().map_err(|e| format!("id {i}: {e}"))?;
        let id = match prev {
            None => x,
            Some(_) if x == 0 => return Err(format!("id {i} repeats the one before")),
            Some(p) => p.saturating_add(x),
        };
        let id32 = u32::try_from(id).map_err(|_| format!("id {i} ({id}) out of range"))?;
        ids.push(id32);
        prev = Some(id);
    }
    if !d.is_empty() {
        return Err(format!("{} bytes after the ids", d.remaining()));
    }
    RoaringBitmap::from_sorted_iter(ids).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(ids: &[u32]) -> Vec<u8> {
        let bm: RoaringBitmap = ids.iter().copied().collect();
        let mut out = Vec::new();
        encode(&bm, &mut out).unwrap();
        assert_eq!(decode(&out).unwrap(), bm);
        out
    }

    proptest! {
        #[test]
        fn any_ids_roundtrip(ids in proptest::collection::vec(any::<u32>(), 1..300)) {
            roundtrip(&ids);
        }

        #[test]
        fn dense_ids_roundtrip(start in 0u32..1 << 20, n in 1u32..5000) {
            roundtrip(&(start..start + n).collect::<Vec<_>>());
        }

        #[test]
        fn hostile_bodies_are_errors(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            // Anything, but never a panic; a decoded list is never empty.
            if let Ok(bm) = decode(&b) {
                prop_assert!(!bm.is_empty());
            }
        }
    }

    #[test]
    fn short_lists_are_deltas_long_dense_ones_roaring() {
        // One series: kind, count, id.
        assert_eq!(roundtrip(&[5]), vec![KIND_DELTAS, 1, 5]);
        assert_eq!(roundtrip(&[300, 301]), vec![KIND_DELTAS, 2, 0xac, 0x02, 1]);
        // 70,000 consecutive ids: a bitmap container (8 KiB) and an array
        // one beat a byte per id.
        let dense = roundtrip(&(0..70_000).collect::<Vec<_>>());
        assert_eq!(dense[0], KIND_ROARING);
        assert!(dense.len() < 20_000, "{}", dense.len());
    }

    #[test]
    fn corrupt_deltas_are_errors() {
        for b in [
            &[][..],
            &[7],
            &[KIND_DELTAS],
            &[KIND_DELTAS, 0],
            &[KIND_DELTAS, 2, 5],
            &[KIND_DELTAS, 2, 5, 0],
            &[KIND_DELTAS, 1, 5, 9],
            &[KIND_DELTAS, 1, 0x80, 0x80, 0x80, 0x80, 0x10],
        ] {
            assert!(decode(b).is_err(), "{b:?}");
        }
    }
}
