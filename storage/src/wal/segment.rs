//! Segment files: naming, listing, creation, and reading them through a
//! window of their bytes. The bytes themselves are the business of
//! [`super::frame`]; see `docs/formats/wal.md` for the layout.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::vfs::{Fs, OpenMode, WriteFile};

use super::frame::segment_header;

/// The file name of segment `n`: decimal, zero-padded to 8 digits.
pub fn segment_name(n: u32) -> String {
    format!("{n:08}")
}

/// The path of segment `n` in `dir`.
pub fn segment_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(segment_name(n))
}

/// Parses a segment file name; `None` for anything else.
pub fn parse_segment_name(name: &str) -> Option<u32> {
    if name.len() < 8 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// The segment files in `dir`, sorted by number. A missing dir has none.
pub fn list_segments(dir: &Path) -> Result<Vec<(u32, PathBuf)>> {
    list_numbered(dir, parse_segment_name, false)
}

/// Entries of `dir` whose names `parse` to a number and that are
/// directories (`dirs`) or files (`!dirs`), sorted by number. A missing dir
/// has none.
pub(crate) fn list_numbered(
    dir: &Path,
    parse: fn(&str) -> Option<u32>,
    dirs: bool,
) -> Result<Vec<(u32, PathBuf)>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let Some(n) = ent.file_name().to_str().and_then(parse) else {
            continue;
        };
        let kind_ok = ent
            .file_type()
            .map(|t| if dirs { t.is_dir() } else { t.is_file() })
            .unwrap_or(false);
        if kind_ok {
            out.push((n, ent.path()));
        }
    }
    out.sort_unstable_by_key(|(n, _)| *n);
    Ok(out)
}

/// Creates segment `n` in `dir` (which must not exist yet) through `fs`
/// and writes its header. With `sync`, the file and the directory entry
/// are fsynced.
pub fn create_segment(fs: Fs, dir: &Path, n: u32, sync: bool) -> Result<WriteFile> {
    let path = segment_path(dir, n);
    let mut f = fs.open(&path, OpenMode::CreateNew)?;
    f.write_all(&segment_header())
        .map_err(|e| Error::io(&path, e))?;
    if sync {
        f.sync_all().map_err(|e| Error::io(&path, e))?;
        fs.sync_dir(dir)?;
    }
    Ok(f)
}

/// Size in bytes of the file at `path`.
pub fn segment_size(path: &Path) -> Result<u64> {
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| Error::io(path, e))
}

/// Most bytes read from a segment file per [`SegmentWindow::fill`], so a
/// caller tailing a huge backlog gets control back regularly.
const READ_CHUNK: usize = 4 << 20;

/// A segment file read front to back through one reused buffer, so a
/// decoder can borrow whole frames from it without a copy per frame: bytes
/// `[base, base + buf.len())` of the file are in `buf`, of which
/// `buf[..used]` were consumed.
pub(crate) struct SegmentWindow {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    used: usize,
    base: u64,
}

impl SegmentWindow {
    /// Opens the segment file at `path`; nothing is read yet.
    pub(crate) fn open(path: &Path) -> std::io::Result<SegmentWindow> {
        Ok(SegmentWindow {
            path: path.to_path_buf(),
            file: File::open(path)?,
            buf: Vec::new(),
            used: 0,
            base: 0,
        })
    }

    /// The segment file being read.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file's current size.
    pub(crate) fn file_len(&self) -> Result<u64> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// File offset of the first byte not consumed.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.used as u64
    }

    /// File offset just past the bytes read so far.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// The bytes read but not consumed yet.
    pub(crate) fn unconsumed(&self) -> &[u8] {
        &self.buf[self.used..]
    }

    /// Marks the first `n` unconsumed bytes as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.buf.len() - self.used);
        self.used += n;
    }

    /// Reads up to [`READ_CHUNK`] more bytes, but not past file offset
    /// `limit`; returns how many (0 at the end of the file).
    pub(crate) fn fill(&mut self, limit: u64) -> Result<usize> {
        if self.used > 0 && self.used * 2 >= self.buf.len() {
            self.buf.drain(..self.used);
            self.base += self.used as u64;
            self.used = 0;
        }
        let want = limit.saturating_sub(self.end()).min(READ_CHUNK as u64) as usize;
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        let mut n = 0;
        while old + n < self.buf.len() {
            match self.file.read(&mut self.buf[old + n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(old + n);
                    return Err(Error::io(&self.path, e));
                }
            }
        }
        self.buf.truncate(old + n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::frame::SEGMENT_HEADER_LEN;

    #[test]
    fn names() {
        assert_eq!(segment_name(1), "00000001");
        assert_eq!(parse_segment_name("00000001"), Some(1));
        assert_eq!(parse_segment_name("123456789"), Some(123_456_789));
        assert_eq!(parse_segment_name("0001"), None);
        assert_eq!(parse_segment_name("checkpoint.00000001"), None);
        assert_eq!(parse_segment_name("0000000a"), None);
    }

    #[test]
    fn create_and_list() {
        let d = tempfile::tempdir().unwrap();
        create_segment(Fs::os(), d.path(), 2, true).unwrap();
        create_segment(Fs::os(), d.path(), 0, false).unwrap();
        fs::create_dir(d.path().join("checkpoint.00000001")).unwrap();
        assert!(create_segment(Fs::os(), d.path(), 2, false).is_err());
        let l = list_segments(d.path()).unwrap();
        assert_eq!(l.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(segment_size(&l[0].1).unwrap(), SEGMENT_HEADER_LEN);
    }
}
