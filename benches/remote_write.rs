//! Remote-write receiver benchmarks, for issue 5's goal of one million
//! samples per second or more into ferroprom.
//!
//! Requests are realistic in shape: node-exporter-like series (name plus
//! `instance`, `job` and two more labels), encoded and snappy-compressed
//! as a sender does.
//!
//! - `decode/<shape>`: snappy + protobuf decoding alone (the borrowing
//!   decoder of `ferroprom::remote::receive::decode`).
//! - `append/<shape>`: decode, validate, append and commit into a real
//!   `storage::Db` with the default WAL options (as the server runs).
//! - `append_nosync/<shape>`: the same without the WAL fsync.
//!
//! Each append group feeds one `SeriesRefCache`, as the server does, so
//! after the first request known series are appended by ref.
//!
//! Shapes: `500x20` is 500 series with 20 samples each per request;
//! `2000x1` is what Prometheus's sender really posts (max_samples_per_send
//! 2000, one sample per `TimeSeries` entry, each of 500 series four times);
//! `2000x1_distinct` is the same with 2000 different series per request, as
//! a sender shard with more series than `max_samples_per_send` sends;
//! `2000x1_20k` cycles through 20,000 series 2000 at a time, one sample
//! each (what the end-to-end `remote_write_peers` benchmark sends), so the
//! series of one request are no longer in the CPU caches from the last.
//! Every timed request carries newer timestamps than the one before, so
//! every sample is really appended. Throughput is samples/s.
//!
//! Run: `cargo bench --bench remote_write`.

use std::cell::Cell;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferroprom::config::NameValidationScheme;
use ferroprom::remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use ferroprom::remote::receive::write;
use ferroprom::remote::SeriesRefCache;
use prost::Message;
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Options};

fn labels(i: usize) -> Vec<Label> {
    let l = |n: &str, v: String| Label {
        name: n.into(),
        value: v,
    };
    vec![
        l("__name__", format!("node_cpu_seconds_total_{}", i % 25)),
        l("cpu", (i % 8).to_string()),
        l("instance", format!("host-{}.example.org:9100", i / 25)),
        l("job", "node".into()),
        l("mode", ["idle", "user", "system", "iowait"][i % 4].into()),
    ]
}

/// The `n`th compressed request of `s`, its first samples at `base` ms.
fn request(s: &Shape, n: usize, base: i64) -> Vec<u8> {
    let (per_entry, entries) = (s.per_entry, s.entries);
    let first = (n * s.series) % s.pool;
    let mut timeseries = Vec::with_capacity(entries);
    for e in 0..entries {
        let series = first + e % s.series;
        let round = (e / s.series) as i64;
        let samples = (0..per_entry as i64)
            .map(|k| Sample {
                value: (series as f64) * 1.5 + (k + round) as f64,
                timestamp: base + (k + round) * 15_000,
            })
            .collect();
        timeseries.push(TimeSeries {
            labels: labels(series),
            samples,
            ..Default::default()
        });
    }
    let req = WriteRequest {
        timeseries,
        metadata: vec![],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap()
}

struct Shape {
    name: &'static str,
    per_entry: usize,
    entries: usize,
    /// Distinct series per request.
    series: usize,
    /// Series sent in turn, `series` per request.
    pool: usize,
}

const SHAPES: [Shape; 4] = [
    Shape {
        name: "500x20",
        per_entry: 20,
        entries: 500,
        series: 500,
        pool: 500,
    },
    Shape {
        name: "2000x1",
        per_entry: 1,
        entries: 2000,
        series: 500,
        pool: 500,
    },
    Shape {
        name: "2000x1_distinct",
        per_entry: 1,
        entries: 2000,
        series: 2000,
        pool: 2000,
    },
    Shape {
        name: "2000x1_20k",
        per_entry: 1,
        entries: 2000,
        series: 2000,
        pool: 20_000,
    },
];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for s in &SHAPES {
        let body = request(s, 0, 0);
        // Nothing cached: every series' labels are decoded.
        let refs = SeriesRefCache::default();
        g.throughput(Throughput::Elements((s.per_entry * s.entries) as u64));
        g.bench_function(s.name, |b| {
            b.iter(|| {
                let raw = write::decompress(&body).unwrap();
                write::decode(&raw, NameValidationScheme::Utf8, &refs, 1)
                    .unwrap()
                    .len()
            })
        });
    }
    g.finish();

    for (group, sync) in [("append", None), ("append_nosync", Some(SyncPolicy::Never))] {
        let mut g = c.benchmark_group(group);
        for s in &SHAPES {
            let dir = tempfile::tempdir().unwrap();
            let mut opts = Options {
                compaction_interval: None,
                ..Options::default()
            };
            if let Some(sync) = sync {
                opts.wal = WalOptions { sync, ..opts.wal };
            }
            let db = Db::open(dir.path(), opts).unwrap();
            // One receiver-wide cache per database, as the server holds.
            let refs = SeriesRefCache::default();
            let samples = (s.per_entry * s.entries) as u64;
            // A round (every series of the pool sent once per sample of
            // an entry) covers this many ms of sample time.
            let span = 15_000 * (samples / s.series as u64) as i64;
            let rounds = s.pool / s.series;
            let next = Cell::new(0usize);
            g.throughput(Throughput::Elements(samples));
            g.bench_function(s.name, |b| {
                b.iter_batched(
                    || {
                        let n = next.get();
                        next.set(n + 1);
                        let base = 1_700_000_000_000 + (n / rounds) as i64 * span;
                        request(s, n, base)
                    },
                    |body| {
                        let u = NameValidationScheme::Utf8;
                        let raw = write::decompress(&body).unwrap();
                        let g = refs.begin();
                        let batch = write::decode(&raw, u, &refs, g).unwrap();
                        let out =
                            write::append(&db, &batch, u, &Default::default(), &refs, g).unwrap();
                        assert_eq!(out.appended as u64, samples);
                    },
                    BatchSize::SmallInput,
                )
            });
            drop(db);
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
