//! The `Alp` chunk layout: sample count, timestamp column, value column
//! (`docs/formats/chunks.md`, *`Alp` chunk layout*). Parsing checks that
//! every part is present and the chunk ends where its last part does, so
//! that decoding after it never fails.

use super::decimal::MAX_EXP;
use super::ints::IntColumn;
use crate::encoding::Decbuf;

/// Value column kind bit: an XOR value column follows.
pub(crate) const KIND_XOR: u8 = 0x80;
/// Value column kind bit: decimal values with exceptions after them.
pub(crate) const KIND_EXCEPTIONS: u8 = 0x40;
/// Value column kind bits holding the decimal exponent plus [`MAX_EXP`].
pub(crate) const KIND_EXP: u8 = 0x3f;

/// A parsed `Alp` chunk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub(crate) num_samples: usize,
    /// `None` for a chunk of no samples, which has no columns.
    pub(crate) columns: Option<Columns>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Columns {
    pub(crate) ts: IntColumn,
    pub(crate) values: Values,
}

/// How the values are stored.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Values {
    /// `v_k = unscale(k_k, exp)`, except at the positions of `exceptions`.
    Decimal {
        exp: i32,
        ints: IntColumn,
        exceptions: Exceptions,
    },
    /// An XOR value column at `start..end` of the chunk.
    Xor { start: usize, end: usize },
}

/// The exception list of a decimal value column: `count` entries from byte
/// `at`, each `gap: uvarint` (positions ascend: `pos_0 = gap_0`,
/// `pos_i = pos_{i-1} + 1 + gap_i`) and the value's bits as 8 big-endian
/// bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exceptions {
    count: usize,
    at: usize,
}

impl Exceptions {
    pub(crate) fn cursor(&self) -> ExceptionCursor {
        ExceptionCursor {
            left: self.count,
            at: self.at,
            next_pos: 0,
        }
    }
}

/// Walks an exception list in position order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExceptionCursor {
    left: usize,
    at: usize,
    /// The smallest position the next entry can have.
    next_pos: usize,
}

impl ExceptionCursor {
    /// The next entry: its position, its value's bits and where the entry
    /// after it starts; `None` after the last (or on bytes that do not
    /// parse, which [`parse_header`] has ruled out).
    #[inline]
    fn peek(&self, b: &[u8]) -> Option<(usize, u64, usize)> {
        if self.left == 0 {
            return None;
        }
        let mut d = Decbuf::new(b.get(self.at..)?);
        let gap = usize::try_from(d.uvarint().ok()?).ok()?;
        let bits = d.u64().ok()?;
        Some((
            self.next_pos.checked_add(gap)?,
            bits,
            b.len() - d.remaining(),
        ))
    }

    /// Takes the next entry.
    #[inline]
    pub(crate) fn next(&mut self, b: &[u8]) -> Option<(usize, u64)> {
        let (pos, bits, next) = self.peek(b)?;
        self.left -= 1;
        self.at = next;
        self.next_pos = pos + 1;
        Some((pos, bits))
    }

    /// The bits of the exception at position `k`, if there is one; skips
    /// entries before `k`. Positions asked for must not decrease.
    #[inline]
    pub(crate) fn at(&mut self, b: &[u8], k: usize) -> Option<u64> {
        while let Some((pos, bits, _)) = self.peek(b) {
            if pos > k {
                return None;
            }
            self.next(b);
            if pos == k {
                return Some(bits);
            }
        }
        None
    }
}

/// Parses and checks an `Alp` chunk; `Err` describes what is wrong.
pub(crate) fn parse_header(b: &[u8]) -> Result<Header, String> {
    let n = super::super::sample_count(b)?;
    if n == 0 {
        if b.len() != 2 {
            return Err(format!("no samples but {} more bytes", b.len() - 2));
        }
        return Ok(Header {
            num_samples: 0,
            columns: None,
        });
    }
    let ts = IntColumn::parse(b, 2, n).map_err(|e| format!("timestamp column: {e}"))?;
    let at = ts.end();
    let Some(&kind) = b.get(at) else {
        return Err(format!("{n} samples but no value column"));
    };
    let (values, end) = if kind & KIND_XOR != 0 {
        if kind != KIND_XOR {
            return Err(format!("unknown value column kind {kind:#04x}"));
        }
        if b.len() == at + 1 {
            return Err(format!("{n} samples but an empty XOR value column"));
        }
        let xor = Values::Xor {
            start: at + 1,
            end: b.len(),
        };
        (xor, b.len())
    } else {
        let exp = (kind & KIND_EXP) as i32 - MAX_EXP;
        if exp > MAX_EXP {
            return Err(format!("decimal exponent {exp} out of range"));
        }
        let ints = IntColumn::parse(b, at + 1, n).map_err(|e| format!("value column: {e}"))?;
        let (exceptions, end) = if kind & KIND_EXCEPTIONS != 0 {
            parse_exceptions(b, ints.end(), n)?
        } else {
            let none = Exceptions {
                count: 0,
                at: ints.end(),
            };
            (none, ints.end())
        };
        let decimal = Values::Decimal {
            exp,
            ints,
            exceptions,
        };
        (decimal, end)
    };
    if end != b.len() {
        return Err(format!("{} bytes after the value column", b.len() - end));
    }
    Ok(Header {
        num_samples: n,
        columns: Some(Columns { ts, values }),
    })
}

/// Checks the exception list at `at` of a chunk of `n` samples; returns it
/// and where it ends.
fn parse_exceptions(b: &[u8], at: usize, n: usize) -> Result<(Exceptions, usize), String> {
    let mut d = Decbuf::new(b.get(at..).unwrap_or_default());
    let count = d.uvarint().map_err(|e| format!("exception count: {e}"))?;
    if count == 0 || count > n as u64 {
        return Err(format!("{count} exceptions in {n} samples"));
    }
    let e = Exceptions {
        count: count as usize,
        at: b.len() - d.remaining(),
    };
    let mut c = e.cursor();
    for i in 0..e.count {
        match c.next(b) {
            Some((pos, _)) if pos < n => {}
            Some((pos, _)) => {
                return Err(format!("exception {i} at position {pos} of {n} samples"))
            }
            None => return Err(format!("exception {i} of {count} is truncated")),
        }
    }
    Ok((e, c.at))
}
