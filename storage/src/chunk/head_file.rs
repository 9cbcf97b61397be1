//! The head's chunk file: full chunks are appended here and read back at once
//! through a shared writable memory map. Layout: the head variant in
//! `docs/formats/chunk-files.md`.
//!
//! **Not durable**: nothing here is ever fsynced. The write-ahead log is the
//! durability source. On startup [`HeadChunkFile::open`] hands back every
//! record that still checks out, so the head can take those chunks instead
//! of re-appending their samples from the WAL; whatever is torn, damaged or
//! missing is simply not handed back, and the head replays those samples
//! from the WAL as before.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use memmap2::{Mmap, MmapRaw};
use parking_lot::Mutex;

use super::file::{
    check_segment_header, decode_record, decode_record_checked, encode_record, list_segments,
    make_ref, segment_header, segment_name, split_ref, SEGMENT_HEADER_LEN,
};
use super::{Chunk, ChunkBytes, ChunkRef, Encoding, HeadChunkMeta};
use crate::error::{Error, Result};

/// Default size every head segment is preallocated to.
pub const HEAD_SEGMENT_BYTES: u64 = 128 << 20;

/// One preallocated, mapped segment.
///
/// Memory-safety argument for the `unsafe` blocks below:
/// * `map` covers the whole preallocated file and is created once; it is
///   never remapped or resized, so pointers into it stay valid for as long as
///   this `HeadSegment` lives (readers keep it alive through an `Arc`, even
///   after the file is unlinked by truncation — the mapping outlives the
///   directory entry).
/// * Bytes `[0, written)` are *published*: they are written exactly once,
///   under the file's mutex, before `written` is raised past them with a
///   `Release` store. They are never written again. Readers `Acquire`-load
///   `written` and only ever form shared slices within `[0, written)`.
/// * The writer only writes through raw pointers into `[written, len)`, which
///   no slice covers, so shared slices never alias a mutation.
/// * Segments found at open are mapped over their valid prefix only, with
///   `written` set to their length: nothing is ever written to them.
/// * Nothing else in this process maps or writes these files (they live in
///   the head's private directory).
struct HeadSegment {
    path: PathBuf,
    map: MmapRaw,
    written: AtomicUsize,
    /// Records whose checksum passed, one bit per [`VERIFY_SLOT`] bytes of
    /// the segment (created at the first read): each record is checksummed
    /// once, not at every query. A set bit stands for the record *starting*
    /// in its slot: records are longer than a slot, so no two start in one,
    /// and chunk refs come from `write` in this process, so a ref's offset
    /// is always a record's start.
    verified: OnceLock<Box<[AtomicU64]>>,
}

/// A chunk record found by [`HeadChunkFile::open`]: its reference and the
/// metadata stored with it (series ref, time range).
pub type LoadedChunk = (ChunkRef, HeadChunkMeta);

/// Bytes of a head segment per bit of [`HeadSegment::verified`]; less than
/// the shortest record (its header and checksum alone are 30 bytes).
const VERIFY_SLOT: usize = 16;

impl HeadSegment {
    /// The bit of [`HeadSegment::verified`] for the record at `offset`:
    /// word and mask.
    fn verified_bit(&self, offset: usize) -> (&AtomicU64, u64) {
        let words = self.verified.get_or_init(|| {
            let bits = self.map.len().div_ceil(VERIFY_SLOT);
            (0..bits.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
        });
        let slot = offset / VERIFY_SLOT;
        (&words[slot / 64], 1 << (slot % 64))
    }

    /// The published prefix of the segment.
    fn published(&self) -> &[u8] {
        let n = self.written.load(Ordering::Acquire);
        // SAFETY: see the type-level comment: `[0, n)` is immutable and
        // within the mapping.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr(), n) }
    }
}

/// The owner of chunk bytes read from a segment: the records handed out
/// lie in the part published when they were read, which only grows.
impl AsRef<[u8]> for HeadSegment {
    fn as_ref(&self) -> &[u8] {
        self.published()
    }
}

struct Inner {
    segments: BTreeMap<u32, Arc<HeadSegment>>,
    /// Sequence of the segment being appended to; 0 before the first write.
    cur: u32,
    buf: Vec<u8>,
}

/// Appendable head chunk file: `write` and `chunk` take `&self` and may be
/// called from many threads; a written chunk is readable immediately.
pub struct HeadChunkFile {
    dir: PathBuf,
    segment_bytes: u64,
    inner: Mutex<Inner>,
}

impl HeadChunkFile {
    /// Clears `dir` (the head is rebuilt from the WAL) and starts empty, with
    /// 128 MiB segments.
    pub fn create(dir: &Path) -> Result<Self> {
        Self::create_with_segment_size(dir, HEAD_SEGMENT_BYTES)
    }

    /// Like [`HeadChunkFile::create`] with a chosen segment size (at most 4 GiB).
    pub fn create_with_segment_size(dir: &Path, segment_bytes: u64) -> Result<Self> {
        crate::fs::remove_dir_all(dir)?;
        Ok(Self::open_with_segment_size(dir, segment_bytes)?.0)
    }

    /// Opens `dir` (creating it), keeping the chunks a previous run wrote:
    /// returns them in file order, which is write order, so each series'
    /// chunks come oldest first. New chunks go to a new segment after the
    /// highest existing one. 128 MiB segments.
    ///
    /// Each segment is read up to its first record that does not check out
    /// (the zero tail of a preallocated segment, a torn write, damage) and
    /// truncated there; a segment with a bad header is deleted. None of this
    /// is an error: every chunk here is also in the WAL.
    pub fn open(dir: &Path) -> Result<(Self, Vec<LoadedChunk>)> {
        Self::open_with_segment_size(dir, HEAD_SEGMENT_BYTES)
    }

    /// Like [`HeadChunkFile::open`] with a chosen segment size (at most 4 GiB).
    pub fn open_with_segment_size(
        dir: &Path,
        segment_bytes: u64,
    ) -> Result<(Self, Vec<LoadedChunk>)> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut segments = BTreeMap::new();
        let mut loaded = Vec::new();
        for (seq, path) in list_segments(dir)? {
            if let Some(seg) = load_segment(&path, seq, &mut loaded)? {
                segments.insert(seq, Arc::new(seg));
            }
        }
        // Chunks the head had already truncated away are in blocks, or
        // past retention when those blocks are gone: never take them back.
        let floor = read_floor(dir);
        loaded.retain(|(_, meta)| meta.maxt >= floor);
        let cur = segments.keys().next_back().copied().unwrap_or(0);
        let f = HeadChunkFile {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.clamp(SEGMENT_HEADER_LEN as u64 + 64, u32::MAX as u64),
            inner: Mutex::new(Inner {
                segments,
                cur,
                buf: Vec::new(),
            }),
        };
        Ok((f, loaded))
    }

    fn new_segment(&self, seq: u32, min_len: u64) -> Result<Arc<HeadSegment>> {
        let path = self.dir.join(segment_name(seq));
        let len = self.segment_bytes.max(min_len);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        if let Err(e) = reserve(&f, len) {
            let _ = fs::remove_file(&path);
            return Err(Error::io(&path, e));
        }
        let map = MmapRaw::map_raw(&f).map_err(|e| Error::io(&path, e))?;
        let hdr = segment_header(true);
        // SAFETY: fresh mapping of `len >= SEGMENT_HEADER_LEN` bytes, nothing
        // published yet, no other references exist.
        unsafe { std::ptr::copy_nonoverlapping(hdr.as_ptr(), map.as_mut_ptr(), hdr.len()) };
        Ok(Arc::new(HeadSegment {
            path,
            map,
            written: AtomicUsize::new(SEGMENT_HEADER_LEN),
            verified: OnceLock::new(),
        }))
    }

    /// Records that the head no longer holds data before `t` (it was
    /// truncated there): a later [`HeadChunkFile::open`] ignores chunks
    /// ending before `t`, even when no block remains to say so (retention
    /// may have deleted them all). Written atomically and fsynced; the
    /// layout is in `docs/formats/chunk-files.md`.
    pub fn set_floor(&self, t: i64) -> Result<()> {
        let mut b = crate::encoding::Encbuf::new();
        b.put_u64(t as u64);
        b.put_crc32c_of(0);
        crate::fs::write_atomic(&self.dir.join(FLOOR_FILE), &b.buf)
    }

    /// Appends a chunk record (not fsynced) and returns its reference.
    /// Segments found at open are full (their map ends at their last
    /// record), so the first write after open starts a new segment.
    pub fn write(
        &self,
        meta: HeadChunkMeta,
        chunk_data: &[u8],
        encoding: Encoding,
    ) -> Result<ChunkRef> {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        inner.buf.clear();
        encode_record(&mut inner.buf, Some(meta), encoding, chunk_data);
        let len = inner.buf.len();
        let need_new = match inner.segments.get(&inner.cur) {
            None => true,
            Some(s) => s.written.load(Ordering::Relaxed) + len > s.map.len(),
        };
        if need_new {
            let seq = inner.cur + 1;
            let min_len = (SEGMENT_HEADER_LEN + len) as u64;
            if min_len > u32::MAX as u64 {
                return Err(Error::io(
                    &self.dir,
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "chunk too large"),
                ));
            }
            let seg = self.new_segment(seq, min_len)?;
            inner.segments.insert(seq, seg);
            inner.cur = seq;
        }
        let seg = &inner.segments[&inner.cur];
        let off = seg.written.load(Ordering::Relaxed);
        debug_assert!(off + len <= seg.map.len());
        // SAFETY: `[off, off + len)` is inside the mapping and unpublished; we
        // hold the mutex, so no other writer touches it, and no reader forms a
        // slice over it until the `Release` store below.
        unsafe {
            std::ptr::copy_nonoverlapping(inner.buf.as_ptr(), seg.map.as_mut_ptr().add(off), len)
        };
        seg.written.store(off + len, Ordering::Release);
        Ok(make_ref(inner.cur, off as u32))
    }

    /// Reads a chunk back, verifying its CRC32C at its first read. The
    /// bytes point into the mapping and stay valid even if the segment is
    /// truncated later.
    pub fn chunk(&self, r: ChunkRef) -> Result<Chunk> {
        let (seq, off) = split_ref(r);
        let seg = self.inner.lock().segments.get(&seq).cloned();
        let Some(seg) = seg else {
            return Err(Error::corruption(
                &self.dir,
                format!("chunk ref {r:#x}: no segment {}", segment_name(seq)),
            ));
        };
        let published = seg.published();
        let off = off as usize;
        // An offset outside the written part is `decode_record`'s to report.
        let memo = (off < published.len()).then(|| seg.verified_bit(off));
        let verified = memo.is_some_and(|(word, bit)| word.load(Ordering::Relaxed) & bit != 0);
        let rec = decode_record_checked(published, off, true, !verified)
            .map_err(|d| Error::corruption(&seg.path, d))?;
        if let (Some((word, bit)), false) = (memo, verified) {
            word.fetch_or(bit, Ordering::Relaxed);
        }
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = seg;
        Ok(Chunk::new(
            rec.encoding,
            ChunkBytes::from_shared(owner, rec.data),
        ))
    }

    /// The segment sequence number a reference points into.
    pub fn ref_segment(r: ChunkRef) -> u32 {
        split_ref(r).0
    }

    /// Sequence of the segment currently appended to (0 before any write).
    pub fn current_segment(&self) -> u32 {
        self.inner.lock().cur
    }

    /// Deletes every segment with sequence `< seq`, except the one being
    /// appended to. The caller passes the lowest segment still referenced by
    /// the head (e.g. `ref_segment` of its oldest chunk ref). Chunks already
    /// handed out stay readable; later reads of deleted refs fail.
    pub fn truncate_before(&self, seq: u32) -> Result<()> {
        let removed: Vec<Arc<HeadSegment>> = {
            let mut g = self.inner.lock();
            let cur = g.cur;
            let keys: Vec<u32> = g
                .segments
                .range(..seq)
                .map(|(k, _)| *k)
                .filter(|k| *k != cur)
                .collect();
            keys.iter().filter_map(|k| g.segments.remove(k)).collect()
        };
        for s in removed {
            match fs::remove_file(&s.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(&s.path, e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Bytes of the segment files (their preallocated lengths).
    pub fn size_bytes(&self) -> u64 {
        self.inner
            .lock()
            .segments
            .values()
            .map(|s| s.map.len() as u64)
            .sum()
    }
}

/// Reads the segment at `path`: its valid records are appended to `loaded`
/// (and remembered as checksummed), the file is truncated after the last of
/// them and mapped. A file whose header is unreadable is deleted (`None`).
fn load_segment(
    path: &Path,
    seq: u32,
    loaded: &mut Vec<LoadedChunk>,
) -> Result<Option<HeadSegment>> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut found = Vec::new();
    let mut end = 0;
    if (SEGMENT_HEADER_LEN as u64..=u32::MAX as u64).contains(&len) {
        // SAFETY: the file is private to the head and not yet shared with
        // anything in this process; this map is dropped before the file is
        // truncated below.
        let map = unsafe { Mmap::map(&f) }.map_err(|e| Error::io(path, e))?;
        if check_segment_header(&map, true).is_ok() {
            end = SEGMENT_HEADER_LEN;
            while end < map.len() {
                match decode_record(&map, end, true) {
                    Ok(rec) => {
                        if let Some(meta) = rec.meta {
                            found.push((make_ref(seq, end as u32), meta));
                        }
                        end = rec.end;
                    }
                    Err(_) => break,
                }
            }
        }
    }
    if end == 0 {
        tracing::warn!(file = %path.display(), "head chunk segment unreadable; deleted (its samples are replayed from the WAL)");
        drop(f);
        fs::remove_file(path).map_err(|e| Error::io(path, e))?;
        return Ok(None);
    }
    if (end as u64) < len {
        f.set_len(end as u64).map_err(|e| Error::io(path, e))?;
    }
    let map = MmapRaw::map_raw(&f).map_err(|e| Error::io(path, e))?;
    let seg = HeadSegment {
        path: path.to_path_buf(),
        map,
        written: AtomicUsize::new(end),
        verified: OnceLock::new(),
    };
    for (r, _) in &found {
        let (word, bit) = seg.verified_bit(split_ref(*r).1 as usize);
        word.fetch_or(bit, Ordering::Relaxed);
    }
    loaded.extend(found);
    Ok(Some(seg))
}

/// The file holding the head's truncation time (see [`HeadChunkFile::set_floor`]).
const FLOOR_FILE: &str = "floor";

/// The recorded floor, or `i64::MIN` when there is none or it does not
/// check out (then only the blocks bound what is loaded, as before).
fn read_floor(dir: &Path) -> i64 {
    let path = dir.join(FLOOR_FILE);
    let Ok(bytes) = fs::read(&path) else {
        return i64::MIN;
    };
    let mut d = crate::encoding::Decbuf::new(&bytes);
    match (d.u64(), d.u32(), d.is_empty()) {
        (Ok(t), Ok(crc), true) if crate::encoding::crc32c(&bytes[..8]) == crc => t as i64,
        _ => {
            tracing::warn!(path = %path.display(), "head chunk floor file damaged; ignored");
            i64::MIN
        }
    }
}

/// Gives `f` `len` bytes with disk blocks allocated up front. Writes go
/// through a shared mapping, and a page the file system cannot back when it
/// is first written kills the process with SIGBUS: on a full disk a sparse
/// file would do exactly that. Reserving fails cleanly instead (ENOSPC),
/// and the head keeps the chunk in memory.
fn reserve(f: &fs::File, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let len = libc::off_t::try_from(len)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: a valid open descriptor; posix_fallocate only allocates
        // blocks (and extends the size) of that file. It returns the error
        // number rather than setting errno.
        match unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, len) } {
            0 => Ok(()),
            err => Err(std::io::Error::from_raw_os_error(err)),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        f.set_len(len)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ChunkFileReader, XorBuilder};
    use super::*;

    fn data(i: u64) -> Vec<u8> {
        let mut b = XorBuilder::new();
        for j in 0..(1 + i % 120) as i64 {
            b.append(
                i as i64 * 1_000_000 + j * 15_000,
                (i as f64) * 0.5 + j as f64,
            );
        }
        b.encode()
    }

    fn meta(i: u64) -> HeadChunkMeta {
        HeadChunkMeta {
            series_ref: i,
            mint: i as i64 * 1_000_000,
            maxt: i as i64 * 1_000_000 + (i % 120) as i64 * 15_000,
        }
    }

    fn check(f: &HeadChunkFile, r: ChunkRef, i: u64) {
        let c = f.chunk(r).unwrap();
        let want = Chunk::new(Encoding::Xor, ChunkBytes::from_vec(data(i)));
        let a: Vec<_> = c.iter().map(|(t, v)| (t, v.to_bits())).collect();
        let b: Vec<_> = want.iter().map(|(t, v)| (t, v.to_bits())).collect();
        assert_eq!(a, b);
    }

    /// Chunks ending before the recorded floor are not loaded again; a
    /// damaged floor file is ignored.
    #[test]
    fn the_floor_survives_reopen_and_hides_older_chunks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chunks_head");
        {
            let (f, _) = HeadChunkFile::open_with_segment_size(&dir, 1 << 20).unwrap();
            for i in 0..10 {
                f.write(meta(i), &data(i), Encoding::Xor).unwrap();
            }
            f.set_floor(meta(6).maxt).unwrap();
        }
        let (_, loaded) = HeadChunkFile::open_with_segment_size(&dir, 1 << 20).unwrap();
        let kept: Vec<i64> = loaded.iter().map(|(_, m)| m.maxt).collect();
        assert_eq!(kept, (6..10).map(|i| meta(i).maxt).collect::<Vec<_>>());
        let mut bytes = fs::read(dir.join(FLOOR_FILE)).unwrap();
        bytes[0] ^= 1;
        fs::write(dir.join(FLOOR_FILE), bytes).unwrap();
        let (_, loaded) = HeadChunkFile::open_with_segment_size(&dir, 1 << 20).unwrap();
        assert_eq!(loaded.len(), 10);
    }

    /// A new segment's blocks are allocated when it is created, so writing
    /// through the mapping can never meet a full disk (SIGBUS).
    #[test]
    #[cfg(target_os = "linux")]
    fn segments_are_allocated_not_sparse() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chunks_head");
        fs::create_dir_all(&dir).unwrap();
        let (f, _) = HeadChunkFile::open_with_segment_size(&dir, 1 << 20).unwrap();
        f.write(meta(1), &data(1), Encoding::Xor).unwrap();
        let seg = fs::read_dir(&dir).unwrap().next().unwrap().unwrap();
        let m = seg.metadata().unwrap();
        assert_eq!(m.len(), 1 << 20);
        assert!(m.blocks() * 512 >= 1 << 20, "{} blocks", m.blocks());
    }

    #[test]
    fn concurrent_write_and_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chunks_head");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("000007"), b"stale").unwrap();
        let f = HeadChunkFile::create_with_segment_size(&dir, 16 << 10).unwrap();
        assert!(!dir.join("000007").exists());
        let all: Vec<(u64, ChunkRef)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4u64)
                .map(|t| {
                    let f = &f;
                    s.spawn(move || {
                        let mut mine = Vec::new();
                        for k in 0..200u64 {
                            let i = t * 1000 + k;
                            let r = f.write(meta(i), &data(i), Encoding::Xor).unwrap();
                            // Readable at once.
                            check(f, r, i);
                            mine.push((i, r));
                            if k % 17 == 0 {
                                // Re-read an older one while others write.
                                let (oi, or) = mine[mine.len() / 2];
                                check(f, or, oi);
                            }
                        }
                        mine
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        for &(i, r) in &all {
            check(&f, r, i);
        }
        assert!(f.current_segment() > 3);
        assert_eq!(f.size_bytes(), crate::fs::dir_size(&dir));

        // The block-file reader understands the head variant, zero tail and all.
        let rd = ChunkFileReader::open(&dir, true).unwrap();
        let scanned = rd.scan();
        assert_eq!(scanned.len(), all.len());
        for (r, m) in scanned {
            let i = m.unwrap().series_ref;
            assert_eq!(m.unwrap(), meta(i));
            assert!(all.contains(&(i, r)));
        }

        // Truncation drops old segments; chunks already handed out survive.
        let (oi, oldest) = *all.iter().min_by_key(|(_, r)| *r).unwrap();
        let held = f.chunk(oldest).unwrap();
        let cut = f.current_segment();
        f.truncate_before(cut).unwrap();
        assert!(matches!(f.chunk(oldest), Err(Error::Corruption { .. })));
        let want = Chunk::new(Encoding::Xor, ChunkBytes::from_vec(data(oi)));
        assert_eq!(held.iter().count(), want.iter().count());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        // Writing continues.
        let r = f.write(meta(5), &data(5), Encoding::Xor).unwrap();
        check(&f, r, 5);
    }

    #[test]
    fn corrupted_record_detected() {
        let tmp = tempfile::tempdir().unwrap();
        let f = HeadChunkFile::create_with_segment_size(tmp.path(), 1 << 16).unwrap();
        let r = f.write(meta(3), &data(3), Encoding::Xor).unwrap();
        let (seq, off) = split_ref(r);
        {
            let g = f.inner.lock();
            let seg = &g.segments[&seq];
            // SAFETY: test-only; no reader holds this record.
            unsafe { *seg.map.as_mut_ptr().add(off as usize + 30) ^= 1 };
        }
        let e = f.chunk(r).unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");
        assert!(e.to_string().contains("000001"), "{e}");
        // A failed check is not remembered as passed.
        assert!(f.chunk(r).is_err());
        // Records around it read (and are checked) as usual, also again.
        let r2 = f.write(meta(4), &data(4), Encoding::Xor).unwrap();
        check(&f, r2, 4);
        check(&f, r2, 4);
        assert!(f.chunk(r).is_err());
        // An offset past the published end.
        assert!(f.chunk(make_ref(seq, 60_000)).is_err());
        // A record bigger than a segment gets its own.
        let big = vec![0u8; 70_000];
        let r = f.write(meta(1), &big, Encoding::Xor).unwrap();
        assert_eq!(f.chunk(r).unwrap().data.len(), big.len());
    }
}
