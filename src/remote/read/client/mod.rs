//! The remote-read client: one `remote_read:` endpoint, asked with one
//! query per request as Prometheus asks (snappy-compressed protobuf
//! `ReadRequest`, streamed XOR chunks preferred over raw samples). What to
//! ask is decided in [`plan`]; answers are decoded in [`decode`].

mod decode;
mod metrics;
mod plan;

use std::time::Duration;

use prost::Message;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};

pub use decode::{DecodeError, RemoteSeries};
pub use metrics::ReadMetrics;
pub use plan::{Plan, Policy};

use crate::config::RemoteReadConfig;
use crate::http_client::{self, ClientError, ClientSettings};
use crate::remote::proto::{Query, ReadRequest, ResponseType};
use decode::{FrameDecoder, MAX_SAMPLES_BYTES};
use metrics::EndpointMetrics;

/// Longest part of an error body quoted in a warning (Prometheus's cap).
const MAX_ERROR_BODY: usize = 256;

/// Why a read failed. Each message reads well after `remote_read: `,
/// the prefix a query warning gives it.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("error sending request: {0}")]
    Send(String),
    #[error("request timed out after {0:?} (remote_timeout)")]
    Timeout(Duration),
    #[error("remote server {url} returned HTTP status {status}: {body}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
        body: String,
    },
    #[error("error reading response: {0}")]
    Body(String),
    #[error("response of more than {MAX_SAMPLES_BYTES} bytes")]
    TooLarge,
    #[error("unsupported content type: {0:?}")]
    ContentType(String),
    #[error("error decoding response: {0}")]
    Decode(#[from] DecodeError),
}

/// A client for one endpoint, built from its config.
pub struct ReadClient {
    config: RemoteReadConfig,
    client: reqwest::Client,
    headers: HeaderMap,
    metrics: Option<EndpointMetrics>,
}

impl ReadClient {
    /// Builds the HTTP client (TLS files are read here; secrets in files
    /// at each request), counting its requests in `metrics`.
    pub fn new(
        config: &RemoteReadConfig,
        metrics: Option<&ReadMetrics>,
    ) -> Result<ReadClient, ClientError> {
        let config = config.clone();
        let client = http_client::build(&settings(&config))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            // The loader checked both; a header that still fails is left
            // out rather than failing every read.
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
        let metrics = metrics.map(|m| {
            let name = if config.name.is_empty() {
                &config.url
            } else {
                &config.name
            };
            m.endpoint(name, &config.url)
        });
        Ok(ReadClient {
            config,
            client,
            headers,
            metrics,
        })
    }

    /// Sends `query` and returns the series of the answer.
    pub async fn read(&self, query: Query) -> Result<Vec<RemoteSeries>, FetchError> {
        let req = ReadRequest {
            queries: vec![query],
            accepted_response_types: vec![
                ResponseType::StreamedXorChunks as i32,
                ResponseType::Samples as i32,
            ],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .map_err(DecodeError::Snappy)?;
        let rb = self
            .client
            .post(&self.config.url)
            .headers(self.headers.clone())
            .header(CONTENT_ENCODING, "snappy")
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0")
            .body(body);
        let rb = http_client::authorize(rb, &settings(&self.config))?;
        let flight = self.metrics.as_ref().map(EndpointMetrics::start);
        let mut resp = rb
            .send()
            .await
            .map_err(|e| self.transport(e, FetchError::Send))?;
        let status = resp.status();
        if let Some(f) = &flight {
            f.answered(status.as_u16());
        }
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            return Err(FetchError::Status {
                url: crate::config::redact::redact_url(&self.config.url).into_owned(),
                status,
                body: truncate(text.trim_end(), MAX_ERROR_BODY).to_string(),
            });
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if content_type.starts_with(crate::remote::read::STREAMED_CONTENT_TYPE) {
            let mut frames = FrameDecoder::default();
            while let Some(bytes) = resp
                .chunk()
                .await
                .map_err(|e| self.transport(e, FetchError::Body))?
            {
                frames.push(&bytes)?;
            }
            Ok(frames.finish()?)
        } else if content_type.starts_with("application/x-protobuf") {
            let mut body = Vec::new();
            while let Some(bytes) = resp
                .chunk()
                .await
                .map_err(|e| self.transport(e, FetchError::Body))?
            {
                if body.len() + bytes.len() > MAX_SAMPLES_BYTES {
                    return Err(FetchError::TooLarge);
                }
                body.extend_from_slice(&bytes);
            }
            Ok(decode::samples_response(&body)?)
        } else {
            Err(FetchError::ContentType(content_type))
        }
    }

    /// A transport error with its causes spelled out (reqwest's own
    /// message omits them); timeouts say which setting ran out.
    fn transport(&self, e: reqwest::Error, wrap: fn(String) -> FetchError) -> FetchError {
        if e.is_timeout() {
            return FetchError::Timeout(self.config.remote_timeout.as_std());
        }
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        wrap(msg)
    }
}

fn settings(c: &RemoteReadConfig) -> ClientSettings<'_> {
    c.client_settings(c.remote_timeout.as_std())
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::{HeaderMap as AxumHeaders, StatusCode};
    use axum::response::IntoResponse;
    use parking_lot::Mutex;

    use super::*;
    use crate::remote::proto::{
        Label, LabelMatcher, MatcherType, QueryResult, ReadResponse, Sample, TimeSeries,
    };

    /// What the fake endpoint saw: headers and the decoded request.
    type Seen = Arc<Mutex<Vec<(AxumHeaders, ReadRequest)>>>;

    /// Serves `answer` (status, content type, body) at `/read` on
    /// loopback, recording each request.
    async fn endpoint(answer: (StatusCode, &'static str, Vec<u8>)) -> (String, Seen) {
        let seen: Seen = Arc::default();
        let s = Arc::clone(&seen);
        let app = axum::Router::new().route(
            "/read",
            axum::routing::post(move |headers: AxumHeaders, body: axum::body::Bytes| {
                let s = Arc::clone(&s);
                let answer = answer.clone();
                async move {
                    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                    s.lock()
                        .push((headers, ReadRequest::decode(raw.as_slice()).unwrap()));
                    let (status, ct, body) = answer;
                    (status, [(CONTENT_TYPE, ct)], body).into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/read", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    fn client(url: &str, extra: &str) -> ReadClient {
        let cfg = crate::config::parse_str(&format!(
            "remote_read:\n  - url: {url}\n    remote_timeout: 5s\n{extra}"
        ))
        .unwrap();
        ReadClient::new(&cfg.remote_read[0], None).unwrap()
    }

    fn query() -> Query {
        Query {
            start_timestamp_ms: 1,
            end_timestamp_ms: 2,
            matchers: vec![LabelMatcher {
                r#type: MatcherType::Eq as i32,
                name: "__name__".into(),
                value: "up".into(),
            }],
            hints: None,
        }
    }

    #[tokio::test]
    async fn request_is_prometheus_shaped_and_samples_decode() {
        let resp = ReadResponse {
            results: vec![QueryResult {
                timeseries: vec![TimeSeries {
                    labels: vec![Label {
                        name: "__name__".into(),
                        value: "up".into(),
                    }],
                    samples: vec![Sample {
                        value: 1.5,
                        timestamp: 1,
                    }],
                    ..Default::default()
                }],
            }],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&resp.encode_to_vec())
            .unwrap();
        let (url, seen) = endpoint((StatusCode::OK, "application/x-protobuf", body)).await;
        let c = client(
            &url,
            "    headers: {X-Scope-OrgID: t1}\n    basic_auth: {username: u, password: p}\n",
        );
        let got = c.read(query()).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].samples, vec![(1, 1.5)]);
        let seen = seen.lock();
        let (h, req) = &seen[0];
        assert_eq!(h["content-encoding"], "snappy");
        assert_eq!(h["content-type"], "application/x-protobuf");
        assert_eq!(h["x-prometheus-remote-read-version"], "0.1.0");
        assert_eq!(h["x-scope-orgid"], "t1");
        assert_eq!(h["authorization"], "Basic dTpw");
        assert_eq!(req.queries, vec![query()]);
        assert_eq!(
            req.accepted_response_types,
            vec![
                ResponseType::StreamedXorChunks as i32,
                ResponseType::Samples as i32
            ]
        );
    }

    #[tokio::test]
    async fn remote_timeout_bounds_a_request() {
        // Accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/read", listener.local_addr().unwrap());
        let hold = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((c, _)) = listener.accept().await {
                conns.push(c);
            }
        });
        let cfg = crate::config::parse_str(&format!(
            "remote_read:\n  - url: {url}\n    remote_timeout: 200ms\n"
        ))
        .unwrap();
        let c = ReadClient::new(&cfg.remote_read[0], None).unwrap();
        let started = std::time::Instant::now();
        let e = c.read(query()).await.unwrap_err();
        assert!(matches!(e, FetchError::Timeout(_)), "{e}");
        assert_eq!(
            e.to_string(),
            "request timed out after 200ms (remote_timeout)"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        hold.abort();
    }

    #[tokio::test]
    async fn failures_are_described() {
        let (url, _) = endpoint((
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            b"overloaded\n".to_vec(),
        ))
        .await;
        let e = client(&url, "").read(query()).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("remote server {url} returned HTTP status 503 Service Unavailable: overloaded")
        );
        let (url, _) = endpoint((StatusCode::OK, "text/html", b"<html>".to_vec())).await;
        let e = client(&url, "").read(query()).await.unwrap_err();
        assert_eq!(e.to_string(), "unsupported content type: \"text/html\"");
        let (url, _) = endpoint((StatusCode::OK, "application/x-protobuf", b"junk".to_vec())).await;
        let e = client(&url, "").read(query()).await.unwrap_err();
        assert!(
            e.to_string().starts_with("error decoding response: "),
            "{e}"
        );
    }

    #[test]
    fn error_bodies_are_cut_on_char_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}
