//! Scrape ingest benchmarks, for issue 4's goal: the scrape ingest path
//! (parse + relabel + append) at one million samples per second or more on
//! one core.
//!
//! - `parse/<payload>`: parsing alone, every entry, over Prometheus's
//!   exposition samples (and the one-hour real-exporter dataset when
//!   present). Throughput is samples/s.
//! - `ingest/<payload>`: parse and append into a real `storage::Db` in a
//!   tempdir, as the scrape loop does: a series cache keyed by the series
//!   bytes of the payload (hashed a word at a time: SipHash over ~80-byte
//!   keys costs more than the parse of a label), labels built (and the
//!   target's `job`/`instance` added) only on a miss, `append_ref` on a
//!   hit, one commit per scrape with the default WAL options (an fsync per
//!   commit), timestamps 15 s apart.
//! - `ingest_nosync/<payload>`: the same without the fsync, which shows
//!   what the CPU does apart from waiting for the disk.
//!
//! - `ingester/<payload>` and `ingester_nosync/<payload>`: the real scrape
//!   path, [`ferroprom::scrape::Ingester::finish`] (parse, cache, metric
//!   relabeling with a drop rule and a labeldrop, append, staleness, the
//!   report series, one commit), cache hits after the first iteration. This
//!   is the number issue 4's goal is judged on; throughput counts the
//!   payload's samples.
//!
//! Run: `cargo bench --bench scrape_ingest`. The payloads are read from
//! `../shared`; when they are missing the bench says so and measures
//! nothing.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferroprom::config::RelabelConfig;
use ferroprom::exposition::{Entry, Format, Parser};
use ferroprom::scrape::{IngestOptions, Ingester};
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Label, Labels, Options};

const UPSTREAM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/exposition"
);
const DATASET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/datasets/real-exporters-1h.om.txt.gz"
);

struct Payload {
    name: String,
    body: Vec<u8>,
    format: Format,
    samples: u64,
}

fn format_of(name: &str) -> Format {
    if name.ends_with(".om.txt") {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

fn count_samples(body: &[u8], format: Format) -> u64 {
    let mut p = Parser::new(body, format);
    let mut n = 0;
    while let Some(e) = p.next().expect("payload parses") {
        if let Entry::Sample { .. } = e {
            n += 1;
        }
    }
    n
}

fn payload(name: String, body: Vec<u8>) -> Payload {
    let format = format_of(&name);
    let samples = count_samples(&body, format);
    Payload {
        name,
        body,
        format,
        samples,
    }
}

/// The upstream exposition samples, sorted by name.
fn upstream() -> Vec<Payload> {
    let Ok(dir) = std::fs::read_dir(UPSTREAM) else {
        eprintln!("scrape_ingest: {UPSTREAM} not found, nothing to measure");
        return Vec::new();
    };
    let mut files: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            payload(name, std::fs::read(&path).unwrap())
        })
        .collect()
}

fn dataset() -> Option<Payload> {
    let gz = std::fs::read(Path::new(DATASET)).ok()?;
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut body).ok()?;
    Some(payload("real-exporters-1h.om.txt".into(), body))
}

fn bench_parse(c: &mut Criterion) {
    let mut payloads = upstream();
    payloads.extend(dataset());
    let mut g = c.benchmark_group("parse");
    for p in &payloads {
        g.throughput(Throughput::Elements(p.samples));
        g.bench_with_input(BenchmarkId::from_parameter(&p.name), p, |b, p| {
            b.iter(|| {
                let mut parser = Parser::new(&p.body, p.format);
                let mut sum = 0.0;
                while let Some(e) = parser.next().unwrap() {
                    if let Entry::Sample { series, value, .. } = e {
                        sum += value + series.len() as f64;
                    }
                }
                sum
            })
        });
    }
    g.finish();
}

/// Hashes series bytes eight at a time with a multiply per word (the
/// FxHash recipe); the keys come from one target, not from an attacker
/// who could force collisions.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap()));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.add(u64::from_le_bytes(tail));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl WordHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// One scrape's worth of appends, the scrape loop's way.
struct Scraper {
    db: Db,
    cache: HashMap<Box<[u8]>, u64, BuildHasherDefault<WordHasher>>,
    scratch: Vec<Label>,
    now: i64,
}

impl Scraper {
    fn scrape(&mut self, p: &Payload) {
        self.now += 15_000;
        let mut app = self.db.appender();
        let mut parser = Parser::new(&p.body, p.format);
        while let Some(e) = parser.next().unwrap() {
            let Entry::Sample {
                series,
                value,
                timestamp,
            } = e
            else {
                continue;
            };
            let t = timestamp.unwrap_or(self.now);
            match self.cache.get(series) {
                Some(&r) => app.append_ref(r, t, value).unwrap(),
                None => {
                    self.scratch.clear();
                    parser.labels(&mut self.scratch).unwrap();
                    self.scratch.push(Label::new("job", "bench"));
                    self.scratch.push(Label::new("instance", "127.0.0.1:9100"));
                    let labels = Labels::new(std::mem::take(&mut self.scratch));
                    let r = app.append(&labels, t, value).unwrap();
                    self.scratch = labels.into_vec();
                    self.cache.insert(series.into(), r);
                }
            }
        }
        app.commit().unwrap();
    }
}

fn bench_ingest(c: &mut Criterion) {
    let payloads = upstream();
    for (group, sync) in [
        ("ingest", SyncPolicy::Always),
        ("ingest_nosync", SyncPolicy::Never),
    ] {
        let mut g = c.benchmark_group(group);
        g.sample_size(50);
        for p in &payloads {
            let dir = tempfile::tempdir().unwrap();
            let opts = Options {
                compaction_interval: None,
                wal: WalOptions {
                    sync,
                    ..WalOptions::default()
                },
                ..Default::default()
            };
            let mut s = Scraper {
                db: Db::open(dir.path(), opts).unwrap(),
                cache: HashMap::default(),
                scratch: Vec::new(),
                now: 1_700_000_000_000,
            };
            g.throughput(Throughput::Elements(p.samples));
            g.bench_with_input(BenchmarkId::from_parameter(&p.name), p, |b, p| {
                b.iter(|| s.scrape(p))
            });
        }
        g.finish();
    }
}

/// A realistic `metric_relabel_configs`: drop a family of noisy series,
/// drop a label, rename nothing else. Most series pass both rules, so the
/// relabel cost is paid on every cache miss.
const METRIC_RELABEL: &str = r#"
- source_labels: [__name__]
  regex: "go_gc_duration_seconds.*|.*_created"
  action: drop
- regex: "pid|build_.*"
  action: labeldrop
"#;

fn ingest_options() -> IngestOptions {
    let rules: Vec<RelabelConfig> = serde_yaml_ng::from_str(METRIC_RELABEL).unwrap();
    let compiled = ferroprom::relabel::compile(&rules).unwrap();
    IngestOptions {
        metric_relabel: compiled.into(),
        ..IngestOptions::default()
    }
}

fn bench_ingester(c: &mut Criterion) {
    let payloads = upstream();
    let target = Labels::from_pairs([("instance", "127.0.0.1:9100"), ("job", "bench")]);
    for (group, sync) in [
        ("ingester", SyncPolicy::Always),
        ("ingester_nosync", SyncPolicy::Never),
    ] {
        let mut g = c.benchmark_group(group);
        g.sample_size(50);
        for p in &payloads {
            let dir = tempfile::tempdir().unwrap();
            let opts = Options {
                compaction_interval: None,
                wal: WalOptions {
                    sync,
                    ..WalOptions::default()
                },
                ..Default::default()
            };
            let db = Db::open(dir.path(), opts).unwrap();
            let mut ing = Ingester::new(&target, ingest_options());
            // Timestamps from the wall clock's past, 15 s apart, so no
            // sample is out of bounds however many iterations run.
            let mut now = 1_700_000_000_000i64;
            g.throughput(Throughput::Elements(p.samples));
            g.bench_with_input(BenchmarkId::from_parameter(&p.name), p, |b, p| {
                b.iter(|| {
                    now += 15_000;
                    let out = ing.finish(&db, Ok((&p.body, p.format)), now, Instant::now());
                    assert!(out.error.is_none(), "{:?}", out.error);
                    out.report.samples_post_relabel
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench_parse, bench_ingest, bench_ingester);
criterion_main!(benches);
