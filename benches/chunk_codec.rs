//! Chunk codec benchmarks: encode and decode 120-sample chunks in both
//! encodings (`Xor`, `Alp`), the compressed size on the real dataset
//! (`../shared/datasets`) and on synthetic series, and the bytes of a block
//! imported from the real dataset (chunks, index by section).
//!
//! Speed figures are best read as ratios between the two encodings in the
//! same run: the machine is shared.

use std::collections::HashMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use storage::chunk::{
    densest, encode_alp, Chunk, ChunkBytes, Encoding, XorBuilder, MAX_SAMPLES_PER_CHUNK,
};

/// The real hour, under `shared/` next to the checkout or next to one of
/// its parents (worktrees live a level deeper than the main checkout).
const DATASET: &str = "shared/datasets/real-exporters-1h.om.txt.gz";

/// A counter scraped every 15 s with a few ms of jitter.
fn synthetic() -> Vec<(i64, f64)> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut v = 0.0;
    (0..MAX_SAMPLES_PER_CHUNK as i64)
        .map(|i| {
            let rng = xorshift(&mut state);
            v += (rng % 16) as f64;
            (
                1_700_000_000_000 + i * 15_000 + (rng >> 20) as i64 % 5 - 2,
                v,
            )
        })
        .collect()
}

/// Xorshift64: reproducible data without a dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
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

/// Chunk bytes of series cut into 120-sample chunks, in `Xor` alone and in
/// the smaller of the two encodings per chunk (what blocks store).
#[derive(Default)]
struct Sizes {
    samples: usize,
    chunks: usize,
    xor: usize,
    densest: usize,
    /// Chunks stored as `Alp`.
    alp_chunks: usize,
}

impl Sizes {
    fn of(series: &[Vec<(i64, f64)>]) -> Sizes {
        let mut z = Sizes::default();
        for s in series {
            let mut s = s.clone();
            s.sort_by_key(|x| x.0);
            s.dedup_by_key(|x| x.0);
            for c in s.chunks(MAX_SAMPLES_PER_CHUNK) {
                let xor = encode(c);
                let best = densest(c);
                // Check the round trip while we are at it.
                let got: Vec<(i64, u64)> = best.iter().map(|(t, v)| (t, v.to_bits())).collect();
                let want: Vec<(i64, u64)> = c.iter().map(|(t, v)| (*t, v.to_bits())).collect();
                assert_eq!(got, want);
                z.samples += c.len();
                z.chunks += 1;
                z.xor += xor.len();
                z.densest += best.data.len();
                z.alp_chunks += (best.encoding == Encoding::Alp) as usize;
            }
        }
        z
    }

    fn print(&self, what: &str) {
        let per = |b: usize| b as f64 / self.samples as f64;
        println!(
            "{what}: {} samples, {} chunks: xor {:.3} B/sample, densest {:.3} B/sample ({} of the chunks alp)",
            self.samples,
            self.chunks,
            per(self.xor),
            per(self.densest),
            self.alp_chunks,
        );
    }
}

fn dataset_path() -> std::path::PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .skip(1)
        .map(|d| d.join(DATASET))
        .find(|p| p.exists())
        .unwrap_or_else(|| manifest.join("..").join(DATASET))
}

fn report_dataset() {
    let path = dataset_path();
    if !path.exists() {
        println!(
            "dataset {} missing: skipping the size measurement",
            path.display()
        );
        return;
    }
    match load_dataset(&path) {
        Ok(series) => Sizes::of(&series).print("real dataset"),
        Err(e) => println!(
            "dataset {}: {e}: skipping the size measurement",
            path.display()
        ),
    }
}

/// Series of one shape, by name.
type Shape = (&'static str, Vec<Vec<(i64, f64)>>);

/// Synthetic series of 240 samples at 15 s with ±2 ms of jitter, by
/// shape: counters with irregular increments, gauges with two fraction
/// digits, noisy gauges (random doubles), and the `remote_write_peers`
/// load (counters growing at a per-series rate, exact timestamps).
fn synthetic_series() -> Vec<Shape> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || xorshift(&mut state);
    let t = |i: i64, j: i64| 1_700_000_000_000 + i * 15_000 + j;
    let mut out = Vec::new();
    let mut shape = |name, f: &mut dyn FnMut(i64) -> (i64, f64)| {
        let series = (0..200).map(|_| (0..240).map(&mut *f).collect()).collect();
        out.push((name, series));
    };
    let mut c = 0.0;
    shape("counters", &mut |i| {
        let r = next();
        c += (r % 50) as f64;
        (t(i, (r >> 20) as i64 % 5 - 2), c)
    });
    shape("gauges_2dp", &mut |i| {
        let r = next();
        let v: f64 = format!("{}.{:02}", 40 + r % 20, (r >> 8) % 100)
            .parse()
            .unwrap();
        (t(i, (r >> 20) as i64 % 5 - 2), v)
    });
    shape("noise", &mut |i| {
        let r = next();
        (
            t(i, (r >> 20) as i64 % 5 - 2),
            (r >> 11) as f64 / (1u64 << 53) as f64,
        )
    });
    let mut series = 0usize;
    shape("peers_load", &mut |i| {
        if i == 0 {
            series += 1;
        }
        let rate = 1.0 + (series % 17) as f64 * 0.25;
        (t(i, 0), (series * 1000) as f64 + rate * i as f64 * 15.0)
    });
    out
}

/// Bytes of the block the importer writes for the real dataset: chunks and
/// index, the index by section.
fn report_block() {
    let Ok(gz) = std::fs::read(dataset_path()) else {
        return;
    };
    let mut text = Vec::new();
    if flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut text)
        .is_err()
    {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = match ferroprom::import::import(&text, dir.path(), &mut std::io::sink()) {
        Ok(s) => s,
        Err(e) => {
            println!("import failed: {e}");
            return;
        }
    };
    let samples = summary.samples as f64;
    let (mut chunks, mut index) = (0u64, 0u64);
    let mut sections = [0u64; 5];
    for b in &summary.blocks {
        let bdir = dir.path().join(b.ulid.to_string());
        for e in std::fs::read_dir(bdir.join("chunks")).expect("chunks dir") {
            chunks += e.expect("entry").metadata().expect("metadata").len();
        }
        let ix = std::fs::read(bdir.join("index")).expect("index");
        index += ix.len() as u64;
        // Section sizes from the TOC's offsets (its last 44 bytes).
        let toc = ix.len() - 44;
        let off =
            |i: usize| u64::from_be_bytes(ix[toc + 8 * i..toc + 8 * i + 8].try_into().unwrap());
        let ends = [off(1), off(2), off(3), off(4), toc as u64];
        for i in 0..5 {
            sections[i] += ends[i] - off(i);
        }
    }
    let names = [
        "symbols",
        "series",
        "series offsets",
        "postings",
        "postings offsets",
    ];
    println!(
        "real dataset block: {} series, chunks {:.3} + index {:.3} = {:.3} B/sample",
        summary.series,
        chunks as f64 / samples,
        index as f64 / samples,
        (chunks + index) as f64 / samples
    );
    let per_series = |b: u64| b as f64 / summary.series as f64;
    let parts: Vec<String> = names
        .iter()
        .zip(sections)
        .map(|(n, b)| format!("{n} {b} ({:.1}/series)", per_series(b)))
        .collect();
    println!("  index {index} bytes: {}", parts.join(", "));
}

fn bench(c: &mut Criterion) {
    report_dataset();
    report_block();
    for (name, series) in synthetic_series() {
        Sizes::of(&series).print(&format!("synthetic {name}"));
    }
    let s = synthetic();
    let enc = encode(&s);
    let alp = encode_alp(&s).expect("encodable");
    println!(
        "synthetic jittered counter: xor {:.3}, alp {:.3} bytes/sample",
        enc.len() as f64 / s.len() as f64,
        alp.len() as f64 / s.len() as f64
    );
    let chunk = Chunk::new(Encoding::Xor, ChunkBytes::from_vec(enc));
    let alp_chunk = Chunk::new(Encoding::Alp, ChunkBytes::from_vec(alp));

    let mut g = c.benchmark_group("chunk_codec");
    g.throughput(Throughput::Elements(s.len() as u64));
    g.bench_function("encode_120", |b| b.iter(|| encode(black_box(&s))));
    g.bench_function("encode_alp_120", |b| b.iter(|| encode_alp(black_box(&s))));
    g.bench_function("densest_120", |b| b.iter(|| densest(black_box(&s))));
    for (name, chunk) in [("xor", &chunk), ("alp", &alp_chunk)] {
        g.bench_function(format!("decode_120_{name}"), |b| {
            b.iter(|| {
                let mut sum = 0.0;
                for (t, v) in black_box(chunk).iter() {
                    sum += v + t as f64;
                }
                sum
            })
        });
        g.bench_function(format!("seek_last_120_{name}"), |b| {
            b.iter(|| black_box(chunk).iter().seek(s[s.len() - 1].0))
        });
        // Bulk decoding as range selectors use it.
        let mut out = Vec::with_capacity(MAX_SAMPLES_PER_CHUNK);
        g.bench_function(format!("read_into_120_{name}"), |b| {
            b.iter(|| {
                out.clear();
                black_box(chunk).read_into(i64::MIN, i64::MAX, &mut out);
                out.len()
            })
        });
    }
    g.finish();

    // The shape of `promql_eval`'s data: every 10 s exactly, counters
    // growing by a constant 1..=10 per scrape; ten chunks per increment.
    let regular: Vec<Vec<(i64, f64)>> = (1..=10)
        .flat_map(|inc| {
            (0..10i64).map(move |c| {
                (0..MAX_SAMPLES_PER_CHUNK as i64)
                    .map(|i| {
                        let k = c * MAX_SAMPLES_PER_CHUNK as i64 + i;
                        (k * 10_000, (k * inc) as f64)
                    })
                    .collect()
            })
        })
        .collect();
    let mut g = c.benchmark_group("chunk_codec_regular");
    g.throughput(Throughput::Elements(
        (regular.len() * MAX_SAMPLES_PER_CHUNK) as u64,
    ));
    let as_xor = |s: &Vec<(i64, f64)>| Chunk::new(Encoding::Xor, ChunkBytes::from_vec(encode(s)));
    let as_alp = |s: &Vec<(i64, f64)>| {
        Chunk::new(
            Encoding::Alp,
            ChunkBytes::from_vec(encode_alp(s).expect("encodable")),
        )
    };
    for (name, chunks) in [
        ("xor", regular.iter().map(as_xor).collect::<Vec<_>>()),
        ("alp", regular.iter().map(as_alp).collect()),
    ] {
        let mut out = Vec::with_capacity(MAX_SAMPLES_PER_CHUNK);
        g.bench_function(format!("read_into_100x120_{name}"), |b| {
            b.iter(|| {
                let mut n = 0;
                for c in black_box(&chunks) {
                    out.clear();
                    c.read_into(i64::MIN, i64::MAX, &mut out);
                    n += out.len();
                }
                n
            })
        });
        // A range that cuts into the first and the last chunk.
        let (lo, hi) = (55 * 10_000, (10 * 120 - 7) * 10_000);
        g.bench_function(format!("read_into_100x120_cut_{name}"), |b| {
            b.iter(|| {
                let mut n = 0;
                for c in black_box(&chunks) {
                    out.clear();
                    c.read_into(lo, hi, &mut out);
                    n += out.len();
                }
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
