//! The ferroprom server as a library: the binary in `main.rs` wires these
//! together, and benches and end-to-end tests reach the pieces directly.

pub mod alloc;
pub mod api;
pub mod config;
pub mod discovery;
pub mod exposition;
pub mod flags;
pub(crate) mod http_client;
pub mod http_server;
pub mod import;
pub mod metrics;
pub mod notifier;
pub mod relabel;
pub mod remote;
pub mod rules;
pub mod scrape;
pub mod server;
#[cfg(test)]
mod shared_data;
pub mod text_format;
pub mod tools;
pub mod web;
