//! Checkpoint directories in a WAL directory: their names
//! (`checkpoint.NNNNNNNN`, and `.tmp` while being written), finding the
//! newest, and clearing what a crash mid-checkpoint left. Kept apart from
//! [`super::checkpoint`](mod@super::checkpoint), which writes checkpoints, because replay and the
//! writer need only this.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::vfs::Fs;

use super::segment::{list_numbered, parse_segment_name};

const PREFIX: &str = "checkpoint.";
const TMP_SUFFIX: &str = ".tmp";

/// The directory name of the checkpoint that includes segments `<= n`.
pub fn checkpoint_name(n: u32) -> String {
    format!("{PREFIX}{n:08}")
}

/// The directory name checkpoint `n` is written under before it is
/// published.
pub(crate) fn tmp_checkpoint_name(n: u32) -> String {
    format!("{}{TMP_SUFFIX}", checkpoint_name(n))
}

fn parse_checkpoint_name(name: &str) -> Option<u32> {
    parse_segment_name(name.strip_prefix(PREFIX)?)
}

/// Published checkpoints in `dir`, sorted by number.
pub fn list_checkpoints(dir: &Path) -> Result<Vec<(u32, PathBuf)>> {
    list_numbered(dir, parse_checkpoint_name, true)
}

/// The newest published checkpoint in `dir`.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<(u32, PathBuf)>> {
    Ok(list_checkpoints(dir)?.pop())
}

/// Deletes `checkpoint.*.tmp` directories left by a crash mid-checkpoint.
pub(crate) fn remove_tmp_checkpoints(fs: Fs, dir: &Path) -> Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(PREFIX) && name.ends_with(TMP_SUFFIX) {
            let path = ent.path();
            tracing::warn!(path = %path.display(), "removing incomplete WAL checkpoint");
            if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                fs.remove_dir_all(&path)?;
            } else {
                fs.remove_file(&path)?;
            }
        }
    }
    Ok(())
}
