//! The rustls configuration behind every HTTP client built from
//! `tls_config`: trusted roots, client certificate, TLS versions, ALPN
//! and the server certificate verifier.
//!
//! reqwest gets this configuration ready-made because its own options
//! cannot verify against a name other than the URL's host. The name sent
//! as SNI stays the URL's host (none for an IP address): reqwest hands
//! rustls that name on every connection and offers no hook to change it.

use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};

use super::verify::{NameOverride, SkipVerification};
use super::{read, ClientError};
use crate::config::TlsConfig;

/// The configuration for `tls` (none: defaults), offering HTTP/2 by ALPN
/// when `http2` is set and HTTP/1.1 only otherwise.
pub(super) fn client_config(
    tls: Option<&TlsConfig>,
    http2: bool,
) -> Result<ClientConfig, ClientError> {
    let defaults = TlsConfig::default();
    let tls = tls.unwrap_or(&defaults);
    // The provider reqwest's `rustls-tls` feature uses.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions(tls)?)
        .map_err(|e| tls_error("TLS versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier(tls, provider)?);
    let mut config = match identity(tls)? {
        Some((what, certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| tls_error(what, e))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

fn tls_error(what: impl Into<String>, e: impl std::fmt::Display) -> ClientError {
    ClientError::Tls {
        what: what.into(),
        msg: e.to_string(),
    }
}

/// TLS 1.2 and 1.3 are all rustls speaks; an older `min_version` means
/// 1.2, an older `max_version` leaves nothing to speak and is an error.
fn versions(tls: &TlsConfig) -> Result<Vec<&'static SupportedProtocolVersion>, ClientError> {
    let rank = |v: &Option<String>, default: u8| match v.as_deref() {
        Some("TLS10") => 0,
        Some("TLS11") => 1,
        Some("TLS12") => 2,
        Some("TLS13") => 3,
        _ => default,
    };
    let (min, max) = (rank(&tls.min_version, 2), rank(&tls.max_version, 3));
    let all = [(2, &rustls::version::TLS12), (3, &rustls::version::TLS13)];
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|(r, _)| (min..=max).contains(r))
        .map(|(_, v)| v)
        .collect();
    if chosen.is_empty() {
        return Err(tls_error(
            "TLS versions",
            format!(
                "no version between min_version {} and max_version {} is supported (TLS12 and TLS13 are)",
                tls.min_version.as_deref().unwrap_or("TLS12"),
                tls.max_version.as_deref().unwrap_or("TLS13"),
            ),
        ));
    }
    Ok(chosen)
}

fn verifier(
    tls: &TlsConfig,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, ClientError> {
    if tls.insecure_skip_verify {
        return Ok(Arc::new(SkipVerification::new(provider)));
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(tls)?), provider)
        .build()
        .map_err(|e| tls_error("CA certificates", e))?;
    match tls.server_name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => {
            let name = ServerName::try_from(name.to_string())
                .map_err(|e| tls_error(format!("server_name {name:?}"), e))?;
            Ok(Arc::new(NameOverride::new(webpki, name)))
        }
        None => Ok(webpki),
    }
}

/// With a CA configured only that CA is trusted, as in Prometheus;
/// otherwise the Mozilla roots reqwest trusts by default.
fn roots(tls: &TlsConfig) -> Result<RootCertStore, ClientError> {
    let (what, pem) = match (&tls.ca, &tls.ca_file) {
        (Some(pem), _) => ("inline CA cert".to_string(), pem.clone()),
        (None, Some(f)) => (format!("specified CA cert {f}"), read("CA file", f)?),
        (None, None) => {
            return Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
        }
    };
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(&what, e))?;
    if certs.is_empty() {
        return Err(tls_error(what, "no certificates found"));
    }
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots.add(c).map_err(|e| tls_error(&what, e))?;
    }
    Ok(roots)
}

type Identity = (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate chain and key, with how to name them in errors.
fn identity(tls: &TlsConfig) -> Result<Option<Identity>, ClientError> {
    let cert = match (&tls.cert, &tls.cert_file) {
        (Some(pem), _) => Some(("inline", pem.clone())),
        (None, Some(f)) => Some((f.as_str(), read("client cert file", f)?)),
        _ => None,
    };
    let key = match (&tls.key, &tls.key_file) {
        (Some(pem), _) => Some(("inline", pem.clone())),
        (None, Some(f)) => Some((f.as_str(), read("client key file", f)?)),
        _ => None,
    };
    let ((cert_src, cert), (key_src, key)) = match (cert, key) {
        (Some(c), Some(k)) => (c, k),
        (None, None) => return Ok(None),
        _ => {
            return Err(tls_error(
                "client certificate",
                "cert and key must both be set",
            ))
        }
    };
    let what = format!("specified client cert ({cert_src}) & key ({key_src})");
    let certs = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(&what, e))?;
    if certs.is_empty() {
        return Err(tls_error(what, "no certificate found"));
    }
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| {
        let msg = match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no private key found".to_string(),
            e => e.to_string(),
        };
        tls_error(&what, msg)
    })?;
    Ok(Some((what, certs, key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(yaml: &str) -> TlsConfig {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn err(t: &TlsConfig) -> String {
        client_config(Some(t), true).unwrap_err().to_string()
    }

    /// A self-signed certificate and its key, PEM.
    fn pems() -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec!["app.internal".to_string()]).unwrap();
        (c.cert.pem(), c.key_pair.serialize_pem())
    }

    #[test]
    fn alpn_follows_enable_http2() {
        let h2 = client_config(None, true).unwrap();
        assert_eq!(h2.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        let h1 = client_config(None, false).unwrap();
        assert_eq!(h1.alpn_protocols, [b"http/1.1".to_vec()]);
    }

    #[test]
    fn versions_are_clamped_to_what_rustls_speaks() {
        let names = |t: &TlsConfig| -> Vec<_> {
            versions(t)
                .unwrap()
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>()
        };
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        assert_eq!(names(&tls("{}")), [TLSv1_2, TLSv1_3]);
        assert_eq!(names(&tls("{min_version: TLS10}")), [TLSv1_2, TLSv1_3]);
        assert_eq!(names(&tls("{min_version: TLS13}")), [TLSv1_3]);
        assert_eq!(names(&tls("{max_version: TLS12}")), [TLSv1_2]);
        let e = err(&tls("{max_version: TLS11}"));
        assert!(e.contains("max_version TLS11"), "{e}");
        let e = err(&tls("{min_version: TLS13, max_version: TLS12}"));
        assert!(e.starts_with("unable to use TLS versions: "), "{e}");
    }

    #[test]
    fn bad_ca_material_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = err(&tls(&format!("{{ca_file: {}}}", empty.display())));
        assert_eq!(
            e,
            format!(
                "unable to use specified CA cert {}: no certificates found",
                empty.display()
            )
        );
        let e = err(&tls("{ca_file: /nonexistent/ca.pem}"));
        assert!(
            e.starts_with("unable to read CA file /nonexistent/ca.pem: "),
            "{e}"
        );
        let garbled = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = err(&TlsConfig {
            ca: Some(garbled.into()),
            ..Default::default()
        });
        assert!(e.starts_with("unable to use inline CA cert: "), "{e}");
    }

    #[test]
    fn a_ca_replaces_the_default_roots() {
        let (cert, _) = pems();
        let only = roots(&TlsConfig {
            ca: Some(cert),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(only.len(), 1);
        assert!(roots(&TlsConfig::default()).unwrap().len() > 100);
    }

    #[test]
    fn client_identity_needs_a_matching_cert_and_key() {
        let (cert, key) = pems();
        let ok = TlsConfig {
            cert: Some(cert.clone()),
            key: Some(key),
            ..Default::default()
        };
        assert!(client_config(Some(&ok), true)
            .unwrap()
            .client_auth_cert_resolver
            .has_certs());

        let no_key = TlsConfig {
            cert: Some(cert.clone()),
            key: Some(cert.clone()),
            ..Default::default()
        };
        assert_eq!(
            err(&no_key),
            "unable to use specified client cert (inline) & key (inline): no private key found"
        );
        let (_, other_key) = pems();
        let mismatched = TlsConfig {
            cert: Some(cert.clone()),
            key: Some(other_key),
            ..Default::default()
        };
        assert!(err(&mismatched).starts_with("unable to use specified client cert"));
        let half = TlsConfig {
            cert: Some(cert),
            ..Default::default()
        };
        assert!(err(&half).contains("cert and key must both be set"));
    }

    #[test]
    fn server_name_must_be_a_name() {
        let e = err(&tls("{server_name: 'bad name!'}"));
        assert!(
            e.starts_with("unable to use server_name \"bad name!\": "),
            "{e}"
        );
        client_config(Some(&tls("{server_name: app.internal}")), true).unwrap();
        client_config(Some(&tls("{server_name: 10.0.0.1}")), true).unwrap();
    }
}
