//! Prometheus's remote-read client metrics, per endpoint (`remote_name`
//! is the config's `name`, or its URL when unnamed; `url` the URL).

use std::sync::Arc;
use std::time::Instant;

use crate::metrics::{CounterVec, Gauge, Histogram, Registry, DEFAULT_BUCKETS};

/// The metric families, registered once per registry.
#[derive(Clone)]
pub struct ReadMetrics {
    queries: CounterVec,
    in_flight: crate::metrics::GaugeVec,
    duration: crate::metrics::HistogramVec,
}

impl ReadMetrics {
    pub fn register(registry: &Registry) -> ReadMetrics {
        let labels = ["remote_name", "url"];
        ReadMetrics {
            queries: registry.counter_vec(
                "prometheus_remote_storage_read_queries_total",
                "The total number of remote read queries.",
                &["remote_name", "url", "code"],
            ),
            in_flight: registry.gauge_vec(
                "prometheus_remote_storage_remote_read_queries",
                "The number of in-flight remote read queries.",
                &labels,
            ),
            duration: registry.histogram_vec(
                "prometheus_remote_storage_read_request_duration_seconds",
                "Histogram of the latency for remote read requests.",
                &labels,
                DEFAULT_BUCKETS,
            ),
        }
    }

    /// The handles of one endpoint.
    pub(crate) fn endpoint(&self, name: &str, url: &str) -> EndpointMetrics {
        // `/metrics` is readable by anyone who can scrape: no password in it
        // (an unnamed endpoint is named by its URL, so both are redacted).
        let name = crate::config::redact::redact_url(name);
        let url = crate::config::redact::redact_url(url);
        let (name, url) = (name.as_ref(), url.as_ref());
        EndpointMetrics {
            queries: self.queries.clone(),
            in_flight: self.in_flight.with(&[name, url]),
            duration: self.duration.with(&[name, url]),
            name: name.to_string(),
            url: url.to_string(),
        }
    }
}

/// One endpoint's handles.
pub(crate) struct EndpointMetrics {
    queries: CounterVec,
    in_flight: Arc<Gauge>,
    duration: Arc<Histogram>,
    name: String,
    url: String,
}

impl EndpointMetrics {
    /// Counts a request in flight until the guard drops (also when the
    /// request is abandoned).
    pub(crate) fn start(&self) -> InFlight<'_> {
        self.in_flight.add(1.0);
        InFlight {
            m: self,
            started: Instant::now(),
        }
    }
}

/// A request in flight; see [`EndpointMetrics::start`].
pub(crate) struct InFlight<'a> {
    m: &'a EndpointMetrics,
    started: Instant,
}

impl InFlight<'_> {
    /// An answer arrived with `status`: counted by code, as upstream
    /// counts only requests that got one, and timed.
    pub(crate) fn answered(&self, status: u16) {
        let code = status.to_string();
        self.m
            .queries
            .with(&[&self.m.name, &self.m.url, &code])
            .inc();
        self.m
            .duration
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.m.in_flight.add(-1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_never_reaches_the_exposition() {
        let r = Registry::new();
        let m = ReadMetrics::register(&r);
        // Unnamed: the URL is the name too.
        let url = "http://user:s3cret@127.0.0.1:1/read";
        let e = m.endpoint(url, url);
        e.start().answered(200);
        let text = r.render();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.contains("remote_name=\"http://user:xxxxx@127.0.0.1:1/read\""),
            "{text}"
        );
    }
}
