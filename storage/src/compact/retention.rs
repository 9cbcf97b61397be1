//! Retention: which blocks to drop by age or by total size, plus parsers for
//! the `--storage.tsdb.retention.time` / `.size` flag values.

use crate::block::{BlockMeta, Ulid};

/// Why a block is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionReason {
    /// Entirely older than the time retention.
    Time,
    /// Dropped to bring total storage under the size limit.
    Size,
}

/// Which blocks to delete, oldest first, with the reason.
///
/// - **Time** (`retention_ms = Some(r)`, `r > 0`): the reference time is the
///   newest of `head_max_t` and every block's `max_time`; a block is deleted
///   when its `max_time <= reference - r`, i.e. all of its data is older
///   than the retention. Pass `i64::MIN` as `head_max_t` for an empty head.
/// - **Size** (`max_bytes = Some(limit)`, `limit > 0`): starting from
///   `other_bytes` (WAL, head chunks, …) blocks not already deleted for time
///   are added newest first; once the running total exceeds `limit`, that
///   block and every older one are deleted. The newest block can be deleted
///   too if it alone does not fit.
///
/// `None` or a non-positive value disables the respective rule. "Newest" and
/// "oldest" order blocks by `max_time`, then `min_time`, then ID. A block
/// matching both rules is reported with [`RetentionReason::Time`].
pub fn blocks_to_delete(
    blocks: &[(BlockMeta, u64)],
    head_max_t: i64,
    retention_ms: Option<i64>,
    max_bytes: Option<u64>,
    other_bytes: u64,
) -> Vec<(Ulid, RetentionReason)> {
    let mut order: Vec<&(BlockMeta, u64)> = blocks.iter().collect();
    // Oldest first.
    order.sort_by_key(|(m, _)| (m.max_time, m.min_time, m.ulid));

    let mut reasons: Vec<Option<RetentionReason>> = vec![None; order.len()];

    if let Some(r) = retention_ms.filter(|&r| r > 0) {
        let reference = order
            .iter()
            .map(|(m, _)| m.max_time)
            .fold(head_max_t, i64::max);
        let cutoff = reference.saturating_sub(r);
        for (i, (m, _)) in order.iter().enumerate() {
            if m.max_time <= cutoff {
                reasons[i] = Some(RetentionReason::Time);
            }
        }
    }

    if let Some(limit) = max_bytes.filter(|&l| l > 0) {
        let mut total = other_bytes;
        let mut over = false;
        for i in (0..order.len()).rev() {
            if reasons[i].is_some() {
                continue;
            }
            if !over {
                total = total.saturating_add(order[i].1);
                over = total > limit;
            }
            if over {
                reasons[i] = Some(RetentionReason::Size);
            }
        }
    }

    order
        .iter()
        .zip(reasons)
        .filter_map(|((m, _), r)| r.map(|r| (m.ulid, r)))
        .collect()
}

/// Parses a Prometheus duration such as `15d`, `1y`, `2h30m`, `1w`, `500ms`
/// or `0` into milliseconds.
///
/// Units: `ms`, `s`, `m`, `h`, `d` (24h), `w` (7d), `y` (365d). Each unit may
/// appear once, in decreasing order of size (`1h30m`, not `30m1h`); numbers
/// are non-negative integers. The empty string, unknown units, fractions,
/// signs and values overflowing `i64` milliseconds are errors.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3600 * 1000),
        ("w", 7 * 24 * 3600 * 1000),
        ("d", 24 * 3600 * 1000),
        ("h", 3600 * 1000),
        ("m", 60 * 1000),
        ("s", 1000),
        ("ms", 1),
    ];
    let err = |why: &str| format!("invalid duration {s:?}: {why}");
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err("empty"));
    }
    let mut rest = s;
    let mut total: i64 = 0;
    // Index into UNITS of the next unit allowed (units must decrease).
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err("expected a number"));
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| err("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        if unit_len == 0 {
            return Err(err("missing unit"));
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let idx = UNITS
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(|| err(&format!("unknown unit {unit:?}")))?;
        if idx < next_unit {
            return Err(err("units must appear once each, largest first"));
        }
        next_unit = idx + 1;
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("out of range"))?;
    }
    Ok(total)
}

/// Parses a Prometheus size such as `512MB`, `1GB`, `10GiB` or `1.5TB` into
/// bytes.
///
/// Units are powers of 1024, as in Prometheus: `B`, `KB`, `MB`, `GB`, `TB`,
/// `PB`, `EB`; the IEC spellings `KiB` … `EiB` mean the same. Units are
/// case-insensitive. The number may have a decimal fraction (the result is
/// rounded down to whole bytes); a bare `0` is allowed. Empty input, a
/// missing or unknown unit, negative numbers and overflow are errors.
pub fn parse_size_bytes(s: &str) -> Result<u64, String> {
    let err = |why: &str| format!("invalid size {s:?}: {why}");
    let t = s.trim();
    if t == "0" {
        return Ok(0);
    }
    let num_len = t
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (num, unit) = t.split_at(num_len);
    if num.is_empty() {
        return Err(err("expected a number"));
    }
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int_part.is_empty() || frac_part.contains('.') || (num.ends_with('.')) {
        return Err(err("malformed number"));
    }
    let shift = match unit.to_ascii_lowercase().as_str() {
        "b" => 0,
        "kb" | "kib" => 10,
        "mb" | "mib" => 20,
        "gb" | "gib" => 30,
        "tb" | "tib" => 40,
        "pb" | "pib" => 50,
        "eb" | "eib" => 60,
        "" => return Err(err("missing unit (B, KB, MB, GB, TB, PB, EB)")),
        u => return Err(err(&format!("unknown unit {u:?}"))),
    };
    let mult: u128 = 1u128 << shift;
    let int: u128 = int_part.parse().map_err(|_| err("number too large"))?;
    let mut bytes = int.checked_mul(mult).ok_or_else(|| err("out of range"))?;
    if !frac_part.is_empty() {
        // Exact: fraction digits / 10^len * mult, truncated. Limit digits so
        // the arithmetic stays in u128.
        let digits = &frac_part[..frac_part.len().min(18)];
        let f: u128 = digits.parse().map_err(|_| err("malformed number"))?;
        bytes += f * mult / 10u128.pow(digits.len() as u32);
    }
    u64::try_from(bytes).map_err(|_| err("out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::BlockStats;
    use RetentionReason::{Size, Time};

    const H: i64 = 3600 * 1000;

    fn blk(id: u64, min: i64, max: i64) -> BlockMeta {
        BlockMeta::new_level1(Ulid::from_parts(id, 0), min, max, BlockStats::default())
    }

    /// Blocks of mixed ranges covering [0, 40h): 18h, 6h, 6h, 2h×5.
    fn layout() -> Vec<(BlockMeta, u64)> {
        vec![
            (blk(3, 18 * H, 24 * H), 600),
            (blk(1, 0, 18 * H), 1800),
            (blk(4, 24 * H, 30 * H), 600),
            (blk(5, 30 * H, 32 * H), 200),
            (blk(6, 32 * H, 34 * H), 200),
            (blk(7, 34 * H, 36 * H), 200),
            (blk(8, 36 * H, 38 * H), 200),
            (blk(9, 38 * H, 40 * H), 200),
        ]
    }

    fn u(id: u64) -> Ulid {
        Ulid::from_parts(id, 0)
    }

    #[test]
    fn nothing_when_disabled() {
        let b = layout();
        assert!(blocks_to_delete(&b, 41 * H, None, None, 0).is_empty());
        assert!(blocks_to_delete(&b, 41 * H, Some(0), Some(0), 1 << 40).is_empty());
        assert!(blocks_to_delete(&[], 41 * H, Some(H), Some(1), 100).is_empty());
    }

    #[test]
    fn by_time() {
        let b = layout();
        // Head up to 42h, 20h retention: cutoff 22h; only the 18h block ends
        // by then.
        assert_eq!(
            blocks_to_delete(&b, 42 * H, Some(20 * H), None, 0),
            vec![(u(1), Time)]
        );
        // Cutoff exactly at a block end deletes it (max_time is exclusive).
        assert_eq!(
            blocks_to_delete(&b, 42 * H, Some(18 * H), None, 0),
            vec![(u(1), Time), (u(3), Time)]
        );
        // Empty head: the newest block's max_time (40h) is the reference.
        assert_eq!(
            blocks_to_delete(&b, i64::MIN, Some(10 * H), None, 0),
            vec![(u(1), Time), (u(3), Time), (u(4), Time)]
        );
        // Head far ahead: everything goes, oldest first.
        let all = blocks_to_delete(&b, 1000 * H, Some(H), None, 0);
        assert_eq!(
            all.iter().map(|x| x.0).collect::<Vec<_>>(),
            [1, 3, 4, 5, 6, 7, 8, 9].map(u)
        );
        assert!(all.iter().all(|x| x.1 == Time));
        // Long retention keeps everything.
        assert!(blocks_to_delete(&b, 42 * H, Some(365 * 24 * H), None, 0).is_empty());
    }

    #[test]
    fn by_size() {
        let b = layout(); // total 4000 bytes
        assert!(blocks_to_delete(&b, 0, None, Some(4000), 0).is_empty());
        // One byte over: the oldest (largest) block goes.
        assert_eq!(
            blocks_to_delete(&b, 0, None, Some(3999), 0),
            vec![(u(1), Size)]
        );
        // WAL/head bytes count too.
        assert_eq!(
            blocks_to_delete(&b, 0, None, Some(4000), 2000),
            vec![(u(1), Size), (u(3), Size)]
        );
        // Newest 2h blocks (1000 bytes) + 6h (600) fit in 1700.
        assert_eq!(
            blocks_to_delete(&b, 0, None, Some(1700), 0),
            vec![(u(1), Size), (u(3), Size)]
        );
        // Once over, all older blocks go even if a small one would fit.
        let mut b2 = b.clone();
        b2[1].1 = 1; // the 18h block is tiny now
        assert_eq!(
            blocks_to_delete(&b2, 0, None, Some(1700), 0),
            vec![(u(1), Size), (u(3), Size)]
        );
        // Even the newest block goes when alone it exceeds the limit.
        assert_eq!(blocks_to_delete(&b, 0, None, Some(100), 0).len(), 8);
    }

    #[test]
    fn time_and_size_together() {
        let b = layout();
        // Time removes block 1 (1800 bytes); the rest (2200) plus 300 other
        // bytes exceed 2000: the oldest survivors go for size.
        assert_eq!(
            blocks_to_delete(&b, 42 * H, Some(20 * H), Some(2000), 300),
            vec![(u(1), Time), (u(3), Size)]
        );
    }

    #[test]
    fn durations() {
        let h = 3600 * 1000;
        assert_eq!(parse_duration_ms("15d"), Ok(15 * 24 * h));
        assert_eq!(parse_duration_ms("1y"), Ok(365 * 24 * h));
        assert_eq!(parse_duration_ms("2h30m"), Ok(2 * h + 30 * 60 * 1000));
        assert_eq!(parse_duration_ms("1w"), Ok(7 * 24 * h));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert_eq!(parse_duration_ms("0s"), Ok(0));
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert_eq!(
            parse_duration_ms("1y2w3d4h5m6s7ms"),
            Ok(365 * 24 * h + 14 * 24 * h + 3 * 24 * h + 4 * h + 5 * 60_000 + 6000 + 7)
        );
        for bad in [
            "",
            "d",
            "15",
            "1.5h",
            "-1d",
            "1x",
            "30m1h",
            "1h1h",
            "1m1ms1s",
            "1 d",
            " 1d",
            "1D",
            "99999999999999999999y",
            "300000000y",
            "1dd",
        ] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?} should fail");
        }
        assert!(parse_duration_ms("1x").unwrap_err().contains("1x"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size_bytes("512MB"), Ok(512 << 20));
        assert_eq!(parse_size_bytes("1GB"), Ok(1 << 30));
        assert_eq!(parse_size_bytes("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size_bytes("100B"), Ok(100));
        assert_eq!(parse_size_bytes("1KB"), Ok(1024));
        assert_eq!(parse_size_bytes("1kb"), Ok(1024));
        assert_eq!(parse_size_bytes("2TB"), Ok(2 << 40));
        assert_eq!(parse_size_bytes("1PB"), Ok(1 << 50));
        assert_eq!(parse_size_bytes("15EB"), Ok(15 << 60));
        assert_eq!(parse_size_bytes("1.5GB"), Ok(3 << 29));
        assert_eq!(parse_size_bytes("0.5KB"), Ok(512));
        assert_eq!(parse_size_bytes("0"), Ok(0));
        for bad in [
            "", "GB", "10", "-1GB", "1.2.3GB", "1.GB", ".5GB", "1XB", "16EB", "1 GB x",
        ] {
            assert!(parse_size_bytes(bad).is_err(), "{bad:?} should fail");
        }
    }
}
