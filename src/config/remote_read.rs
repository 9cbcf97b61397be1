//! One `remote_read:` entry: an endpoint speaking Prometheus's remote-read
//! protocol whose series are merged into query results.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::http_client::http_client_keys;
use super::PromDuration;

http_client_keys! {
    /// A remote-read endpoint. After loading, `bearer_token` and
    /// `bearer_token_file` have been moved into `authorization` and relative
    /// file paths made absolute, as for scrape jobs.
    #[derive(Clone, Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct RemoteReadConfig {
        /// `http` or `https`; checked by the loader.
        pub url: String,
        /// Unique among `remote_read:` entries when set; shown in warnings
        /// and logs instead of the URL.
        #[serde(default)]
        pub name: String,
        #[serde(default = "super::duration::one_minute")]
        pub remote_timeout: PromDuration,
        /// Sent with every request; may not override the protocol's own
        /// headers or `Authorization`.
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        /// Whether to ask the endpoint also for times the local storage holds.
        #[serde(default)]
        pub read_recent: bool,
        /// Only selectors with every one of these as an equality matcher are
        /// sent to the endpoint.
        #[serde(default)]
        pub required_matchers: BTreeMap<String, String>,
        /// Whether to ask only for series carrying `global.external_labels`
        /// and remove those labels from what comes back.
        #[serde(default = "yes")]
        pub filter_external_labels: bool,
    }
}

fn yes() -> bool {
    true
}

impl RemoteReadConfig {
    /// How warnings and logs name the endpoint: its `name`, or its URL.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.url
        } else {
            &self.name
        }
    }
}

/// Headers a `remote_read` or `remote_write` entry may not set (lower
/// case): the protocols and the HTTP layer own them. Prometheus's list;
/// `Authorization` is refused separately, with its own message.
pub(crate) const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

#[cfg(test)]
mod tests {
    use crate::config::test_support::err;
    use crate::config::{parse_str, PromDuration};

    #[test]
    fn defaults_follow_prometheus() {
        let cfg = parse_str("remote_read:\n  - url: http://127.0.0.1:9201/read\n").unwrap();
        let rr = &cfg.remote_read[0];
        assert_eq!(rr.remote_timeout, PromDuration::from_secs(60));
        assert!(!rr.read_recent && rr.filter_external_labels);
        assert!(rr.follow_redirects && rr.enable_http2);
        assert!(rr.required_matchers.is_empty() && rr.headers.is_empty());
        assert_eq!(rr.display_name(), "http://127.0.0.1:9201/read");
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    }

    #[test]
    fn every_key_loads() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::parse_str_in_dir(
            "
remote_read:
  - url: https://127.0.0.1:9201/api/v1/read
    name: long-term
    remote_timeout: 30s
    headers: {X-Scope-OrgID: tenant-1}
    read_recent: true
    required_matchers: {env: prod}
    filter_external_labels: false
    bearer_token_file: token
    tls_config: {insecure_skip_verify: true}
    follow_redirects: false
    enable_http2: false
  - url: http://127.0.0.1:9202/read
    basic_auth: {username: u, password: p}
",
            dir.path(),
        )
        .unwrap();
        let rr = &cfg.remote_read[0];
        assert_eq!(rr.display_name(), "long-term");
        assert_eq!(rr.remote_timeout, PromDuration::from_secs(30));
        assert_eq!(rr.headers["X-Scope-OrgID"], "tenant-1");
        assert_eq!(rr.required_matchers["env"], "prod");
        assert!(rr.read_recent && !rr.filter_external_labels);
        assert!(!rr.follow_redirects && !rr.enable_http2);
        // The legacy key became `authorization`, with an absolute path.
        let auth = rr.authorization.as_ref().unwrap();
        assert_eq!(auth.kind, "Bearer");
        assert_eq!(
            auth.credentials_file.as_deref(),
            Some(dir.path().join("token").to_str().unwrap())
        );
        assert!(rr.bearer_token_file.is_none());
        assert!(rr.tls_config.as_ref().unwrap().insecure_skip_verify);
        assert_eq!(
            cfg.remote_read[1].basic_auth.as_ref().unwrap().username,
            "u"
        );
    }

    #[test]
    fn errors_name_key_and_line() {
        for (text, want) in [
            (
                "remote_read:\n  - name: x\n",
                "remote_read[0]: missing field `url` (line 2)",
            ),
            (
                "remote_read:\n  - url: ''\n",
                "remote_read[0].url: url for remote_read is empty (line 2)",
            ),
            (
                "remote_read:\n  - url: ftp://h/read\n",
                "remote_read[0].url: URL scheme must be 'http' or 'https' (line 2)",
            ),
            (
                "remote_read:\n  - url: http://h/read\n  - url: not a url\n",
                "remote_read[1].url: invalid URL",
            ),
            (
                "remote_read:\n  - url: http://h/read\n    remote_timeout: 0s\n",
                "remote_read[0].remote_timeout: remote_timeout must be greater than 0 (line 3)",
            ),
            (
                "remote_read:\n  - url: http://h/read\n    remote_timeout: 5\n",
                "remote_read[0].remote_timeout: invalid duration",
            ),
            (
                "remote_read:\n  - url: http://h/read\n    headers:\n      Authorization: x\n",
                "remote_read[0].headers.Authorization: authorization header must be changed via the basic_auth or authorization parameter (line 4)",
            ),
            (
                "remote_read:\n  - url: http://h/read\n    headers: {X-Prometheus-Remote-Read-Version: '9'}\n",
                "X-Prometheus-Remote-Read-Version is a reserved header. It must not be changed",
            ),
            (
                "remote_read:\n  - url: http://h/read\n    headers: {'bad header': x}\n",
                "invalid header name \"bad header\"",
            ),
            (
                "global: {metric_name_validation_scheme: legacy}\nremote_read:\n  - url: http://h/read\n    required_matchers: {'a-b': x}\n",
                "remote_read[0].required_matchers.a-b: \"a-b\" is not a valid label name (line 4)",
            ),
            (
                "remote_read:\n  - url: http://h/read\n    bearer_token: a\n    basic_auth: {username: u}\n",
                "remote_read[0].basic_auth: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured (line 4)",
            ),
            (
                "remote_read:\n  - url: http://h/read\n    tls_config: {min_version: TLS9}\n",
                "remote_read[0].tls_config.min_version: unknown TLS version: TLS9 (line 3)",
            ),
            (
                "remote_read:\n  - {url: 'http://h/a', name: x}\n  - {url: 'http://h/b', name: x}\n",
                "remote_read[1].name: found multiple remote read configs with job name \"x\" (line 3)",
            ),
            (
                "remote_read:\n  - url: http://h/read\n    oauth3: {}\n",
                "remote_read[0]: unknown field `oauth3`",
            ),
            (
                "remote_read:\n  - url: http://h/read\n    read_recent: maybe\n",
                "remote_read[0].read_recent: invalid type",
            ),
        ] {
            let e = err(text);
            assert!(e.contains(want), "{text}\n  want {want}\n  got  {e}");
        }
        // Unnamed entries may repeat (Prometheus names them by hash).
        parse_str("remote_read:\n  - url: http://h/a\n  - url: http://h/a\n").unwrap();
    }
}
