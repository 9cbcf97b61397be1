//! `body_size_limit:` sizes such as `10MB`, `1.5GiB` or `512KB`, parsed the
//! way Prometheus's unit parser does: powers of 1024 whether or not the unit
//! has the `i`, several terms may be summed (`1GB512MB`), and a bare `0`
//! means "no limit".

/// Bytes per unit. Both spellings are base 2 in Prometheus.
const UNITS: [(&str, u64); 13] = [
    ("B", 1),
    ("KB", 1 << 10),
    ("KiB", 1 << 10),
    ("MB", 1 << 20),
    ("MiB", 1 << 20),
    ("GB", 1 << 30),
    ("GiB", 1 << 30),
    ("TB", 1 << 40),
    ("TiB", 1 << 40),
    ("PB", 1 << 50),
    ("PiB", 1 << 50),
    ("EB", 1 << 60),
    ("EiB", 1 << 60),
];

/// Parses a size into bytes, rounding fractions down.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let err = |why: &str| format!("invalid size {s:?}: {why}");
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err("empty"));
    }
    let mut rest = s;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.bytes().filter(|b| *b == b'.').count() > 1 {
            return Err(err("expected a number"));
        }
        rest = &rest[num_len..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        if unit_len == 0 {
            return Err(err("missing unit (B, KB, MB, GB, TB, PB, EB)"));
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, n)| *n)
            .ok_or_else(|| err(&format!("unknown unit {unit:?}")))?;
        total += scaled(num, scale).ok_or_else(|| err("too large"))?;
        if total > u64::MAX as u128 {
            return Err(err("too large"));
        }
    }
    Ok(total as u64)
}

/// `num` (digits with at most one '.') times `scale`, computed exactly in
/// integers so `0.5KB` is 512 and not a float approximation.
fn scaled(num: &str, scale: u64) -> Option<u128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut value = int.checked_mul(scale as u128)?;
    if !frac.is_empty() {
        // Only the first 18 digits can matter for a u64 result.
        let frac = &frac[..frac.len().min(18)];
        let denom = 10u128.pow(frac.len() as u32);
        let f: u128 = frac.parse().ok()?;
        value = value.checked_add(f * scale as u128 / denom)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_sizes() {
        for (s, n) in [
            ("0", 0),
            ("0B", 0),
            ("100B", 100),
            ("1KB", 1024),
            ("1KiB", 1024),
            ("10MB", 10 << 20),
            ("1GB", 1 << 30),
            ("2TB", 2 << 40),
            ("1PB", 1 << 50),
            ("1EB", 1 << 60),
            ("1.5KB", 1536),
            ("0.5MiB", 512 << 10),
            ("1GB512MB", (1 << 30) + (512 << 20)),
        ] {
            assert_eq!(parse_size(s), Ok(n), "{s}");
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        for s in [
            "", "1024", "10XB", "MB", "-1MB", "1.2.3MB", "10 MB", "16EB", "1mb",
        ] {
            let e = parse_size(s).unwrap_err();
            assert!(e.contains("invalid size"), "{s}: {e}");
        }
    }
}
