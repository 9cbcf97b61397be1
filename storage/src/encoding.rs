//! Byte-level encoding shared by every on-disk format: varints, big-endian
//! integers (little-endian in bit-packed regions), CRC32C. The only place
//! that knows about byte order.

/// Appends encoded values to a byte vector.
#[derive(Default, Debug, Clone)]
pub struct Encbuf {
    pub buf: Vec<u8>,
}

impl Encbuf {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_capacity(n: usize) -> Self {
        Encbuf {
            buf: Vec::with_capacity(n),
        }
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn put_u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn put_u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn put_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn put_u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn put_f64(&mut self, v: f64) {
        self.put_u64(v.to_bits());
    }
    /// Unsigned LEB128 varint.
    pub fn put_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }
    /// Zig-zag signed varint.
    pub fn put_varint(&mut self, v: i64) {
        self.put_uvarint(((v << 1) ^ (v >> 63)) as u64);
    }
    /// A uvarint length followed by the bytes.
    pub fn put_uvarint_bytes(&mut self, b: &[u8]) {
        self.put_uvarint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }
    pub fn put_uvarint_str(&mut self, s: &str) {
        self.put_uvarint_bytes(s.as_bytes());
    }
    pub fn put_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// Appends the CRC32C of `self.buf[from..]`.
    pub fn put_crc32c_of(&mut self, from: usize) {
        let c = crc32c::crc32c(&self.buf[from..]);
        self.put_u32(c);
    }
}

/// Why a [`Decbuf`] read failed; callers turn it into `Error::Corruption` with
/// the file path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the value needs.
    Short,
    /// A varint longer than 10 bytes or overflowing 64 bits.
    BadVarint,
    /// A string that is not UTF-8.
    BadUtf8,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecodeError::Short => "unexpected end of data",
            DecodeError::BadVarint => "invalid varint",
            DecodeError::BadUtf8 => "invalid UTF-8 string",
        })
    }
}

/// Reads encoded values from a byte slice, front to back.
#[derive(Debug, Clone)]
pub struct Decbuf<'a> {
    b: &'a [u8],
}

type D<T> = Result<T, DecodeError>;

impl<'a> Decbuf<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Decbuf { b }
    }
    pub fn remaining(&self) -> usize {
        self.b.len()
    }
    pub fn rest(&self) -> &'a [u8] {
        self.b
    }
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }
    pub fn skip(&mut self, n: usize) -> D<()> {
        self.bytes(n).map(|_| ())
    }
    pub fn bytes(&mut self, n: usize) -> D<&'a [u8]> {
        if self.b.len() < n {
            return Err(DecodeError::Short);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn array<const N: usize>(&mut self) -> D<[u8; N]> {
        Ok(self.bytes(N)?.try_into().expect("length checked"))
    }
    pub fn u8(&mut self) -> D<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> D<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> D<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> D<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    pub fn f64(&mut self) -> D<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    pub fn uvarint(&mut self) -> D<u64> {
        let mut x: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.b.get(i) else {
                return Err(DecodeError::Short);
            };
            if i == 9 && byte > 1 {
                return Err(DecodeError::BadVarint);
            }
            x |= ((byte & 0x7f) as u64) << (7 * i);
            if byte < 0x80 {
                self.b = &self.b[i + 1..];
                return Ok(x);
            }
        }
        Err(DecodeError::BadVarint)
    }
    pub fn varint(&mut self) -> D<i64> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    pub fn uvarint_bytes(&mut self) -> D<&'a [u8]> {
        let n = self.uvarint()?;
        if n > self.b.len() as u64 {
            return Err(DecodeError::Short);
        }
        self.bytes(n as usize)
    }
    pub fn uvarint_str(&mut self) -> D<&'a str> {
        std::str::from_utf8(self.uvarint_bytes()?).map_err(|_| DecodeError::BadUtf8)
    }
}

/// CRC32C (Castagnoli), the checksum of every on-disk format here.
pub fn crc32c(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}

// Fixed-width big-endian integers for callers that index bytes themselves
// (mmapped files, bit readers, fixed headers) rather than go through an
// `Encbuf`/`Decbuf`: so that byte order stays decided here alone. Inlined
// always because the bit readers of the chunk decoder call them per field.

/// A big-endian `u16`.
#[inline(always)]
pub(crate) fn be_u16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

/// A big-endian `u32`.
#[inline(always)]
pub(crate) fn be_u32(b: [u8; 4]) -> u32 {
    u32::from_be_bytes(b)
}

/// A big-endian `u64`.
#[inline(always)]
pub(crate) fn be_u64(b: [u8; 8]) -> u64 {
    u64::from_be_bytes(b)
}

/// The big-endian bytes of `v`.
#[inline(always)]
pub(crate) fn u32_be(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

// Bit-packed regions (the `Alp` chunk's integer columns) are the one
// little-endian exception: value `j` of width `w` starts at bit `j * w`
// counting from the least significant bit of the first byte, so a value is
// one unaligned little-endian load, a shift and a mask.

/// A little-endian `u64`.
#[inline(always)]
pub(crate) fn le_u64(b: [u8; 8]) -> u64 {
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut e = Encbuf::new();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            e.put_uvarint(v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            e.put_varint(v);
        }
        e.put_u32(0xdead_beef);
        e.put_uvarint_str("héllo");
        e.put_f64(f64::from_bits(0x7ff0_0000_0000_0002));
        let mut d = Decbuf::new(&e.buf);
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(d.uvarint().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(d.varint().unwrap(), v);
        }
        assert_eq!(d.u32().unwrap(), 0xdead_beef);
        assert_eq!(d.uvarint_str().unwrap(), "héllo");
        assert_eq!(d.f64().unwrap().to_bits(), 0x7ff0_0000_0000_0002);
        assert!(d.is_empty());
        assert_eq!(d.u8(), Err(DecodeError::Short));
    }

    #[test]
    fn bad_varint() {
        let b = [0xffu8; 11];
        assert_eq!(Decbuf::new(&b).uvarint(), Err(DecodeError::BadVarint));
        assert_eq!(Decbuf::new(&[0x80]).uvarint(), Err(DecodeError::Short));
        assert_eq!(
            Decbuf::new(&[5, 1]).uvarint_bytes(),
            Err(DecodeError::Short)
        );
    }
}
