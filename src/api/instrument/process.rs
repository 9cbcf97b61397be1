//! The standard `process_*` metrics, read from `/proc/self` at every
//! render (absent where there is no procfs), and `prometheus_build_info`.

use super::{labelled, single};
use crate::api::status::BUILD_INFO;
use crate::metrics::{Collected, Registry};

/// Registers collectors for CPU, memory, file descriptors and start time
/// of this process, and for the build information.
pub fn register_process_metrics(registry: &Registry) {
    registry.collector(|| {
        let mut v = process_families();
        v.push(build_info());
        v
    });
}

fn build_info() -> Collected {
    labelled(
        "prometheus_build_info",
        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which prometheus was built, and the goos and goarch for the build.",
        "gauge",
        &[
            ("branch", BUILD_INFO.branch),
            ("goarch", std::env::consts::ARCH),
            ("goos", std::env::consts::OS),
            ("goversion", BUILD_INFO.go_version),
            ("revision", BUILD_INFO.revision),
            ("tags", ""),
            ("version", BUILD_INFO.version),
        ],
        1.0,
    )
}

/// The fields of `/proc/self/stat` used here.
#[derive(Debug, PartialEq)]
struct Stat {
    /// User plus system time, in clock ticks.
    cpu_ticks: u64,
    /// Start time after boot, in clock ticks.
    start_ticks: u64,
    vsize_bytes: u64,
    rss_pages: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may contain spaces
/// and parentheses, so fields are counted from its closing parenthesis.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = text.get(text.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); proc(5) numbers fields from 1.
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        cpu_ticks: field(14)? + field(15)?,
        start_ticks: field(22)?,
        vsize_bytes: field(23)?,
        rss_pages: field(24)?,
    })
}

/// Boot time (unix seconds) from `/proc/stat`.
fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf only reads its integer argument.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|&v| v > 0)
}

/// The soft limit of `resource`, with "unlimited" as `u64::MAX`.
fn soft_limit(resource: libc::c_int) -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given and nothing else.
    let ok = unsafe { libc::getrlimit(resource as _, &mut r) } == 0;
    // rlim_t is u64 on Linux but not on every platform.
    #[allow(clippy::unnecessary_cast)]
    let cur = r.rlim_cur as u64;
    ok.then_some(if r.rlim_cur == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        cur
    })
}

fn process_families() -> Vec<Collected> {
    let mut out = Vec::new();
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| parse_stat(&t));
    let (Some(stat), Some(ticks), Some(page)) = (
        stat,
        sysconf(libc::_SC_CLK_TCK),
        sysconf(libc::_SC_PAGESIZE),
    ) else {
        return out;
    };
    out.push(single(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        "counter",
        stat.cpu_ticks as f64 / ticks as f64,
    ));
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        out.push(single(
            "process_open_fds",
            "Number of open file descriptors.",
            "gauge",
            fds.count() as f64,
        ));
    }
    if let Some(max) = soft_limit(libc::RLIMIT_NOFILE as _) {
        out.push(single(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            "gauge",
            max as f64,
        ));
    }
    out.push(single(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        "gauge",
        (stat.rss_pages * page) as f64,
    ));
    if let Some(boot) = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| parse_btime(&t))
    {
        out.push(single(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            "gauge",
            boot as f64 + stat.start_ticks as f64 / ticks as f64,
        ));
    }
    out.push(single(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        "gauge",
        stat.vsize_bytes as f64,
    ));
    if let Some(max) = soft_limit(libc::RLIMIT_AS as _) {
        out.push(single(
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            "gauge",
            max as f64,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let text = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 8 0 98765 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                cpu_ticks: 200,
                start_ticks: 98765,
                vsize_bytes: 123_456_789,
                rss_pages: 2048,
            })
        );
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn parses_btime() {
        assert_eq!(
            parse_btime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_btime("cpu 1\n"), None);
    }

    #[test]
    fn live_process_numbers_are_plausible() {
        let r = Registry::new();
        register_process_metrics(&r);
        let text = r.render();
        assert!(text.contains("prometheus_build_info{branch=\""), "{text}");
        assert!(text.contains(&format!("version=\"{}\"}} 1\n", BUILD_INFO.version)));
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
                .parse()
                .unwrap()
        };
        assert!(value("process_resident_memory_bytes") > 1e5);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = value("process_start_time_seconds");
        assert!(
            start <= now + 1.0 && start > now - 86_400.0,
            "{start} vs {now}"
        );
        assert!(value("process_cpu_seconds_total") >= 0.0);
    }
}
