//! The HTTP side of a scrape: one client per job (TLS, redirects,
//! compression), per-request headers and credentials, and a body read that
//! stops at `body_size_limit`.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE};

use super::error::ScrapeError;
use crate::config::ScrapeConfig;
use crate::exposition::{Format, ACCEPT_HEADER};
use crate::http_client;

/// `User-Agent` of every scrape.
pub const USER_AGENT: &str = concat!("ferroprom/", env!("CARGO_PKG_VERSION"));

/// A secret given inline or in a file. Files are read at every scrape, so a
/// rotated token is picked up without a reload (as Prometheus does).
#[derive(Clone, Debug)]
enum Secret {
    Inline(String),
    File(PathBuf),
}

impl Secret {
    fn new(inline: &Option<String>, file: &Option<String>) -> Secret {
        match (inline, file) {
            (_, Some(f)) if inline.as_deref().unwrap_or("").is_empty() => {
                Secret::File(PathBuf::from(f))
            }
            (Some(s), _) => Secret::Inline(s.clone()),
            _ => Secret::Inline(String::new()),
        }
    }

    async fn read(&self, what: &str) -> Result<String, String> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(p) => tokio::fs::read_to_string(p)
                .await
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("unable to read {what} file {}: {e}", p.display())),
        }
    }
}

#[derive(Clone, Debug)]
enum Auth {
    None,
    Basic { username: String, password: Secret },
    Header { kind: String, credentials: Secret },
}

/// A job's HTTP client.
#[derive(Clone, Debug)]
pub struct ScrapeClient {
    http: reqwest::Client,
    auth: Auth,
    compression: bool,
    accept: HeaderValue,
    /// Format of a payload whose Content-Type names no known format.
    fallback: Format,
}

/// `Accept` for the job's `scrape_protocols` (preferred first), weighted
/// as Prometheus weighs them; the protobuf format is left out since it
/// cannot be parsed here.
fn accept_header(protocols: Option<&[String]>) -> HeaderValue {
    let Some(protocols) = protocols else {
        return HeaderValue::from_static(ACCEPT_HEADER);
    };
    let mut parts = Vec::new();
    let mut weight = 6;
    for p in protocols {
        let media = match p.as_str() {
            "OpenMetricsText1.0.0" => {
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8"
            }
            "OpenMetricsText0.0.1" => "application/openmetrics-text;version=0.0.1",
            "PrometheusText1.0.0" => "text/plain;version=1.0.0;escaping=allow-utf-8",
            "PrometheusText0.0.4" => "text/plain;version=0.0.4",
            _ => continue,
        };
        parts.push(format!("{media};q=0.{weight}"));
        weight -= 1;
    }
    parts.push(format!("*/*;q=0.{weight}"));
    HeaderValue::from_str(&parts.join(",")).unwrap_or(HeaderValue::from_static(ACCEPT_HEADER))
}

/// The payload format for a Content-Type: a known media type decides,
/// anything else (missing, `application/octet-stream`, ...) gets the
/// job's fallback, by default the text format.
fn payload_format(content_type: &str, fallback: Format) -> Format {
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("text/plain")
        || media.eq_ignore_ascii_case("application/openmetrics-text")
    {
        Format::from_content_type(content_type)
    } else {
        fallback
    }
}

impl ScrapeClient {
    /// Builds the client for `cfg` with the TLS, redirect and HTTP/2
    /// settings every client shares: CA and client certificate files are
    /// read now, credential files at every scrape.
    pub fn new(cfg: &ScrapeConfig) -> Result<Self, ScrapeError> {
        // No client-wide limit: `fetch` bounds each scrape by its target's
        // own timeout, which relabeling may have changed. The builder
        // leaves credentials out: `Auth` reads them at every scrape.
        let mut b = http_client::builder(&cfg.client_settings(Duration::MAX))
            .map_err(|e| ScrapeError::Client(chain(&e)))?
            .gzip(cfg.enable_compression)
            .user_agent(USER_AGENT);
        // Proxies only when configured: reqwest would otherwise follow
        // HTTP_PROXY & co., which Prometheus ignores unless
        // proxy_from_environment is set.
        if cfg.proxy_from_environment != Some(true) {
            b = b.no_proxy();
        }
        if let Some(url) = &cfg.proxy_url {
            let mut proxy = reqwest::Proxy::all(url)
                .map_err(|e| ScrapeError::Client(format!("invalid proxy_url {url:?}: {e}")))?;
            if let Some(np) = &cfg.no_proxy {
                proxy = proxy.no_proxy(reqwest::NoProxy::from_string(np));
            }
            b = b.proxy(proxy);
        }
        let http = b.build().map_err(|e| ScrapeError::Client(chain(&e)))?;
        let auth = if let Some(ba) = &cfg.basic_auth {
            Auth::Basic {
                username: ba.username.clone(),
                password: Secret::new(&ba.password, &ba.password_file),
            }
        } else if let Some(a) = &cfg.authorization {
            Auth::Header {
                kind: a.kind.clone(),
                credentials: Secret::new(&a.credentials, &a.credentials_file),
            }
        } else if cfg.bearer_token.is_some() || cfg.bearer_token_file.is_some() {
            Auth::Header {
                kind: "Bearer".into(),
                credentials: Secret::new(&cfg.bearer_token, &cfg.bearer_token_file),
            }
        } else {
            Auth::None
        };
        let fallback = match cfg.fallback_scrape_protocol.as_deref() {
            Some(p) if p.starts_with("OpenMetricsText") => Format::OpenMetrics,
            _ => Format::Text,
        };
        Ok(ScrapeClient {
            http,
            auth,
            compression: cfg.enable_compression,
            accept: accept_header(cfg.scrape_protocols.as_deref()),
            fallback,
        })
    }

    /// GETs `url` into `buf` (cleared first) within `timeout` and returns
    /// the payload's format from its Content-Type. `body_limit` bytes of
    /// (decompressed) body fail the scrape; 0 means no limit.
    pub async fn fetch(
        &self,
        url: &str,
        timeout: Duration,
        body_limit: u64,
        buf: &mut Vec<u8>,
    ) -> Result<Format, ScrapeError> {
        match tokio::time::timeout(timeout, self.get(url, timeout, body_limit, buf)).await {
            Ok(r) => r,
            Err(_) => Err(ScrapeError::Timeout {
                url: url.to_string(),
            }),
        }
    }

    async fn get(
        &self,
        url: &str,
        timeout: Duration,
        body_limit: u64,
        buf: &mut Vec<u8>,
    ) -> Result<Format, ScrapeError> {
        let request_err = |msg: String| ScrapeError::Request {
            url: url.to_string(),
            msg,
        };
        let mut req = self
            .http
            .get(url)
            .header(ACCEPT, self.accept.clone())
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                timeout.as_secs_f64().to_string(),
            );
        if !self.compression {
            req = req.header(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        }
        match &self.auth {
            Auth::None => {}
            Auth::Basic { username, password } => {
                let pw = password.read("password").await.map_err(request_err)?;
                req = req.basic_auth(username, Some(pw));
            }
            Auth::Header { kind, credentials } => {
                let c = credentials
                    .read("authorization credentials")
                    .await
                    .map_err(request_err)?;
                req = req.header(AUTHORIZATION, format!("{kind} {c}"));
            }
        }
        let mut resp = req.send().await.map_err(|e| request_err(chain(&e)))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(ScrapeError::HttpStatus(resp.status().to_string()));
        }
        let format = payload_format(
            resp.headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            self.fallback,
        );
        buf.clear();
        while let Some(chunk) = resp.chunk().await.map_err(|e| request_err(chain(&e)))? {
            buf.extend_from_slice(&chunk);
            // `>=` as Prometheus: a body of exactly the limit fails too.
            if body_limit > 0 && buf.len() as u64 >= body_limit {
                return Err(ScrapeError::BodySizeLimit);
            }
        }
        Ok(format)
    }
}

/// An error with its causes, `a: b: c`, since reqwest's own message leaves
/// out why a connection failed.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_prefer_inline_and_trim_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "  s3cret\n").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let f = Secret::new(&None, &Some(p.to_string_lossy().into_owned()));
        assert_eq!(rt.block_on(f.read("x")).unwrap(), "s3cret");
        let i = Secret::new(&Some("inline".into()), &None);
        assert_eq!(rt.block_on(i.read("x")).unwrap(), "inline");
        let missing = Secret::new(&None, &Some("/nonexistent/tok".into()));
        let err = rt.block_on(missing.read("password")).unwrap_err();
        assert!(
            err.starts_with("unable to read password file /nonexistent/tok: "),
            "{err}"
        );
    }

    #[test]
    fn accept_header_follows_scrape_protocols() {
        assert_eq!(accept_header(None), ACCEPT_HEADER);
        let default: Vec<String> = [
            "OpenMetricsText1.0.0",
            "OpenMetricsText0.0.1",
            "PrometheusText1.0.0",
            "PrometheusText0.0.4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(accept_header(Some(&default)), ACCEPT_HEADER);
        let text = vec![
            "PrometheusProto".to_string(),
            "PrometheusText0.0.4".to_string(),
        ];
        assert_eq!(
            accept_header(Some(&text)),
            "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
        );
    }

    #[test]
    fn unknown_content_types_use_the_fallback() {
        let om = "application/openmetrics-text; version=1.0.0";
        assert_eq!(payload_format(om, Format::Text), Format::OpenMetrics);
        assert_eq!(
            payload_format("text/plain", Format::OpenMetrics),
            Format::Text
        );
        assert_eq!(payload_format("", Format::Text), Format::Text);
        assert_eq!(payload_format("", Format::OpenMetrics), Format::OpenMetrics);
        assert_eq!(
            payload_format("application/octet-stream", Format::OpenMetrics),
            Format::OpenMetrics
        );
    }

    #[test]
    fn bad_tls_files_fail_the_client() {
        let mut cfg = crate::config::parse_str("scrape_configs: [{job_name: j}]")
            .unwrap()
            .scrape_configs
            .remove(0);
        cfg.tls_config = Some(crate::config::TlsConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        });
        let err = ScrapeClient::new(&cfg).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "error creating HTTP client: unable to read CA file /nonexistent/ca.pem: "
            ),
            "{err}"
        );
    }
}
