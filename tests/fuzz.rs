//! Fuzz targets for the server's decoders: the text and OpenMetrics
//! exposition parsers, remote-write bodies (snappy + protobuf), remote-read
//! requests and streamed answers, configuration files and rule files. Each
//! runs for `FERROPROM_FUZZ_SECONDS` (see `docs/fuzzing.md`).

#[path = "../storage/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::collections::BTreeMap;
use std::path::Path;

use ferroprom::config::NameValidationScheme;
use ferroprom::exposition::{Entry, Format, Parser};
use ferroprom::remote::proto::{
    self, LabelMatcher, MetricMetadata, Query, ReadHints, ReadRequest, TimeSeries, WriteRequest,
};
use ferroprom::remote::read::server as read_server;
use ferroprom::remote::receive::decode::WriteBatch;
use ferroprom::remote::receive::{write, LabelLimits, SeriesRefCache};
use ferroprom::rules::rule_file::{parse_rule_file, ParseOptions};
use ferroprom::rules::template::check_alert_template;
use fuzz_support::{corpus_dir, fuzz};
use prost::Message;
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Label, Labels, Options};

/// Every file under `dir`, recursively, with the given suffix.
fn files_under(dir: &Path, suffix: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out.sort();
    out
}

/// `testdata/<sub>` of the workspace.
fn testdata(sub: &str) -> std::path::PathBuf {
    let fuzz_dir = corpus_dir("x");
    fuzz_dir.parent().unwrap().parent().unwrap().join(sub)
}

/// A database in a temp dir for the targets that write or query; fsync
/// off, as the data is thrown away.
fn scratch_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        wal: WalOptions {
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        },
        compaction_interval: None,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    (dir, db)
}

fn snappy(b: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(b).unwrap()
}

/// Inputs whose first byte is even carry the protobuf itself (compressed
/// by the target, so mutations hit the message); odd ones carry the body as
/// a client sends it.
fn with_mode(mode: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = vec![mode];
    out.extend_from_slice(rest);
    out
}

/// Seeds of both modes for each encoded message.
fn both_modes(messages: impl Iterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    messages
        .flat_map(|raw| [with_mode(0, &raw), with_mode(1, &snappy(&raw))])
        .collect()
}

// ---------------------------------------------------------------- exposition

/// A parsed sample: labels (`__name__` included, sorted), value, timestamp.
type Parsed = (Vec<Label>, f64, Option<i64>);

/// The samples of `body` up to the first error, and whether there was one.
fn parse_all(body: &[u8], format: Format) -> (Vec<Parsed>, bool) {
    let mut p = Parser::new(body, format);
    let mut out = Vec::new();
    loop {
        match p.next() {
            Ok(None) => return (out, true),
            Err(_) => return (out, false),
            Ok(Some(Entry::Sample {
                value, timestamp, ..
            })) => {
                let _ = p.metric_name();
                let mut labels = Vec::new();
                if p.labels(&mut labels).is_err() {
                    return (out, false);
                }
                out.push((labels, value, timestamp));
            }
            Ok(Some(_)) => {}
        }
    }
}

fn same_samples(a: &[Parsed], b: &[Parsed]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.0 == y.0 && x.2 == y.2 && (x.1 == y.1 || (x.1.is_nan() && y.1.is_nan()))
        })
}

/// First byte: odd for OpenMetrics, even for the text format. Whatever
/// samples parse are written out in the text format (as `/federate` does)
/// and must parse back the same.
fn check_exposition(bytes: &[u8]) {
    let Some((&mode, body)) = bytes.split_first() else {
        return;
    };
    let format = if mode & 1 == 1 {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    let (mut samples, _) = parse_all(body, format);
    // The text format has no negative timestamps (Prometheus's parser
    // rejects them, as ours does); OpenMetrics has.
    samples.retain(|s| s.2.is_none_or(|t| t >= 0));
    let mut text = String::new();
    for (labels, v, t) in &samples {
        let name = labels
            .iter()
            .find(|l| l.name == "__name__")
            .map_or("", |l| l.value.as_str());
        let rest = labels
            .iter()
            .filter(|l| l.name != "__name__")
            .map(|l| (l.name.as_str(), l.value.as_str()));
        ferroprom::text_format::push_series(&mut text, name, rest, *v, *t);
    }
    let (again, clean) = parse_all(text.as_bytes(), Format::Text);
    assert!(
        clean && same_samples(&samples, &again),
        "samples of {:?} do not survive writing:\n{text}\nfirst: {samples:?}\nagain: {again:?}",
        String::from_utf8_lossy(body)
    );
}

#[test]
fn fuzz_exposition() {
    let mut seeds = Vec::new();
    for kind in ["good", "bad"] {
        let dir = testdata("exposition").join(kind);
        for (suffix, mode) in [(".prom.txt", 0u8), (".om.txt", 1)] {
            for f in files_under(&dir, suffix) {
                seeds.push(with_mode(mode, &f));
            }
        }
    }
    assert!(!seeds.is_empty(), "no exposition seeds found");
    fuzz("exposition", seeds, check_exposition);
}

// ---------------------------------------------------------------- remote write

fn label(n: &str, v: &str) -> proto::Label {
    proto::Label {
        name: n.into(),
        value: v.into(),
    }
}

fn write_seeds() -> Vec<Vec<u8>> {
    let series = |name: &str, n: usize| TimeSeries {
        labels: vec![
            label("__name__", name),
            label("job", "j"),
            label("ü", "\u{0}"),
        ],
        samples: (0..n as i64)
            .map(|i| proto::Sample {
                value: i as f64 * 0.5,
                timestamp: 1_700_000_000_000 + i * 15_000,
            })
            .collect(),
        exemplars: vec![proto::Exemplar {
            labels: vec![label("trace_id", "abc")],
            value: 1.0,
            timestamp: 5,
        }],
        histograms: vec![],
    };
    let reqs = [
        WriteRequest {
            timeseries: vec![series("a", 3), series("b", 1)],
            metadata: vec![MetricMetadata {
                r#type: 1,
                metric_family_name: "a".into(),
                help: "help".into(),
                unit: "s".into(),
            }],
        },
        WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![label("job", "no-name"), label("job", "dup")],
                samples: vec![proto::Sample {
                    value: f64::NAN,
                    timestamp: i64::MAX,
                }],
                ..Default::default()
            }],
            metadata: vec![],
        },
        WriteRequest::default(),
    ];
    both_modes(reqs.iter().map(Message::encode_to_vec))
}

fn sample_bits(s: &[proto::Sample]) -> Vec<(i64, u64)> {
    s.iter().map(|s| (s.timestamp, s.value.to_bits())).collect()
}

#[test]
fn fuzz_remote_write() {
    let (_dir, db) = scratch_db();
    let refs = SeriesRefCache::default();
    let limits = LabelLimits::default();
    fuzz("remote_write", write_seeds(), |bytes| {
        let Some((&mode, rest)) = bytes.split_first() else {
            return;
        };
        let raw = if mode & 1 == 0 {
            let raw = write::decompress(&snappy(rest)).expect("our own snappy body");
            assert_eq!(raw, rest, "snappy round trip");
            raw
        } else {
            match write::decompress(rest) {
                Ok(raw) => raw,
                Err(_) => return,
            }
        };
        // The borrowing decoder accepts exactly what prost accepts, and
        // reads the same series.
        let ours = WriteBatch::decode(&raw);
        let theirs = WriteRequest::decode(raw.as_slice());
        match (&ours, &theirs) {
            (Ok(batch), Ok(req)) => {
                assert_eq!(batch.len(), req.timeseries.len());
                for (view, ts) in batch.series().zip(&req.timeseries) {
                    let labels: Vec<(String, String)> = view
                        .decoded_labels()
                        .unwrap()
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect();
                    let want: Vec<(String, String)> = ts
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect();
                    assert_eq!(labels, want);
                    assert_eq!(sample_bits(view.samples), sample_bits(&ts.samples));
                    assert_eq!(view.histograms, ts.histograms.len());
                }
                assert_eq!(batch.metadata, req.metadata);
            }
            (Err(_), Err(_)) => {}
            (a, b) => panic!(
                "decoders disagree: ours {:?}, prost {:?}",
                a.as_ref().map(|b| b.len()).map_err(|e| e.to_string()),
                b.as_ref()
                    .map(|r| r.timeseries.len())
                    .map_err(|e| e.to_string()),
            ),
        }
        // The receiver's path: decode against the ref cache, then append.
        let generation = refs.begin();
        if let Ok(batch) = write::decode(&raw, NameValidationScheme::Utf8, &refs, generation) {
            let _ = write::append(
                &db,
                &batch,
                NameValidationScheme::Utf8,
                &limits,
                &refs,
                generation,
            );
        }
    });
}

// ---------------------------------------------------------------- remote read

fn read_seeds() -> Vec<Vec<u8>> {
    let m = |t: i32, n: &str, v: &str| LabelMatcher {
        r#type: t,
        name: n.into(),
        value: v.into(),
    };
    let reqs = [
        ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: i64::MAX,
                matchers: vec![m(0, "__name__", "up"), m(2, "job", "a.*")],
                hints: Some(ReadHints {
                    step_ms: 1000,
                    func: "rate".into(),
                    start_ms: 0,
                    end_ms: 10,
                    grouping: vec!["job".into()],
                    by: true,
                    range_ms: 5,
                }),
            }],
            accepted_response_types: vec![],
        },
        ReadRequest {
            queries: vec![
                Query {
                    start_timestamp_ms: i64::MIN,
                    end_timestamp_ms: i64::MAX,
                    matchers: vec![m(1, "job", ""), m(3, "x", "[")],
                    hints: None,
                },
                Query {
                    start_timestamp_ms: 5,
                    end_timestamp_ms: 1,
                    matchers: vec![m(9, "", "")],
                    hints: None,
                },
            ],
            accepted_response_types: vec![1, 0, 7],
        },
    ];
    both_modes(reqs.iter().map(Message::encode_to_vec))
}

#[test]
fn fuzz_remote_read() {
    let (_dir, db) = scratch_db();
    let mut app = db.appender();
    for i in 0..20i64 {
        let l = Labels::from_sorted(vec![
            Label::new("__name__", "up"),
            Label::new("i", i.to_string()),
            Label::new("job", format!("a{}", i % 3)),
        ]);
        for t in 0..200 {
            app.append(&l, t * 1000 + i, t as f64).unwrap();
        }
    }
    app.commit().unwrap();
    let external: BTreeMap<String, String> = [("region".to_string(), "eu".to_string())].into();
    fuzz("remote_read", read_seeds(), |bytes| {
        let Some((&mode, rest)) = bytes.split_first() else {
            return;
        };
        // The client's decoder of streamed answers reads any bytes too.
        let _ = read_server::parse_frames(rest);
        let body = if mode & 1 == 0 {
            snappy(rest)
        } else {
            rest.to_vec()
        };
        let Ok(req) = read_server::decode(&body) else {
            return;
        };
        let _ = read_server::negotiate(&req);
        let Ok(queries) = read_server::prepare(&req, &external) else {
            return;
        };
        if let Ok(resp) = read_server::samples_response(&db, &queries, &external) {
            let raw = snap::raw::Decoder::new().decompress_vec(&resp).unwrap();
            proto::ReadResponse::decode(raw.as_slice()).expect("our own answer decodes");
        }
        let mut stream = Vec::new();
        let _ = read_server::stream_chunks(&db, &queries, &external, &mut |frame| {
            stream.extend_from_slice(&frame);
            true
        });
        read_server::parse_frames(&stream).expect("our own stream parses");
    });
}

// ---------------------------------------------------------------- config

#[test]
fn fuzz_config() {
    let seeds = files_under(&testdata("config"), ".yml");
    assert!(!seeds.is_empty(), "no config seeds found");
    fuzz("config", seeds, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let _ = ferroprom::config::parse_str(&text);
    });
}

#[test]
fn fuzz_rule_file() {
    let opts = ParseOptions {
        template_check: &check_alert_template,
        ..ParseOptions::default()
    };
    fuzz("rule_file", Vec::new(), |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let _ = parse_rule_file(&text, &opts);
    });
}
