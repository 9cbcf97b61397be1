//! The real hour (`datasets/real-exporters-1h.om.txt.gz` in the shared
//! reference data): OpenMetrics text with a timestamp on every sample,
//! read with ferroprom's own parser, and moved in time so that the hour
//! ends just before now.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use ferroprom::exposition::{Entry, Format, Parser};
use ferroprom::remote::proto::{Label, Sample};

/// Every series of the file with its samples in time order.
pub struct RealData {
    pub series: Vec<(Vec<Label>, Vec<Sample>)>,
    pub samples: u64,
    /// Samples whose value is NaN (summary quantiles without observations):
    /// VictoriaMetrics stores them but `count_over_time` leaves them out.
    pub nan: u64,
    /// The metric names, for counting samples name by name.
    pub names: Vec<String>,
}

impl RealData {
    /// Reads `path` (plain or gzip) and shifts every timestamp so that the
    /// newest one lands at `end` (ms).
    pub fn load(path: &Path, end: i64) -> RealData {
        let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut text = Vec::new();
        if raw.starts_with(&[0x1f, 0x8b]) {
            flate2::read::MultiGzDecoder::new(&raw[..])
                .read_to_end(&mut text)
                .expect("gunzip");
        } else {
            text = raw;
        }
        let mut parser = Parser::new(&text, Format::OpenMetrics);
        let mut by_spelling: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut by_labels: HashMap<Vec<(String, String)>, usize> = HashMap::new();
        let mut series: Vec<(Vec<Label>, Vec<Sample>)> = Vec::new();
        let mut scratch = Vec::new();
        while let Some(entry) = parser.next().expect("the dataset parses") {
            let Entry::Sample {
                series: spelled,
                value,
                timestamp,
            } = entry
            else {
                continue;
            };
            let timestamp = timestamp.expect("every sample of the dataset has a timestamp");
            let id = match by_spelling.get(spelled) {
                Some(&id) => id,
                None => {
                    scratch.clear();
                    parser.labels(&mut scratch).expect("labels");
                    let key: Vec<(String, String)> = scratch
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect();
                    let next = series.len();
                    let id = *by_labels.entry(key.clone()).or_insert(next);
                    if id == next {
                        let labels = key
                            .into_iter()
                            .map(|(name, value)| Label { name, value })
                            .collect();
                        series.push((labels, Vec::new()));
                    }
                    by_spelling.insert(spelled.to_vec(), id);
                    id
                }
            };
            series[id].1.push(Sample { value, timestamp });
        }
        let newest = series
            .iter()
            .flat_map(|s| s.1.iter().map(|x| x.timestamp))
            .max()
            .expect("samples in the dataset");
        // Whole seconds, so the scrape jitter within a second stays as it was.
        let shift = (end - newest).div_euclid(1000) * 1000;
        let (mut samples, mut nan) = (0, 0);
        let mut names: Vec<String> = Vec::new();
        for (labels, s) in &mut series {
            s.sort_by_key(|x| x.timestamp);
            s.dedup_by_key(|x| x.timestamp);
            for x in s.iter_mut() {
                x.timestamp += shift;
            }
            samples += s.len() as u64;
            nan += s.iter().filter(|x| x.value.is_nan()).count() as u64;
            if let Some(n) = labels.iter().find(|l| l.name == "__name__") {
                names.push(n.value.clone());
            }
        }
        names.sort();
        names.dedup();
        RealData {
            series,
            samples,
            nan,
            names,
        }
    }

    /// The most samples any series has: the rounds a load needs.
    pub fn rounds(&self) -> usize {
        self.series.iter().map(|s| s.1.len()).max().unwrap_or(0)
    }
}
