//! The server's HTTP state over a real database, for tests that drive the
//! router in-process: nothing scraped, no rules, notifier, lifecycle or
//! admin endpoints, four query slots. A test changes what it needs with
//! `ApiState { field, ..api_state(db, config) }`.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::SystemTime;

use ferroprom::api::ApiState;
use ferroprom::config::Config;
use ferroprom::metrics::Registry;
use ferroprom::scrape::status::{ActiveTarget, DroppedTarget, MetricMetadata, ScrapeStatus};
use parking_lot::RwLock;
use storage::{Db, Labels};
use tokio::sync::Semaphore;

/// Scraping that has no targets.
pub struct NoScrape;

impl ScrapeStatus for NoScrape {
    fn active_targets(&self) -> Vec<ActiveTarget> {
        Vec::new()
    }
    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        Vec::new()
    }
    fn metadata(&self) -> Vec<(Labels, Vec<MetricMetadata>)> {
        Vec::new()
    }
}

/// The state of a server over `db` with `config` and the defaults above.
pub fn api_state(db: Arc<Db>, config: Config) -> ApiState {
    ApiState {
        queryable: Arc::new(ferroprom::remote::FanoutStorage::new(Arc::clone(&db))),
        db,
        engine: promql::Engine::new(promql::EngineOptions::default()),
        query_slots: Arc::new(Semaphore::new(4)),
        query_memory_limit: None,
        query_cache: None,
        config: Arc::new(RwLock::new(Arc::new(config))),
        flags: BTreeMap::new(),
        scrape: Arc::new(NoScrape),
        reload: None,
        quit: None,
        admin_enabled: false,
        remote_write_enabled: false,
        remote_metadata: Default::default(),
        remote_refs: Default::default(),
        remote_bodies: Default::default(),
        remote_write_limits: Default::default(),
        ready: Arc::new(AtomicBool::new(true)),
        registry: Arc::new(Registry::new()),
        start_time: SystemTime::now(),
        storage_retention: "15d".into(),
        notifier: None,
        rules: None,
    }
}
