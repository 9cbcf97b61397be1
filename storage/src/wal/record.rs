//! Typed WAL records and their body encoding (see `docs/formats/wal.md`).

use crate::encoding::{Decbuf, DecodeError, Encbuf};
use crate::labels::{Label, Labels};

/// Record type byte of [`Record::Series`].
pub const TYPE_SERIES: u8 = 1;
/// Record type byte of [`Record::Samples`].
pub const TYPE_SAMPLES: u8 = 2;
/// Record type byte of [`Record::Tombstones`].
pub const TYPE_TOMBSTONES: u8 = 3;

/// Introduces a series and the reference later records use for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefSeries {
    pub series_ref: u64,
    pub labels: Labels,
}

/// One sample of a series. `v` round-trips bit-exactly (stale NaN included).
#[derive(Clone, Copy, Debug)]
pub struct RefSample {
    pub series_ref: u64,
    pub t: i64,
    pub v: f64,
}

/// Bitwise equality, so NaNs (and the staleness marker) compare as stored.
impl PartialEq for RefSample {
    fn eq(&self, o: &Self) -> bool {
        self.series_ref == o.series_ref && self.t == o.t && self.v.to_bits() == o.v.to_bits()
    }
}
impl Eq for RefSample {}

/// Deletes the samples of a series in `[mint, maxt]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefTombstone {
    pub series_ref: u64,
    pub mint: i64,
    pub maxt: i64,
}

/// One logged batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Series(Vec<RefSeries>),
    Samples(Vec<RefSample>),
    Tombstones(Vec<RefTombstone>),
}

impl Record {
    /// The frame type byte of this record.
    pub fn type_byte(&self) -> u8 {
        match self {
            Record::Series(_) => TYPE_SERIES,
            Record::Samples(_) => TYPE_SAMPLES,
            Record::Tombstones(_) => TYPE_TOMBSTONES,
        }
    }

    /// Number of entries in the batch.
    pub fn len(&self) -> usize {
        match self {
            Record::Series(v) => v.len(),
            Record::Samples(v) => v.len(),
            Record::Tombstones(v) => v.len(),
        }
    }

    /// Whether the batch holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the (uncompressed) record body to `out`; the type byte is not
    /// included, see [`Record::type_byte`].
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut e = Encbuf {
            buf: std::mem::take(out),
        };
        match self {
            Record::Series(series) => {
                for s in series {
                    e.put_uvarint(s.series_ref);
                    e.put_uvarint(s.labels.len() as u64);
                    for l in &s.labels {
                        e.put_uvarint_str(&l.name);
                        e.put_uvarint_str(&l.value);
                    }
                }
            }
            Record::Samples(samples) => {
                if let Some((first, rest)) = samples.split_first() {
                    e.buf.reserve(10 + 10 + 8 + rest.len() * 11);
                    e.put_uvarint(first.series_ref);
                    e.put_varint(first.t);
                    e.put_u64(first.v.to_bits());
                    let (mut pr, mut pt) = (first.series_ref, first.t);
                    for s in rest {
                        e.put_varint(s.series_ref.wrapping_sub(pr) as i64);
                        e.put_varint(s.t.wrapping_sub(pt));
                        e.put_u64(s.v.to_bits());
                        pr = s.series_ref;
                        pt = s.t;
                    }
                }
            }
            Record::Tombstones(ts) => {
                for t in ts {
                    e.put_uvarint(t.series_ref);
                    e.put_varint(t.mint);
                    e.put_varint(t.maxt);
                }
            }
        }
        *out = e.buf;
    }

    /// Decodes a record body of the given type.
    pub fn decode(type_byte: u8, body: &[u8]) -> Result<Record, String> {
        let mut d = Decbuf::new(body);
        let de = |e: DecodeError| e.to_string();
        match type_byte {
            TYPE_SERIES => {
                let mut out = Vec::new();
                while !d.is_empty() {
                    let series_ref = d.uvarint().map_err(de)?;
                    let n = d.uvarint().map_err(de)?;
                    // Each label takes at least two bytes: bound the allocation.
                    if n > d.remaining() as u64 / 2 {
                        return Err(format!("series {series_ref}: label count {n} too large"));
                    }
                    let mut pairs = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        let name = d.uvarint_str().map_err(de)?;
                        let value = d.uvarint_str().map_err(de)?;
                        pairs.push(Label::new(name, value));
                    }
                    if !pairs.windows(2).all(|w| w[0].name < w[1].name) {
                        return Err(format!("series {series_ref}: labels not sorted and unique"));
                    }
                    out.push(RefSeries {
                        series_ref,
                        labels: Labels::from_sorted(pairs),
                    });
                }
                Ok(Record::Series(out))
            }
            TYPE_SAMPLES => {
                let mut out = Vec::new();
                if d.is_empty() {
                    return Ok(Record::Samples(out));
                }
                // Every sample takes at least 10 bytes.
                out.reserve(d.remaining() / 10 + 1);
                let mut r = d.uvarint().map_err(de)?;
                let mut t = d.varint().map_err(de)?;
                let v = f64::from_bits(d.u64().map_err(de)?);
                out.push(RefSample {
                    series_ref: r,
                    t,
                    v,
                });
                while !d.is_empty() {
                    r = r.wrapping_add(d.varint().map_err(de)? as u64);
                    t = t.wrapping_add(d.varint().map_err(de)?);
                    let v = f64::from_bits(d.u64().map_err(de)?);
                    out.push(RefSample {
                        series_ref: r,
                        t,
                        v,
                    });
                }
                Ok(Record::Samples(out))
            }
            TYPE_TOMBSTONES => {
                let mut out = Vec::new();
                while !d.is_empty() {
                    out.push(RefTombstone {
                        series_ref: d.uvarint().map_err(de)?,
                        mint: d.varint().map_err(de)?,
                        maxt: d.varint().map_err(de)?,
                    });
                }
                Ok(Record::Tombstones(out))
            }
            other => Err(format!("unknown record type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(r: &Record) -> Record {
        let mut b = Vec::new();
        r.encode(&mut b);
        Record::decode(r.type_byte(), &b).unwrap()
    }

    #[test]
    fn empty_batches() {
        for r in [
            Record::Series(vec![]),
            Record::Samples(vec![]),
            Record::Tombstones(vec![]),
        ] {
            let mut b = Vec::new();
            r.encode(&mut b);
            assert!(b.is_empty());
            assert_eq!(roundtrip(&r), r);
        }
    }

    #[test]
    fn stale_nan_and_extremes() {
        let r = Record::Samples(vec![
            RefSample {
                series_ref: u64::MAX,
                t: i64::MIN,
                v: crate::stale_nan(),
            },
            RefSample {
                series_ref: 0,
                t: i64::MAX,
                v: f64::NAN,
            },
            RefSample {
                series_ref: 7,
                t: -5,
                v: -0.0,
            },
        ]);
        let back = roundtrip(&r);
        assert_eq!(back, r);
        let Record::Samples(s) = back else { panic!() };
        assert!(crate::is_stale_nan(s[0].v));
        assert_eq!(s[2].v.to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn scrape_batch_is_compact() {
        let samples: Vec<_> = (0..1000)
            .map(|i| RefSample {
                series_ref: 1000 + i,
                t: 1_700_000_000_000,
                v: i as f64,
            })
            .collect();
        let mut b = Vec::new();
        Record::Samples(samples).encode(&mut b);
        assert!(b.len() <= 1000 * 10 + 20, "{}", b.len());
    }

    #[test]
    fn bad_bodies() {
        assert!(Record::decode(9, &[]).is_err());
        assert!(Record::decode(TYPE_SAMPLES, &[1, 2, 3]).is_err());
        assert!(Record::decode(TYPE_SERIES, &[1, 200]).is_err());
        // Unsorted labels.
        let mut e = Encbuf::new();
        e.put_uvarint(1);
        e.put_uvarint(2);
        for s in ["b", "1", "a", "2"] {
            e.put_uvarint_str(s);
        }
        assert!(Record::decode(TYPE_SERIES, &e.buf).is_err());
    }

    fn arb_labels() -> impl Strategy<Value = Labels> {
        prop::collection::vec((".{0,6}", ".{0,8}"), 0..5).prop_map(Labels::from_pairs)
    }

    fn arb_record() -> impl Strategy<Value = Record> {
        prop_oneof![
            prop::collection::vec(
                (any::<u64>(), arb_labels())
                    .prop_map(|(series_ref, labels)| RefSeries { series_ref, labels }),
                0..8
            )
            .prop_map(Record::Series),
            prop::collection::vec(
                (any::<u64>(), any::<i64>(), any::<u64>()).prop_map(|(r, t, bits)| RefSample {
                    series_ref: r,
                    t,
                    v: f64::from_bits(bits),
                }),
                0..50
            )
            .prop_map(Record::Samples),
            prop::collection::vec(
                (any::<u64>(), any::<i64>(), any::<i64>()).prop_map(|(r, mint, maxt)| {
                    RefTombstone {
                        series_ref: r,
                        mint,
                        maxt,
                    }
                }),
                0..8
            )
            .prop_map(Record::Tombstones),
        ]
    }

    proptest! {
        #[test]
        fn prop_roundtrip(r in arb_record()) {
            prop_assert_eq!(roundtrip(&r), r);
        }

        #[test]
        fn prop_decode_garbage_never_panics(t in 0u8..5, b in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = Record::decode(t, &b);
        }
    }
}
