//! The scrape manager: turns discovered target groups into targets, scrapes
//! each on its own task and appends what it reads to storage.
//!
//! The pieces, in the order a sample travels through them:
//! - [`target`]: a job's config plus a discovered group become targets
//!   (labels, URL, identity hash, phase offset within the interval);
//! - [`client`]: one HTTP client per job fetches a target's payload;
//! - [`ingest`]: parses the payload, applies labels, relabeling and limits,
//!   appends to storage through a per-target [`cache`], writes staleness
//!   markers and the report series (`up`, ...);
//! - `scrape_loop`: the per-target task that ticks, fetches and ingests;
//! - [`manager`]: scrape pools per job, reloads, target sets from discovery,
//!   and the [`status::ScrapeStatus`] the HTTP API reads.

mod cache;
pub mod client;
pub mod error;
mod hash;
pub mod ingest;
pub mod manager;
mod metrics;
mod pool;
mod sample_labels;
mod scrape_loop;
pub mod status;
pub mod target;
mod target_health;

pub use client::ScrapeClient;
pub use error::ScrapeError;
pub use ingest::{IngestOptions, Ingester, ScrapeOutcome, ScrapeReport};
pub use manager::ScrapeManager;
pub use sample_labels::LabelLimits;
pub use target::{targets_from_group, Target, TargetOutcome};
