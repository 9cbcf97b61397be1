//! An HTTP client built from Prometheus's client settings (`basic_auth`,
//! `authorization`, `tls_config`, `follow_redirects`, `enable_http2`).
//! Secrets kept in files are read at each request so rotation needs no
//! reload, as in Prometheus.

use std::time::Duration;

use reqwest::{Certificate, Client, Identity, RequestBuilder};

use crate::config::{Authorization, BasicAuth, TlsConfig};

/// The settings a client is built from; borrowed from a job or an http_sd
/// entry after the loader has validated them.
pub(crate) struct ClientSettings<'a> {
    pub(crate) basic_auth: Option<&'a BasicAuth>,
    pub(crate) authorization: Option<&'a Authorization>,
    pub(crate) tls: Option<&'a TlsConfig>,
    pub(crate) follow_redirects: bool,
    pub(crate) enable_http2: bool,
    pub(crate) timeout: Duration,
}

/// Why a client could not be built or a request not authorized.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("reading {what} {path:?}: {source}")]
    File {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("invalid TLS {what}: {source}")]
    Tls {
        what: &'static str,
        source: reqwest::Error,
    },
    #[error("building HTTP client: {0}")]
    Build(reqwest::Error),
}

fn read(what: &'static str, path: &str) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(|source| ClientError::File {
        what,
        path: path.to_string(),
        source,
    })
}

/// Builds the client: TLS roots and identity, redirects, HTTP/2, timeout.
pub(crate) fn build(s: &ClientSettings<'_>) -> Result<Client, ClientError> {
    let mut b = Client::builder()
        .timeout(s.timeout)
        .user_agent(concat!("ferroprom/", env!("CARGO_PKG_VERSION")));
    if !s.follow_redirects {
        b = b.redirect(reqwest::redirect::Policy::none());
    }
    if !s.enable_http2 {
        b = b.http1_only();
    }
    if let Some(tls) = s.tls {
        let ca = match (&tls.ca, &tls.ca_file) {
            (Some(pem), _) => Some(pem.clone()),
            (None, Some(f)) => Some(read("CA file", f)?),
            _ => None,
        };
        if let Some(pem) = ca {
            let certs = Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|source| ClientError::Tls { what: "CA", source })?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let cert = match (&tls.cert, &tls.cert_file) {
            (Some(pem), _) => Some(pem.clone()),
            (None, Some(f)) => Some(read("certificate file", f)?),
            _ => None,
        };
        let key = match (&tls.key, &tls.key_file) {
            (Some(pem), _) => Some(pem.clone()),
            (None, Some(f)) => Some(read("key file", f)?),
            _ => None,
        };
        if let (Some(cert), Some(key)) = (cert, key) {
            let pem = format!("{cert}\n{key}");
            let id = Identity::from_pem(pem.as_bytes()).map_err(|source| ClientError::Tls {
                what: "client certificate",
                source,
            })?;
            b = b.identity(id);
        }
        if tls.insecure_skip_verify {
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(v) = tls.min_version.as_deref().and_then(tls_version) {
            b = b.min_tls_version(v);
        }
        if let Some(v) = tls.max_version.as_deref().and_then(tls_version) {
            b = b.max_tls_version(v);
        }
    }
    b.build().map_err(ClientError::Build)
}

fn tls_version(v: &str) -> Option<reqwest::tls::Version> {
    use reqwest::tls::Version;
    Some(match v {
        "TLS10" => Version::TLS_1_0,
        "TLS11" => Version::TLS_1_1,
        "TLS12" => Version::TLS_1_2,
        "TLS13" => Version::TLS_1_3,
        _ => return None,
    })
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
