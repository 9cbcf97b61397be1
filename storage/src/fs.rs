//! File-system helpers for crash safety: fsync of files and directories, and
//! publishing a directory by rename so a half-written one is never visible.
//! They write through the [`Fs`] seam; the free functions are the same on
//! the real file system, for code outside the engine's options (tools,
//! the head-chunks file).

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::vfs::{Fs, OpenMode};

impl Fs {
    /// Writes `data` to `path` atomically: temp file, fsync, rename, fsync dir.
    pub fn write_atomic(self, path: &Path, data: &[u8]) -> Result<()> {
        let tmp = path.with_extension("tmp");
        {
            let mut f = self.open(&tmp, OpenMode::Truncate)?;
            f.write_all(data).map_err(|e| Error::io(&tmp, e))?;
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        }
        self.rename(&tmp, path)?;
        if let Some(parent) = path.parent() {
            self.sync_dir(parent)?;
        }
        Ok(())
    }

    /// Moves a fully written and synced `tmp` directory to `dst`, replacing
    /// nothing: the rename is the commit point.
    pub fn publish_dir(self, tmp: &Path, dst: &Path) -> Result<()> {
        self.rename(tmp, dst)?;
        if let Some(parent) = dst.parent() {
            self.sync_dir(parent)?;
        }
        Ok(())
    }

    /// Creates `dir` and missing parents durably: each new entry is
    /// fsynced in its parent, so a power loss cannot take a directory away
    /// with the files fsynced inside it. The parent of `dir` is synced even
    /// when `dir` exists, in case an earlier call failed between creating
    /// and syncing.
    pub fn create_dir_durable(self, dir: &Path) -> Result<()> {
        let mut parents = Vec::new();
        let mut d = dir;
        while let Some(p) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            // `p`'s entry for `d` is the one to make durable.
            parents.push(p);
            if p.exists() {
                break;
            }
            d = p;
        }
        self.create_dir_all(dir)?;
        for p in parents.iter().rev() {
            self.sync_dir(p)?;
        }
        Ok(())
    }
}

/// fsyncs a directory so that entries created or renamed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    Fs::os().sync_dir(dir)
}

/// [`Fs::write_atomic`] on the real file system.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    Fs::os().write_atomic(path, data)
}

/// [`Fs::publish_dir`] on the real file system.
pub fn publish_dir(tmp: &Path, dst: &Path) -> Result<()> {
    Fs::os().publish_dir(tmp, dst)
}

/// Removes a directory tree, treating "already gone" as success.
pub fn remove_dir_all(dir: &Path) -> Result<()> {
    Fs::os().remove_dir_all(dir)
}

/// Total size in bytes of the regular files under `dir` (recursively).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
