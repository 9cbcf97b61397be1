//! How much memory the process may use: the machine's RAM, or the
//! container's limit when that is smaller (a pod on Kubernetes sees the
//! node's RAM in /proc/meminfo but is killed at its cgroup's limit).

/// The smaller of `MemTotal` and the cgroup (v2, else v1) memory limit, in
/// bytes; `None` where neither can be read.
pub fn limit_bytes() -> Option<u64> {
    let ram = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_total(&t));
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .and_then(|t| cgroup_limit(&t));
    match (ram, cgroup) {
        (Some(r), Some(c)) => Some(r.min(c)),
        (r, c) => r.or(c),
    }
}

/// `MemTotal:  24576000 kB` → bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// A cgroup limit file's content: a byte count, or `max` (v2) / a huge
/// page-rounded number (v1) meaning none.
fn cgroup_limit(text: &str) -> Option<u64> {
    let n: u64 = text.trim().parse().ok()?;
    // cgroup v1 spells "no limit" as the largest page-aligned i64.
    (n < (1 << 62)).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meminfo_and_cgroup_limits() {
        let meminfo = "MemFree:  100 kB\nMemTotal:       24576000 kB\n";
        assert_eq!(mem_total(meminfo), Some(24_576_000 * 1024));
        assert_eq!(mem_total("nothing"), None);
        assert_eq!(cgroup_limit("max\n"), None);
        assert_eq!(cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(cgroup_limit("536870912\n"), Some(512 << 20));
        assert!(limit_bytes().is_some_and(|b| b > 0));
    }
}
