//! Block IDs: 128-bit ULIDs (48-bit millisecond timestamp, 80 random bits),
//! written as 26 characters of Crockford base32. See `docs/formats/block.md`.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RAND_BITS: u32 = 80;
const RAND_MASK: u128 = (1u128 << RAND_BITS) - 1;
const TIME_MASK: u64 = (1u64 << 48) - 1;
/// Length of the textual form.
pub const ULID_LEN: usize = 26;

/// A ULID. Ordering follows the creation timestamp, then the random part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ulid(u128);

/// Last ID handed out by [`Ulid::new`], to keep IDs strictly increasing.
static LAST: Mutex<u128> = Mutex::new(0);

#[allow(clippy::new_without_default)]
impl Ulid {
    /// A fresh ID for the current time.
    ///
    /// There is deliberately no `Default`: a default value that is random
    /// each time would surprise struct-update syntax users. IDs from one process are strictly
    /// increasing: within one millisecond (or if the clock steps back) the
    /// previous ID plus one is returned.
    pub fn new() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let fresh = Ulid::from_parts(ms, random_u80()).0;
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        let id = if fresh > *last {
            fresh
        } else {
            last.wrapping_add(1)
        };
        *last = id;
        Ulid(id)
    }

    /// Builds an ID from a millisecond timestamp (low 48 bits used) and a
    /// random part (low 80 bits used).
    pub fn from_parts(ms: u64, rand: u128) -> Self {
        Ulid(((ms & TIME_MASK) as u128) << RAND_BITS | (rand & RAND_MASK))
    }

    /// The embedded creation time, ms since the epoch.
    pub fn timestamp_ms(&self) -> u64 {
        (self.0 >> RAND_BITS) as u64
    }

    /// The 80-bit random part.
    pub fn random(&self) -> u128 {
        self.0 & RAND_MASK
    }

    /// The raw 128-bit value.
    pub fn as_u128(&self) -> u128 {
        self.0
    }

    /// Wraps a raw 128-bit value.
    pub fn from_u128(v: u128) -> Self {
        Ulid(v)
    }
}

/// 80 bits of randomness from std: `RandomState` keys are seeded from the OS
/// and differ per instance; the time and a counter are mixed in as well.
fn random_u80() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut out = 0u128;
    for half in 0..2u64 {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u64(n);
        h.write_u64(half);
        out = (out << 64) | h.finish() as u128;
    }
    out & RAND_MASK
}

impl fmt::Display for Ulid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = [0u8; ULID_LEN];
        for (i, c) in s.iter_mut().enumerate() {
            let shift = 5 * (ULID_LEN - 1 - i);
            *c = ALPHABET[((self.0 >> shift) & 0x1f) as usize];
        }
        f.write_str(std::str::from_utf8(&s).expect("ASCII"))
    }
}

/// Why a string is not a ULID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseUlidError {
    /// Not exactly 26 characters.
    Length(usize),
    /// A character outside the Crockford base32 alphabet.
    InvalidChar(char),
    /// First character above `7`: the value does not fit in 128 bits.
    Overflow,
}

impl fmt::Display for ParseUlidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseUlidError::Length(n) => write!(f, "ULID must be 26 characters, got {n}"),
            ParseUlidError::InvalidChar(c) => write!(f, "invalid ULID character {c:?}"),
            ParseUlidError::Overflow => f.write_str("ULID overflows 128 bits"),
        }
    }
}

impl std::error::Error for ParseUlidError {}

fn decode_char(c: u8) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u8)
}

impl FromStr for Ulid {
    type Err = ParseUlidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(c) = s.chars().find(|c| !c.is_ascii()) {
            return Err(ParseUlidError::InvalidChar(c));
        }
        if s.len() != ULID_LEN {
            return Err(ParseUlidError::Length(s.len()));
        }
        let mut v: u128 = 0;
        for (i, &b) in s.as_bytes().iter().enumerate() {
            let d = decode_char(b).ok_or(ParseUlidError::InvalidChar(b as char))?;
            if i == 0 && d > 7 {
                return Err(ParseUlidError::Overflow);
            }
            v = (v << 5) | d as u128;
        }
        Ok(Ulid(v))
    }
}

impl serde::Serialize for Ulid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ulid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_text() {
        for _ in 0..1000 {
            let u = Ulid::new();
            let s = u.to_string();
            assert_eq!(s.len(), ULID_LEN);
            assert_eq!(s.parse::<Ulid>().unwrap(), u);
            assert_eq!(s.to_ascii_lowercase().parse::<Ulid>().unwrap(), u);
        }
        for v in [
            0u128,
            1,
            u128::MAX,
            0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
        ] {
            let u = Ulid::from_u128(v);
            assert_eq!(u.to_string().parse::<Ulid>().unwrap(), u);
        }
        assert_eq!(Ulid::from_u128(0).to_string(), "00000000000000000000000000");
        assert_eq!(
            Ulid::from_u128(u128::MAX).to_string(),
            "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
        );
    }

    #[test]
    fn parts() {
        let u = Ulid::from_parts(1_700_000_000_123, 0xabcdef);
        assert_eq!(u.timestamp_ms(), 1_700_000_000_123);
        assert_eq!(u.random(), 0xabcdef);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let n = Ulid::new();
        assert!(n.timestamp_ms().abs_diff(now) < 10_000);
    }

    #[test]
    fn ordering_by_time() {
        let a = Ulid::from_parts(1000, RAND_MASK);
        let b = Ulid::from_parts(1001, 0);
        assert!(a < b);
        assert!(
            a.to_string() < b.to_string(),
            "text order matches value order"
        );
        let ids: Vec<Ulid> = (0..2000).map(|_| Ulid::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "monotonic");
        assert!(ids.windows(2).all(|w| w[0].to_string() < w[1].to_string()));
    }

    #[test]
    fn randomness_varies() {
        let a = Ulid::from_parts(5, random_u80());
        let b = Ulid::from_parts(5, random_u80());
        assert_ne!(a, b);
    }

    #[test]
    fn parse_errors() {
        assert_eq!("".parse::<Ulid>(), Err(ParseUlidError::Length(0)));
        assert_eq!(
            "0000000000000000000000000".parse::<Ulid>(),
            Err(ParseUlidError::Length(25))
        );
        assert_eq!(
            "0000000000000000000000000U".parse::<Ulid>(),
            Err(ParseUlidError::InvalidChar('U'))
        );
        assert_eq!(
            "8ZZZZZZZZZZZZZZZZZZZZZZZZZ".parse::<Ulid>(),
            Err(ParseUlidError::Overflow)
        );
        assert_eq!(
            "000000000000000000000000é".parse::<Ulid>(),
            Err(ParseUlidError::InvalidChar('é'))
        );
    }

    #[test]
    fn serde_as_string() {
        let u = Ulid::from_parts(42, 7);
        let j = serde_json::to_string(&u).unwrap();
        assert_eq!(j, format!("\"{u}\""));
        assert_eq!(serde_json::from_str::<Ulid>(&j).unwrap(), u);
        assert!(serde_json::from_str::<Ulid>("\"nope\"").is_err());
        assert!(serde_json::from_str::<Ulid>("12").is_err());
    }
}
