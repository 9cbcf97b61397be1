//! Server certificate verifiers for the two `tls_config` settings rustls's
//! own verifier cannot express: `server_name` (check the certificate
//! against a configured name rather than the URL's host, as Go's
//! `tls.Config.ServerName` does) and `insecure_skip_verify` (accept any
//! certificate, yet still check the handshake signatures made with it, as
//! Go does).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Full webpki verification (chain to the configured roots, validity,
/// usage), with the name the connection asked for replaced by `name`.
#[derive(Debug)]
pub(super) struct NameOverride {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl NameOverride {
    pub(super) fn new(inner: Arc<WebPkiServerVerifier>, name: ServerName<'static>) -> Self {
        NameOverride { inner, name }
    }
}

impl ServerCertVerifier for NameOverride {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _url_host: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: any certificate is accepted, but the server
/// must still prove it holds the certificate's key.
#[derive(Debug)]
pub(super) struct SkipVerification {
    provider: Arc<CryptoProvider>,
}

impl SkipVerification {
    pub(super) fn new(provider: Arc<CryptoProvider>) -> Self {
        SkipVerification { provider }
    }
}

impl ServerCertVerifier for SkipVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    use rustls::RootCertStore;

    use super::*;

    /// A CA called `ca_name` and a leaf for `app.internal` (DNS SAN only)
    /// signed by it.
    fn chain(ca_name: &str) -> (CertificateDer<'static>, CertificateDer<'static>) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        let ca = ca.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["app.internal".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        (ca.der().clone(), leaf.der().clone())
    }

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn webpki(ca: CertificateDer<'static>) -> Arc<WebPkiServerVerifier> {
        let mut roots = RootCertStore::empty();
        roots.add(ca).unwrap();
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap()
    }

    fn name(s: &str) -> ServerName<'static> {
        ServerName::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn the_configured_name_replaces_the_url_host() {
        let (ca, leaf) = chain("test CA");
        let url_host = name("127.0.0.1");
        let plain = webpki(ca.clone());
        let err = plain
            .verify_server_cert(&leaf, &[], &url_host, &[], UnixTime::now())
            .unwrap_err();
        assert!(err.to_string().contains("not valid for name"), "{err}");

        let right = NameOverride::new(webpki(ca.clone()), name("app.internal"));
        right
            .verify_server_cert(&leaf, &[], &url_host, &[], UnixTime::now())
            .unwrap();

        let wrong = NameOverride::new(webpki(ca), name("other.internal"));
        let err = wrong
            .verify_server_cert(&leaf, &[], &url_host, &[], UnixTime::now())
            .unwrap_err();
        assert!(err.to_string().contains("other.internal"), "{err}");
    }

    #[test]
    fn the_override_still_checks_the_chain() {
        let (_, leaf) = chain("test CA");
        let (other_ca, _) = chain("other CA");
        let v = NameOverride::new(webpki(other_ca), name("app.internal"));
        let err = v
            .verify_server_cert(&leaf, &[], &name("app.internal"), &[], UnixTime::now())
            .unwrap_err();
        assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    }

    #[test]
    fn skipping_verification_accepts_any_certificate() {
        let (_, leaf) = chain("test CA");
        let v = SkipVerification::new(provider());
        v.verify_server_cert(&leaf, &[], &name("127.0.0.1"), &[], UnixTime::now())
            .unwrap();
        assert!(!v.supported_verify_schemes().is_empty());
    }
}
