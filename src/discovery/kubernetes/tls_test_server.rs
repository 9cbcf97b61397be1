//! A fake API server over TLS on loopback, for the access tests: its
//! certificate (for `127.0.0.1`) is signed by a CA made at test time, it
//! answers every request with an empty list, and it records each
//! request's `Authorization` header, so a test can see which CA a client
//! trusts and which credentials it sends, request by request.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The running server; stopped when dropped.
pub(crate) struct TlsApi {
    pub addr: SocketAddr,
    /// The CA that signed the server's certificate, PEM.
    pub ca_pem: String,
    authorizations: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsApi {
    /// Starts the server on the current Tokio runtime.
    pub(crate) async fn start() -> TlsApi {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let seen = authorizations.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen) = (acceptor.clone(), seen.clone());
                tokio::spawn(async move {
                    // A refused handshake is what some tests expect.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        let auth = req
                            .headers()
                            .get(hyper::header::AUTHORIZATION)
                            .map(|v| v.to_str().unwrap_or("").to_string());
                        seen.lock().push(auth.unwrap_or_default());
                        let list =
                            r#"{"kind":"List","metadata":{"resourceVersion":"1"},"items":[]}"#;
                        async move {
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                axum::body::Body::from(list),
                            ))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        TlsApi {
            addr,
            ca_pem: ca.pem(),
            authorizations,
            task,
        }
    }

    /// The `Authorization` header of every request so far (empty when a
    /// request had none).
    pub(crate) fn authorizations(&self) -> Vec<String> {
        self.authorizations.lock().clone()
    }
}

impl Drop for TlsApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}
