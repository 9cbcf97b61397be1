//! http_sd: target groups fetched from a URL every `refresh_interval`. The
//! endpoint must answer 200 with `application/json`; every group gets a
//! `__meta_url` label. A failed refresh keeps the previous groups.

use std::time::Duration;

use tokio::sync::mpsc;

use super::target_group::{parse_groups, Format};
use super::TargetGroup;
use crate::config::HttpSdConfig;
use crate::http_client::{self, ClientError, ClientSettings};

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
    // A refresh that outlives its interval is abandoned, as in Prometheus.
    cfg.client_settings(cfg.refresh_interval.as_std().max(Duration::from_secs(1)))
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
            tracing::error!(url = %crate::config::redact::redact_url(&cfg.url), error = %e, "http_sd: cannot build client");
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
                tracing::error!(url = %crate::config::redact::redact_url(&cfg.url), error = %e, "http_sd: refresh failed; keeping the previous groups");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::{header, HeaderMap, StatusCode};
    use axum::routing::get;
    use parking_lot::Mutex;

    use super::*;
    use crate::config::{Authorization, BasicAuth, PromDuration};

    /// What the test server answers: status, content type, body.
    type Reply = Arc<Mutex<(StatusCode, &'static str, String)>>;

    /// Serves `reply` on 127.0.0.1 and records the Authorization headers seen.
    async fn serve(reply: Reply) -> (String, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (r, s) = (reply.clone(), seen.clone());
        let app = axum::Router::new().route(
            "/sd",
            get(move |headers: HeaderMap| {
                let (r, s) = (r.clone(), s.clone());
                async move {
                    if let Some(a) = headers.get(header::AUTHORIZATION) {
                        s.lock().push(a.to_str().unwrap().to_string());
                    }
                    let (status, ctype, body) = r.lock().clone();
                    (status, [(header::CONTENT_TYPE, ctype)], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/sd"), seen)
    }

    fn cfg(url: &str) -> HttpSdConfig {
        serde_yaml_ng::from_str(&format!("url: {url}")).unwrap()
    }

    fn reply(status: StatusCode, ctype: &'static str, body: &str) -> Reply {
        Arc::new(Mutex::new((status, ctype, body.to_string())))
    }

    const GROUPS: &str = r#"[{"targets": ["127.0.0.1:1", "127.0.0.1:2"], "labels": {"team": "a"}}, {"targets": ["127.0.0.1:3"]}]"#;

    #[tokio::test]
    async fn fetches_groups_with_url_label_and_auth() {
        let (url, seen) = serve(reply(
            StatusCode::OK,
            "application/json; charset=utf-8",
            GROUPS,
        ))
        .await;
        let mut c = cfg(&url);
        c.basic_auth = Some(BasicAuth {
            username: "u".into(),
            password: Some("p".into()),
            ..BasicAuth::default()
        });
        let client = http_client::build(&settings(&c)).unwrap();
        let groups = fetch(&client, &c).await.unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].source, format!("{url}:0"));
        assert_eq!(groups[1].source, format!("{url}:1"));
        assert_eq!(groups[0].labels[URL_LABEL], url);
        assert_eq!(groups[0].labels["team"], "a");
        assert_eq!(groups[0].targets[1]["__address__"], "127.0.0.1:2");
        assert_eq!(seen.lock().as_slice(), ["Basic dTpw"]);

        let dir = tempfile::tempdir().unwrap();
        let cred = dir.path().join("token");
        std::fs::write(&cred, "tok3n\n").unwrap();
        c.basic_auth = None;
        c.authorization = Some(Authorization {
            kind: "Bearer".into(),
            credentials: None,
            credentials_file: Some(cred.to_string_lossy().into()),
        });
        fetch(&client, &c).await.unwrap();
        assert_eq!(seen.lock().last().unwrap(), "Bearer tok3n");
    }

    #[tokio::test]
    async fn rejects_bad_status_content_type_and_body() {
        for (status, ctype, body, want) in [
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                "[]",
                "HTTP status 500",
            ),
            (
                StatusCode::OK,
                "text/plain",
                "[]",
                "unsupported content type",
            ),
            (
                StatusCode::OK,
                "application/json",
                "{\"targets\": []}",
                "invalid target groups",
            ),
            (
                StatusCode::OK,
                "application/json",
                "[null]",
                "nil target group",
            ),
        ] {
            let (url, _) = serve(reply(status, ctype, body)).await;
            let c = cfg(&url);
            let client = http_client::build(&settings(&c)).unwrap();
            let e = fetch(&client, &c).await.unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[tokio::test]
    async fn polling_keeps_previous_groups_on_errors() {
        let r = reply(StatusCode::OK, "application/json", GROUPS);
        let (url, _) = serve(r.clone()).await;
        let mut c = cfg(&url);
        c.refresh_interval = PromDuration(30);
        let (tx, mut rx) = mpsc::channel(4);
        let task = tokio::spawn(run(c, tx));
        let first = rx.recv().await.unwrap();
        assert_eq!(first.len(), 2);
        // Failing refreshes send nothing; the consumer keeps what it had.
        r.lock().0 = StatusCode::SERVICE_UNAVAILABLE;
        let quiet = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
        assert!(quiet.is_err(), "no update while the endpoint fails");
        // A changed answer is sent.
        *r.lock() = (
            StatusCode::OK,
            "application/json",
            r#"[{"targets": ["127.0.0.1:9"]}]"#.into(),
        );
        let next = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].targets[0]["__address__"], "127.0.0.1:9");
        task.abort();
    }
}
