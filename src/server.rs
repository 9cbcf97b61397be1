//! The running server: opens storage, starts discovery, scraping and the
//! HTTP API, and handles reloads and shutdown.
//!
//! Order matters on the way down: stop taking HTTP requests, stop scraping
//! (so nothing appends any more), flush the alert notifications and the
//! remote-write queues (they read the WAL), then close storage, which
//! syncs the WAL.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::RwLock;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, Semaphore};

use crate::api::{self, ApiState, ReloadRequest};
use crate::config::{self, Config, ConfigError};
use crate::discovery::{self, Discovery};
use crate::flags::Flags;
use crate::metrics::Registry;
use crate::notifier::{Notifier, NotifierOptions};
use crate::remote::send::RemoteWriteManager;
use crate::remote::FanoutStorage;
use crate::rules::{Manager as RuleManager, ManagerOptions as RuleManagerOptions};
use crate::scrape::manager::ScrapeManager;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Flag(#[from] crate::flags::FlagError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("applying the configuration: {0}")]
    Scrape(#[from] crate::scrape::ScrapeError),
    #[error("applying the configuration: {0}")]
    RemoteRead(#[from] crate::remote::RemoteReadError),
    #[error("applying the configuration: {0}")]
    RemoteWrite(#[from] crate::remote::send::SendError),
    #[error(transparent)]
    Rules(#[from] crate::rules::RulesError),
    #[error("applying the configuration: {0}")]
    Notifier(#[from] crate::notifier::NotifierError),
    #[error("opening storage at {path}: {source}")]
    Storage {
        path: PathBuf,
        source: storage::Error,
    },
    #[error("--web.config.file={0:?}: TLS and authentication for the web interface are not supported; refusing to serve without them")]
    WebConfig(PathBuf),
    #[error("invalid --web.listen-address {addr:?}: {msg}")]
    Listen { addr: String, msg: String },
    #[error("serving HTTP: {0}")]
    Http(std::io::Error),
    #[error("closing storage: {0}")]
    Close(storage::Error),
}

/// Loads the configuration named by `--config.file`, or the built-in one
/// (scraping this server at `listen`) when that file does not exist and
/// was not `given` on the command line: a mistyped explicit path must fail,
/// not quietly run with another configuration.
pub fn load_config(path: &Path, listen: &SocketAddr, given: bool) -> Result<Config, ConfigError> {
    if given || path.exists() {
        return config::load_file(path);
    }
    tracing::info!(
        file = %path.display(),
        "configuration file not found; using the built-in configuration that scrapes ferroprom itself every 15s"
    );
    let port = listen.port();
    config::parse_str(
        &config::DEFAULT_CONFIG.replace("localhost:9090", &format!("localhost:{port}")),
    )
}

/// Runs the server until SIGTERM/SIGINT or `/-/quit`.
pub async fn run(flags: Flags) -> Result<(), ServerError> {
    let values = flags.parse_values()?;
    if let Some(path) = &flags.web_config_file {
        return Err(ServerError::WebConfig(path.clone()));
    }
    flags.no_effect.log();
    let addr: SocketAddr = tokio::net::lookup_host(&flags.listen_address)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ServerError::Listen {
            addr: flags.listen_address.clone(),
            msg: "expected host:port".into(),
        })?;
    let config_path = PathBuf::from(&flags.config_file);
    let cfg = Arc::new(load_config(&config_path, &addr, flags.config_file_given)?);

    let data = PathBuf::from(&flags.storage_path);
    let opts = storage::Options {
        retention: values.retention_ms,
        retention_bytes: values.retention_bytes,
        future_grace: Some(flags.future_sample_grace_ms),
        ..Default::default()
    };
    tracing::info!(path = %data.display(), "opening storage (replaying the WAL)");
    let db = {
        let dir = data.clone();
        tokio::task::spawn_blocking(move || storage::Db::open(&dir, opts))
            .await
            .expect("storage open task")
            .map_err(|source| ServerError::Storage {
                path: data.clone(),
                source,
            })?
    };
    let db = Arc::new(db);
    let st = db.stats();
    if let Some(c) = &st.wal_corruption {
        tracing::warn!(error = %c, "WAL corruption found at startup; intact data was kept");
    }
    tracing::info!(series = st.head_series, blocks = st.blocks, "storage ready");

    let registry = Arc::new(Registry::new());
    api::register_storage_metrics(&registry, Arc::clone(&db));
    api::register_process_metrics(&registry);
    discovery::register_metrics(&registry);
    let reload_ok = registry.gauge(
        "prometheus_config_last_reload_successful",
        "Whether the last configuration reload attempt was successful.",
    );
    let reload_time = registry.gauge(
        "prometheus_config_last_reload_success_timestamp_seconds",
        "Timestamp of the last successful configuration reload.",
    );

    log_warnings(&cfg);
    let queryable = Arc::new(FanoutStorage::new(Arc::clone(&db)).with_metrics(&registry));
    queryable.set_endpoints(queryable.endpoints_for(&cfg)?);
    let scrape = ScrapeManager::new(Arc::clone(&db), &registry);
    let remote_write = RemoteWriteManager::new(&data, db.head().wal().dir(), &registry)
        .with_metadata_source(scrape.clone());
    remote_write.apply_config(&cfg).await?;
    scrape.apply_config(&cfg)?;
    let (sd_tx, mut sd_rx) = mpsc::unbounded_channel();
    let mut discovery = Discovery::start(&cfg, sd_tx);
    {
        let scrape = Arc::clone(&scrape);
        tokio::spawn(async move {
            while let Some(u) = sd_rx.recv().await {
                if let Err(e) = scrape.update_targets(&u.job, u.groups) {
                    tracing::error!(job = %u.job, error = %e, "applying discovered targets");
                }
            }
        });
    }
    let external_url = flags.external_url()?;
    let mount = crate::web::Mount::from_flags(&flags)?;
    let notifier = Arc::new(Notifier::new(
        &registry,
        NotifierOptions {
            queue_capacity: flags.notification_queue_capacity,
            batch_size: flags.notification_batch_size,
            ..Default::default()
        },
    ));
    notifier.apply_config(&cfg)?;
    tracing::info!(external_url = %external_url, "alert notifier started");

    // Rules start after storage and before HTTP is ready; a bad rule file
    // fails start-up. Their alerts go to the notifier.
    let rule_manager = Arc::new(RuleManager::new(
        RuleManagerOptions {
            engine: promql::Engine::new(promql::EngineOptions {
                lookback_delta: values.lookback_delta_ms,
                max_samples: flags.query_max_samples,
                timeout: values.query_timeout,
                ..Default::default()
            }),
            queryable: Arc::clone(&queryable),
            db: Arc::clone(&db),
            sink: Arc::clone(&notifier) as Arc<dyn crate::rules::AlertSink>,
            settings: crate::rules::Settings::from_flags(
                &flags,
                // `Url` spells an empty path as `/`; links append their own.
                external_url.as_str().trim_end_matches('/').to_string(),
            )?,
        },
        &registry,
    ));
    rule_manager.update(&cfg).await?;

    reload_ok.set(1.0);
    reload_time.set(unix_now());

    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(4);
    let (quit_tx, mut quit_rx) = mpsc::channel::<()>(1);
    let ready = Arc::new(AtomicBool::new(false));
    let config_cell = Arc::new(RwLock::new(Arc::clone(&cfg)));
    let engine = promql::Engine::new(promql::EngineOptions {
        lookback_delta: values.lookback_delta_ms,
        max_samples: flags.query_max_samples,
        timeout: values.query_timeout,
        ..Default::default()
    });
    let state = Arc::new(ApiState {
        db: Arc::clone(&db),
        queryable: Arc::clone(&queryable),
        engine,
        query_slots: Arc::new(Semaphore::new(flags.query_max_concurrency)),
        query_memory_limit: values.query_max_memory,
        query_cache: crate::api::query_cache::QueryCache::new(
            values.query_cache_max_bytes,
            Arc::clone(&db),
            &registry,
        ),
        config: Arc::clone(&config_cell),
        flags: flags_map(&flags),
        scrape: scrape.clone(),
        reload: flags.enable_lifecycle.then(|| reload_tx.clone()),
        quit: flags.enable_lifecycle.then(|| quit_tx.clone()),
        admin_enabled: flags.enable_admin_api,
        remote_write_enabled: flags.enable_remote_write_receiver,
        remote_metadata: Default::default(),
        remote_refs: Default::default(),
        remote_bodies: Default::default(),
        remote_write_limits: crate::remote::receive::LabelLimits {
            max_labels: flags.remote_write_label_limit,
            max_name_len: flags.remote_write_label_name_length_limit,
            max_value_len: flags.remote_write_label_value_length_limit,
        },
        ready: Arc::clone(&ready),
        registry: Arc::clone(&registry),
        start_time: SystemTime::now(),
        storage_retention: retention_string(&flags),
        notifier: Some(Arc::clone(&notifier)),
        rules: Some(Arc::clone(&rule_manager)),
    });

    let listener = crate::http_server::bind(addr).map_err(|e| ServerError::Listen {
        addr: flags.listen_address.clone(),
        msg: e.to_string(),
    })?;
    tracing::info!(address = %addr, "listening");
    let (stop_http_tx, stop_http_rx) = tokio::sync::oneshot::channel::<()>();
    let router = crate::web::mount(api::router(state), &mount);
    let limits = crate::http_server::Limits {
        read_timeout: values.web_read_timeout,
        max_connections: flags.web_max_connections,
    };
    let http = tokio::spawn(crate::http_server::serve(listener, router, limits, async {
        let _ = stop_http_rx.await;
    }));
    ready.store(true, Ordering::Release);
    tracing::info!("server is ready to receive web requests");

    let mut hup = signal(SignalKind::hangup()).map_err(ServerError::Http)?;
    let mut term = signal(SignalKind::terminate()).map_err(ServerError::Http)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServerError::Http)?;
    loop {
        let answer = tokio::select! {
            _ = term.recv() => { tracing::info!("received SIGTERM, exiting gracefully"); break; }
            _ = int.recv() => { tracing::info!("received SIGINT, exiting gracefully"); break; }
            _ = quit_rx.recv() => { tracing::info!("received termination request via /-/quit"); break; }
            _ = hup.recv() => None,
            r = reload_rx.recv() => r,
        };
        let mut rules = None;
        let loaded = load_config(&config_path, &addr, flags.config_file_given)
            .map_err(|e| e.to_string())
            .and_then(|new| {
                rules = Some(rule_manager.load(&new).map_err(|e| e.to_string())?);
                // Built before anything changes, so a failure leaves the
                // old configuration whole.
                let endpoints = queryable.endpoints_for(&new).map_err(|e| e.to_string())?;
                remote_write.check(&new).map_err(|e| e.to_string())?;
                notifier.check(&new).map_err(|e| e.to_string())?;
                scrape.apply_config(&new).map_err(|e| e.to_string())?;
                Ok((new, endpoints))
            });
        let loaded = match loaded {
            Ok((new, endpoints)) => remote_write
                .apply_config(&new)
                .await
                .map(|()| (new, endpoints))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let result = match loaded {
            Ok((new, endpoints)) => {
                if let Some(r) = rules.take() {
                    rule_manager.apply(r).await;
                }
                let new = Arc::new(new);
                log_warnings(&new);
                queryable.set_endpoints(endpoints);
                if let Err(e) = notifier.apply_config(&new) {
                    tracing::error!(error = %e, "applying alerting configuration");
                }
                discovery.update(&new);
                *config_cell.write() = new;
                reload_ok.set(1.0);
                reload_time.set(unix_now());
                tracing::info!(file = %config_path.display(), "completed loading of configuration file");
                Ok(())
            }
            Err(e) => {
                reload_ok.set(0.0);
                tracing::error!(error = %e, "error reloading config; keeping the previous one");
                Err(e)
            }
        };
        if let Some(tx) = answer {
            let _ = tx.send(result);
        }
    }

    ready.store(false, Ordering::Release);
    let _ = stop_http_tx.send(());
    drop(discovery);
    scrape.stop().await;
    // Rules append too: stopped before storage closes.
    rule_manager.stop().await;
    match http.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server stopped with an error"),
        Err(e) => tracing::warn!(error = %e, "HTTP server task failed"),
        Ok(Ok(())) => {}
    }
    tracing::info!("scraping stopped; sending queued alert notifications");
    notifier.stop().await;
    tracing::info!("flushing remote-write queues");
    remote_write.stop().await;
    tracing::info!("closing storage");
    // Other holders of the handle (the metrics collector, a query that
    // outlived the HTTP shutdown) only read; shut down through the shared one.
    tokio::task::spawn_blocking(move || db.shutdown())
        .await
        .expect("storage close task")
        .map_err(ServerError::Close)?;
    tracing::info!("see you next time!");
    Ok(())
}

/// Settings that load but are not acted on are logged, not silently
/// dropped.
fn log_warnings(cfg: &Config) {
    for w in &cfg.warnings {
        tracing::warn!("configuration: {w}");
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn retention_string(flags: &Flags) -> String {
    let time = flags.retention_time.as_deref();
    let size = (flags.retention_size != "0").then_some(flags.retention_size.as_str());
    match (time, size) {
        (Some(t), Some(s)) => format!("{t} or {s}"),
        (Some(t), None) => t.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => "15d".to_string(),
    }
}

/// [`Flags::as_map`] plus the ingestion-limit flags, kept out of its list so
/// their definitions stay one block in `flags.rs`.
fn flags_map(flags: &Flags) -> std::collections::BTreeMap<String, String> {
    let mut map = flags.as_map();
    let grace = match flags.future_sample_grace_ms {
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    };
    map.insert("storage.tsdb.future-sample-grace".into(), grace);
    let limits = [
        ("label-limit", flags.remote_write_label_limit),
        (
            "label-name-length-limit",
            flags.remote_write_label_name_length_limit,
        ),
        (
            "label-value-length-limit",
            flags.remote_write_label_value_length_limit,
        ),
    ];
    map.extend(
        limits.map(|(name, v)| (format!("web.remote-write-receiver.{name}"), v.to_string())),
    );
    map
}
