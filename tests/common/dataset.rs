//! A deterministic dataset shaped like two hours of real scrapes, and a
//! remote-write push helper, for feeding ferroprom and real peers the same
//! samples.
//!
//! Every sample timestamp is a whole second plus 100–900 ms, while every
//! query time, step, range, offset and `@` used against it is whole seconds.
//! So no sample ever sits exactly on a range or lookback boundary, where
//! Prometheus 2.x (closed at the start) and 3.x (open) disagree.

use prost::Message;

use ferroprom::remote::proto::{Label, Sample, TimeSeries, WriteRequest};

/// The scrape interval the dataset imitates.
pub const STEP_MS: i64 = 15_000;
/// Scrapes per target over the two hours (both ends included).
pub const SCRAPES: i64 = 481;
/// Prometheus's staleness marker, bit for bit.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// xorshift64*: tiny, seeded and good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // A zero state would stay zero forever.
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// One series: labels sorted by name, samples in time order.
#[derive(Clone, Debug)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
}

/// Every series of the dataset.
pub struct Dataset {
    pub start_ms: i64,
    pub series: Vec<Series>,
}

impl Dataset {
    /// The newest sample timestamp (ms).
    pub fn end_ms(&self) -> i64 {
        self.series
            .iter()
            .filter_map(|s| s.samples.last().map(|p| p.0))
            .max()
            .unwrap_or(self.start_ms)
    }

    pub fn samples(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}

pub const JOBS: [&str; 3] = ["api", "web", "db"];
pub const INSTANCES: usize = 5;
pub const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

/// What happens to one target over the two hours.
struct Life {
    /// First scrape index with data.
    first: i64,
    /// Scrapes `[from, to)` with no data and no staleness marker (a
    /// partition); the target comes back restarted (counters from zero).
    outage: Option<(i64, i64)>,
    /// Scrape index where the target vanished: staleness markers there and
    /// nothing after.
    vanish: Option<i64>,
    /// Scrape index where the process restarted (counters from zero).
    restart: Option<i64>,
}

fn life(job: &str, inst: usize) -> Life {
    let mut l = Life {
        first: 0,
        outage: None,
        vanish: None,
        restart: None,
    };
    match (job, inst) {
        ("api", 4) => l.first = 120,
        ("web", 3) => l.vanish = Some(300),
        ("db", 4) => l.outage = Some((200, 280)),
        ("db", 1) => l.restart = Some(350),
        _ => {}
    }
    l
}

/// Builds the dataset starting at `start_ms` (a whole second).
pub fn generate(start_ms: i64, seed: u64) -> Dataset {
    assert_eq!(start_ms % 1000, 0, "start must be a whole second");
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for (ji, job) in JOBS.iter().enumerate() {
        for inst in 0..INSTANCES {
            target(
                &mut out,
                &mut rng,
                start_ms,
                job,
                ji * INSTANCES + inst,
                inst,
            );
        }
    }
    Dataset {
        start_ms,
        series: out,
    }
}

/// Per-target series, indexed for the scrape loop.
struct Target {
    requests: Vec<Series>,
    temperature: Vec<Series>,
    memory: Series,
    balance: Series,
    ratio: Series,
    buckets: Vec<Series>,
    sum: Series,
    count: Series,
    info: Series,
}

fn series(name: &str, job: &str, instance: &str, extra: &[(&str, &str)]) -> Series {
    let mut labels: Vec<(String, String)> = vec![
        ("__name__".into(), name.into()),
        ("job".into(), job.into()),
        ("instance".into(), instance.into()),
    ];
    labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    labels.sort();
    Series {
        labels,
        samples: Vec::new(),
    }
}

fn target(out: &mut Vec<Series>, rng: &mut Rng, start: i64, job: &str, idx: usize, inst: usize) {
    let instance = format!("host-{inst}.example:9100");
    let methods = ["get", "post"];
    let codes = ["200", "404", "500"];
    let mut t = Target {
        requests: Vec::new(),
        temperature: Vec::new(),
        memory: series("fp_memory_bytes", job, &instance, &[]),
        balance: series("fp_balance", job, &instance, &[]),
        ratio: series("fp_ratio", job, &instance, &[]),
        buckets: BUCKETS
            .iter()
            .map(|le| {
                series(
                    "fp_request_duration_seconds_bucket",
                    job,
                    &instance,
                    &[("le", le)],
                )
            })
            .collect(),
        sum: series("fp_request_duration_seconds_sum", job, &instance, &[]),
        count: series("fp_request_duration_seconds_count", job, &instance, &[]),
        info: series(
            "fp_build_info",
            job,
            &instance,
            &[(
                "version",
                if inst.is_multiple_of(2) {
                    "1.2.3"
                } else {
                    "1.3.0"
                },
            )],
        ),
    };
    for m in methods {
        for c in codes {
            t.requests.push(series(
                "fp_requests_total",
                job,
                &instance,
                &[("method", m), ("code", c)],
            ));
        }
    }
    for s in ["cpu", "board"] {
        t.temperature.push(series(
            "fp_temperature_celsius",
            job,
            &instance,
            &[("sensor", s)],
        ));
    }

    let life = life(job, inst);
    // A fixed phase per target, as Prometheus spreads targets over the
    // interval; kept in 200–800 ms so jitter never reaches a whole second.
    let phase = 200 + 100 * (idx as i64 % 7);
    let mut req = [0f64; 6];
    let mut temp = [40.0 + (idx % 5) as f64, 55.0 - (idx % 3) as f64];
    let mut mem = 1.0e9 + 1.0e7 * idx as f64;
    let mut balance = (idx as f64) - 7.0;
    let mut phase_angle = idx as f64;
    let mut hist = [0f64; 12];
    let mut hsum = 0.0;
    // One request series drops out of its target's payload for a while
    // (staleness marker at the first missing scrape), then returns.
    let flappy = idx == 0;
    let mut last_zero = life.first;

    for k in life.first..SCRAPES {
        if let Some((from, to)) = life.outage {
            if (from..to).contains(&k) {
                continue;
            }
        }
        let ts = start + k * STEP_MS + phase + rng.below(181) as i64 - 90;
        if life.vanish == Some(k) {
            let stale = f64::from_bits(STALE_NAN);
            for s in t.all_mut() {
                s.samples.push((ts, stale));
            }
            break;
        }
        if life.vanish.is_some_and(|v| k > v) {
            break;
        }
        let restarted = life.restart == Some(k) || life.outage.is_some_and(|(_, to)| k == to);
        if restarted {
            req = [0.0; 6];
            hist = [0.0; 12];
            hsum = 0.0;
        }
        // A missed scrape: nothing from this target this time. Never within
        // 40 scrapes after a counter went back to zero: a range starting in
        // such a gap, whose first counter value is small next to the
        // increase, is the other case where 2.x and 3.x order rate's
        // extrapolation rules differently.
        if k > life.first && !restarted && k - last_zero > 40 && rng.below(50) == 0 {
            continue;
        }

        // A (re)started process exposes its counters at zero first. That
        // also keeps `rate` clear of the one extrapolation rule 2.x and 3.x
        // order differently (the zero-point cut-off vs the half-interval
        // cap, for a series starting inside the range): with a first value
        // of zero both give zero.
        let fresh = k == life.first || restarted;
        if fresh {
            last_zero = k;
        }
        let rates = [12.0, 0.6, 0.15];
        for (i, r) in req.iter_mut().enumerate() {
            if fresh {
                break;
            }
            let base = rates[i % 3] * if i < 3 { 1.0 } else { 0.3 };
            *r += (base * 15.0 * (0.5 + rng.unit())).round();
            // Rare counter resets of a single series, to zero for the
            // same reason.
            if rng.below(400) == 0 {
                *r = 0.0;
                last_zero = k;
            }
        }
        for (i, s) in t.requests.iter_mut().enumerate() {
            if flappy && i == 5 && (240..300).contains(&k) {
                if k == 240 {
                    s.samples.push((ts, f64::from_bits(STALE_NAN)));
                }
                continue;
            }
            s.samples.push((ts, req[i]));
        }
        for (i, s) in t.temperature.iter_mut().enumerate() {
            temp[i] += ((rng.unit() - 0.5) * 100.0).round() / 100.0;
            s.samples.push((ts, temp[i]));
        }
        mem += ((rng.unit() - 0.45) * 1.0e6).round();
        t.memory.samples.push((ts, mem));
        balance += rng.below(7) as f64 - 3.0;
        t.balance.samples.push((ts, balance));
        phase_angle += 0.05 + rng.unit() * 0.1;
        // Not rounded: ties would make topk/bottomk's choice arbitrary.
        t.ratio.samples.push((ts, phase_angle.sin()));

        let n = if fresh { 0 } else { rng.below(25) };
        for _ in 0..n {
            // Skewed durations: mostly fast, a long tail.
            let d = 0.002 * (rng.unit() * 9.0).exp();
            hsum += d;
            for (b, le) in BUCKETS.iter().enumerate() {
                let bound: f64 = if *le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                if d <= bound {
                    hist[b] += 1.0;
                }
            }
        }
        for (b, s) in t.buckets.iter_mut().enumerate() {
            s.samples.push((ts, hist[b]));
        }
        t.sum.samples.push((ts, hsum));
        t.count.samples.push((ts, hist[11]));
        t.info.samples.push((ts, 1.0));
    }
    out.extend(t.into_all());
}

impl Target {
    fn all_mut(&mut self) -> impl Iterator<Item = &mut Series> {
        self.requests
            .iter_mut()
            .chain(self.temperature.iter_mut())
            .chain([
                &mut self.memory,
                &mut self.balance,
                &mut self.ratio,
                &mut self.sum,
                &mut self.count,
                &mut self.info,
            ])
            .chain(self.buckets.iter_mut())
    }

    fn into_all(self) -> Vec<Series> {
        let mut v = self.requests;
        v.extend(self.temperature);
        v.extend([
            self.memory,
            self.balance,
            self.ratio,
            self.sum,
            self.count,
            self.info,
        ]);
        v.extend(self.buckets);
        v
    }
}

/// Sends `ds` to a remote-write 1.0 endpoint in time order, one request per
/// `window_ms` of data, as a sender catching up would: receivers reject
/// samples far behind their newest, so older data must go first.
pub fn push(client: &reqwest::blocking::Client, url: &str, ds: &Dataset, window_ms: i64) {
    let mut cursor = vec![0usize; ds.series.len()];
    let end = ds.end_ms();
    let mut from = ds.start_ms;
    while from <= end {
        let to = from + window_ms;
        let mut req = WriteRequest::default();
        for (s, c) in ds.series.iter().zip(cursor.iter_mut()) {
            let begin = *c;
            while *c < s.samples.len() && s.samples[*c].0 < to {
                *c += 1;
            }
            if *c == begin {
                continue;
            }
            req.timeseries.push(TimeSeries {
                labels: s
                    .labels
                    .iter()
                    .map(|(n, v)| Label {
                        name: n.clone(),
                        value: v.clone(),
                    })
                    .collect(),
                samples: s.samples[begin..*c]
                    .iter()
                    .map(|&(timestamp, value)| Sample { value, timestamp })
                    .collect(),
                ..Default::default()
            });
        }
        if !req.timeseries.is_empty() {
            send(client, url, &req);
        }
        from = to;
    }
}

/// One remote-write request with the headers Prometheus sends.
pub fn send(client: &reqwest::blocking::Client, url: &str, req: &WriteRequest) {
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let r = client
        .post(url)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .unwrap_or_else(|e| panic!("remote write to {url}: {e}"));
    let status = r.status();
    assert!(
        status.is_success(),
        "remote write to {url}: {status}: {}",
        r.text().unwrap_or_default()
    );
}
