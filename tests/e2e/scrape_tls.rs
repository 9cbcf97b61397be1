//! Scraping over TLS: a CA and certificates made with rcgen at test time,
//! exporters served over TLS on 127.0.0.1 whose certificate names only
//! `app.internal`, scraped by a real `ScrapeManager` (and once by the real
//! binary, targets found through http_sd over TLS). Each exporter reports
//! the HTTP version each request came with as a label, so what was
//! negotiated ends up in storage.

use crate::common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use ferroprom::discovery::TargetGroup;
use ferroprom::metrics::Registry;
use ferroprom::scrape::status::{Health, ScrapeStatus};
use ferroprom::scrape::ScrapeManager;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use storage::querier::Queryable;
use storage::{Db, Matcher};

/// A CA, a server certificate for `app.internal` (DNS SAN only) and a
/// client certificate, all signed by the CA, written as PEM files; plus a
/// second, unrelated CA.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let (ca, ca_key) = new_ca("test CA");
        let (other_ca, _) = new_ca("other CA");
        let write = |name: &str, pem: String| std::fs::write(dir.path().join(name), pem).unwrap();
        write("ca.pem", ca.pem());
        write("other-ca.pem", other_ca.pem());
        for (name, san) in [("server", "app.internal"), ("client", "scraper")] {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec![san.to_string()])
                .unwrap()
                .signed_by(&key, &ca, &ca_key)
                .unwrap();
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

fn new_ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    (cert, key)
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An exporter over TLS (HTTP/1.1 and HTTP/2 offered by ALPN) on its own
/// runtime thread, stopped on drop. `/sd` answers an http_sd target list
/// naming the exporter itself; every other path the metrics.
struct TlsExporter {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsExporter {
    /// `client_ca`: require a client certificate signed by this CA.
    fn start(pki: &Pki, client_ca: Option<&str>) -> TlsExporter {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in certs(&pki.path(ca)) {
                    roots.add(c).unwrap();
                }
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                    .build()
                    .unwrap();
                builder.with_client_cert_verifier(v)
            }
            None => builder.with_no_client_auth(),
        };
        let key = PrivateKeyDer::from_pem_file(pki.path("server.key")).unwrap();
        let mut config = builder
            .with_single_cert(certs(&pki.path("server.pem")), key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = stopped => {}
                    _ = accept_loop(listener, acceptor, addr) => {}
                }
            });
        });
        TlsExporter {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for TlsExporter {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    addr: SocketAddr,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            // A failed handshake is what several tests expect.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| respond(req, addr));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn respond(req: Request<Incoming>, addr: SocketAddr) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == "/sd" {
        let groups = format!(r#"[{{"targets": ["{addr}"], "labels": {{"via": "http_sd"}}}}]"#);
        return Ok(Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(groups))
            .unwrap());
    }
    let body = format!(
        "# TYPE tls_test_info gauge\ntls_test_info{{version=\"{:?}\"}} 1\n",
        req.version()
    );
    Ok(Response::builder()
        .header("content-type", "text/plain; version=0.0.4")
        .body(Body::from(body))
        .unwrap())
}

/// A scrape manager over a fresh database.
struct Env {
    _dir: tempfile::TempDir,
    db: Arc<Db>,
    mgr: Arc<ScrapeManager>,
    _registry: Registry,
}

impl Env {
    fn new(config: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(
            Db::open(
                dir.path(),
                storage::Options {
                    compaction_interval: None,
                    ..Default::default()
                },
            )
            .unwrap(),
        );
        let registry = Registry::new();
        let mgr = ScrapeManager::new(Arc::clone(&db), &registry);
        let cfg = ferroprom::config::parse_str(config).unwrap();
        mgr.apply_config(&cfg).unwrap();
        Env {
            _dir: dir,
            db,
            mgr,
            _registry: registry,
        }
    }

    fn target(&self, job: &str, addr: SocketAddr) {
        let targets = vec![BTreeMap::from([(
            "__address__".to_string(),
            addr.to_string(),
        )])];
        self.mgr
            .update_targets(
                job,
                vec![TargetGroup {
                    source: "test".into(),
                    targets,
                    labels: BTreeMap::new(),
                }],
            )
            .unwrap();
    }

    /// The latest value of every series matching `m`, with its labels.
    fn latest(&self, m: &[(&str, &str)]) -> Vec<(storage::Labels, f64)> {
        let ms: Vec<Matcher> = m.iter().map(|(n, v)| Matcher::equal(*n, *v)).collect();
        let q = self.db.querier(i64::MIN, i64::MAX).unwrap();
        q.select(&storage::querier::SelectHints::default(), &ms)
            .unwrap()
            .series
            .into_iter()
            .filter_map(|s| {
                let v = s.iter().last()?.1;
                Some((s.labels, v))
            })
            .collect()
    }

    fn up(&self, job: &str) -> Option<f64> {
        self.latest(&[("__name__", "up"), ("job", job)])
            .first()
            .map(|s| s.1)
    }

    /// Health and last error of the job's one target.
    fn status(&self, job: &str) -> (Health, String) {
        let t = self
            .mgr
            .active_targets()
            .into_iter()
            .find(|t| t.scrape_pool == job)
            .unwrap_or_else(|| panic!("no target for {job}"));
        (t.health, t.last_error)
    }

    /// Waits until the job's `up` is `want`; returns the last error.
    async fn wait_up(&self, job: &str, want: f64) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.up(job) == Some(want) {
                let (health, err) = self.status(job);
                let expected = if want == 1.0 {
                    Health::Up
                } else {
                    Health::Down
                };
                if health == expected {
                    return err;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{job}: up never became {want}: {:?}",
                self.status(job)
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The HTTP version the exporter saw in the job's scrapes.
    fn version(&self, job: &str) -> String {
        let s = self.latest(&[("__name__", "tls_test_info"), ("job", job)]);
        assert_eq!(s.len(), 1, "{job}: {s:?}");
        s[0].0.get("version").to_string()
    }
}

fn job(name: &str, tls: &str, extra: &str) -> String {
    format!("  - job_name: {name}\n    scheme: https\n    tls_config: {{{tls}}}\n{extra}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_and_ca_decide_verification() {
    let pki = Pki::new();
    let exporter = TlsExporter::start(&pki, None);
    let ca = pki.file("ca.pem");
    let jobs = [
        ("named", format!("ca_file: {ca}, server_name: app.internal")),
        ("unnamed", format!("ca_file: {ca}")),
        (
            "wrong_name",
            format!("ca_file: {ca}, server_name: db.internal"),
        ),
        (
            "other_ca",
            format!(
                "ca_file: {}, server_name: app.internal",
                pki.file("other-ca.pem")
            ),
        ),
        ("insecure", "insecure_skip_verify: true".to_string()),
    ];
    let mut config = "global: {scrape_interval: 200ms}\nscrape_configs:\n".to_string();
    for (name, tls) in &jobs {
        config.push_str(&job(name, tls, ""));
    }
    let env = Env::new(&config);
    for (name, _) in &jobs {
        env.target(name, exporter.addr);
    }

    assert_eq!(env.wait_up("named", 1.0).await, "");
    assert_eq!(
        env.latest(&[("__name__", "tls_test_info"), ("job", "named")])[0].1,
        1.0
    );
    let err = env.wait_up("unnamed", 0.0).await;
    assert!(
        err.contains("certificate not valid for name \"127.0.0.1\""),
        "{err}"
    );
    let err = env.wait_up("wrong_name", 0.0).await;
    assert!(
        err.contains("certificate not valid for name \"db.internal\""),
        "{err}"
    );
    // Only the configured CA is trusted.
    let err = env.wait_up("other_ca", 0.0).await;
    assert!(err.contains("UnknownIssuer"), "{err}");
    env.wait_up("insecure", 1.0).await;
    assert!(env
        .latest(&[("__name__", "tls_test_info"), ("job", "unnamed")])
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_http2_picks_the_protocol() {
    let pki = Pki::new();
    let exporter = TlsExporter::start(&pki, None);
    let tls = format!("ca_file: {}, server_name: app.internal", pki.file("ca.pem"));
    let config = format!(
        "global: {{scrape_interval: 200ms}}\nscrape_configs:\n{}{}",
        job("h2", &tls, ""),
        job("h1", &tls, "    enable_http2: false\n"),
    );
    let env = Env::new(&config);
    env.target("h2", exporter.addr);
    env.target("h1", exporter.addr);
    env.wait_up("h2", 1.0).await;
    env.wait_up("h1", 1.0).await;
    assert_eq!(env.version("h2"), "HTTP/2.0");
    assert_eq!(env.version("h1"), "HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_reach_mtls_targets() {
    let pki = Pki::new();
    let exporter = TlsExporter::start(&pki, Some("ca.pem"));
    let tls = format!("ca_file: {}, server_name: app.internal", pki.file("ca.pem"));
    let with_cert = format!(
        "{tls}, cert_file: {}, key_file: {}",
        pki.file("client.pem"),
        pki.file("client.key")
    );
    // A certificate the exporter's CA did not sign.
    let other = rcgen::generate_simple_self_signed(vec!["scraper".to_string()]).unwrap();
    std::fs::write(pki.path("self.pem"), other.cert.pem()).unwrap();
    std::fs::write(pki.path("self.key"), other.key_pair.serialize_pem()).unwrap();
    let self_signed = format!(
        "{tls}, cert_file: {}, key_file: {}",
        pki.file("self.pem"),
        pki.file("self.key")
    );
    let config = format!(
        "global: {{scrape_interval: 200ms}}\nscrape_configs:\n{}{}{}",
        job("mtls", &with_cert, ""),
        job("anonymous", &tls, ""),
        job("stranger", &self_signed, ""),
    );
    let env = Env::new(&config);
    for j in ["mtls", "anonymous", "stranger"] {
        env.target(j, exporter.addr);
    }
    assert_eq!(env.wait_up("mtls", 1.0).await, "");
    assert_eq!(env.version("mtls"), "HTTP/2.0");
    for j in ["anonymous", "stranger"] {
        let err = env.wait_up(j, 0.0).await;
        assert!(!err.is_empty(), "{j}");
    }
}

#[test]
fn bad_client_material_fails_the_job() {
    let pki = Pki::new();
    let config = format!(
        "scrape_configs:\n{}",
        job(
            "broken",
            &format!(
                "cert_file: {}, key_file: {}",
                pki.file("client.pem"),
                pki.file("ca.pem")
            ),
            ""
        )
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), storage::Options::default()).unwrap());
    let mgr = ScrapeManager::new(db, &Registry::new());
    let err = mgr
        .apply_config(&ferroprom::config::parse_str(&config).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("error creating HTTP client: unable to use specified client cert"),
        "{err}"
    );
    assert!(err.ends_with("no private key found"), "{err}");
}

/// Through the binary: http_sd over TLS finds the exporter, which is then
/// scraped over TLS, both verified against `server_name`.
#[test]
fn the_binary_discovers_and_scrapes_over_tls() {
    let pki = Pki::new();
    let exporter = TlsExporter::start(&pki, None);
    let tls = format!(
        "{{ca_file: {}, server_name: app.internal}}",
        pki.file("ca.pem")
    );
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n  - job_name: secure\n    scheme: https\n    tls_config: {tls}\n    http_sd_configs:\n      - url: https://{}/sd\n        refresh_interval: 1s\n        tls_config: {tls}\n",
        exporter.addr
    );
    let srv = common::Server::start(Some(&config), &[]);
    let r = srv.wait_for("tls_test_info{job=\"secure\",via=\"http_sd\"}", 20, |r| {
        !r.is_empty()
    });
    assert_eq!(r[0]["metric"]["version"], "HTTP/2.0");
    assert_eq!(r[0]["metric"]["instance"], exporter.addr.to_string());
    let up = srv.query("up{job=\"secure\"}");
    assert_eq!(up[0]["value"][1], "1");
}
