//! A target's live state as `/api/v1/targets` shows it: health, last
//! error, last scrape time and duration, and where its metadata lives. The
//! scrape loop writes it after every scrape; the API reads it any time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use super::cache::SharedMetadata;
use super::status::Health;
use super::ScrapeError;

#[derive(Clone, Debug)]
pub(crate) struct HealthSnapshot {
    pub(crate) health: Health,
    pub(crate) last_error: String,
    pub(crate) last_scrape: Option<SystemTime>,
    pub(crate) last_duration: Duration,
}

#[derive(Debug)]
pub(crate) struct TargetHealth {
    state: Mutex<HealthSnapshot>,
    metadata: Mutex<SharedMetadata>,
}

impl TargetHealth {
    pub(crate) fn new(metadata: SharedMetadata) -> Arc<Self> {
        Arc::new(TargetHealth {
            state: Mutex::new(HealthSnapshot {
                health: Health::Unknown,
                last_error: String::new(),
                last_scrape: None,
                last_duration: Duration::ZERO,
            }),
            metadata: Mutex::new(metadata),
        })
    }

    pub(crate) fn report(
        &self,
        start: SystemTime,
        duration: Duration,
        error: Option<&ScrapeError>,
    ) {
        let mut s = self.state.lock();
        s.health = if error.is_none() {
            Health::Up
        } else {
            Health::Down
        };
        s.last_error = error.map(|e| e.to_string()).unwrap_or_default();
        s.last_scrape = Some(start);
        s.last_duration = duration;
    }

    pub(crate) fn snapshot(&self) -> HealthSnapshot {
        self.state.lock().clone()
    }

    pub(crate) fn metadata(&self) -> SharedMetadata {
        Arc::clone(&self.metadata.lock())
    }

    /// Points at a new loop's metadata store (its cache was not reusable).
    pub(crate) fn set_metadata(&self, m: SharedMetadata) {
        *self.metadata.lock() = m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_health_and_error() {
        let h = TargetHealth::new(SharedMetadata::default());
        assert_eq!(h.snapshot().health, Health::Unknown);
        let t = SystemTime::now();
        h.report(t, Duration::from_millis(5), Some(&ScrapeError::SampleLimit));
        let s = h.snapshot();
        assert_eq!(s.health, Health::Down);
        assert_eq!(s.last_error, "sample limit exceeded");
        assert_eq!(s.last_scrape, Some(t));
        h.report(t, Duration::from_millis(5), None);
        assert_eq!(h.snapshot().health, Health::Up);
        assert_eq!(h.snapshot().last_error, "");
    }
}
