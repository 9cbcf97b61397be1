//! The per-queue progress file: how far into the WAL a queue has delivered
//! (`docs/formats/remote-write-progress.md`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use storage::wal::WalPosition;

const MAGIC: &str = "ferroprom remote-write progress v1";

/// Why the progress file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: malformed progress file: {detail}")]
    Malformed { path: PathBuf, detail: String },
}

/// The progress file of one queue.
#[derive(Debug, Clone)]
pub(crate) struct ProgressFile {
    path: PathBuf,
    url: String,
}

impl ProgressFile {
    /// The file under `dir` (the queue's own directory).
    pub(crate) fn new(dir: &Path, url: &str) -> Self {
        ProgressFile {
            path: dir.join("progress"),
            url: url.to_string(),
        }
    }

    /// The saved position; `Ok(None)` when there is no file yet.
    pub(crate) fn load(&self) -> Result<Option<WalPosition>, ProgressError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ProgressError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let bad = |detail: &str| ProgressError::Malformed {
            path: self.path.clone(),
            detail: detail.to_string(),
        };
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(bad("first line is not the version-1 header"));
        }
        let (mut segment, mut offset) = (None, None);
        for line in lines {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            match k {
                "segment" => segment = Some(v.parse::<u32>().map_err(|_| bad("bad segment"))?),
                "offset" => offset = Some(v.parse::<u64>().map_err(|_| bad("bad offset"))?),
                _ => {}
            }
        }
        match (segment, offset) {
            (Some(segment), Some(offset)) => Ok(Some(WalPosition { segment, offset })),
            _ => Err(bad("segment or offset missing")),
        }
    }

    /// Replaces the file atomically (temp file + rename); `durable` also
    /// fsyncs the file and the directory.
    pub(crate) fn save(&self, at: WalPosition, durable: bool) -> Result<(), ProgressError> {
        let io = |source| ProgressError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().expect("progress file has a directory");
        fs::create_dir_all(dir).map_err(io)?;
        let tmp = self.path.with_extension("tmp");
        let mut f = fs::File::create(&tmp).map_err(io)?;
        let text = format!(
            "{MAGIC}\nsegment {}\noffset {}\nurl {}\n",
            at.segment, at.offset, self.url
        );
        f.write_all(text.as_bytes()).map_err(io)?;
        if durable {
            f.sync_all().map_err(io)?;
        }
        drop(f);
        fs::rename(&tmp, &self.path).map_err(io)?;
        if durable {
            fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = ProgressFile::new(&d.path().join("q"), "http://x/w");
        assert!(p.load().unwrap().is_none());
        let at = WalPosition {
            segment: 7,
            offset: 1234,
        };
        p.save(at, false).unwrap();
        assert_eq!(p.load().unwrap(), Some(at));
        let at2 = WalPosition {
            segment: 8,
            offset: 8,
        };
        p.save(at2, true).unwrap();
        assert_eq!(p.load().unwrap(), Some(at2));
        let text = fs::read_to_string(d.path().join("q/progress")).unwrap();
        assert!(text.ends_with("url http://x/w\n"), "{text}");
        assert!(!d.path().join("q/progress.tmp").exists());

        for bad in [
            "",
            "ferroprom remote-write progress v2\nsegment 1\noffset 1\n",
            "ferroprom remote-write progress v1\nsegment x\noffset 1\n",
            "ferroprom remote-write progress v1\nsegment 1\n",
        ] {
            fs::write(d.path().join("q/progress"), bad).unwrap();
            let e = p.load().unwrap_err();
            assert!(matches!(e, ProgressError::Malformed { .. }), "{bad:?}: {e}");
            assert!(e.to_string().contains("progress"));
        }
    }
}
