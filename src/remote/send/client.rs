//! POSTing one encoded `WriteRequest` with Prometheus's remote-write 1.0
//! headers, and classifying the answer as Prometheus's sender does.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};

use super::backoff::parse_retry_after;
use crate::config::RemoteWriteConfig;
use crate::http_client::{self, ClientError, ClientSettings};

/// What a send attempt came to.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// 2xx.
    Sent,
    /// 5xx, 429 (when `retry_on_http_429`), or no answer: try again later,
    /// after `retry_after` if a 429 said so.
    Retry {
        why: String,
        retry_after: Option<Duration>,
    },
    /// Any other status: the receiver will never take this batch.
    Refused { status: u16, why: String },
}

/// An HTTP client for one queue's endpoint.
pub(crate) struct Client {
    http: reqwest::Client,
    cfg: Arc<RemoteWriteConfig>,
    headers: HeaderMap,
}

impl Client {
    pub(crate) fn new(cfg: Arc<RemoteWriteConfig>) -> Result<Self, ClientError> {
        let http = http_client::build(&settings(&cfg))?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("snappy"));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert(
            HeaderName::from_static("x-prometheus-remote-write-version"),
            HeaderValue::from_static("0.1.0"),
        );
        // Names and values were checked by the config loader.
        for (k, v) in &cfg.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                headers.insert(k, v);
            }
        }
        Ok(Client { http, cfg, headers })
    }

    /// Sends one snappy-compressed `WriteRequest`.
    pub(crate) async fn send(&self, body: Bytes) -> Outcome {
        let s = settings(&self.cfg);
        let req = self
            .http
            .post(&self.cfg.url)
            .headers(self.headers.clone())
            .body(body);
        let req = match http_client::authorize(req, &s) {
            Ok(r) => r,
            // A credentials file that cannot be read now may be fixed by the
            // operator: keep the data and retry.
            Err(e) => {
                return Outcome::Retry {
                    why: e.to_string(),
                    retry_after: None,
                }
            }
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Retry {
                    why: error_chain(&e),
                    retry_after: None,
                }
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Outcome::Sent;
        }
        // Prometheus 2.42 reads `Retry-After` on a retried 429 only (a 5xx
        // backs off normally); a zero or past value means "no advice".
        let rate_limited = status.as_u16() == 429 && self.cfg.queue_config.retry_on_http_429;
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .filter(|_| rate_limited)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
            .filter(|d| !d.is_zero());
        let mut text = resp.text().await.unwrap_or_default();
        truncate(&mut text, 256);
        let why = format!("server returned HTTP status {status}: {}", text.trim());
        if status.is_server_error() || rate_limited {
            Outcome::Retry { why, retry_after }
        } else {
            Outcome::Refused {
                status: status.as_u16(),
                why,
            }
        }
    }
}

fn settings(cfg: &RemoteWriteConfig) -> ClientSettings<'_> {
    cfg.client_settings(cfg.remote_timeout.as_std())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}
