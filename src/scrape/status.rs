//! What the scrape side reports to the HTTP API: targets with their health
//! and the metadata (TYPE/HELP/UNIT) seen per target. The API reads it
//! through [`ScrapeStatus`] so it can be tested without scraping.

use std::time::SystemTime;

use storage::Labels;

/// Health of a target after its last scrape, spelled as in `/api/v1/targets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Up,
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// One active target.
#[derive(Clone, Debug)]
pub struct ActiveTarget {
    /// Labels before relabeling (incl. `__address__`, `__meta_*`, ...).
    pub discovered_labels: Labels,
    /// Labels after relabeling, without `__`-prefixed ones: what is
    /// attached to the target's series.
    pub labels: Labels,
    /// The job name.
    pub scrape_pool: String,
    pub scrape_url: String,
    pub global_url: String,
    pub last_error: String,
    /// `None` before the first scrape.
    pub last_scrape: Option<SystemTime>,
    pub last_scrape_duration_seconds: f64,
    pub health: Health,
    /// Prometheus duration strings, e.g. `15s`.
    pub scrape_interval: String,
    pub scrape_timeout: String,
}

/// A discovered target that relabeling dropped.
#[derive(Clone, Debug)]
pub struct DroppedTarget {
    pub discovered_labels: Labels,
    pub scrape_pool: String,
}

/// TYPE/HELP/UNIT of one metric family as a target exposed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricMetadata {
    pub metric: String,
    /// `counter`, `gauge`, `histogram`, `gaugehistogram`, `summary`,
    /// `info`, `stateset` or `unknown`.
    pub kind: String,
    pub help: String,
    pub unit: String,
}

/// Read access to the scrape manager's state.
pub trait ScrapeStatus: Send + Sync {
    fn active_targets(&self) -> Vec<ActiveTarget>;
    fn dropped_targets(&self) -> Vec<DroppedTarget>;
    /// Metadata per active target: the target's labels and what it exposed.
    fn metadata(&self) -> Vec<(Labels, Vec<MetricMetadata>)>;
}
