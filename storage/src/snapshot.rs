//! Snapshots: a directory of blocks that can be opened as a database of its
//! own. Blocks are immutable, so they are hard-linked (no data is copied);
//! the head is written out as one more block. See [`crate::Db::snapshot`].

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::block::{write_block, Block, TMP_CREATION_SUFFIX};
use crate::error::{Error, Result};
use crate::head::{Head, HeadQuerier};
use crate::querier::{Querier, SelectHints};
use crate::vfs::{Fs, OpenMode};

/// Links every file of `block` into `into/<ulid>`. The block appears under
/// its final name only once complete, like a freshly written block.
pub(crate) fn link_block(fs: Fs, block: &Block, into: &Path) -> Result<()> {
    let name = block.meta().ulid.to_string();
    let tmp = into.join(format!("{name}{TMP_CREATION_SUFFIX}"));
    fs.remove_dir_all(&tmp)?;
    link_tree(fs, block.dir(), &tmp)?;
    fs.sync_dir(&tmp)?;
    fs.publish_dir(&tmp, &into.join(name))
}

/// Recreates the directory tree `src` at `dst` with hard links to its
/// regular files. Leftover temporary files (`*.tmp`) are not part of the
/// block and are skipped.
fn link_tree(fs: Fs, src: &Path, dst: &Path) -> Result<()> {
    fs.create_dir_all(dst)?;
    for entry in fs::read_dir(src).map_err(|e| Error::io(src, e))? {
        let entry = entry.map_err(|e| Error::io(src, e))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| Error::io(&from, e))?;
        if kind.is_dir() {
            link_tree(fs, &from, &to)?;
            fs.sync_dir(&to)?;
        } else if kind.is_file() && from.extension().is_none_or(|x| x != "tmp") {
            link_or_copy(fs, &from, &to)?;
        }
    }
    Ok(())
}

/// A hard link, or a copy when the snapshot lives on another file system
/// (links cannot cross devices).
fn link_or_copy(fs: Fs, from: &Path, to: &Path) -> Result<()> {
    match fs.hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::io(from, e)),
        Err(_) => {
            let bytes = fs::read(from).map_err(|e| Error::io(from, e))?;
            let mut f = fs.open(to, OpenMode::Truncate)?;
            f.write_all(&bytes).map_err(|e| Error::io(to, e))?;
            f.sync_all().map_err(|e| Error::io(to, e))
        }
    }
}

/// Writes the head's current data (deletions applied) as a block in `into`.
/// Does nothing when the head holds no samples.
pub(crate) fn write_head_block(fs: Fs, head: &Head, into: &Path) -> Result<()> {
    let (mint, maxt) = (head.min_time(), head.max_time());
    if mint > maxt {
        return Ok(());
    }
    let series = HeadQuerier::new(head, mint, maxt)
        .select(&SelectHints::default(), &[])?
        .series;
    // Block ranges are half-open: the newest sample needs maxt + 1.
    write_block(fs, into, mint, maxt.saturating_add(1), &[], series)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tree_links_files_and_skips_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("chunks")).unwrap();
        fs::write(src.join("index"), b"idx").unwrap();
        fs::write(src.join("meta.tmp"), b"half-written").unwrap();
        fs::write(src.join("chunks/000001"), b"c1").unwrap();
        let dst = dir.path().join("dst");
        link_tree(Fs::os(), &src, &dst).unwrap();
        assert_eq!(fs::read(dst.join("index")).unwrap(), b"idx");
        assert_eq!(fs::read(dst.join("chunks/000001")).unwrap(), b"c1");
        assert!(!dst.join("meta.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let a = fs::metadata(src.join("index")).unwrap();
            let b = fs::metadata(dst.join("index")).unwrap();
            assert_eq!(a.ino(), b.ino(), "hard link, not a copy");
        }
        // The source is untouched when linked files are later replaced in it.
        fs::remove_file(src.join("index")).unwrap();
        assert_eq!(fs::read(dst.join("index")).unwrap(), b"idx");
    }

    #[test]
    fn missing_source_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            link_tree(Fs::os(), &dir.path().join("nope"), &dir.path().join("dst")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
