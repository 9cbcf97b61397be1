//! Recording and alerting rules: the rule-file format and its checks
//! ([`rule_file`]), the template engine that expands alert labels and
//! annotations ([`template`]), the `promtool test rules` unit-test
//! format ([`unittest`]), and their evaluation.
//!
//! Evaluation has a synchronous, clock-free core — a [`Group`] evaluated at
//! an explicit timestamp against an [`EvalContext`] ([`group`], with
//! [`recording`] and [`alerting`] rules, their [`alert`]s, and `for`
//! restore in [`restore`]) — and the [`Manager`] that runs groups on their
//! schedules and reloads them ([`manager`], files read by [`loader`]).
//! Alerts leave through an [`AlertSink`] ([`notify`]); [`snapshot`] is the
//! read model for the API; [`metrics`] the self-metrics.

pub mod alert;
pub mod alerting;
pub mod context;
pub mod error;
pub mod group;
pub mod loader;
pub mod manager;
pub mod metrics;
pub mod notify;
pub mod recording;
mod restore;
pub mod rule;
pub mod rule_file;
pub mod snapshot;
pub mod template;
pub mod unittest;

pub use alert::{Alert, AlertState};
pub use context::{EvalContext, Settings};
pub use error::RulesError;
pub use group::{Group, GroupDefaults};
pub use manager::{LoadedRules, Manager, ManagerOptions};
pub use notify::{AlertSink, OutgoingAlert};
pub use rule::{Health, Rule};
pub use snapshot::{AlertSnapshot, AlertingSnapshot, GroupSnapshot, RuleSnapshot};

/// The upstream rule fixtures (`conformance/rules` of the shared data);
/// `None`, with a note printed, when absent so the tests that read them
/// skip.
#[cfg(test)]
pub(crate) fn conformance_dir() -> Option<std::path::PathBuf> {
    let dir = crate::shared_data::shared_path("conformance/rules");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} not found", dir.display());
        None
    }
}
