//! The HTTP client every outgoing connection uses (scrapes, http_sd,
//! remote read, remote write), built from Prometheus's client settings
//! (`basic_auth`, `authorization`, `tls_config`, `follow_redirects`,
//! `enable_http2`; see `crate::config::HttpClientConfig`). Secrets kept in
//! files are read at each request so rotation needs no reload, as in
//! Prometheus.

mod tls;
mod verify;

use std::time::Duration;

use reqwest::{Client, ClientBuilder, RequestBuilder};

use crate::config::{Authorization, BasicAuth, TlsConfig};

/// The settings a client is built from; borrowed from a config entry
/// (`client_settings`, generated for each) after the loader has validated
/// them.
pub(crate) struct ClientSettings<'a> {
    pub(crate) basic_auth: Option<&'a BasicAuth>,
    pub(crate) authorization: Option<&'a Authorization>,
    pub(crate) tls: Option<&'a TlsConfig>,
    pub(crate) follow_redirects: bool,
    pub(crate) enable_http2: bool,
    pub(crate) timeout: Duration,
}

/// Why a client could not be built or a request not authorized. Wording
/// follows Prometheus's, since users compare errors with what they know.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("unable to read {what} {path}: {source}")]
    File {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    /// TLS material or settings that cannot be used; `what` names the
    /// setting and, for files, the path.
    #[error("unable to use {what}: {msg}")]
    Tls { what: String, msg: String },
    #[error("building HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

fn read(what: &'static str, path: &str) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(|source| ClientError::File {
        what,
        path: path.to_string(),
        source,
    })
}

/// The builder [`build`] finishes, for callers that add settings of their
/// own (compression, proxies): TLS (roots, client certificate, versions,
/// `server_name`, `insecure_skip_verify`), redirects, HTTP/2, timeout.
/// CA and certificate files are read now.
pub(crate) fn builder(s: &ClientSettings<'_>) -> Result<ClientBuilder, ClientError> {
    let mut b = Client::builder()
        .timeout(s.timeout)
        .user_agent(concat!("ferroprom/", env!("CARGO_PKG_VERSION")))
        .use_preconfigured_tls(tls::client_config(s.tls, s.enable_http2)?);
    if !s.follow_redirects {
        b = b.redirect(reqwest::redirect::Policy::none());
    }
    if !s.enable_http2 {
        b = b.http1_only();
    }
    Ok(b)
}

/// Builds the client: TLS, redirects, HTTP/2, timeout.
pub(crate) fn build(s: &ClientSettings<'_>) -> Result<Client, ClientError> {
    builder(s)?.build().map_err(ClientError::Build)
}

/// Adds the `Authorization` header the settings call for.
pub(crate) fn authorize(
    req: RequestBuilder,
    s: &ClientSettings<'_>,
) -> Result<RequestBuilder, ClientError> {
    if let Some(ba) = s.basic_auth {
        let user = match &ba.username_file {
            Some(f) => read("username file", f)?.trim().to_string(),
            None => ba.username.clone(),
        };
        let password = match (&ba.password, &ba.password_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(f)) => Some(read("password file", f)?.trim().to_string()),
            _ => None,
        };
        return Ok(req.basic_auth(user, password));
    }
    if let Some(auth) = s.authorization {
        let credentials = match (&auth.credentials, &auth.credentials_file) {
            (Some(c), _) => c.clone(),
            (None, Some(f)) => read("credentials file", f)?.trim().to_string(),
            _ => String::new(),
        };
        return Ok(req.header(
            reqwest::header::AUTHORIZATION,
            format!("{} {credentials}", auth.kind),
        ));
    }
    Ok(req)
}
