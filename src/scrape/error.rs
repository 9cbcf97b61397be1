//! Why a scrape, or turning a discovered target into a scrape target,
//! failed. Messages follow Prometheus's wording, since users compare the
//! `lastError` of `/api/v1/targets` with what they know.

/// A failed scrape. Cloneable so the target's status and the scrape loop
/// can both keep it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ScrapeError {
    /// The target answered with something other than 200.
    #[error("server returned HTTP status {0}")]
    HttpStatus(String),
    /// The (decompressed) body reached `body_size_limit`.
    #[error("body size limit exceeded")]
    BodySizeLimit,
    /// The scrape did not finish within `scrape_timeout`.
    #[error("Get \"{url}\": context deadline exceeded")]
    Timeout { url: String },
    /// Connecting, sending or reading failed, or a credentials file could
    /// not be read; `msg` carries the cause chain.
    #[error("Get \"{url}\": {msg}")]
    Request { url: String, msg: String },
    /// The payload is malformed; the message names the line.
    #[error("{0}")]
    Parse(String),
    #[error("sample limit exceeded")]
    SampleLimit,
    #[error("label_limit exceeded (metric: {metric}, number of labels: {count}, limit: {limit})")]
    LabelLimit {
        metric: String,
        count: usize,
        limit: usize,
    },
    #[error("label_name_length_limit exceeded (metric: {metric}, label name: {name}, length: {length}, limit: {limit})")]
    LabelNameLengthLimit {
        metric: String,
        name: String,
        length: usize,
        limit: usize,
    },
    #[error("label_value_length_limit exceeded (metric: {metric}, label name: {name}, value: {value:?}, length: {length}, limit: {limit})")]
    LabelValueLengthLimit {
        metric: String,
        name: String,
        value: String,
        length: usize,
        limit: usize,
    },
    /// A series without `__name__` after relabeling.
    #[error("missing metric name (__name__ label)")]
    MissingMetricName,
    #[error("invalid metric name or label names: {0}")]
    InvalidLabels(String),
    /// A scraped series names the same label twice.
    #[error("label name \"{0}\" is not unique: invalid sample")]
    DuplicateLabel(String),
    /// Samples had timestamps further ahead of the server clock than
    /// `--storage.tsdb.future-sample-grace`; the scrape is refused as a
    /// whole (as on `sample_limit`), so the target shows down with this.
    #[error(
        "{count} sample(s) rejected: timestamp too far in the future (first series: {series})"
    )]
    TooFarInFuture { count: usize, series: String },
    /// The job has more targets than `target_limit`; all of them fail.
    #[error("target_limit exceeded (number of targets: {count}, limit: {limit})")]
    TargetLimit { count: usize, limit: usize },
    /// Storage refused the batch for a reason other than a single bad
    /// sample (I/O, closed database).
    #[error("{0}")]
    Storage(String),
    /// The job's HTTP client could not be built (bad CA or client cert).
    #[error("error creating HTTP client: {0}")]
    Client(String),
    /// The job's relabeling rules do not compile.
    #[error("{0}")]
    Config(String),
    /// Scrape loops need a Tokio runtime to run on.
    #[error("the scrape manager must be used from within a Tokio runtime")]
    NoRuntime,
}

/// Why a discovered target could not become a scrape target.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TargetError {
    #[error("no address")]
    NoAddress,
    #[error("{0:?} is not a valid hostname")]
    InvalidAddress(String),
    #[error("error parsing scrape interval: {0}")]
    Interval(String),
    #[error("scrape interval cannot be 0")]
    ZeroInterval,
    #[error("error parsing scrape timeout: {0}")]
    Timeout(String),
    #[error("scrape timeout cannot be 0")]
    ZeroTimeout,
    #[error("scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})")]
    TimeoutAboveInterval { timeout: String, interval: String },
    #[error("invalid scheme: {0:?}")]
    Scheme(String),
}

/// At most `n` characters of `s`, as Go's `%.50s` prints.
pub(crate) fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_prometheus() {
        assert_eq!(
            ScrapeError::HttpStatus("500 Internal Server Error".into()).to_string(),
            "server returned HTTP status 500 Internal Server Error"
        );
        assert_eq!(
            ScrapeError::LabelValueLengthLimit {
                metric: "m".into(),
                name: "a".into(),
                value: "x\"y".into(),
                length: 3,
                limit: 2
            }
            .to_string(),
            "label_value_length_limit exceeded (metric: m, label name: a, value: \"x\\\"y\", length: 3, limit: 2)"
        );
        assert_eq!(
            TargetError::TimeoutAboveInterval {
                timeout: "2s".into(),
                interval: "1s".into()
            }
            .to_string(),
            "scrape timeout cannot be greater than scrape interval (\"2s\" > \"1s\")"
        );
        assert_eq!(truncate("héllo", 2), "hé");
    }
}
