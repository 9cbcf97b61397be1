//! `consul_sd_configs:` entries: where the Consul HTTP API is, which
//! services to watch, and how to talk to it (the shared HTTP client keys
//! plus Consul's own `token` and the legacy `username` / `password`), with
//! Prometheus's defaults and checks. Discovery itself is
//! `crate::discovery::consul`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::http_client::{http_client_keys, Proxies};
use super::locate::KeyPath;
use super::validate::{problem, Problem};
use super::{BasicAuth, PromDuration};

http_client_keys! {
    /// One `consul_sd_configs:` entry. `server` is `host:port`, or a URL
    /// (`https://host:port/prefix`) whose scheme and path override `scheme`
    /// and `path_prefix`, as Consul's own client reads it. After loading,
    /// a legacy `username` / `password` has been copied into `basic_auth`.
    #[derive(Clone, Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct ConsulSdConfig {
        #[serde(default = "default_server", deserialize_with = "super::scalar::string")]
        pub server: String,
        /// Prepended to every API path (Consul behind a reverse proxy).
        #[serde(default)]
        pub path_prefix: String,
        /// Sent as `X-Consul-Token`.
        #[serde(default, deserialize_with = "super::scalar::opt_string")]
        pub token: Option<String>,
        /// Empty: the agent's own datacenter, asked from `/v1/agent/self`.
        #[serde(default)]
        pub datacenter: String,
        /// Consul Enterprise namespace (`ns`).
        #[serde(default)]
        pub namespace: String,
        /// Consul Enterprise admin partition.
        #[serde(default)]
        pub partition: String,
        /// Joins a target's tags in `__meta_consul_tags`, and surrounds them.
        #[serde(default = "default_tag_separator")]
        pub tag_separator: String,
        /// `http` or `https`.
        #[serde(default = "default_scheme")]
        pub scheme: String,
        /// Legacy basic auth; `basic_auth` is the current form.
        #[serde(default, deserialize_with = "super::scalar::string")]
        pub username: String,
        #[serde(default, deserialize_with = "super::scalar::string")]
        pub password: String,
        /// Lets any Consul server answer (`stale`), not only the leader.
        #[serde(default = "super::http_client::yes")]
        pub allow_stale: bool,
        /// The pause between two queries of one watch (and so the most
        /// often a changed service is re-read).
        #[serde(default = "super::duration::thirty_seconds")]
        pub refresh_interval: PromDuration,
        /// Services to watch; empty means every service of the catalog.
        #[serde(default)]
        pub services: Vec<String>,
        /// Only instances carrying every one of these tags.
        #[serde(default)]
        pub tags: Vec<String>,
        /// Only nodes with these metadata values (`node-meta`).
        #[serde(default)]
        pub node_meta: BTreeMap<String, String>,
        /// Filter expression for the catalog API (the service list).
        #[serde(default)]
        pub filter: String,
        /// Filter expression for the health API (the instances).
        #[serde(default)]
        pub health_filter: String,
    }
}

fn default_server() -> String {
    "localhost:8500".to_string()
}

fn default_tag_separator() -> String {
    ",".to_string()
}

fn default_scheme() -> String {
    "http".to_string()
}

/// Where the Consul API of a config is: the URL every API path is
/// appended to (`scheme://host:port[/prefix]`, no trailing slash).
pub(crate) fn base_url(cfg: &ConsulSdConfig) -> Result<String, String> {
    let mut scheme = cfg.scheme.to_ascii_lowercase();
    let mut address = cfg.server.trim();
    let mut prefix = cfg.path_prefix.trim_matches('/').to_string();
    if let Some((s, rest)) = address.split_once("://") {
        match s.to_ascii_lowercase().as_str() {
            // An `http://` server never downgrades an explicit https.
            "http" => {}
            "https" => scheme = "https".to_string(),
            "unix" => return Err("unix socket addresses are not supported".to_string()),
            other => return Err(format!("Unknown protocol scheme: {other}")),
        }
        address = rest;
        if let Some((host, path)) = address.split_once('/') {
            address = host;
            prefix = path.trim_matches('/').to_string();
        }
    }
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "scheme must be 'http' or 'https', not {:?}",
            cfg.scheme
        ));
    }
    let mut url = format!("{scheme}://{address}");
    if !prefix.is_empty() {
        url.push('/');
        url.push_str(&prefix);
    }
    let parsed = reqwest::Url::parse(&url)
        .map_err(|e| format!("invalid server address {address:?}: {e}"))?;
    if parsed.host_str().unwrap_or("").is_empty() {
        return Err(format!("invalid server address {address:?}: no host"));
    }
    Ok(url)
}

impl ConsulSdConfig {
    /// Prometheus's checks of the entry at `path`, in its order: a
    /// server, the legacy credentials moved into `basic_auth`, `token`
    /// against `authorization`, then the HTTP client keys. Also rejects
    /// what would fail at every request (an unusable server address or
    /// scheme, a zero `refresh_interval`), which Prometheus only logs.
    pub(crate) fn validate(
        &mut self,
        path: &KeyPath,
        dir: Option<&Path>,
        warnings: &mut Vec<String>,
    ) -> Result<(), Problem> {
        if self.server.trim().is_empty() {
            return Err(problem(
                path.key("server"),
                "consul SD configuration requires a server address",
            ));
        }
        if !self.username.is_empty() || !self.password.is_empty() {
            if self.basic_auth.is_some() {
                return Err(problem(
                    path.key("basic_auth"),
                    "at most one of consul SD configuration username and password and basic auth can be configured",
                ));
            }
            self.basic_auth = Some(BasicAuth {
                username: self.username.clone(),
                password: Some(self.password.clone()),
                ..BasicAuth::default()
            });
        }
        if self.token.as_deref().is_some_and(|t| !t.is_empty()) && self.authorization.is_some() {
            return Err(problem(
                path.key("token"),
                "at most one of consul SD token, authorization, or oauth2 can be configured",
            ));
        }
        self.with_http_client(|h| h.validate(path, dir))?;
        if let Err(e) = base_url(self) {
            return Err(problem(path.key("server"), format!("consul SD: {e}")));
        }
        if self.refresh_interval.ms() == 0 {
            return Err(problem(
                path.key("refresh_interval"),
                "refresh_interval must be greater than 0",
            ));
        }
        self.with_http_client(|h| h.warn_ignored(path, Proxies::Ignored, warnings));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use crate::config::test_support::err;

    /// `entry` (YAML lines at the entry's indentation) as the first
    /// consul_sd_configs entry of a job, loaded and validated.
    fn load(entry: &str) -> Result<ConsulSdConfig, String> {
        let text = format!(
            "scrape_configs:\n  - job_name: c\n    consul_sd_configs:\n      - {}\n",
            entry.trim().replace('\n', "\n        ")
        );
        parse_str(&text)
            .map(|mut c| c.scrape_configs.remove(0).consul_sd_configs.remove(0))
            .map_err(|e| e.to_string())
    }

    /// Upstream's `TestUnmarshalConfig`, "good": the legacy credentials
    /// (numbers, read as text) become basic auth; every other key keeps
    /// Prometheus's default.
    #[test]
    fn legacy_credentials_become_basic_auth() {
        let c = load("server: localhost:8500\nusername: 123\npassword: 1234").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("123", "1234"));
        let ba = c.basic_auth.clone().unwrap();
        assert_eq!(ba.username, "123");
        assert_eq!(ba.password.as_deref(), Some("1234"));
        assert!(c.follow_redirects && c.enable_http2);
        assert_eq!(c.server, "localhost:8500");
        assert_eq!(c.scheme, "http");
        assert_eq!(c.tag_separator, ",");
        assert!(c.allow_stale);
        assert_eq!(c.refresh_interval, PromDuration::from_secs(30));
        assert_eq!(c.token, None);
        assert!(c.services.is_empty() && c.tags.is_empty() && c.node_meta.is_empty());
        assert!(c.filter.is_empty() && c.health_filter.is_empty());
        assert!(c.path_prefix.is_empty() && c.datacenter.is_empty());
        assert!(c.namespace.is_empty() && c.partition.is_empty());
    }

    /// Upstream's failing `TestUnmarshalConfig` cases, with Prometheus's
    /// messages, and our own checks.
    #[test]
    fn conflicting_and_unusable_settings_are_refused() {
        for (entry, want) in [
            (
                "server: localhost:8500\nusername: 123\npassword: 1234\nbasic_auth:\n  username: 12345\n  password: 123456",
                "at most one of consul SD configuration username and password and basic auth can be configured",
            ),
            (
                "server: localhost:8500\ntoken: 1234567\nauthorization:\n  credentials: 12345678",
                "at most one of consul SD token, authorization, or oauth2 can be configured",
            ),
            // oauth2 is not a key ferroprom knows anywhere.
            (
                "server: localhost:8500\ntoken: 1234567\noauth2:\n  client_id: 10",
                "unknown field `oauth2`",
            ),
            ("server: ' '", "consul SD configuration requires a server address"),
            ("server:", "consul SD configuration requires a server address"),
            ("server: 'ftp://h:1'", "consul SD: Unknown protocol scheme: ftp"),
            ("server: 'unix:///run/consul.sock'", "unix socket addresses are not supported"),
            ("scheme: gopher", "scheme must be 'http' or 'https'"),
            ("server: 'h:notaport'", "invalid server address"),
            ("refresh_interval: 0s", "refresh_interval must be greater than 0"),
            ("tls_config: {cert_file: c}", "exactly one of key or key_file"),
            ("servers: [a]", "unknown field `servers`"),
            ("allow_stale: maybe", "allow_stale"),
        ] {
            let e = load(entry).unwrap_err();
            assert!(e.contains(want), "{entry}: {e}");
            if !want.starts_with("unknown field") && want != "allow_stale" {
                assert!(e.contains("scrape_configs[0].consul_sd_configs[0]"), "{e}");
            }
        }
    }

    #[test]
    fn every_key_is_read() {
        let c = load(
            "server: consul.example:8501
path_prefix: /consul
token: s3cret
datacenter: dc2
namespace: team-a
partition: part-1
tag_separator: ';'
scheme: https
allow_stale: false
refresh_interval: 1m
services: [web, db]
tags: [prod, v1]
node_meta: {rack: r1, zone: z}
filter: 'ServiceTags contains \"x\"'
health_filter: 'Service.Tags contains \"y\"'
bearer_token: t
tls_config: {insecure_skip_verify: true}",
        )
        .unwrap();
        assert_eq!(c.server, "consul.example:8501");
        assert_eq!(c.path_prefix, "/consul");
        assert_eq!(c.token.as_deref(), Some("s3cret"));
        assert_eq!(
            (c.datacenter.as_str(), c.namespace.as_str()),
            ("dc2", "team-a")
        );
        assert_eq!(
            (c.partition.as_str(), c.tag_separator.as_str()),
            ("part-1", ";")
        );
        assert_eq!(c.scheme, "https");
        assert!(!c.allow_stale);
        assert_eq!(c.refresh_interval, PromDuration::from_secs(60));
        assert_eq!(c.services, ["web", "db"]);
        assert_eq!(c.tags, ["prod", "v1"]);
        assert_eq!(c.node_meta["rack"], "r1");
        assert_eq!(c.filter, "ServiceTags contains \"x\"");
        assert_eq!(c.health_filter, "Service.Tags contains \"y\"");
        // As in Prometheus, `token` is checked against `authorization`
        // before the legacy bearer token becomes one: both are sent.
        assert_eq!(c.authorization.unwrap().credentials.as_deref(), Some("t"));
        assert!(c.tls_config.unwrap().insecure_skip_verify);
        assert_eq!(
            base_url(&load("server: h:1\npath_prefix: /consul/").unwrap()).unwrap(),
            "http://h:1/consul"
        );
    }

    #[test]
    fn server_urls_set_scheme_and_prefix() {
        let base = |entry: &str| base_url(&load(entry).unwrap()).unwrap();
        assert_eq!(base("{}"), "http://localhost:8500");
        assert_eq!(base("scheme: HTTPS"), "https://localhost:8500");
        assert_eq!(
            base("server: 'https://c:8501/gw/consul/'"),
            "https://c:8501/gw/consul"
        );
        assert_eq!(base("server: 'http://c:1'\nscheme: https"), "https://c:1");
        assert_eq!(
            base("server: 'http://c:1/p'\npath_prefix: q"),
            "http://c:1/p"
        );
        assert_eq!(base("server: '[::1]:8500'"), "http://[::1]:8500");
    }

    #[test]
    fn works_in_alertmanager_sets_with_line_numbers() {
        let e = err(
            "alerting:\n  alertmanagers:\n    - consul_sd_configs:\n        - {server: localhost:8500, username: u, basic_auth: {username: v}}\n",
        );
        assert!(
            e.contains("alerting.alertmanagers[0].consul_sd_configs[0].basic_auth")
                && e.contains("(line 4)"),
            "{e}"
        );
        let cfg = parse_str(
            "alerting:\n  alertmanagers:\n    - consul_sd_configs: [{services: [alertmanager]}]\n",
        )
        .unwrap();
        let am = &cfg.alerting.alertmanagers[0].consul_sd_configs[0];
        assert_eq!(am.services, ["alertmanager"]);
    }

    #[test]
    fn proxy_keys_are_warned_about() {
        let cfg = parse_str(
            "scrape_configs:\n  - job_name: c\n    consul_sd_configs: [{proxy_url: 'http://127.0.0.1:3128'}]\n",
        )
        .unwrap();
        assert!(
            cfg.warnings
                .iter()
                .any(|w| w.starts_with("scrape_configs[0].consul_sd_configs[0].proxy_url")),
            "{:?}",
            cfg.warnings
        );
    }
}
