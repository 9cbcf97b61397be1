//! Segment files: naming, creation, header, and record framing.
//!
//! See `docs/formats/wal.md` for the byte layout.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::sync_dir;

use super::record::Record;

/// Segment header magic, "FPWL".
pub const SEGMENT_MAGIC: u32 = 0x4650_574C;
/// The only segment format version this code reads and writes.
pub const SEGMENT_VERSION: u8 = 1;
/// Bytes in the segment header: magic u32, version u8, 3 reserved bytes.
pub const SEGMENT_HEADER_LEN: u64 = 8;
/// Bytes in a frame header: type u8, flags u8, length u32, crc32c u32.
pub const FRAME_HEADER_LEN: usize = 10;
/// Frame flag: payload is Snappy (raw block format) compressed.
pub const FLAG_SNAPPY: u8 = 0x01;

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

/// The segment header bytes.
pub fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    let m = SEGMENT_MAGIC.to_be_bytes();
    [m[0], m[1], m[2], m[3], SEGMENT_VERSION, 0, 0, 0]
}

/// Creates segment `n` in `dir` (which must not exist yet) and writes its
/// header. With `sync`, the file and the directory entry are fsynced.
pub fn create_segment(dir: &Path, n: u32, sync: bool) -> Result<File> {
    let path = segment_path(dir, n);
    let mut f = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    f.write_all(&segment_header())
        .map_err(|e| Error::io(&path, e))?;
    if sync {
        f.sync_all().map_err(|e| Error::io(&path, e))?;
        sync_dir(dir)?;
    }
    Ok(f)
}

/// Size in bytes of the file at `path`.
pub fn segment_size(path: &Path) -> Result<u64> {
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| Error::io(path, e))
}

/// Encodes records into frames, reusing its scratch buffers across calls.
pub struct FrameEncoder {
    body: Vec<u8>,
    comp: Vec<u8>,
    snappy: snap::raw::Encoder,
}

impl std::fmt::Debug for FrameEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEncoder").finish_non_exhaustive()
    }
}

impl Default for FrameEncoder {
    fn default() -> Self {
        FrameEncoder {
            body: Vec::new(),
            comp: Vec::new(),
            snappy: snap::raw::Encoder::new(),
        }
    }
}

impl FrameEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `rec` as one compressed frame to `out`.
    pub fn append(&mut self, rec: &Record, out: &mut Vec<u8>) -> std::io::Result<()> {
        self.body.clear();
        rec.encode(&mut self.body);
        let need = snap::raw::max_compress_len(self.body.len());
        if self.comp.len() < need {
            self.comp.resize(need, 0);
        }
        let n = self
            .snappy
            .compress(&self.body, &mut self.comp)
            .map_err(std::io::Error::other)?;
        let len = u32::try_from(n).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "WAL record larger than 4 GiB",
            )
        })?;
        let start = out.len();
        out.push(rec.type_byte());
        out.push(FLAG_SNAPPY);
        out.extend_from_slice(&len.to_be_bytes());
        let crc = frame_crc(&out[start..start + 6], &self.comp[..n]);
        out.extend_from_slice(&crc.to_be_bytes());
        out.extend_from_slice(&self.comp[..n]);
        // Do not keep a huge scratch buffer around after one giant batch.
        if self.comp.capacity() > 64 << 20 {
            self.comp = Vec::new();
            self.body = Vec::new();
        }
        Ok(())
    }
}

/// The CRC a frame header + payload must carry.
pub(crate) fn frame_crc(header6: &[u8], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(header6), payload)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        create_segment(d.path(), 2, true).unwrap();
        create_segment(d.path(), 0, false).unwrap();
        fs::create_dir(d.path().join("checkpoint.00000001")).unwrap();
        assert!(create_segment(d.path(), 2, false).is_err());
        let l = list_segments(d.path()).unwrap();
        assert_eq!(l.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(segment_size(&l[0].1).unwrap(), SEGMENT_HEADER_LEN);
    }
}
