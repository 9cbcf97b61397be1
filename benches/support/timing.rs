//! Timing shared by the PromQL benches: wall clock or a CPU clock, chosen
//! by `PROMQL_BENCH_CPU_TIME=1`.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// CPU time used so far by `clock` (`CLOCK_THREAD_CPUTIME_ID` for the
/// calling thread, `CLOCK_PROCESS_CPUTIME_ID` for every thread).
fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock})");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` `iters` times; returns the elapsed wall time, or the CPU time
/// of `cpu_clock` when one is given.
pub fn timed<T>(
    iters: u64,
    cpu_clock: Option<libc::clockid_t>,
    mut f: impl FnMut() -> T,
) -> Duration {
    let start = (Instant::now(), cpu_clock.map(cpu_time));
    for _ in 0..iters {
        black_box(f());
    }
    match (cpu_clock, start.1) {
        (Some(clock), Some(cpu0)) => cpu_time(clock) - cpu0,
        _ => start.0.elapsed(),
    }
}
