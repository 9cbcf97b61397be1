//! Chunk segment files: an append-only writer and an mmap reader. Layout in
//! `docs/formats/chunk-files.md`.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use super::{Chunk, ChunkBytes, Encoding};
use crate::encoding::{be_u32, crc32c, u32_be, Decbuf, Encbuf};
use crate::error::{Error, Result};
use crate::vfs::{Fs, OpenMode, WriteFile};

/// `(segment sequence << 32) | byte offset of the record in that segment`.
pub type ChunkRef = u64;

/// Extra per-chunk fields written only in head-chunk files, so a head could
/// be rebuilt from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadChunkMeta {
    pub series_ref: u64,
    pub mint: i64,
    pub maxt: i64,
}

pub(crate) const MAGIC_BLOCK: u32 = 0x4652_4331; // "FRC1"
pub(crate) const MAGIC_HEAD: u32 = 0x4652_4831; // "FRH1"
pub(crate) const VERSION: u8 = 1;
/// Magic, version, 3 bytes padding.
pub(crate) const SEGMENT_HEADER_LEN: usize = 8;

pub(crate) fn magic(head: bool) -> u32 {
    if head {
        MAGIC_HEAD
    } else {
        MAGIC_BLOCK
    }
}

pub(crate) fn segment_header(head: bool) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[..4].copy_from_slice(&u32_be(magic(head)));
    h[4] = VERSION;
    h
}

/// Checks a segment's header; the error is the corruption detail.
pub(crate) fn check_segment_header(b: &[u8], head: bool) -> Result<(), String> {
    if b.len() < SEGMENT_HEADER_LEN {
        return Err(format!(
            "segment of {} bytes is shorter than its header",
            b.len()
        ));
    }
    let m = be_u32(b[..4].try_into().unwrap());
    if m != magic(head) {
        return Err(format!(
            "bad magic {m:#010x}, want {:#010x} ({} chunks)",
            magic(head),
            if head { "head" } else { "block" }
        ));
    }
    if b[4] != VERSION {
        return Err(format!("unsupported segment version {}", b[4]));
    }
    Ok(())
}

pub(crate) fn segment_name(seq: u32) -> String {
    format!("{seq:06}")
}

/// Sequence numbers and paths of the segment files in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u32, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() >= 6 && name.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(seq) = name.parse::<u32>() {
                out.push((seq, e.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) fn make_ref(seq: u32, offset: u32) -> ChunkRef {
    ((seq as u64) << 32) | offset as u64
}

pub(crate) fn split_ref(r: ChunkRef) -> (u32, u32) {
    ((r >> 32) as u32, r as u32)
}

/// Appends one record (see the format doc) to `out`.
pub(crate) fn encode_record(
    out: &mut Vec<u8>,
    meta: Option<HeadChunkMeta>,
    encoding: Encoding,
    data: &[u8],
) {
    let mut e = Encbuf {
        buf: std::mem::take(out),
    };
    let start = e.len();
    match meta {
        Some(m) => {
            e.put_u64(m.series_ref);
            e.put_u64(m.mint as u64);
            e.put_u64(m.maxt as u64);
            e.put_u8(encoding as u8);
            e.put_uvarint(data.len() as u64);
        }
        None => {
            e.put_uvarint(data.len() as u64);
            e.put_u8(encoding as u8);
        }
    }
    e.put_bytes(data);
    e.put_crc32c_of(start);
    *out = e.buf;
}

/// A decoded record: where its chunk bytes are in the segment.
pub(crate) struct Record {
    pub(crate) meta: Option<HeadChunkMeta>,
    pub(crate) encoding: Encoding,
    pub(crate) data: Range<usize>,
    /// One past the record's last byte.
    pub(crate) end: usize,
}

/// Decodes and checksums the record at `offset` of `seg`; the error is the
/// corruption detail.
pub(crate) fn decode_record(seg: &[u8], offset: usize, head: bool) -> Result<Record, String> {
    decode_record_checked(seg, offset, head, true)
}

/// [`decode_record`], checksumming only if `checksum` (for a record whose
/// checksum the caller already verified).
pub(crate) fn decode_record_checked(
    seg: &[u8],
    offset: usize,
    head: bool,
    checksum: bool,
) -> Result<Record, String> {
    let at = |what: &str| format!("chunk at offset {offset}: {what}");
    if offset < SEGMENT_HEADER_LEN || offset >= seg.len() {
        return Err(at(&format!(
            "offset outside the {}-byte segment",
            seg.len()
        )));
    }
    let b = &seg[offset..];
    let mut d = Decbuf::new(b);
    let (meta, enc, len) = if head {
        let r: Result<_, crate::encoding::DecodeError> = (|| {
            let series_ref = d.u64()?;
            let mint = d.u64()? as i64;
            let maxt = d.u64()? as i64;
            let enc = d.u8()?;
            let len = d.uvarint()?;
            Ok((
                Some(HeadChunkMeta {
                    series_ref,
                    mint,
                    maxt,
                }),
                enc,
                len,
            ))
        })();
        r
    } else {
        (|| {
            let len = d.uvarint()?;
            let enc = d.u8()?;
            Ok((None, enc, len))
        })()
    }
    .map_err(|e| at(&format!("truncated record header ({e})")))?;
    let hdr = b.len() - d.remaining();
    if len > (d.remaining() as u64).saturating_sub(4) || d.remaining() < 4 {
        return Err(at("record runs past the end of the segment"));
    }
    let data_end = hdr + len as usize;
    let want = be_u32(b[data_end..data_end + 4].try_into().unwrap());
    if checksum && crc32c(&b[..data_end]) != want {
        return Err(at("checksum mismatch"));
    }
    let encoding = Encoding::from_u8(enc).ok_or_else(|| at(&format!("unknown encoding {enc}")))?;
    Ok(Record {
        meta,
        encoding,
        data: offset + hdr..offset + data_end,
        end: offset + data_end + 4,
    })
}

/// Writes chunk records into numbered segment files.
pub struct ChunkFileWriter {
    fs: Fs,
    dir: PathBuf,
    head: bool,
    max_segment_bytes: u64,
    seq: u32,
    path: PathBuf,
    file: BufWriter<WriteFile>,
    size: u64,
    dir_dirty: bool,
    buf: Vec<u8>,
}

impl ChunkFileWriter {
    /// Creates `dir` if needed; starts a new segment after the highest
    /// existing one. `head` selects the head-chunk variant. Writes go
    /// through `fs`.
    pub fn create(fs: Fs, dir: &Path, head: bool, max_segment_bytes: u64) -> Result<Self> {
        fs.create_dir_all(dir)?;
        let seq = list_segments(dir)?.last().map_or(0, |s| s.0) + 1;
        let (path, file) = Self::open_segment(fs, dir, seq, head)?;
        Ok(ChunkFileWriter {
            fs,
            dir: dir.to_path_buf(),
            head,
            // Offsets are 32 bits.
            max_segment_bytes: max_segment_bytes.min(u32::MAX as u64),
            seq,
            path,
            file,
            size: SEGMENT_HEADER_LEN as u64,
            dir_dirty: true,
            buf: Vec::new(),
        })
    }

    fn open_segment(
        fs: Fs,
        dir: &Path,
        seq: u32,
        head: bool,
    ) -> Result<(PathBuf, BufWriter<WriteFile>)> {
        let path = dir.join(segment_name(seq));
        let f = fs.open(&path, OpenMode::CreateNew)?;
        let mut w = BufWriter::with_capacity(1 << 16, f);
        w.write_all(&segment_header(head))
            .map_err(|e| Error::io(&path, e))?;
        Ok((path, w))
    }

    /// Appends a chunk record; cuts a new segment when the current one would
    /// exceed `max_segment_bytes`. `meta` must be `Some` for head files,
    /// `None` for block files.
    pub fn write(&mut self, meta: Option<HeadChunkMeta>, chunk: &Chunk) -> Result<ChunkRef> {
        assert_eq!(
            meta.is_some(),
            self.head,
            "HeadChunkMeta must be given exactly for head chunk files"
        );
        self.buf.clear();
        encode_record(&mut self.buf, meta, chunk.encoding, chunk.data.as_slice());
        let len = self.buf.len() as u64;
        if self.size + len > self.max_segment_bytes && self.size > SEGMENT_HEADER_LEN as u64 {
            self.cut()?;
        }
        if self.size > u32::MAX as u64 {
            // Only reachable when one record is larger than 4 GiB.
            return Err(Error::io(
                &self.path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "chunk too large"),
            ));
        }
        let r = make_ref(self.seq, self.size as u32);
        self.file
            .write_all(&self.buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.size += len;
        Ok(r)
    }

    /// Finishes the current segment durably and starts the next.
    fn cut(&mut self) -> Result<()> {
        self.sync_file()?;
        let seq = self.seq + 1;
        let (path, file) = Self::open_segment(self.fs, &self.dir, seq, self.head)?;
        self.seq = seq;
        self.path = path;
        self.file = file;
        self.size = SEGMENT_HEADER_LEN as u64;
        self.dir_dirty = true;
        Ok(())
    }

    fn sync_file(&mut self) -> Result<()> {
        self.file.flush().map_err(|e| Error::io(&self.path, e))?;
        self.file
            .get_ref()
            .sync_data()
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Flushes buffered bytes and fsyncs the current segment (and the dir
    /// when new segments were created).
    pub fn sync(&mut self) -> Result<()> {
        self.sync_file()?;
        if self.dir_dirty {
            self.fs.sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// Finishes the writer (sync + close).
    pub fn finish(mut self) -> Result<()> {
        self.sync()
    }
}

struct Segment {
    seq: u32,
    path: PathBuf,
    map: Arc<Mmap>,
}

/// Read access to all segments of a chunk dir through memmap2; Send + Sync.
pub struct ChunkFileReader {
    dir: PathBuf,
    head: bool,
    segments: Vec<Segment>,
    size: u64,
}

impl ChunkFileReader {
    /// Maps every segment of `dir`, checking each one's magic and version.
    pub fn open(dir: &Path, head: bool) -> Result<Self> {
        let mut segments = Vec::new();
        let mut size = 0;
        for (seq, path) in list_segments(dir)? {
            let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
            let len = f.metadata().map_err(|e| Error::io(&path, e))?.len();
            if len < SEGMENT_HEADER_LEN as u64 {
                return Err(Error::corruption(
                    &path,
                    format!("segment of {len} bytes is shorter than its header"),
                ));
            }
            // SAFETY: segment files are immutable once written (writers only
            // append to new segments; the head file type has its own reader),
            // and are never truncated while mapped.
            let map = unsafe { Mmap::map(&f) }.map_err(|e| Error::io(&path, e))?;
            check_segment_header(&map, head).map_err(|d| Error::corruption(&path, d))?;
            size += len;
            segments.push(Segment {
                seq,
                path,
                map: Arc::new(map),
            });
        }
        Ok(ChunkFileReader {
            dir: dir.to_path_buf(),
            head,
            segments,
            size,
        })
    }

    /// Returns the chunk, verifying the record's CRC32C. The bytes point into
    /// the mmap.
    pub fn chunk(&self, r: ChunkRef) -> Result<Chunk> {
        let (seq, off) = split_ref(r);
        let seg = match self.segments.binary_search_by_key(&seq, |s| s.seq) {
            Ok(i) => &self.segments[i],
            Err(_) => {
                return Err(Error::corruption(
                    &self.dir,
                    format!("chunk ref {r:#x}: no segment {}", segment_name(seq)),
                ))
            }
        };
        let rec = decode_record(&seg.map, off as usize, self.head)
            .map_err(|d| Error::corruption(&seg.path, d))?;
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = seg.map.clone();
        Ok(Chunk::new(
            rec.encoding,
            ChunkBytes::from_shared(owner, rec.data),
        ))
    }

    /// Walks every segment's records in order and returns their references
    /// and (for head files) metadata. A segment's walk stops at its first
    /// record that does not decode (zero tail, truncation, corruption).
    pub fn scan(&self) -> Vec<(ChunkRef, Option<HeadChunkMeta>)> {
        let mut out = Vec::new();
        for seg in &self.segments {
            let mut off = SEGMENT_HEADER_LEN;
            while off < seg.map.len() {
                match decode_record(&seg.map, off, self.head) {
                    Ok(rec) => {
                        out.push((make_ref(seg.seq, off as u32), rec.meta));
                        off = rec.end;
                    }
                    Err(_) => break,
                }
            }
        }
        out
    }

    /// Total bytes of all segment files.
    pub fn size_bytes(&self) -> u64 {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::super::XorBuilder;
    use super::*;

    fn chunk(i: usize) -> Chunk {
        let mut b = XorBuilder::new();
        for j in 0..(1 + i % 120) {
            b.append((i * 1000 + j) as i64 * 15_000, (i * j) as f64);
        }
        Chunk::new(Encoding::Xor, ChunkBytes::from_vec(b.encode()))
    }

    fn samples(c: &Chunk) -> Vec<(i64, u64)> {
        c.iter().map(|(t, v)| (t, v.to_bits())).collect()
    }

    fn meta(i: usize) -> HeadChunkMeta {
        HeadChunkMeta {
            series_ref: i as u64 * 7,
            mint: -(i as i64),
            maxt: i as i64,
        }
    }

    fn write_many(dir: &Path, head: bool, n: usize) -> Vec<ChunkRef> {
        let mut w = ChunkFileWriter::create(Fs::os(), dir, head, 4096).unwrap();
        let refs: Vec<_> = (0..n)
            .map(|i| w.write(head.then(|| meta(i)), &chunk(i)).unwrap())
            .collect();
        w.finish().unwrap();
        refs
    }

    #[test]
    fn roundtrip_many_segments() {
        for head in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("chunks");
            let refs = write_many(&dir, head, 300);
            let segs = list_segments(&dir).unwrap();
            assert!(segs.len() > 3, "{} segments", segs.len());
            assert_eq!(segs[0].1.file_name().unwrap(), "000001");
            let r = ChunkFileReader::open(&dir, head).unwrap();
            for (i, &cr) in refs.iter().enumerate() {
                let c = r.chunk(cr).unwrap();
                assert_eq!(samples(&c), samples(&chunk(i)));
            }
            let scanned = r.scan();
            assert_eq!(scanned.len(), refs.len());
            for (i, (cr, m)) in scanned.iter().enumerate() {
                assert_eq!(*cr, refs[i]);
                assert_eq!(*m, head.then(|| meta(i)));
            }
            assert_eq!(r.size_bytes(), crate::fs::dir_size(&dir));
            // The other variant's magic is rejected.
            assert!(matches!(
                ChunkFileReader::open(&dir, !head),
                Err(Error::Corruption { .. })
            ));
            // A second writer continues after the highest segment.
            let last = segs.last().unwrap().0;
            let mut w = ChunkFileWriter::create(Fs::os(), &dir, head, 4096).unwrap();
            let cr = w.write(head.then(|| meta(0)), &chunk(0)).unwrap();
            w.finish().unwrap();
            assert_eq!(split_ref(cr), (last + 1, SEGMENT_HEADER_LEN as u32));
        }
    }

    #[test]
    fn flipped_byte_is_corruption_naming_segment() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let refs = write_many(dir, false, 50);
        let (seq, off) = split_ref(refs[10]);
        let path = dir.join(segment_name(seq));
        let mut b = fs::read(&path).unwrap();
        b[off as usize + 5] ^= 0x40;
        fs::write(&path, &b).unwrap();
        let r = ChunkFileReader::open(dir, false).unwrap();
        match r.chunk(refs[10]) {
            Err(e @ Error::Corruption { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&*path.to_string_lossy()), "{msg}");
                assert!(
                    msg.contains(&format!("chunk at offset {off}: checksum mismatch")),
                    "{msg}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Neighbours are unaffected.
        assert!(r.chunk(refs[9]).is_ok());
        assert!(r.chunk(refs[11]).is_ok());
    }

    #[test]
    fn bad_magic_names_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write_many(dir, false, 300);
        let path = dir.join("000002");
        let mut b = fs::read(&path).unwrap();
        b[0] ^= 0xff;
        fs::write(&path, &b).unwrap();
        match ChunkFileReader::open(dir, false) {
            Err(e @ Error::Corruption { .. }) => {
                assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
                assert!(e.to_string().contains("bad magic"), "{e}");
            }
            other => panic!("{:?}", other.err()),
        }
        // A file too short for the header, too.
        fs::write(&path, [0x46, 0x52]).unwrap();
        let e = ChunkFileReader::open(dir, false).err().unwrap();
        assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
    }

    #[test]
    fn truncated_segment_keeps_earlier_chunks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let refs = write_many(dir, false, 50);
        let (seq, cut) = split_ref(refs[3]);
        let in_seg: Vec<_> = refs.iter().filter(|r| split_ref(**r).0 == seq).collect();
        let path = dir.join(segment_name(seq));
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(cut as u64 + 3).unwrap();
        drop(f);
        let r = ChunkFileReader::open(dir, false).unwrap();
        for (i, &cr) in refs.iter().enumerate() {
            let res = r.chunk(cr);
            if split_ref(cr).0 == seq && split_ref(cr).1 >= cut {
                match res {
                    Err(e @ Error::Corruption { .. }) => {
                        assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}")
                    }
                    other => panic!("chunk {i}: {other:?}"),
                }
            } else {
                assert_eq!(samples(&res.unwrap()), samples(&chunk(i)));
            }
        }
        assert!(in_seg.len() > 3);
        // Scanning stops at the truncated record.
        assert_eq!(
            r.scan()
                .iter()
                .filter(|(cr, _)| split_ref(*cr).0 == seq)
                .count(),
            3
        );
        // Unknown segment.
        assert!(matches!(
            r.chunk(make_ref(999, 8)),
            Err(Error::Corruption { .. })
        ));
    }
}
