//! Payloads from outside this module, read from disk: Prometheus's own
//! exposition samples and the one-hour real-exporter dataset (both in
//! `../shared`, skipped with a message when absent), and our good and bad
//! payloads in `testdata/exposition/`.
//!
//! The upstream files are checked against counts and labels worked out
//! without the parser (line classification and a regex), which is sound
//! for them because they contain no escapes.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use regex::Regex;
use storage::Label;

use super::{Entry, Format, ParseError, Parser};

fn upstream() -> PathBuf {
    crate::shared_data::shared_path("conformance/exposition")
}
fn dataset() -> PathBuf {
    crate::shared_data::shared_path("datasets/real-exporters-1h.om.txt.gz")
}
const OURS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/exposition");

fn format_of(path: &Path) -> Format {
    if path.to_string_lossy().ends_with(".om.txt") {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// Payload files in `dir`, sorted, or `None` (with a message) when absent.
fn payloads(dir: &Path) -> Option<Vec<PathBuf>> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        println!("skipping: {} not found", dir.display());
        return None;
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".txt"))
        .collect();
    files.sort();
    Some(files)
}

/// One parsed sample with its labels.
struct Sample {
    labels: Vec<Label>,
    value: f64,
    timestamp: Option<i64>,
}

/// Everything a payload yields, or the first error (including from
/// `labels`, which is called for every sample).
fn parse(body: &[u8], format: Format) -> Result<(Vec<Sample>, usize), ParseError> {
    let mut p = Parser::new(body, format);
    let mut samples = Vec::new();
    let mut metadata = 0;
    while let Some(e) = p.next()? {
        match e {
            Entry::Sample {
                value, timestamp, ..
            } => {
                let mut labels = Vec::new();
                p.labels(&mut labels)?;
                samples.push(Sample {
                    labels,
                    value,
                    timestamp,
                });
            }
            Entry::Type { .. } | Entry::Help { .. } | Entry::Unit { .. } => metadata += 1,
        }
    }
    Ok((samples, metadata))
}

/// Samples and metadata lines of a payload as a reader would count them.
fn count_lines(body: &str) -> (usize, usize) {
    let mut samples = 0;
    let mut metadata = 0;
    for line in body.lines() {
        if ["# HELP ", "# TYPE ", "# UNIT "]
            .iter()
            .any(|p| line.starts_with(p))
        {
            metadata += 1;
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            samples += 1;
        }
    }
    (samples, metadata)
}

fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

#[test]
fn upstream_payloads_parse_completely() {
    let Some(files) = payloads(&upstream()) else {
        return;
    };
    assert!(!files.is_empty(), "no payloads in {}", upstream().display());
    let pair = Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)""#).unwrap();
    for path in files {
        let body = std::fs::read_to_string(&path).unwrap();
        let format = format_of(&path);
        let (samples, metadata) =
            parse(body.as_bytes(), format).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (want_samples, want_metadata) = count_lines(&body);
        assert_eq!(samples.len(), want_samples, "{}", path.display());
        assert_eq!(metadata, want_metadata, "{}", path.display());
        assert!(!samples.is_empty(), "{}", path.display());

        // Each sample line, split by hand, against what the parser made of it.
        let lines = body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
        for (full_line, got) in lines.zip(&samples) {
            // Exemplars are dropped by the parser.
            let line = full_line.split(" # {").next().unwrap();
            let name_end = line.find(['{', ' ']).unwrap();
            let tail_start = line.rfind('}').map_or(name_end, |i| i + 1);
            let mut want: Vec<(String, String)> =
                vec![("__name__".into(), line[..name_end].into())];
            want.extend(
                pair.captures_iter(&line[name_end..tail_start])
                    // An empty value means no label.
                    .filter(|c| !c[2].is_empty())
                    .map(|c| (c[1].to_string(), c[2].to_string())),
            );
            want.sort();
            let mut tail = line[tail_start..].split(' ').filter(|t| !t.is_empty());
            let value: f64 = tail.next().unwrap().parse().unwrap();
            let timestamp = tail.next().map(|t| {
                let t: f64 = t.parse().unwrap();
                match format {
                    Format::Text => t as i64,
                    Format::OpenMetrics => (t * 1000.0) as i64,
                }
            });

            assert!(same_value(got.value, value), "{line}");
            assert_eq!(got.timestamp, timestamp, "{line}");
            assert_eq!(got.labels.len(), want.len(), "{line}");
            for (g, (name, value)) in got.labels.iter().zip(&want) {
                assert_eq!(&g.name, name, "{line}");
                if name == "le" || name == "quantile" {
                    // Possibly respelled (`1` as `1.0`); the number is the same.
                    let (a, b): (f64, f64) = (g.value.parse().unwrap(), value.parse().unwrap());
                    assert!(same_value(a, b), "{line}: {} vs {value}", g.value);
                } else {
                    assert_eq!(&g.value, value, "{line}");
                }
            }
        }
    }
}

#[test]
fn text_with_and_without_metadata_agree() {
    let with = upstream().join("alltypes.237mfs.prom.txt");
    let without = upstream().join("alltypes.237mfs.nometa.prom.txt");
    let (Ok(with), Ok(without)) = (std::fs::read(&with), std::fs::read(&without)) else {
        println!("skipping: upstream payloads not found");
        return;
    };
    let (a, meta_a) = parse(&with, Format::Text).unwrap();
    let (b, meta_b) = parse(&without, Format::Text).unwrap();
    assert_eq!((meta_a > 0, meta_b), (true, 0));
    assert_eq!(a.len(), b.len());
    let mut respelled = 0;
    for (x, y) in a.iter().zip(&b) {
        assert!(same_value(x.value, y.value));
        assert_eq!(x.labels.len(), y.labels.len());
        for (lx, ly) in x.labels.iter().zip(&y.labels) {
            assert_eq!(lx.name, ly.name);
            if lx.value != ly.value {
                // Only `le`/`quantile` under a TYPE get the OpenMetrics spelling.
                assert!(lx.name == "le" || lx.name == "quantile", "{lx:?} vs {ly:?}");
                assert!(lx.value.contains('.') && !ly.value.contains('.'));
                respelled += 1;
            }
        }
    }
    assert!(
        respelled > 0,
        "le=\"1\" under a histogram TYPE should become 1.0"
    );
}

#[test]
fn real_exporter_hour_parses_to_the_documented_totals() {
    let Ok(gz) = std::fs::read(dataset()) else {
        println!("skipping: {} not found", dataset().display());
        return;
    };
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut body).unwrap();

    // Totals from the dataset's README (what promtool imports from it).
    const SAMPLES: usize = 415_573;
    const SERIES: usize = 1_745;

    let mut p = Parser::new(&body, Format::OpenMetrics);
    let mut samples = 0;
    let mut types = 0;
    let mut last_ts: HashMap<&[u8], i64> = HashMap::new();
    let mut label_sets = HashSet::new();
    let mut labels = Vec::new();
    while let Some(e) = p.next().unwrap() {
        match e {
            Entry::Sample {
                series, timestamp, ..
            } => {
                samples += 1;
                let t = timestamp.expect("every sample has a timestamp");
                if let Some(prev) = last_ts.insert(series, t) {
                    assert!(t > prev, "{}", String::from_utf8_lossy(series));
                } else {
                    labels.clear();
                    p.labels(&mut labels).unwrap();
                    label_sets.insert(labels.clone());
                }
            }
            Entry::Type { .. } => types += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(samples, SAMPLES);
    assert_eq!(last_ts.len(), SERIES);
    assert_eq!(label_sets.len(), SERIES);
    assert_eq!(types, 667);
}

/// The entries of a payload, one per line, the way the `.entries` golden
/// files spell them.
fn dump(body: &[u8], format: Format) -> Result<String, ParseError> {
    let mut p = Parser::new(body, format);
    let mut out = String::new();
    while let Some(e) = p.next()? {
        match e {
            Entry::Sample {
                value, timestamp, ..
            } => {
                let mut labels = Vec::new();
                p.labels(&mut labels)?;
                let ls: Vec<String> = labels
                    .iter()
                    .map(|l| format!("{}={:?}", l.name, l.value))
                    .collect();
                let _ = write!(out, "SAMPLE {{{}}} {value}", ls.join(", "));
                if let Some(t) = timestamp {
                    let _ = write!(out, " @{t}");
                }
            }
            Entry::Type { metric, kind } => {
                let _ = write!(out, "TYPE {metric} {}", kind.as_str());
            }
            Entry::Help { metric, help } => {
                let _ = write!(out, "HELP {metric} {help:?}");
            }
            Entry::Unit { metric, unit } => {
                let _ = write!(out, "UNIT {metric} {unit:?}");
            }
        }
        out.push('\n');
    }
    Ok(out)
}

#[test]
fn good_payloads_match_their_entries() {
    let files = payloads(&Path::new(OURS).join("good")).expect("testdata/exposition/good");
    assert!(files.len() >= 3);
    for path in files {
        let body = std::fs::read(&path).unwrap();
        let got =
            dump(&body, format_of(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want_path = PathBuf::from(format!("{}.entries", path.display()));
        let want = std::fs::read_to_string(&want_path)
            .unwrap_or_else(|e| panic!("{}: {e}", want_path.display()));
        assert_eq!(got, want, "{}", path.display());
    }
}

#[test]
fn bad_payloads_fail_with_their_error() {
    let files = payloads(&Path::new(OURS).join("bad")).expect("testdata/exposition/bad");
    assert!(files.len() >= 10);
    for path in files {
        let body = std::fs::read(&path).unwrap();
        let got = match parse(&body, format_of(&path)) {
            Ok(_) => panic!("{} parsed", path.display()),
            Err(e) => e.to_string(),
        };
        let want_path = PathBuf::from(format!("{}.error", path.display()));
        let want = std::fs::read_to_string(&want_path)
            .unwrap_or_else(|e| panic!("{}: {e}", want_path.display()));
        assert_eq!(got, want.trim_end_matches('\n'), "{}", path.display());
    }
}
