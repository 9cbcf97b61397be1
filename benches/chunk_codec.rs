//! Chunk codec benchmarks: encode and decode 120-sample chunks, and the
//! compressed size on the real dataset (`../shared/datasets`).

use std::collections::HashMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use storage::chunk::{Chunk, ChunkBytes, Encoding, XorBuilder, MAX_SAMPLES_PER_CHUNK};

const DATASET: &str = "../shared/datasets/real-exporters-1h.om.txt.gz";

/// A counter scraped every 15 s with a few ms of jitter.
fn synthetic() -> Vec<(i64, f64)> {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut v = 0.0;
    (0..MAX_SAMPLES_PER_CHUNK as i64)
        .map(|i| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            v += (rng % 16) as f64;
            (
                1_700_000_000_000 + i * 15_000 + (rng >> 20) as i64 % 5 - 2,
                v,
            )
        })
        .collect()
}

fn encode(s: &[(i64, f64)]) -> Vec<u8> {
    let mut b = XorBuilder::new();
    for &(t, v) in s {
        b.append(t, v);
    }
    b.encode()
}

/// Reads the dataset into per-series samples (in file order).
fn load_dataset(path: &Path) -> std::io::Result<Vec<Vec<(i64, f64)>>> {
    let f = std::fs::File::open(path)?;
    let r = BufReader::new(flate2::read::GzDecoder::new(f));
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<Vec<(i64, f64)>> = Vec::new();
    for line in r.lines() {
        let line = line?;
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        // series = everything before the last two space-separated fields.
        let Some((rest, ts)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some((name, val)) = rest.rsplit_once(' ') else {
            continue;
        };
        let (Ok(ts), Ok(v)) = (ts.parse::<f64>(), parse_value(val)) else {
            continue;
        };
        let t = (ts * 1000.0).round() as i64;
        let i = *index.entry(name.to_string()).or_insert_with(|| {
            series.push(Vec::new());
            series.len() - 1
        });
        series[i].push((t, v));
    }
    Ok(series)
}

fn parse_value(s: &str) -> Result<f64, std::num::ParseFloatError> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse(),
    }
}

/// Encodes every series into 120-sample chunks; returns (samples, bytes).
fn dataset_size(series: &[Vec<(i64, f64)>]) -> (usize, usize, usize) {
    let (mut samples, mut bytes, mut chunks) = (0, 0, 0);
    for s in series {
        let mut s = s.clone();
        s.sort_by_key(|x| x.0);
        s.dedup_by_key(|x| x.0);
        for c in s.chunks(MAX_SAMPLES_PER_CHUNK) {
            let enc = encode(c);
            // Check the round trip while we are at it.
            let chunk = Chunk::new(Encoding::Xor, ChunkBytes::from_vec(enc.clone()));
            assert_eq!(chunk.iter().count(), c.len());
            samples += c.len();
            bytes += enc.len();
            chunks += 1;
        }
    }
    (samples, bytes, chunks)
}

fn report_dataset() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DATASET);
    if !path.exists() {
        println!(
            "dataset {} missing: skipping the size measurement",
            path.display()
        );
        return;
    }
    match load_dataset(&path) {
        Ok(series) => {
            let (samples, bytes, chunks) = dataset_size(&series);
            println!(
                "real dataset: {} series, {samples} samples, {chunks} chunks, {bytes} chunk bytes = {:.3} bytes/sample",
                series.len(),
                bytes as f64 / samples as f64
            );
        }
        Err(e) => println!(
            "dataset {}: {e}: skipping the size measurement",
            path.display()
        ),
    }
}

fn bench(c: &mut Criterion) {
    report_dataset();
    let s = synthetic();
    let enc = encode(&s);
    println!(
        "synthetic jittered counter: {:.3} bytes/sample",
        enc.len() as f64 / s.len() as f64
    );
    let chunk = Chunk::new(Encoding::Xor, ChunkBytes::from_vec(enc));

    let mut g = c.benchmark_group("chunk_codec");
    g.throughput(Throughput::Elements(s.len() as u64));
    g.bench_function("encode_120", |b| b.iter(|| encode(black_box(&s))));
    g.bench_function("decode_120", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for (t, v) in black_box(&chunk).iter() {
                sum += v + t as f64;
            }
            sum
        })
    });
    g.bench_function("seek_last_120", |b| {
        b.iter(|| black_box(&chunk).iter().seek(s[s.len() - 1].0))
    });
    // Bulk decoding as range selectors use it.
    let mut out = Vec::with_capacity(MAX_SAMPLES_PER_CHUNK);
    g.bench_function("read_into_120", |b| {
        b.iter(|| {
            out.clear();
            black_box(&chunk).read_into(i64::MIN, i64::MAX, &mut out);
            out.len()
        })
    });
    g.finish();

    // The shape of `promql_eval`'s data: every 10 s exactly, counters
    // growing by a constant 1..=10 per scrape; ten chunks per increment.
    let regular: Vec<Chunk> = (1..=10)
        .flat_map(|inc| {
            (0..10i64).map(move |c| {
                let s: Vec<(i64, f64)> = (0..MAX_SAMPLES_PER_CHUNK as i64)
                    .map(|i| {
                        let k = c * MAX_SAMPLES_PER_CHUNK as i64 + i;
                        (k * 10_000, (k * inc) as f64)
                    })
                    .collect();
                Chunk::new(Encoding::Xor, ChunkBytes::from_vec(encode(&s)))
            })
        })
        .collect();
    let mut g = c.benchmark_group("chunk_codec_regular");
    g.throughput(Throughput::Elements(
        (regular.len() * MAX_SAMPLES_PER_CHUNK) as u64,
    ));
    let mut out = Vec::with_capacity(MAX_SAMPLES_PER_CHUNK);
    g.bench_function("read_into_100x120", |b| {
        b.iter(|| {
            let mut n = 0;
            for c in black_box(&regular) {
                out.clear();
                c.read_into(i64::MIN, i64::MAX, &mut out);
                n += out.len();
            }
            n
        })
    });
    // A range that cuts into the first and the last chunk.
    let (lo, hi) = (55 * 10_000, (10 * 120 - 7) * 10_000);
    g.bench_function("read_into_100x120_cut", |b| {
        b.iter(|| {
            let mut n = 0;
            for c in black_box(&regular) {
                out.clear();
                c.read_into(lo, hi, &mut out);
                n += out.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
