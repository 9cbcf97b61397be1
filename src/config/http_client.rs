//! The HTTP client keys of Prometheus's `HTTPClientConfig` (credentials,
//! TLS, redirects, HTTP/2, proxies), shared by scrape jobs, http_sd,
//! remote read and remote write: their types, their defaults and their
//! checks, in one place.
//!
//! A struct gets the keys by being declared inside [`http_client_keys!`],
//! which appends them to its own fields and generates `client_settings`
//! (the client they describe) and `with_http_client` (the keys as one
//! [`HttpClientConfig`], to validate). A macro, not a field of type
//! `HttpClientConfig` with `#[serde(flatten)]`: serde cannot combine
//! flatten with `deny_unknown_fields`, and a misspelt key must stay an
//! error that names the key and its line.

use std::path::Path;

use serde::Deserialize;

use super::locate::KeyPath;
use super::validate::{clear_empty, problem, resolve, warn_ignored, Problem};

/// Declares a config struct with the HTTP client keys after its own fields.
/// Written as the struct would be (attributes, doc comments, fields); the
/// `@struct` form adds only the fields, for [`HttpClientConfig`] itself.
macro_rules! http_client_keys {
    (@struct $(#[$attr:meta])* $vis:vis struct $name:ident { $($own:tt)* }) => {
        $(#[$attr])*
        $vis struct $name {
            $($own)*
            #[serde(default)]
            pub basic_auth: Option<$crate::config::BasicAuth>,
            #[serde(default)]
            pub authorization: Option<$crate::config::Authorization>,
            /// Legacy form of `authorization`; the loader moves it there.
            #[serde(default)]
            pub bearer_token: Option<String>,
            /// Legacy form of `authorization.credentials_file`; moved too.
            #[serde(default)]
            pub bearer_token_file: Option<String>,
            #[serde(default)]
            pub tls_config: Option<$crate::config::TlsConfig>,
            #[serde(default = "crate::config::http_client::yes")]
            pub follow_redirects: bool,
            #[serde(default = "crate::config::http_client::yes")]
            pub enable_http2: bool,
            /// The proxy keys are honoured by scrapes; elsewhere they are
            /// accepted and warned about (see [`HttpClientConfig::warn_ignored`]).
            #[serde(default)]
            pub proxy_url: Option<String>,
            #[serde(default)]
            pub no_proxy: Option<String>,
            #[serde(default)]
            pub proxy_from_environment: Option<bool>,
            /// Accepted, not acted on.
            #[serde(default)]
            pub proxy_connect_header: Option<serde_yaml_ng::Value>,
            /// Accepted, not acted on.
            #[serde(default)]
            pub http_headers: Option<serde_yaml_ng::Value>,
        }
    };
    ($(#[$attr:meta])* $vis:vis struct $name:ident { $($own:tt)* }) => {
        $crate::config::http_client::http_client_keys! {
            @struct $(#[$attr])* $vis struct $name { $($own)* }
        }

        impl $name {
            /// What the client for this entry is built from, each request
            /// limited to `timeout`.
            pub(crate) fn client_settings(
                &self,
                timeout: std::time::Duration,
            ) -> $crate::http_client::ClientSettings<'_> {
                $crate::http_client::ClientSettings {
                    basic_auth: self.basic_auth.as_ref(),
                    authorization: self.authorization.as_ref(),
                    tls: self.tls_config.as_ref(),
                    follow_redirects: self.follow_redirects,
                    enable_http2: self.enable_http2,
                    timeout,
                }
            }

            /// Runs `f` on this entry's HTTP client keys as one
            /// [`HttpClientConfig`]; they are moved out and back, not copied.
            pub(crate) fn with_http_client<R>(
                &mut self,
                f: impl FnOnce(&mut $crate::config::HttpClientConfig) -> R,
            ) -> R {
                use std::mem::take;
                let mut keys = $crate::config::HttpClientConfig {
                    basic_auth: take(&mut self.basic_auth),
                    authorization: take(&mut self.authorization),
                    bearer_token: take(&mut self.bearer_token),
                    bearer_token_file: take(&mut self.bearer_token_file),
                    tls_config: take(&mut self.tls_config),
                    follow_redirects: self.follow_redirects,
                    enable_http2: self.enable_http2,
                    proxy_url: take(&mut self.proxy_url),
                    no_proxy: take(&mut self.no_proxy),
                    proxy_from_environment: take(&mut self.proxy_from_environment),
                    proxy_connect_header: take(&mut self.proxy_connect_header),
                    http_headers: take(&mut self.http_headers),
                };
                let out = f(&mut keys);
                $crate::config::HttpClientConfig {
                    basic_auth: self.basic_auth,
                    authorization: self.authorization,
                    bearer_token: self.bearer_token,
                    bearer_token_file: self.bearer_token_file,
                    tls_config: self.tls_config,
                    follow_redirects: self.follow_redirects,
                    enable_http2: self.enable_http2,
                    proxy_url: self.proxy_url,
                    no_proxy: self.no_proxy,
                    proxy_from_environment: self.proxy_from_environment,
                    proxy_connect_header: self.proxy_connect_header,
                    http_headers: self.http_headers,
                } = keys;
                out
            }
        }
    };
}
pub(crate) use http_client_keys;

http_client_keys! {
    @struct
    /// The HTTP client keys on their own, with Prometheus's defaults
    /// (`follow_redirects` and `enable_http2` on, nothing else set).
    /// Config entries carry the same keys inline (see the module docs).
    #[derive(Clone, Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct HttpClientConfig {}
}

impl Default for HttpClientConfig {
    /// The keys' serde defaults, so that they are written down once.
    fn default() -> Self {
        let none = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
            std::iter::empty::<(&str, &str)>(),
        );
        HttpClientConfig::deserialize(none).expect("every HTTP client key has a default")
    }
}

/// Whether the client built from an entry's keys honours the proxy keys;
/// where it does not, setting them draws a warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proxies {
    Honoured,
    Ignored,
}

pub(crate) fn yes() -> bool {
    true
}

/// `basic_auth:`. At most one of `password` / `password_file` (and of
/// `username` / `username_file`); files are read at each request so
/// rotated secrets take effect. A numeric user name or password is read
/// as its text, as Prometheus reads it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default, deserialize_with = "super::scalar::string")]
    pub username: String,
    #[serde(default)]
    pub username_file: Option<String>,
    #[serde(default, deserialize_with = "super::scalar::opt_string")]
    pub password: Option<String>,
    #[serde(default)]
    pub password_file: Option<String>,
}

/// `authorization:`; `type` defaults to `Bearer` and may not be `Basic`.
/// The header sent is `<type> <credentials>`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(default = "bearer", rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "super::scalar::opt_string")]
    pub credentials: Option<String>,
    #[serde(default)]
    pub credentials_file: Option<String>,
}

fn bearer() -> String {
    "Bearer".to_string()
}

/// `tls_config:`. Each of CA, certificate and key may be given inline
/// (`ca`, `cert`, `key`, PEM text) or as a file, not both. Versions are
/// `TLS10`..`TLS13`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub ca: Option<String>,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub max_version: Option<String>,
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default)]
    pub cert_file: Option<String>,
    #[serde(default)]
    pub key_file: Option<String>,
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    #[serde(default)]
    pub min_version: Option<String>,
}

impl HttpClientConfig {
    /// Checks the keys as Prometheus's `HTTPClientConfig.Validate` does,
    /// moves `bearer_token`/`bearer_token_file` into `authorization` and
    /// makes file paths absolute against `dir`.
    pub(crate) fn validate(&mut self, path: &KeyPath, dir: Option<&Path>) -> Result<(), Problem> {
        // Go checks lengths, so an empty string counts as unset.
        clear_empty(&mut self.bearer_token);
        clear_empty(&mut self.bearer_token_file);
        let bearer = self.bearer_token.is_some() || self.bearer_token_file.is_some();
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return Err(problem(
                path.key("bearer_token_file"),
                "at most one of bearer_token & bearer_token_file must be configured",
            ));
        }
        if self.basic_auth.is_some() && bearer {
            return Err(problem(
                path.key("basic_auth"),
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ));
        }
        if let Some(ba) = self.basic_auth.as_mut() {
            let ba_path = path.key("basic_auth");
            clear_empty(&mut ba.username_file);
            clear_empty(&mut ba.password);
            clear_empty(&mut ba.password_file);
            if !ba.username.is_empty() && ba.username_file.is_some() {
                return Err(problem(
                    ba_path.key("username_file"),
                    "at most one of basic_auth username & username_file must be configured",
                ));
            }
            if ba.password.is_some() && ba.password_file.is_some() {
                return Err(problem(
                    ba_path.key("password_file"),
                    "at most one of basic_auth password & password_file must be configured",
                ));
            }
            for f in [&mut ba.username_file, &mut ba.password_file]
                .into_iter()
                .flatten()
            {
                resolve(f, dir);
            }
        }
        if let Some(auth) = self.authorization.as_mut() {
            let auth_path = path.key("authorization");
            if bearer {
                return Err(problem(
                    auth_path,
                    "authorization is not compatible with bearer_token & bearer_token_file",
                ));
            }
            clear_empty(&mut auth.credentials);
            clear_empty(&mut auth.credentials_file);
            if auth.credentials.is_some() && auth.credentials_file.is_some() {
                return Err(problem(
                    auth_path.key("credentials_file"),
                    "at most one of authorization credentials & credentials_file must be configured",
                ));
            }
            auth.kind = auth.kind.trim().to_string();
            if auth.kind.is_empty() {
                auth.kind = "Bearer".to_string();
            }
            if auth.kind.eq_ignore_ascii_case("basic") {
                return Err(problem(
                    auth_path.key("type"),
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
                ));
            }
            if self.basic_auth.is_some() {
                return Err(problem(
                    auth_path,
                    "at most one of basic_auth, oauth2 & authorization must be configured",
                ));
            }
            if let Some(f) = auth.credentials_file.as_mut() {
                resolve(f, dir);
            }
        } else if bearer {
            // Prometheus rewrites the legacy keys into `authorization`.
            let mut credentials_file = self.bearer_token_file.take();
            if let Some(f) = credentials_file.as_mut() {
                resolve(f, dir);
            }
            self.authorization = Some(Authorization {
                kind: "Bearer".to_string(),
                credentials: self.bearer_token.take(),
                credentials_file,
            });
        }
        if let Some(tls) = self.tls_config.as_mut() {
            let tls_path = path.key("tls_config");
            validate_tls(tls, &tls_path, dir)?;
        }
        Ok(())
    }

    /// Adds a warning for each key set that the client will not act on:
    /// the proxy keys unless `proxies` are honoured, `proxy_connect_header`
    /// and `http_headers` always.
    pub(crate) fn warn_ignored(
        &self,
        path: &KeyPath,
        proxies: Proxies,
        warnings: &mut Vec<String>,
    ) {
        let unused_proxy = |set: bool| set && proxies == Proxies::Ignored;
        let ignored = [
            ("proxy_url", unused_proxy(self.proxy_url.is_some())),
            ("no_proxy", unused_proxy(self.no_proxy.is_some())),
            (
                "proxy_from_environment",
                unused_proxy(self.proxy_from_environment.is_some()),
            ),
            ("proxy_connect_header", self.proxy_connect_header.is_some()),
            ("http_headers", self.http_headers.is_some()),
        ];
        warn_ignored(path, &ignored, warnings);
    }
}

fn validate_tls(tls: &mut TlsConfig, path: &KeyPath, dir: Option<&Path>) -> Result<(), Problem> {
    for v in [
        &mut tls.ca,
        &mut tls.cert,
        &mut tls.key,
        &mut tls.ca_file,
        &mut tls.cert_file,
        &mut tls.key_file,
    ] {
        clear_empty(v);
    }
    for (inline, file, what) in [
        (&tls.ca, &tls.ca_file, "ca"),
        (&tls.cert, &tls.cert_file, "cert"),
        (&tls.key, &tls.key_file, "key"),
    ] {
        if inline.is_some() && file.is_some() {
            return Err(problem(
                path.key(what),
                format!("at most one of {what} and {what}_file must be configured"),
            ));
        }
    }
    let has_cert = tls.cert.is_some() || tls.cert_file.is_some();
    let has_key = tls.key.is_some() || tls.key_file.is_some();
    if has_cert && !has_key {
        return Err(problem(
            path.clone(),
            "exactly one of key or key_file must be configured when a client certificate is configured",
        ));
    }
    if has_key && !has_cert {
        return Err(problem(
            path.clone(),
            "exactly one of cert or cert_file must be configured when a client key is configured",
        ));
    }
    for (key, version) in [
        ("min_version", &tls.min_version),
        ("max_version", &tls.max_version),
    ] {
        if let Some(v) = version {
            if !matches!(v.as_str(), "TLS10" | "TLS11" | "TLS12" | "TLS13") {
                return Err(problem(path.key(key), format!("unknown TLS version: {v}")));
            }
        }
    }
    for f in [&mut tls.ca_file, &mut tls.cert_file, &mut tls.key_file]
        .into_iter()
        .flatten()
    {
        resolve(f, dir);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::HttpClientConfig;
    use crate::config::parse_str_in_dir;
    use crate::config::test_support::err;

    #[test]
    fn bearer_token_becomes_authorization() {
        let cfg = parse_str_in_dir(
            "
scrape_configs:
  - job_name: a
    bearer_token: s3cret
  - job_name: b
    bearer_token_file: secrets/token
  - job_name: c
    authorization: {type: ' ', credentials: x}
",
            Path::new("/etc/ferroprom"),
        )
        .unwrap();
        let auth = |i: usize| cfg.scrape_configs[i].authorization.clone().unwrap();
        assert_eq!(auth(0).kind, "Bearer");
        assert_eq!(auth(0).credentials.as_deref(), Some("s3cret"));
        assert_eq!(cfg.scrape_configs[0].bearer_token, None);
        assert_eq!(
            auth(1).credentials_file.as_deref(),
            Some("/etc/ferroprom/secrets/token")
        );
        assert_eq!(cfg.scrape_configs[1].bearer_token_file, None);
        assert_eq!(auth(2).kind, "Bearer");
    }

    #[test]
    fn http_client_checks() {
        for (auth, what) in [
            (
                "bearer_token: a\n    bearer_token_file: b",
                "at most one of bearer_token & bearer_token_file must be configured",
            ),
            (
                "basic_auth: {username: u}\n    bearer_token: a",
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ),
            (
                "basic_auth: {username: u, password: p, password_file: f}",
                "at most one of basic_auth password & password_file must be configured",
            ),
            (
                "authorization: {credentials: a, credentials_file: f}",
                "at most one of authorization credentials & credentials_file must be configured",
            ),
            (
                "authorization: {type: Basic, credentials: a}",
                "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
            ),
            (
                "authorization: {credentials: a}\n    basic_auth: {username: u}",
                "at most one of basic_auth, oauth2 & authorization must be configured",
            ),
            (
                "authorization: {credentials: a}\n    bearer_token: t",
                "authorization is not compatible with bearer_token & bearer_token_file",
            ),
            (
                "tls_config: {ca: x, ca_file: y}",
                "at most one of ca and ca_file must be configured",
            ),
            (
                "tls_config: {cert_file: c}",
                "exactly one of key or key_file must be configured when a client certificate is configured",
            ),
            (
                "tls_config: {key_file: k}",
                "exactly one of cert or cert_file must be configured when a client key is configured",
            ),
            ("tls_config: {min_version: TLS14}", "unknown TLS version: TLS14"),
        ] {
            let text = format!("scrape_configs:\n  - job_name: a\n    {auth}\n");
            let e = err(&text);
            assert!(e.contains(what), "{auth}: {e}");
            assert!(e.contains("scrape_configs[0]") && e.contains("(line "), "{e}");
        }
    }

    #[test]
    fn defaults_are_prometheus_defaults() {
        let d = HttpClientConfig::default();
        assert!(d.follow_redirects && d.enable_http2);
        assert_eq!(d.basic_auth, None);
        assert_eq!(d.tls_config, None);
        assert_eq!(d.proxy_url, None);
        let parsed: HttpClientConfig = serde_yaml_ng::from_str("{}").unwrap();
        assert_eq!(parsed, d);
        let e = serde_yaml_ng::from_str::<HttpClientConfig>("oauth3: {}").unwrap_err();
        assert!(e.to_string().contains("unknown field `oauth3`"), "{e}");
    }

    #[test]
    fn every_client_entry_takes_the_same_keys() {
        let keys = "follow_redirects: false
    enable_http2: false
    proxy_url: http://127.0.0.1:3128
    proxy_connect_header: {X-A: [b]}
    http_headers: {X-B: {values: [c]}}";
        let cfg = parse_str_in_dir(
            &format!(
                "
scrape_configs:
  - job_name: a
    {keys}
    http_sd_configs:
      - url: http://127.0.0.1:1/sd
        {}
remote_read:
  - url: http://127.0.0.1:1/read
    {keys}
remote_write:
  - url: http://127.0.0.1:1/write
    {keys}
",
                keys.replace("\n    ", "\n        ")
            ),
            Path::new("/cfg"),
        )
        .unwrap();
        let job = &cfg.scrape_configs[0];
        let sd = &job.http_sd_configs[0];
        let (rr, rw) = (&cfg.remote_read[0], &cfg.remote_write[0]);
        for (follow, http2) in [
            (job.follow_redirects, job.enable_http2),
            (sd.follow_redirects, sd.enable_http2),
            (rr.follow_redirects, rr.enable_http2),
            (rw.follow_redirects, rw.enable_http2),
        ] {
            assert!(!follow && !http2);
        }
        let warned = |key: &str| {
            cfg.warnings.iter().any(|w| {
                w == &format!("{key}: accepted for compatibility but not supported; ignored")
            })
        };
        for entry in [
            "scrape_configs[0]",
            "scrape_configs[0].http_sd_configs[0]",
            "remote_read[0]",
            "remote_write[0]",
        ] {
            assert!(warned(&format!("{entry}.proxy_connect_header")), "{entry}");
            assert!(warned(&format!("{entry}.http_headers")), "{entry}");
            // Only scrapes go through the proxy.
            let proxied = entry == "scrape_configs[0]";
            assert_eq!(warned(&format!("{entry}.proxy_url")), !proxied, "{entry}");
        }
    }
}
