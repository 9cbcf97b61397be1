//! The server's integration tests, one module per capability. Most start
//! the real `ferroprom` binary on loopback ports in a temp dir (with test
//! exporters, and the real peers where a module says so) and talk to it as
//! a user's tools would; a few drive the HTTP router in-process. All in one
//! test binary, so they are built and linked once and run side by side.

#[path = "../common/mod.rs"]
mod common;

mod alerting_e2e;
mod alerting_restore;
mod alertmanager;
mod api_cardinality;
mod api_query;
mod api_status;
mod consul_sd;
mod differential;
mod disk_full;
mod dns_sd;
mod e2e_api;
mod e2e_grafana;
mod e2e_scrape;
mod federate;
mod flags_config;
mod heap_release;
mod http_limits;
mod import;
mod interop_prometheus;
mod kubernetes_manifests;
mod kubernetes_sd;
mod query_cache;
mod query_limits;
mod remote;
mod remote_read_client;
mod remote_send;
mod restart;
mod rules;
mod rules_api;
mod rules_bad_input;
mod rules_differential;
mod scrape;
mod scrape_tls;
mod test_rules_tool;
mod ui_pages;
mod ui_query;
