//! Synthetic exporter data: per target (`instance`), 100 series the way an
//! application and a node exporter expose them. Values carry noise, as
//! real ones do, so compression is not flattered by perfectly regular
//! series:
//!
//! - `http_requests_total{handler, code}` (20): integer counters rising at
//!   noisy, per-target rates;
//! - `http_request_duration_seconds_bucket{handler, le}` (50), `_sum` and
//!   `_count` (5 each): classic histograms, cumulative across `le` at every
//!   sample, `_sum` arbitrary doubles;
//! - `node_cpu_seconds_total{cpu, mode}` (8): counters with two decimals;
//! - gauges (12): memory and file system bytes (multiples of 4096, random
//!   walks), `node_load1` (two decimals), temperatures (one decimal),
//!   constant sizes.
//!
//! Targets whose number is 7 mod 50 restart halfway: their `http_*`
//! counters reset to zero. Every series of a target shares its scrape's
//! timestamp, 15 s apart with a per-target offset.

use ferroprom::remote::proto::{Label, Sample};

use crate::load::label;

pub const INTERVAL_MS: i64 = 15_000;
pub const PER_TARGET: usize = 100;

/// Every metric name, for counting samples name by name.
pub const NAMES: [&str; 12] = [
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_sum",
    "http_request_duration_seconds_count",
    "node_cpu_seconds_total",
    "node_memory_MemAvailable_bytes",
    "node_memory_MemTotal_bytes",
    "node_load1",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_hwmon_temp_celsius",
    "process_resident_memory_bytes",
];

pub const HANDLERS: [&str; 5] = ["/api/orders", "/api/users", "/static", "/login", "/healthz"];
const HANDLER_RATE: [f64; 5] = [40.0, 12.0, 90.0, 2.0, 0.5];
/// Typical latency (s) per handler.
const HANDLER_LATENCY: [f64; 5] = [0.08, 0.03, 0.004, 0.25, 0.001];
const CODES: [&str; 4] = ["200", "404", "500", "503"];
const CODE_SHARE: [f64; 4] = [0.95, 0.03, 0.015, 0.005];
const LES: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];
const MODES: [&str; 4] = ["idle", "user", "system", "iowait"];
const MODE_SHARE: [f64; 4] = [0.7, 0.2, 0.07, 0.03];
const MOUNTS: [&str; 3] = ["/", "/var", "/home"];
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

pub fn instance(target: usize) -> String {
    format!("host-{target:04}:9100")
}

/// Series `i` is slot `i % 100` of target `i / 100`.
pub fn labels(i: usize) -> Vec<Label> {
    let (t, k) = (i / PER_TARGET, i % PER_TARGET);
    let app = k < 80 || k == 99;
    let mut l = vec![
        label("env", "prod"),
        label("instance", instance(t)),
        label("job", if app { "api" } else { "node" }),
        label("region", ["eu-west", "us-east"][t % 2]),
    ];
    let name = match k {
        0..20 => {
            l.push(label("handler", HANDLERS[k / 4]));
            l.push(label("code", CODES[k % 4]));
            NAMES[0]
        }
        20..70 => {
            l.push(label("handler", HANDLERS[(k - 20) / 10]));
            l.push(label("le", LES[(k - 20) % 10]));
            NAMES[1]
        }
        70..80 => {
            l.push(label("handler", HANDLERS[(k - 70) % 5]));
            NAMES[if k < 75 { 2 } else { 3 }]
        }
        80..88 => {
            l.push(label("cpu", ((k - 80) / 4).to_string()));
            l.push(label("mode", MODES[(k - 80) % 4]));
            NAMES[4]
        }
        88 => NAMES[5],
        89 => NAMES[6],
        90 => NAMES[7],
        91..97 => {
            l.push(label("device", ["sda1", "sda2", "sdb1"][(k - 91) % 3]));
            l.push(label("mountpoint", MOUNTS[(k - 91) % 3]));
            NAMES[if k < 94 { 8 } else { 9 }]
        }
        97 | 98 => {
            l.push(label("sensor", ["temp1", "temp2"][k - 97]));
            NAMES[10]
        }
        _ => NAMES[11],
    };
    l.push(label("__name__", name));
    l.sort_by(|a, b| a.name.cmp(&b.name));
    l
}

/// Uniform in [0, 1), a pure function of `key`.
fn uniform(key: u64) -> f64 {
    // splitmix64
    let mut z = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn key(a: usize, b: usize, c: usize) -> u64 {
    (a as u64).wrapping_mul(0x1000_0000_01b3) ^ (b as u64).wrapping_mul(0x9e37_79b1) ^ c as u64
}

/// The series' values so far, one per series, advanced sample by sample.
pub struct Synthetic {
    t0: i64,
    samples: usize,
    value: Vec<f64>,
}

impl Synthetic {
    /// `series` series of `samples` samples, the first round at `t0` (ms).
    pub fn new(series: usize, samples: usize, t0: i64) -> Synthetic {
        Synthetic {
            t0,
            samples,
            value: vec![0.0; series],
        }
    }

    /// Sample `r` of series `i`; must be asked in increasing `r` per series.
    pub fn sample(&mut self, i: usize, r: usize) -> Option<Sample> {
        if r >= self.samples {
            return None;
        }
        let (t, k) = (i / PER_TARGET, i % PER_TARGET);
        let app = k < 80 || k == 99;
        let offset = (uniform(key(t, usize::from(app), 1)) * INTERVAL_MS as f64) as i64;
        let timestamp = self.t0 + r as i64 * INTERVAL_MS + offset;
        let target_scale = 0.5 + uniform(key(t, 0, 2));
        let restart = t % 50 == 7 && r == self.samples / 2 && k < 80;
        let u = uniform(key(i, r, 3));
        let first = r == 0;
        let v = &mut self.value[i];
        if restart {
            *v = 0.0;
        }
        match k {
            0..20 => {
                let rate = HANDLER_RATE[k / 4] * CODE_SHARE[k % 4] * target_scale;
                if first {
                    *v = (uniform(key(i, 0, 4)) * 1e6).floor();
                }
                *v += (rate * 15.0 * (0.8 + 0.4 * u)).round();
            }
            20..80 => {
                let h = if k < 70 { (k - 20) / 10 } else { (k - 70) % 5 };
                // One draw per (target, handler, round), shared by the
                // handler's buckets, sum and count.
                let n =
                    (HANDLER_RATE[h] * target_scale * 15.0 * (0.8 + 0.4 * uniform(key(t, h, r))))
                        .round();
                let scale = HANDLER_LATENCY[h] * (0.7 + 0.6 * uniform(key(t, h + 100, r)));
                if first {
                    // Earlier traffic, the same shape for all buckets.
                    let before = (uniform(key(t, h, 5)) * 1e4).floor();
                    *v = match k {
                        20..70 => (before * cdf((k - 20) % 10, scale)).round(),
                        70..75 => before * scale,
                        _ => before,
                    };
                }
                *v += match k {
                    20..70 => (n * cdf((k - 20) % 10, scale)).round(),
                    70..75 => n * scale * (0.9 + 0.2 * u),
                    _ => n,
                };
            }
            80..88 => {
                let share = MODE_SHARE[(k - 80) % 4];
                if first {
                    *v = (uniform(key(i, 0, 4)) * 1e6).round() / 100.0;
                }
                *v = ((*v + share * 15.0 * (0.8 + 0.4 * u)) * 100.0).round() / 100.0;
            }
            88 | 99 => {
                let base = if k == 88 { 8.0 * GIB } else { 0.5 * GIB };
                if first {
                    *v = pages(base * (0.5 + uniform(key(i, 0, 4))));
                }
                *v = pages((*v + (u - 0.5) * base * 0.01).max(base * 0.1));
            }
            89 => *v = 16.0 * GIB * (1 + t % 2) as f64,
            90 => {
                let wave = (r as f64 / 20.0 + t as f64).sin() * 0.5;
                *v = ((1.0 + target_scale + wave + u * 0.3) * 100.0).round() / 100.0;
            }
            91..94 => {
                if first {
                    *v = pages(100.0 * GIB * (0.2 + uniform(key(i, 0, 4))));
                }
                *v = pages(*v - u * 1e6);
            }
            94..97 => *v = 128.0 * GIB * (1 + k - 94) as f64,
            _ => {
                let base = 40.0 + 15.0 * uniform(key(i, 0, 4));
                *v = ((base + (r as f64 / 30.0).sin() * 3.0 + u) * 10.0).round() / 10.0;
            }
        }
        Some(Sample {
            value: *v,
            timestamp,
        })
    }
}

/// Share of requests at most `LES[j]` seconds for latencies spread around
/// `scale` seconds; 1 for `+Inf`. Rises with `j`, so buckets stay
/// cumulative.
fn cdf(j: usize, scale: f64) -> f64 {
    if j + 1 == LES.len() {
        return 1.0;
    }
    let le: f64 = LES[j].parse().expect("le");
    1.0 - (-le / scale).exp()
}

/// Whole 4 KiB pages.
fn pages(bytes: f64) -> f64 {
    (bytes / 4096.0).round() * 4096.0
}
