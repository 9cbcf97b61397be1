//! http_sd: target groups fetched from a URL every `refresh_interval`. The
//! endpoint must answer 200 with `application/json`; every group gets a
//! `__meta_url` label. A failed refresh keeps the previous groups.

use std::time::Duration;

use tokio::sync::mpsc;

use super::http_client::{self, ClientError, ClientSettings};
use super::target_group::{parse_groups, Format};
use super::TargetGroup;
use crate::config::HttpSdConfig;

const URL_LABEL: &str = "__meta_url";

/// Why one refresh failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpSdError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("server returned HTTP status {0}")]
    Status(reqwest::StatusCode),
    #[error("unsupported content type {0:?}")]
    ContentType(String),
    #[error("invalid target groups: {0}")]
    Body(String),
}

fn settings(cfg: &HttpSdConfig) -> ClientSettings<'_> {
    ClientSettings {
        basic_auth: cfg.basic_auth.as_ref(),
        authorization: cfg.authorization.as_ref(),
        tls: cfg.tls_config.as_ref(),
        follow_redirects: cfg.follow_redirects,
        enable_http2: cfg.enable_http2,
        // A refresh that outlives its interval is abandoned, as in Prometheus.
        timeout: cfg.refresh_interval.as_std().max(Duration::from_secs(1)),
    }
}

/// One refresh: GET the URL and parse its groups.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    cfg: &HttpSdConfig,
) -> Result<Vec<TargetGroup>, HttpSdError> {
    let req = client
        .get(&cfg.url)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            "X-Prometheus-Refresh-Interval-Seconds",
            (cfg.refresh_interval.ms() / 1000).to_string(),
        );
    let resp = http_client::authorize(req, &settings(cfg))?.send().await?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(HttpSdError::Status(resp.status()));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(HttpSdError::ContentType(content_type));
    }
    let body = resp.text().await?;
    parse_groups(&body, Format::Json, &cfg.url, (URL_LABEL, &cfg.url)).map_err(HttpSdError::Body)
}

/// Fetches now and every `refresh_interval`, sending the groups after each
/// successful refresh that changed them.
pub(crate) async fn run(cfg: HttpSdConfig, tx: mpsc::Sender<Vec<TargetGroup>>) {
    let client = match http_client::build(&settings(&cfg)) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(url = %cfg.url, error = %e, "http_sd: cannot build client");
            return;
        }
    };
    let mut ticker =
        tokio::time::interval(cfg.refresh_interval.as_std().max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<Vec<TargetGroup>> = None;
    loop {
        ticker.tick().await;
        match fetch(&client, &cfg).await {
            Ok(groups) => {
                if last.as_ref() != Some(&groups) {
                    last = Some(groups.clone());
                    if tx.send(groups).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::error!(url = %cfg.url, error = %e, "http_sd: refresh failed; keeping the previous groups");
            }
        }
    }
}
