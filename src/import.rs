//! `ferroprom tsdb import openmetrics <file> [<data dir>]`: backfills
//! historical samples from an OpenMetrics file into blocks that the server
//! picks up when it next starts (Prometheus's `promtool tsdb
//! create-blocks-from openmetrics`).
//!
//! Every sample must carry a timestamp. Samples are grouped into
//! block ranges aligned to 2 hours, one block per range that holds data.
//! Differences from promtool, both deliberate:
//! - promtool rejects a series whose samples go back in time within a block
//!   range ("out of order sample"); here each series is sorted, so input in
//!   any order is accepted. A repeated timestamp with the same value is
//!   kept once; with a different value it is an error, as upstream.
//! - a gzip-compressed file is read as well as plain text.
//!
//! The whole input is held in memory while importing (about 16 bytes per
//! sample plus each series' labels once), where promtool rereads the file
//! once per block range.
//!
//! Nothing partial is left behind on failure: blocks are written into a
//! temporary directory inside the data dir (whose name the database removes
//! as a leftover if the process dies) and moved into place only when all of
//! them are complete.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use storage::block::{write_block, BlockMeta, Ulid, TMP_CREATION_SUFFIX};
use storage::querier::Series;
use storage::{Label, Labels};

use crate::exposition::{Entry, Format, ParseError, Parser};

/// Width of the block ranges samples are grouped into (Prometheus's
/// default block duration).
pub const BLOCK_RANGE_MS: i64 = 2 * 3600 * 1000;

/// How often (in samples read) the progress line is redrawn.
const PROGRESS_EVERY: u64 = 100_000;

/// Why an import failed. Nothing was added to the data dir.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing input: {0}")]
    Parse(#[from] ParseError),
    #[error("line {line}: sample of {series} has no timestamp; every imported sample needs one")]
    MissingTimestamp { line: usize, series: String },
    #[error("line {line}: invalid labels for {series}: {msg}")]
    InvalidLabels {
        line: usize,
        series: String,
        msg: String,
    },
    #[error("series {series}: two different values at timestamp {t} ms")]
    Duplicate { series: Labels, t: i64 },
    #[error("no samples in the input")]
    Empty,
    #[error("writing blocks into {dir}: {source}")]
    Storage {
        dir: PathBuf,
        source: storage::Error,
    },
}

/// What an import wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub samples: u64,
    pub series: usize,
    /// The blocks created, oldest first.
    pub blocks: Vec<BlockMeta>,
    /// Oldest and newest sample timestamp (ms).
    pub min_time: i64,
    pub max_time: i64,
    pub duration: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let time = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map_or_else(|| format!("{ms} ms"), |d| d.to_rfc3339())
        };
        write!(
            f,
            "imported {} samples of {} series into {} block(s), {} to {}, in {:.2?}",
            self.samples,
            self.series,
            self.blocks.len(),
            time(self.min_time),
            time(self.max_time),
            self.duration,
        )
    }
}

/// Reads `file` (plain or gzip-compressed OpenMetrics text) and writes its
/// samples as blocks into `data_dir` (created when missing), drawing a
/// progress line on `progress`.
pub fn import_file(
    file: &Path,
    data_dir: &Path,
    progress: &mut dyn Write,
) -> Result<Summary, ImportError> {
    let read_err = |source| ImportError::Read {
        path: file.to_path_buf(),
        source,
    };
    let raw = std::fs::read(file).map_err(read_err)?;
    let input = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 8);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(read_err)?;
        out
    } else {
        raw
    };
    import(&input, data_dir, progress)
}

/// Imports an OpenMetrics payload already in memory; see [`import_file`].
pub fn import(
    input: &[u8],
    data_dir: &Path,
    progress: &mut dyn Write,
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let mut set = read_samples(input, progress)?;
    if set.samples == 0 {
        return Err(ImportError::Empty);
    }
    let samples = set.finish()?;
    draw(
        progress,
        format_args!(
            "read {samples} samples of {} series; writing blocks",
            set.series.len()
        ),
    );
    let blocks = write_blocks(&set, data_dir, progress)?;
    let _ = writeln!(progress);
    Ok(Summary {
        samples,
        series: set.series.len(),
        blocks,
        min_time: set.min_time,
        max_time: set.max_time,
        duration: started.elapsed(),
    })
}

/// Every series read, with its samples.
struct SeriesSet {
    /// Sorted by labels after [`SeriesSet::finish`].
    series: Vec<(Labels, Vec<(i64, f64)>)>,
    samples: u64,
    min_time: i64,
    max_time: i64,
}

impl SeriesSet {
    /// Sorts series by labels and each series' samples by time, dropping
    /// exact duplicates. Returns the number of samples kept.
    fn finish(&mut self) -> Result<u64, ImportError> {
        self.series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut kept = 0u64;
        for (labels, samples) in &mut self.series {
            if !samples.windows(2).all(|w| w[0].0 < w[1].0) {
                samples.sort_by_key(|s| s.0);
                if let Some(w) = samples
                    .windows(2)
                    .find(|w| w[0].0 == w[1].0 && w[0].1.to_bits() != w[1].1.to_bits())
                {
                    return Err(ImportError::Duplicate {
                        series: labels.clone(),
                        t: w[0].0,
                    });
                }
                samples.dedup_by_key(|s| s.0);
            }
            kept += samples.len() as u64;
        }
        self.samples = kept;
        Ok(kept)
    }
}

/// Parses the payload. Series are looked up by their spelling in the
/// payload first, so labels are built only once per series spelling.
fn read_samples(input: &[u8], progress: &mut dyn Write) -> Result<SeriesSet, ImportError> {
    let mut parser = Parser::new(input, Format::OpenMetrics);
    let mut by_spelling: HashMap<&[u8], usize> = HashMap::new();
    let mut by_labels: HashMap<Labels, usize> = HashMap::new();
    let mut set = SeriesSet {
        series: Vec::new(),
        samples: 0,
        min_time: i64::MAX,
        max_time: i64::MIN,
    };
    let mut scratch: Vec<Label> = Vec::new();
    while let Some(entry) = parser.next()? {
        let Entry::Sample {
            series,
            value,
            timestamp,
        } = entry
        else {
            continue;
        };
        let line = || line_of(input, series);
        let spelled = || String::from_utf8_lossy(series).into_owned();
        let Some(t) = timestamp else {
            return Err(ImportError::MissingTimestamp {
                line: line(),
                series: spelled(),
            });
        };
        let id = match by_spelling.get(series) {
            Some(&id) => id,
            None => {
                scratch.clear();
                let invalid = |msg: String| ImportError::InvalidLabels {
                    line: line(),
                    series: spelled(),
                    msg,
                };
                parser
                    .labels(&mut scratch)
                    .map_err(|e| invalid(e.msg.clone()))?;
                let labels = Labels::from_sorted(std::mem::take(&mut scratch));
                labels.validate().map_err(|e| invalid(e.to_string()))?;
                let next = set.series.len();
                let id = *by_labels.entry(labels.clone()).or_insert(next);
                if id == next {
                    set.series.push((labels, Vec::new()));
                }
                by_spelling.insert(series, id);
                id
            }
        };
        set.series[id].1.push((t, value));
        set.min_time = set.min_time.min(t);
        set.max_time = set.max_time.max(t);
        set.samples += 1;
        if set.samples.is_multiple_of(PROGRESS_EVERY) {
            draw(
                progress,
                format_args!(
                    "read {} samples of {} series",
                    set.samples,
                    set.series.len()
                ),
            );
        }
    }
    Ok(set)
}

/// Redraws the progress line in place: carriage return, then the message
/// padded so a shorter one covers the previous. Progress is best effort, so
/// a failing writer is ignored.
fn draw(progress: &mut dyn Write, msg: std::fmt::Arguments<'_>) {
    let _ = write!(progress, "\r{:<72}", msg.to_string());
    let _ = progress.flush();
}

/// 1-based line of `part`, a slice of `input`. Only on the error path.
#[cold]
fn line_of(input: &[u8], part: &[u8]) -> usize {
    let at = (part.as_ptr() as usize)
        .saturating_sub(input.as_ptr() as usize)
        .min(input.len());
    1 + input[..at].iter().filter(|&&c| c == b'\n').count()
}

/// Writes one block per 2h range into a staging dir inside `data_dir`, then
/// moves them all into `data_dir`.
fn write_blocks(
    set: &SeriesSet,
    data_dir: &Path,
    progress: &mut dyn Write,
) -> Result<Vec<BlockMeta>, ImportError> {
    let storage_err = |source| ImportError::Storage {
        dir: data_dir.to_path_buf(),
        source,
    };
    let io_err = |p: &Path, e| storage_err(storage::Error::io(p, e));
    std::fs::create_dir_all(data_dir).map_err(|e| io_err(data_dir, e))?;
    let staging = data_dir.join(format!("import-{}{TMP_CREATION_SUFFIX}", Ulid::new()));
    std::fs::create_dir_all(&staging).map_err(|e| io_err(&staging, e))?;
    let written = write_staged(set, &staging, progress).map_err(storage_err);
    let result = written.and_then(|metas| {
        publish(&staging, data_dir, &metas).map_err(storage_err)?;
        Ok(metas)
    });
    let _ = storage::fs::remove_dir_all(&staging);
    result
}

fn write_staged(
    set: &SeriesSet,
    staging: &Path,
    progress: &mut dyn Write,
) -> storage::Result<Vec<BlockMeta>> {
    let first = set.min_time.div_euclid(BLOCK_RANGE_MS) * BLOCK_RANGE_MS;
    let ranges = (set.max_time - first) / BLOCK_RANGE_MS + 1;
    let mut metas = Vec::new();
    for i in 0..ranges {
        let mint = first + i * BLOCK_RANGE_MS;
        let maxt = mint + BLOCK_RANGE_MS;
        let series = set
            .series
            .iter()
            .filter_map(|(labels, samples)| series_in(labels, samples, mint, maxt));
        if let Some(meta) = write_block(storage::vfs::Fs::os(), staging, mint, maxt, &[], series)? {
            metas.push(meta);
        }
        draw(
            progress,
            format_args!(
                "writing blocks: range {}/{ranges}, {} block(s) written",
                i + 1,
                metas.len()
            ),
        );
    }
    Ok(metas)
}

/// The samples of one series within `[mint, maxt)` as XOR chunks.
fn series_in(labels: &Labels, samples: &[(i64, f64)], mint: i64, maxt: i64) -> Option<Series> {
    let lo = samples.partition_point(|s| s.0 < mint);
    let hi = samples.partition_point(|s| s.0 < maxt);
    if lo == hi {
        return None;
    }
    Some(Series::from_samples(
        labels.clone(),
        &samples[lo..hi],
        mint,
        maxt - 1,
    ))
}

/// Moves the finished blocks from `staging` into `data_dir`; if one move
/// fails, the blocks already moved are taken back out.
fn publish(staging: &Path, data_dir: &Path, metas: &[BlockMeta]) -> storage::Result<()> {
    let mut moved: Vec<PathBuf> = Vec::new();
    for m in metas {
        let name = m.ulid.to_string();
        let dst = data_dir.join(&name);
        let src = staging.join(&name);
        if let Err(e) = std::fs::rename(&src, &dst) {
            for p in &moved {
                let _ = storage::fs::remove_dir_all(p);
            }
            return Err(storage::Error::io(&src, e));
        }
        moved.push(dst);
    }
    storage::fs::sync_dir(data_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::querier::Queryable;

    const H: i64 = 3600 * 1000;

    fn db_at(dir: &Path) -> storage::Db {
        storage::Db::open(
            dir,
            storage::Options {
                compaction_interval: None,
                ..storage::Options::default()
            },
        )
        .unwrap()
    }

    fn all_samples(db: &storage::Db, name: &str) -> Vec<(Labels, Vec<(i64, f64)>)> {
        let q = db.querier(i64::MIN / 4, i64::MAX / 4).unwrap();
        q.select(
            &storage::querier::SelectHints::default(),
            &[storage::Matcher::equal("__name__", name)],
        )
        .unwrap()
        .series
        .into_iter()
        .map(|s| {
            let v = s.iter().collect();
            (s.labels, v)
        })
        .collect()
    }

    #[test]
    fn samples_are_split_into_aligned_ranges_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        // Out of order within the series, across three 2h ranges, with an
        // exact duplicate and a second series spelled two ways.
        let om = "# TYPE m gauge\n\
                  m{a=\"1\"} 3 10800.5\n\
                  m{a=\"1\"} 1 3600\n\
                  m{a=\"1\"} 2 7200\n\
                  m{a=\"1\"} 1 3600\n\
                  m{a=\"2\"} 5 1\n\
                  m{a=\"2\",b=\"\"} 6 2\n\
                  # EOF\n";
        let s = import(om.as_bytes(), dir.path(), &mut std::io::sink()).unwrap();
        assert_eq!(s.samples, 5);
        assert_eq!(s.series, 2);
        assert_eq!((s.min_time, s.max_time), (1000, 10_800_500));
        let ranges: Vec<(i64, i64)> = s.blocks.iter().map(|b| (b.min_time, b.max_time)).collect();
        assert_eq!(ranges, vec![(0, 2 * H), (2 * H, 4 * H)]);
        let db = db_at(dir.path());
        assert_eq!(db.blocks().len(), 2);
        let got = all_samples(&db, "m");
        assert_eq!(
            got[0].1,
            vec![(3_600_000, 1.0), (7_200_000, 2.0), (10_800_500, 3.0)]
        );
        assert_eq!(got[1].1, vec![(1000, 5.0), (2000, 6.0)]);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains("tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn long_series_are_cut_into_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let mut om = String::from("# TYPE c counter\n");
        for i in 0..1000 {
            om.push_str(&format!("c_total {i} {}\n", i * 5));
        }
        om.push_str("# EOF\n");
        let s = import(om.as_bytes(), dir.path(), &mut std::io::sink()).unwrap();
        assert_eq!(s.samples, 1000);
        assert_eq!(s.blocks.len(), 1);
        assert!(
            s.blocks[0].stats.num_chunks >= 1000 / storage::chunk::MAX_SAMPLES_PER_CHUNK as u64
        );
        let got = all_samples(&db_at(dir.path()), "c_total");
        assert_eq!(got[0].1.len(), 1000);
        assert_eq!(got[0].1[999], (999 * 5000, 999.0));
    }

    fn err(om: &str) -> (ImportError, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let e = import(om.as_bytes(), dir.path(), &mut std::io::sink()).unwrap_err();
        (e, dir)
    }

    #[test]
    fn errors_name_the_line_and_leave_nothing() {
        let (e, dir) = err("a 1 1\nb 2\n# EOF\n");
        assert!(
            matches!(e, ImportError::MissingTimestamp { line: 2, .. }),
            "{e}"
        );
        assert!(e
            .to_string()
            .starts_with("line 2: sample of b has no timestamp"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let (e, _) = err("a 1 1\na{ 2 2\n# EOF\n");
        assert!(e.to_string().contains("line 2"), "{e}");

        let (e, _) = err("a 1 1\n");
        assert!(matches!(e, ImportError::Parse(_)), "missing # EOF: {e}");

        let (e, _) = err("a{x=\"1\",x=\"2\"} 1 1\n# EOF\n");
        assert!(
            matches!(e, ImportError::InvalidLabels { line: 1, .. }),
            "{e}"
        );

        let (e, dir) = err("a 1 1\na 2 1\n# EOF\n");
        assert!(matches!(e, ImportError::Duplicate { t: 1000, .. }), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let (e, _) = err("# TYPE a gauge\n# EOF\n");
        assert!(matches!(e, ImportError::Empty));
    }

    #[test]
    fn missing_file_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let e = import_file(&dir.path().join("nope"), dir.path(), &mut std::io::sink());
        assert!(matches!(e, Err(ImportError::Read { .. })));
        let gz = dir.path().join("in.om.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"g 1 100\n# EOF\n").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let out = dir.path().join("data");
        let mut progress = Vec::new();
        let s = import_file(&gz, &out, &mut progress).unwrap();
        assert_eq!((s.samples, s.series, s.blocks.len()), (1, 1, 1));
        assert!(String::from_utf8(progress).unwrap().contains("1 block(s)"));
        assert!(s
            .to_string()
            .starts_with("imported 1 samples of 1 series into 1 block(s)"));
    }
}
