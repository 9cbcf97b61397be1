//! `/api/v1/status/*`: configuration, flags, build and runtime information,
//! TSDB cardinality (in [`tsdb`]) and WAL replay progress.

mod tsdb;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use super::json::{go_time, success};
use super::response::{ApiError, Success};
use super::ApiState;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/status/config", get(config))
        .route("/api/v1/status/flags", get(flags))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/status/runtimeinfo", get(runtimeinfo))
        .route("/api/v1/status/tsdb", get(tsdb::tsdb))
        .route("/api/v1/status/walreplay", get(walreplay))
}

/// Build information as `/api/v1/status/buildinfo` and
/// `prometheus_build_info` report it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct BuildInfo {
    /// The Prometheus version whose HTTP API ferroprom implements. Clients
    /// pick features by this number: Grafana needs a real Prometheus
    /// release (it maps the version onto its own list, patch level aside)
    /// of at least 2.24 to use the `match[]` label APIs. 2.53 is the last
    /// 2.x long-term release, and its API is the one served here.
    pub version: &'static str,
    /// Git revision, from `FERROPROM_REVISION` at build time.
    pub revision: &'static str,
    pub branch: &'static str,
    #[serde(rename = "buildUser")]
    pub build_user: &'static str,
    #[serde(rename = "buildDate")]
    pub build_date: &'static str,
    /// Prometheus names its toolchain here; ferroprom names itself, so a
    /// client can tell the implementation apart.
    #[serde(rename = "goVersion")]
    pub go_version: &'static str,
}

const fn or(v: Option<&'static str>, default: &'static str) -> &'static str {
    match v {
        Some(s) => s,
        None => default,
    }
}

/// This build. Unset fields read like Prometheus built without version
/// flags (`unknown` revision, empty strings).
pub const BUILD_INFO: BuildInfo = BuildInfo {
    version: "2.53.0",
    revision: or(option_env!("FERROPROM_REVISION"), "unknown"),
    branch: or(option_env!("FERROPROM_BRANCH"), ""),
    build_user: or(option_env!("FERROPROM_BUILD_USER"), ""),
    build_date: or(option_env!("FERROPROM_BUILD_DATE"), ""),
    go_version: concat!("ferroprom/", env!("CARGO_PKG_VERSION")),
};

async fn buildinfo() -> Result<Success, ApiError> {
    success(&BUILD_INFO)
}

#[derive(Serialize)]
struct ConfigYaml {
    yaml: String,
}

/// The configuration file as loaded (Prometheus re-marshals its parsed
/// config; the loaded text keeps the operator's comments and layout).
/// Secrets are never shown: if any are present, the file is re-marshalled
/// with them replaced by `<secret>`, and URL passwords by `xxxxx`, as
/// Prometheus prints them. External labels are shown as loaded, their
/// `$VAR` references expanded, as Prometheus shows them: that is where an
/// operator checks which replica of a pair a server is.
async fn config(State(state): State<Arc<ApiState>>) -> Result<Success, ApiError> {
    let cfg = Arc::clone(&state.config.read());
    success(&ConfigYaml {
        yaml: shown_source(&cfg.source, &cfg.global.external_labels),
    })
}

/// Keys whose values are credentials in `prometheus.yml`.
const SECRET_KEYS: &[&str] = &[
    "password",
    "credentials",
    "bearer_token",
    "client_secret",
    "secret_key",
    // consul_sd's ACL token.
    "token",
];

/// `source` with secrets redacted and `global.external_labels` replaced by
/// `loaded`; the text itself when neither changes anything.
fn shown_source(source: &str, loaded: &BTreeMap<String, String>) -> String {
    let Ok(mut doc) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(source) else {
        // Not YAML (cannot happen for a loaded config): show nothing rather
        // than risk a secret.
        return String::new();
    };
    let redacted = redact(&mut doc);
    let expanded = show_external_labels(&mut doc, loaded);
    if !redacted && !expanded {
        return source.to_string();
    }
    serde_yaml_ng::to_string(&doc).unwrap_or_default()
}

/// Replaces the document's external labels by the loaded ones when they
/// differ (environment references expanded, labels expanded to nothing
/// dropped); returns whether it did.
fn show_external_labels(doc: &mut serde_yaml_ng::Value, loaded: &BTreeMap<String, String>) -> bool {
    use serde_yaml_ng::{Mapping, Value};
    let Some(labels) = doc
        .get_mut("global")
        .and_then(|g| g.get_mut("external_labels"))
    else {
        return false;
    };
    let as_loaded: Mapping = loaded
        .iter()
        .map(|(k, v)| (Value::String(k.clone()), Value::String(v.clone())))
        .collect();
    // Unchanged when every label reads the same as text (`replica: 1` in
    // the file is the string "1" once loaded).
    let as_text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let same = labels.as_mapping().is_some_and(|m| {
        m.len() == loaded.len()
            && m.iter().all(|(k, v)| {
                let k = k.as_str().unwrap_or_default();
                loaded
                    .get(k)
                    .is_some_and(|l| as_text(v).as_deref() == Some(l))
            })
    });
    if same {
        return false;
    }
    *labels = Value::Mapping(as_loaded);
    true
}

/// Replaces secret values and the password of any URL in place; returns
/// whether any was found. Every string is checked as a URL, not only known
/// URL keys, so a new key (proxy, OAuth2 endpoint...) cannot leak.
fn redact(v: &mut serde_yaml_ng::Value) -> bool {
    use serde_yaml_ng::Value;
    match v {
        Value::Mapping(m) => {
            let mut found = false;
            for (k, val) in m.iter_mut() {
                let secret = k.as_str().is_some_and(|k| SECRET_KEYS.contains(&k));
                if secret && !matches!(val, Value::Null) && val.as_str() != Some("") {
                    *val = Value::String("<secret>".into());
                    found = true;
                } else {
                    found |= redact(val);
                }
            }
            found
        }
        Value::Sequence(s) => s.iter_mut().fold(false, |f, x| redact(x) | f),
        Value::Tagged(t) => redact(&mut t.value),
        Value::String(s) => match crate::config::redact::redact_url(s) {
            std::borrow::Cow::Owned(hidden) => {
                *s = hidden;
                true
            }
            std::borrow::Cow::Borrowed(_) => false,
        },
        _ => false,
    }
}

async fn flags(State(state): State<Arc<ApiState>>) -> Result<Success, ApiError> {
    success(&state.flags)
}

/// Prometheus's runtime information, mapped onto a Rust process: tokio
/// tasks stand in for goroutines and tokio workers for `GOMAXPROCS`; there
/// is no garbage collector, so `GOGC`/`GODEBUG` are empty and `GOMEMLIMIT`
/// is Go's "no limit" (`i64::MAX`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeInfo {
    start_time: String,
    #[serde(rename = "CWD")]
    cwd: String,
    reload_config_success: bool,
    last_config_time: String,
    corruption_count: i64,
    goroutine_count: usize,
    #[serde(rename = "GOMAXPROCS")]
    gomaxprocs: usize,
    #[serde(rename = "GOMEMLIMIT")]
    gomemlimit: i64,
    #[serde(rename = "GOGC")]
    gogc: &'static str,
    #[serde(rename = "GODEBUG")]
    godebug: &'static str,
    storage_retention: String,
}

/// Registry metric telling whether the last reload succeeded.
const RELOAD_OK: &str = "prometheus_config_last_reload_successful";
/// Registry metric with the unix time of the last successful reload.
const RELOAD_TIME: &str = "prometheus_config_last_reload_success_timestamp_seconds";

async fn runtimeinfo(State(state): State<Arc<ApiState>>) -> Result<Success, ApiError> {
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .map_err(|e| ApiError::internal(format!("error getting working directory: {e}")))?;
    // Prometheus reads the reload outcome from its own metrics; so does
    // this. Without them, the configuration in use is the one loaded at
    // start, successfully.
    let text = state.registry.render();
    let reload_ok = metric_value(&text, RELOAD_OK).map(|v| v != 0.0);
    let reload_time = metric_value(&text, RELOAD_TIME)
        .map(|secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0.0) as u64));
    let (tasks, workers) = match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            let m = h.metrics();
            (m.num_alive_tasks(), m.num_workers())
        }
        Err(_) => (0, 0),
    };
    success(&RuntimeInfo {
        start_time: go_time(state.start_time),
        cwd,
        reload_config_success: reload_ok.unwrap_or(true),
        last_config_time: go_time(reload_time.unwrap_or(state.start_time)),
        corruption_count: state.db.stats().wal_corruption.is_some() as i64,
        goroutine_count: tasks,
        gomaxprocs: workers,
        gomemlimit: i64::MAX,
        gogc: "",
        godebug: "",
        storage_retention: state.storage_retention.clone(),
    })
}

/// The value of an unlabelled sample `name` in text-format `text`.
fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix(' ')?;
        rest.trim().parse().ok()
    })
}

#[derive(Serialize)]
struct WalReplay {
    min: u32,
    max: u32,
    current: u32,
}

async fn walreplay(State(state): State<Arc<ApiState>>) -> Result<Success, ApiError> {
    let st = state.db.wal_replay_status();
    success(&WalReplay {
        min: st.min,
        max: st.max,
        current: st.current,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`shown_source`] of a config without external labels.
    fn redacted(source: &str) -> String {
        shown_source(source, &BTreeMap::new())
    }

    #[test]
    fn external_labels_are_shown_as_loaded() {
        let loaded: BTreeMap<String, String> =
            [("cluster", "main"), ("replica", "ferroprom-1"), ("n", "1")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into();
        let source = "# pair\nglobal:\n  external_labels:\n    cluster: main\n    replica: ${POD_NAME}\n    n: 1\n    gone: $UNSET\n";
        let shown: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&shown_source(source, &loaded)).unwrap();
        let labels = &shown["global"]["external_labels"];
        assert_eq!(labels["replica"], "ferroprom-1");
        assert_eq!(labels["n"], "1");
        assert!(labels.get("gone").is_none(), "{labels:?}");
        // Nothing to expand: the text as written, comments kept.
        let plain = "# pair\nglobal:\n  external_labels:\n    cluster: main\n    replica: ferroprom-1\n    n: 1\n";
        assert_eq!(shown_source(plain, &loaded), plain);
    }

    #[test]
    fn secrets_are_redacted_and_plain_configs_kept_verbatim() {
        let plain = "# my config\nglobal:\n  scrape_interval: 15s\n";
        assert_eq!(redacted(plain), plain);
        let with = "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password: hunter2\n    authorization:\n      credentials: tok\n      credentials_file: /x\n";
        let out = redacted(with);
        assert!(!out.contains("hunter2") && !out.contains("tok\n"), "{out}");
        assert_eq!(out.matches("<secret>").count(), 2, "{out}");
        assert!(out.contains("credentials_file: /x"), "{out}");
        assert!(out.contains("username: u"), "{out}");
        let flow = "scrape_configs: [{job_name: a, bearer_token: abc}]";
        assert!(!redacted(flow).contains("abc"));
        let consul =
            "scrape_configs: [{job_name: c, consul_sd_configs: [{token: t0k3n, password: pw}]}]";
        let out = redacted(consul);
        assert!(!out.contains("t0k3n") && !out.contains("pw"), "{out}");
        assert_eq!(redacted("a: [unclosed"), "");
    }

    #[test]
    fn url_passwords_are_masked_everywhere() {
        let with = "remote_write:\n  - url: http://user:pass1@rw:9201/write\n    proxy_url: http://p:pass2@proxy:3128\nremote_read:\n  - url: https://r:pass3@rr/read\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [am:9093]\n      proxy_url: http://a:pass4@proxy\nscrape_configs:\n  - job_name: h\n    http_sd_configs:\n      - url: http://s:pass5@sd/targets\n        basic_auth:\n          username: s\n          password: pass6\n";
        let out = redacted(with);
        for n in 1..=6 {
            assert!(!out.contains(&format!("pass{n}")), "{out}");
        }
        for kept in [
            "http://user:xxxxx@rw:9201/write",
            "http://p:xxxxx@proxy:3128",
            "https://r:xxxxx@rr/read",
            "http://a:xxxxx@proxy",
            "http://s:xxxxx@sd/targets",
            "password: <secret>",
            "username: s",
        ] {
            assert!(out.contains(kept), "{kept} in {out}");
        }
        let plain = "remote_write:\n  - url: http://user@rw/write # no password\n";
        assert_eq!(redacted(plain), plain);
    }

    #[test]
    fn metric_values_from_text() {
        let text = "# HELP x y\nx_total 3\nx 1.5\nx{a=\"b\"} 7\n";
        assert_eq!(metric_value(text, "x"), Some(1.5));
        assert_eq!(metric_value(text, "x_total"), Some(3.0));
        assert_eq!(metric_value(text, "y"), None);
    }

    #[test]
    fn build_info_is_semver_without_features() {
        let j = serde_json::to_value(BUILD_INFO).unwrap();
        let keys: Vec<&str> = j.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys.len(),
            6,
            "version, revision, branch, buildUser, buildDate, goVersion: {keys:?}"
        );
        assert!(j.get("features").is_none());
        let parts: Vec<u64> = BUILD_INFO
            .version
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(parts.len(), 3);
        assert!(parts[0] > 2 || (parts[0] == 2 && parts[1] >= 24));
    }
}
