//! Where the tests find the read-only peer data (upstream conformance
//! files, the real exporter hour): `../shared` beside the workspace, as CI
//! lays it out, or `$FERROPROM_SHARED_DIR` for checkouts elsewhere (git
//! work trees). The files are read there, never copied into the repo.

use std::path::{Path, PathBuf};

/// `rel` (e.g. `conformance/rules`) under the shared data directory.
pub(crate) fn shared_path(rel: &str) -> PathBuf {
    std::env::var_os("FERROPROM_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
        .join(rel)
}
