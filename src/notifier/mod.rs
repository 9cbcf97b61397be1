//! Notifications to Alertmanager: alerts handed to the [`Notifier`] are
//! labeled (`global.external_labels`, `alerting.alert_relabel_configs`),
//! queued, and posted in batches to every Alertmanager that discovery finds
//! for the sets of `alerting.alertmanagers`, as Prometheus's notifier does.
//!
//! [`alert`] is what is sent and its JSON; [`queue`] bounds what waits;
//! [`set`] turns one `alertmanagers:` entry into URLs and posts to them;
//! [`send`] fans a batch out to all of them; [`manager`] ties these to
//! discovery, config reloads and shutdown.

mod alert;
mod manager;
mod metrics;
mod queue;
mod send;
mod set;

pub use alert::Alert;
pub use manager::{Notifier, NotifierOptions};

/// Why a configuration could not be applied to the notifier.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// `alerting.alertmanagers[index]` cannot be used (its HTTP client
    /// cannot be built, or a relabeling rule does not compile).
    #[error("alerting.alertmanagers[{index}]: {message}")]
    Set { index: usize, message: String },
    #[error("alerting.alert_relabel_configs: {0}")]
    Relabel(#[from] crate::relabel::CompileError),
}
