//! Fuzz targets for the storage decoders: WAL segments and records, chunks,
//! chunk segment files, block indexes and whole blocks. Each runs for
//! `FERROPROM_FUZZ_SECONDS` (see `docs/fuzzing.md`); inputs are seeds made
//! by the real writers, the committed corpus under `testdata/fuzz/`, and
//! mutations of both.

mod fuzz_support;

use std::path::Path;
use std::sync::Arc;

use fuzz_support::{fuzz, fuzz_typed};
use proptest::collection::vec;
use proptest::prelude::*;
use storage::block::{write_block, Block};
use storage::chunk::{
    densest, encode_alp, Chunk, ChunkBytes, ChunkFileReader, ChunkFileWriter, Encoding,
    HeadChunkMeta, XorBuilder,
};
use storage::encoding::crc32c;
use storage::index::{postings_for_matchers, ChunkMeta, IndexReader, IndexWriter};
use storage::querier::{Querier, SelectHints, Series};
use storage::tombstones::{Interval, Tombstones};
use storage::vfs::Fs;
use storage::wal::frame::{segment_header, Decompressor, FrameEncoder, Frames};
use storage::wal::{Record, RefSample, RefSeries, RefTombstone, WalReader};
use storage::{Label, Labels, MatchOp, Matcher};

// ---------------------------------------------------------------- helpers

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_sorted(pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect())
}

fn sample_records() -> Vec<Record> {
    vec![
        Record::Series(vec![
            RefSeries {
                series_ref: 1,
                labels: labels(&[("__name__", "up"), ("job", "a")]),
            },
            RefSeries {
                series_ref: 300,
                labels: labels(&[("__name__", "x"), ("i", "ü\u{0}")]),
            },
        ]),
        Record::Samples(vec![
            RefSample {
                series_ref: 1,
                t: 1000,
                v: 1.0,
            },
            RefSample {
                series_ref: 300,
                t: -5,
                v: storage::stale_nan(),
            },
            RefSample {
                series_ref: 2,
                t: i64::MAX,
                v: f64::NEG_INFINITY,
            },
        ]),
        Record::Tombstones(vec![RefTombstone {
            series_ref: 1,
            mint: i64::MIN,
            maxt: 7,
        }]),
        Record::Samples(vec![]),
    ]
}

/// A segment holding `frames` (type byte, body) as the WAL writer frames
/// them.
fn segment(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut enc = FrameEncoder::new();
    frames
        .iter()
        .fold(segment_header().to_vec(), |mut out, (typ, body)| {
            enc.append(*typ, &mut out, |b| b.extend_from_slice(body))
                .unwrap();
            out
        })
}

fn record_frames(records: &[Record]) -> Vec<(u8, Vec<u8>)> {
    records
        .iter()
        .map(|r| {
            let mut b = Vec::new();
            r.encode(&mut b);
            (r.type_byte(), b)
        })
        .collect()
}

/// The records of a segment's bytes decoded in memory, up to the first
/// error (which is returned as `Err` after them).
fn decode_in_memory(bytes: &[u8]) -> (Vec<Record>, bool) {
    let mut dec = Decompressor::new();
    let mut out = Vec::new();
    for frame in Frames::segment(bytes) {
        let Ok(frame) = frame else {
            return (out, false);
        };
        let Ok(body) = dec.body(&frame) else {
            return (out, false);
        };
        match Record::decode(frame.typ, body) {
            Ok(r) => out.push(r),
            Err(_) => return (out, false),
        }
    }
    (out, true)
}

/// Every sample of a chunk in `encoding`, read the three ways queries read
/// them.
fn check_chunk(encoding: Encoding, bytes: &[u8]) {
    let chunk = Chunk::new(encoding, ChunkBytes::from_vec(bytes.to_vec()));
    let valid = chunk.validate().is_ok();
    let _ = chunk.num_samples();
    let iterated: Vec<(i64, f64)> = chunk.iter().collect();
    let mut bulk = Vec::new();
    chunk.read_into(i64::MIN, i64::MAX, &mut bulk);
    if !valid {
        return;
    }
    assert!(iterated.len() <= chunk.num_samples());
    let bits = |v: &[(i64, f64)]| v.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>();
    assert_eq!(
        bits(&iterated),
        bits(&bulk),
        "iterator and bulk decoder disagree"
    );
    // Seeks and windows assume time order, which a damaged chunk whose
    // header still checks out need not have.
    if !iterated.windows(2).all(|w| w[0].0 < w[1].0) {
        return;
    }
    // Seeking to each timestamp lands on the first sample at or after it.
    for (t, _) in iterated.iter().step_by(7) {
        let got = chunk.iter().seek(*t);
        let want = iterated.iter().find(|(u, _)| u >= t).copied();
        assert_eq!(
            got.map(|(t, v)| (t, v.to_bits())),
            want.map(|(t, v)| (t, v.to_bits()))
        );
    }
    // Reading a window gives the samples inside it.
    if let (Some(first), Some(last)) = (iterated.first(), iterated.last()) {
        let (lo, hi) = (first.0 / 2 + last.0 / 2, last.0);
        let mut window = Vec::new();
        chunk.read_into(lo, hi, &mut window);
        let want: Vec<_> = iterated
            .iter()
            .filter(|(t, _)| *t >= lo && *t <= hi)
            .copied()
            .collect();
        assert_eq!(bits(&window), bits(&want), "windowed read");
    }
}

fn encode_chunk(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut b = XorBuilder::new();
    for (t, v) in samples {
        b.append(*t, *v);
    }
    b.encode()
}

/// Sample runs the seeds are made of: regular counters, jittered noise,
/// short decimals, extremes.
fn seed_samples() -> Vec<Vec<(i64, f64)>> {
    let regular: Vec<_> = (0..120).map(|i| (i * 15_000, i as f64)).collect();
    let jitter: Vec<_> = (0..120)
        .map(|i| (i * 15_000 + (i * 37 % 11), (i as f64).sin() * 1e6))
        .collect();
    let decimals: Vec<_> = (0..120)
        .map(|i| (i * 15_000 + i % 3, (i * 7 % 300) as f64 / 100.0))
        .collect();
    let extremes = vec![
        (i64::MIN + 1, f64::NAN),
        (-1, f64::INFINITY),
        (0, -0.0),
        (1, storage::stale_nan()),
        (i64::MAX / 2, f64::MIN_POSITIVE),
        (i64::MAX, f64::MAX),
    ];
    vec![vec![], vec![(5, 1.5)], regular, jitter, decimals, extremes]
}

fn seed_chunks() -> Vec<Vec<u8>> {
    seed_samples().iter().map(|s| encode_chunk(s)).collect()
}

/// The seeds `Alp` encodes (not timestamps spread over the whole `i64`
/// range).
fn seed_alp_chunks() -> Vec<Vec<u8>> {
    seed_samples()
        .iter()
        .filter_map(|s| encode_alp(s))
        .collect()
}

/// Chunk segment files written by the real writer, one per chunk list.
fn chunk_segments(head: bool, chunks: &[(Encoding, Vec<u8>)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ChunkFileWriter::create(Fs::os(), dir.path(), head, 1 << 30).unwrap();
    for (i, (encoding, data)) in chunks.iter().enumerate() {
        let meta = head.then_some(HeadChunkMeta {
            series_ref: i as u64,
            mint: i as i64,
            maxt: i as i64 * 2,
        });
        w.write(
            meta,
            &Chunk::new(*encoding, ChunkBytes::from_vec(data.clone())),
        )
        .unwrap();
    }
    w.finish().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    std::fs::read(&files[0]).unwrap()
}

fn read_chunk_dir(dir: &Path, head: bool) {
    let Ok(r) = ChunkFileReader::open(dir, head) else {
        return;
    };
    for (cref, _) in r.scan() {
        if let Ok(c) = r.chunk(cref) {
            let _ = c.validate();
            let _: Vec<_> = c.iter().collect();
        }
    }
    // References that point anywhere.
    for cref in [0u64, 1, 8, u32::MAX as u64, 1 << 32 | 8, u64::MAX] {
        if let Ok(c) = r.chunk(cref) {
            let _: Vec<_> = c.iter().collect();
        }
    }
}

fn seed_series() -> Vec<Series> {
    let mut out = Vec::new();
    for (i, name) in ["a", "b", "c_total"].iter().enumerate() {
        for j in 0..3 {
            let l = labels(&[
                ("__name__", name),
                ("instance", &format!("host-{j}")),
                ("job", if j == 2 { "" } else { "node" }),
            ]);
            let l =
                Labels::from_sorted(l.iter().filter(|l| !l.value.is_empty()).cloned().collect());
            let samples: Vec<_> = (0..150)
                .map(|k| (k * 1000 + i as i64, (k * (j + 1)) as f64))
                .collect();
            out.push(Series::from_samples(l, &samples, 0, i64::MAX));
        }
    }
    out
}

fn matchers() -> Vec<Vec<Matcher>> {
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    vec![
        vec![],
        vec![m(MatchOp::Equal, "__name__", "a")],
        vec![m(MatchOp::RegexMatch, "instance", "host-.*")],
        vec![
            m(MatchOp::NotEqual, "job", "node"),
            m(MatchOp::RegexNoMatch, "__name__", "b"),
        ],
        vec![m(MatchOp::Equal, "job", "")],
    ]
}

/// Everything a query does with a block: label names and values, and every
/// sample of every series for several matcher sets.
fn query_block(block: Block) {
    let block = Arc::new(block);
    let q = block.querier(i64::MIN, i64::MAX);
    for ms in matchers() {
        let _ = q.label_names(&ms);
        let _ = q.label_values("instance", &ms);
        if let Ok(set) = q.select(&SelectHints::default(), &ms) {
            for s in &set.series {
                let _: usize = s.iter().count();
            }
        }
    }
}

/// File kinds of a block, the first byte of a `block` input.
const BLOCK_FILES: [&str; 4] = ["meta.json", "index", "chunks/000001", "tombstones"];

// ---------------------------------------------------------------- WAL

/// Segment bytes read through the file reader; the in-memory frame decoder
/// must agree on every record it returns.
#[test]
fn fuzz_wal_segment() {
    let recs = sample_records();
    let seeds = vec![
        segment(&record_frames(&recs)),
        segment(&record_frames(&recs[1..2])),
        segment(&[]),
        segment_header().to_vec(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("00000000");
    fuzz("wal_segment", seeds, |bytes| {
        std::fs::write(&path, bytes).unwrap();
        let mut from_file = Vec::new();
        let mut clean = true;
        for r in WalReader::open(&path).unwrap() {
            match r {
                Ok(r) => from_file.push(r),
                Err(_) => {
                    clean = false;
                    break;
                }
            }
        }
        let (in_memory, mem_clean) = decode_in_memory(bytes);
        assert_eq!(
            from_file, in_memory,
            "file reader and frame decoder disagree"
        );
        assert_eq!(clean, mem_clean);
        // Whatever decoded re-encodes to a segment that decodes the same.
        let again = segment(&record_frames(&from_file));
        assert_eq!(decode_in_memory(&again), (from_file, true));
    });
}

/// Frames with valid checksums around arbitrary bodies: reaches the record
/// decoder with bytes no checksum filters out.
#[test]
fn fuzz_wal_record_bodies() {
    fuzz_typed(
        "wal_record_bodies",
        vec((any::<u8>(), vec(any::<u8>(), 0..256)), 0..8),
        |v| v.iter().map(|(_, b)| b.len() + 16).sum(),
        |frames| {
            let frames: Vec<_> = frames
                .iter()
                .map(|(t, b)| ((*t % 4).max(1), b.clone()))
                .collect();
            let bytes = segment(&frames);
            let (recs, _) = decode_in_memory(&bytes);
            for r in &recs {
                let mut b = Vec::new();
                r.encode(&mut b);
                assert_eq!(&Record::decode(r.type_byte(), &b).unwrap(), r);
            }
        },
    );
}

#[derive(Debug, Clone)]
enum GenRecord {
    Series(Vec<(u64, Vec<(String, String)>)>),
    Samples(Vec<(u64, i64, u64)>),
    Tombstones(Vec<(u64, i64, i64)>),
}

fn to_record(g: &GenRecord) -> Record {
    match g {
        GenRecord::Series(s) => Record::Series(
            s.iter()
                .map(|(r, pairs)| {
                    let mut pairs: Vec<_> = pairs.iter().map(|(n, v)| Label::new(n, v)).collect();
                    pairs.sort_by(|a, b| a.name.cmp(&b.name));
                    pairs.dedup_by(|a, b| a.name == b.name);
                    RefSeries {
                        series_ref: *r,
                        labels: Labels::from_sorted(pairs),
                    }
                })
                .collect(),
        ),
        GenRecord::Samples(s) => Record::Samples(
            s.iter()
                .map(|(r, t, v)| RefSample {
                    series_ref: *r,
                    t: *t,
                    v: f64::from_bits(*v),
                })
                .collect(),
        ),
        GenRecord::Tombstones(s) => Record::Tombstones(
            s.iter()
                .map(|(r, mint, maxt)| RefTombstone {
                    series_ref: *r,
                    mint: *mint,
                    maxt: *maxt,
                })
                .collect(),
        ),
    }
}

/// WAL record encode → decode is the identity.
#[test]
fn fuzz_wal_record_roundtrip() {
    let s = || vec(any::<(u64, i64, i64)>(), 0..32);
    let strategy = prop_oneof![
        vec((any::<u64>(), vec((".{0,8}", ".{0,8}"), 0..6)), 0..8).prop_map(GenRecord::Series),
        vec(any::<(u64, i64, u64)>(), 0..32).prop_map(GenRecord::Samples),
        s().prop_map(GenRecord::Tombstones),
    ];
    fuzz_typed(
        "wal_record_roundtrip",
        strategy,
        |_| 64 << 10,
        |g| {
            let rec = to_record(g);
            let bytes = segment(&record_frames(std::slice::from_ref(&rec)));
            assert_eq!(decode_in_memory(&bytes), (vec![rec], true));
        },
    );
}

// ---------------------------------------------------------------- chunks

#[test]
fn fuzz_chunk() {
    fuzz("chunk", seed_chunks(), |b| check_chunk(Encoding::Xor, b));
}

#[test]
fn fuzz_alp_chunk() {
    fuzz("alp_chunk", seed_alp_chunks(), |b| {
        check_chunk(Encoding::Alp, b)
    });
}

/// Chunk encode → decode is the identity for any sample run with
/// increasing timestamps.
#[test]
fn fuzz_chunk_roundtrip() {
    fuzz_typed(
        "chunk_roundtrip",
        vec(any::<(u32, u64)>(), 0..130),
        |v| v.len() * 16 + 64,
        |gen| {
            let mut t = i64::from(gen.first().map_or(0, |g| g.0)) - (1 << 31);
            let samples: Vec<(i64, f64)> = gen
                .iter()
                .take(storage::chunk::MAX_SAMPLES_PER_CHUNK)
                .map(|(dt, v)| {
                    // Mostly regular steps, sometimes wild ones.
                    t = t.saturating_add(if dt % 4 == 0 {
                        i64::from(*dt)
                    } else {
                        15_000 + i64::from(*dt % 64)
                    });
                    (t, f64::from_bits(*v))
                })
                .collect();
            let want: Vec<_> = samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();
            // Both encodings, and the choice blocks make between them.
            let best = densest(&samples);
            let mut encoded = vec![
                (Encoding::Xor, encode_chunk(&samples)),
                (best.encoding, best.data.as_slice().to_vec()),
            ];
            // Declined only for timestamps spread over most of `i64`.
            encoded.extend(encode_alp(&samples).map(|b| (Encoding::Alp, b)));
            for (encoding, bytes) in encoded {
                let chunk = Chunk::new(encoding, ChunkBytes::from_vec(bytes.clone()));
                chunk.validate().unwrap();
                let got: Vec<_> = chunk.iter().map(|(t, v)| (t, v.to_bits())).collect();
                assert_eq!(got, want, "{encoding:?}");
                check_chunk(encoding, &bytes);
            }
        },
    );
}

/// Chunk segment files (block and head layout): the first byte picks the
/// layout, the rest is the segment file.
#[test]
fn fuzz_chunk_file() {
    let xor = seed_chunks().into_iter().map(|c| (Encoding::Xor, c));
    let alp = seed_alp_chunks().into_iter().map(|c| (Encoding::Alp, c));
    let mut chunks: Vec<_> = xor.chain(alp).collect();
    chunks.push((Encoding::Xor, vec![0, 3, 1, 2, 3]));
    let mut seeds = Vec::new();
    for head in [false, true] {
        let mut s = vec![head as u8];
        s.extend(chunk_segments(head, &chunks));
        seeds.push(s);
    }
    let dir = tempfile::tempdir().unwrap();
    fuzz("chunk_file", seeds, |bytes| {
        let Some((&kind, seg)) = bytes.split_first() else {
            return;
        };
        let head = kind & 1 == 1;
        std::fs::write(dir.path().join("000001"), seg).unwrap();
        read_chunk_dir(dir.path(), head);
    });
}

// ---------------------------------------------------------------- index

/// Recomputes the checksums of the TOC and of the framed sections it points
/// to, so mutated content reaches the parsers behind them.
fn fix_index_crcs(b: &mut [u8]) {
    const TOC: usize = 5 * 8 + 4;
    if b.len() < 5 + TOC {
        return;
    }
    let toc = b.len() - TOC;
    let mut offs = [0usize; 5];
    for (i, o) in offs.iter_mut().enumerate() {
        let at = toc + i * 8;
        *o = u64::from_be_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    }
    // Symbols, series offset table and postings offset table are framed
    // sections ending where the next section starts.
    for (start, end) in [(offs[0], offs[1]), (offs[2], offs[3]), (offs[4], toc)] {
        if end > toc || start > end || end - start < 8 {
            continue;
        }
        let n = u32::from_be_bytes(b[start..start + 4].try_into().unwrap()) as usize;
        if n + 8 != end - start {
            continue;
        }
        let crc = crc32c(&b[start + 4..start + 4 + n]);
        b[end - 4..end].copy_from_slice(&crc.to_be_bytes());
    }
    // Series entries (uvarint length) and postings lists (u32 length)
    // carry a checksum each.
    let mut at = offs[1];
    while at < offs[2].min(toc) {
        let mut d = storage::encoding::Decbuf::new(&b[at..offs[2].min(toc)]);
        let Ok(n) = d.uvarint() else { break };
        let start = offs[2].min(toc) - d.remaining();
        let Some(end) = start
            .checked_add(n as usize)
            .filter(|e| e.checked_add(4).is_some_and(|x| x <= offs[2].min(toc)))
        else {
            break;
        };
        let crc = crc32c(&b[start..end]);
        b[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
    let mut at = offs[3];
    while at.saturating_add(8) <= offs[4].min(toc) {
        let n = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        let Some(end) = (at + 4)
            .checked_add(n)
            .filter(|e| e.checked_add(4).is_some_and(|x| x <= offs[4].min(toc)))
        else {
            break;
        };
        let crc = crc32c(&b[at + 4..end]);
        b[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
    let crc = crc32c(&b[toc..toc + 40]);
    b[toc + 40..toc + 44].copy_from_slice(&crc.to_be_bytes());
}

fn seed_index(series: &[(Labels, Vec<ChunkMeta>)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let mut w = IndexWriter::create(Fs::os(), &path).unwrap();
    for (l, c) in series {
        w.add_series(l, c).unwrap();
    }
    w.finish().unwrap();
    std::fs::read(&path).unwrap()
}

fn read_index(path: &Path) {
    let Ok(r) = IndexReader::open(path) else {
        return;
    };
    for id in 0..r.num_series().min(10_000) {
        let _ = r.series(id);
    }
    let _ = r.series(u32::MAX);
    if let Ok(names) = r.label_names() {
        for n in names.iter().take(100) {
            let _ = r.label_values(n);
        }
    }
    for ms in matchers() {
        if let Ok(ids) = postings_for_matchers(&r, &ms) {
            for id in ids.iter().take(1000) {
                let _ = r.series(id);
            }
        }
    }
}

/// Block index files; the first input byte says whether to repair the
/// section checksums after mutation (odd) or not.
#[test]
fn fuzz_index() {
    let cm = |i: i64| ChunkMeta {
        mint: i * 100,
        maxt: i * 100 + 99,
        chunk_ref: (1 << 32) | (8 + i as u64 * 40),
    };
    let mut series = Vec::new();
    for (n, v) in [("a", "1"), ("a", "2"), ("b", ""), ("b", "ü")] {
        let l = if v.is_empty() {
            labels(&[("__name__", n)])
        } else {
            labels(&[("__name__", n), ("instance", v), ("job", "node")])
        };
        series.push((l, (0..3).map(cm).collect::<Vec<_>>()));
    }
    let mut seeds = Vec::new();
    for (flag, s) in [(1u8, &series[..]), (0, &series[..1]), (1, &[][..])] {
        let mut b = vec![flag];
        b.extend(seed_index(s));
        seeds.push(b);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    fuzz("index", seeds, |bytes| {
        let Some((&flag, file)) = bytes.split_first() else {
            return;
        };
        let mut file = file.to_vec();
        if flag & 1 == 1 {
            fix_index_crcs(&mut file);
        }
        std::fs::write(&path, &file).unwrap();
        read_index(&path);
    });
}

// ---------------------------------------------------------------- blocks

/// A whole block with one of its files replaced: the first input byte
/// picks the file ([`BLOCK_FILES`]), the rest is its content. The block is
/// opened and queried.
#[test]
fn fuzz_block() {
    let src = tempfile::tempdir().unwrap();
    let meta = write_block(Fs::os(), src.path(), 0, i64::MAX, &[], seed_series())
        .unwrap()
        .unwrap();
    let block_dir = src.path().join(meta.ulid.to_string());
    let mut ts = Tombstones::new();
    ts.add(0, Interval::new(10, 20_000));
    ts.add(4, Interval::new(i64::MIN, i64::MAX));
    ts.write(Fs::os(), &block_dir.join("tombstones")).unwrap();
    // The reference copy the target restores before each input.
    let files: Vec<Vec<u8>> = BLOCK_FILES
        .iter()
        .map(|f| std::fs::read(block_dir.join(f)).unwrap())
        .collect();
    assert!(Block::open(Fs::os(), &block_dir).is_ok());
    let seeds = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut s = vec![i as u8];
            s.extend_from_slice(f);
            s
        })
        .collect();
    fuzz("block", seeds, |bytes| {
        let Some((&kind, content)) = bytes.split_first() else {
            return;
        };
        let kind = kind as usize % BLOCK_FILES.len();
        for (i, f) in BLOCK_FILES.iter().enumerate() {
            let data = if i == kind { content } else { &files[i][..] };
            std::fs::write(block_dir.join(f), data).unwrap();
        }
        if let Ok(b) = Block::open(Fs::os(), &block_dir) {
            query_block(b);
        }
    });
}

/// Records over a few refs, label names and times, so that they refer to
/// each other: series defined twice, samples of unknown series, out of
/// order and far-future samples, tombstones over them.
fn replay_records() -> impl Strategy<Value = Vec<GenRecord>> {
    let r = 0u64..6;
    let t = prop_oneof![0i64..100_000, any::<i64>()];
    let pairs = vec(("[a-c_]{0,3}", "[xy]{0,2}"), 0..4);
    let record = prop_oneof![
        vec((r.clone(), pairs), 0..4).prop_map(GenRecord::Series),
        vec((r.clone(), t.clone(), any::<u64>()), 0..16).prop_map(GenRecord::Samples),
        vec((r, t.clone(), t), 0..3).prop_map(GenRecord::Tombstones),
    ];
    vec(record, 0..10)
}

/// A database whose WAL holds arbitrary (well-formed) records opens,
/// answers queries, takes a new sample and opens again.
#[test]
fn fuzz_wal_replay() {
    // fsync off: the data is thrown away, and fsync would be most of the
    // time per input.
    let opts = || storage::Options {
        compaction_interval: None,
        wal: storage::wal::WalOptions {
            sync: storage::wal::SyncPolicy::Never,
            ..Default::default()
        },
        ..storage::Options::default()
    };
    fuzz_typed(
        "wal_replay",
        replay_records(),
        |_| 1 << 20,
        |gen| {
            let recs: Vec<Record> = gen.iter().map(to_record).collect();
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("wal")).unwrap();
            std::fs::write(
                dir.path().join("wal").join("00000000"),
                segment(&record_frames(&recs)),
            )
            .unwrap();
            let db = storage::Db::open(dir.path(), opts()).expect("a well-formed WAL opens");
            let everything = |db: &storage::Db| {
                use storage::querier::Queryable;
                let q = db.querier(i64::MIN, i64::MAX).unwrap();
                let _ = q.label_names(&[]);
                for ms in matchers() {
                    if let Ok(set) = q.select(&SelectHints::default(), &ms) {
                        for s in &set.series {
                            let _: usize = s.iter().count();
                        }
                    }
                }
            };
            everything(&db);
            let mut app = db.appender();
            let _ = app.append(&labels(&[("__name__", "new")]), 50_000, 1.0);
            let _ = app.commit();
            db.close().unwrap();
            let db = storage::Db::open(dir.path(), opts()).expect("reopens");
            everything(&db);
            db.close().unwrap();
        },
    );
}
