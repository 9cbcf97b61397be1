//! What the query benches share to set up: a database with only a head
//! (no compaction, no retention, a WAL that never fsyncs), so filling it
//! is quick and nothing moves under the measured queries, and the knobs
//! they read from the environment.

use std::path::Path;

use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Options};

/// Opens a head-only database in `dir`.
pub fn open_head_only(dir: &Path) -> Db {
    let opts = Options {
        compaction_interval: None,
        retention: None,
        wal: WalOptions {
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        },
        ..Options::default()
    };
    Db::open(dir, opts).unwrap()
}

/// The number in environment variable `name`, or `default` when unset.
#[allow(dead_code)] // not every bench has knobs
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v:?}")))
        .unwrap_or(default)
}
