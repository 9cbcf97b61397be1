//! The head's chunk file: full chunks are appended here and read back at once
//! through a shared writable memory map. Layout: the head variant in
//! `docs/formats/chunk-files.md`.
//!
//! **Not durable**: nothing here is ever fsynced. The write-ahead log is the
//! durability source; on startup the head is rebuilt from the WAL and this
//! directory is cleared by [`HeadChunkFile::create`].

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use memmap2::MmapRaw;
use parking_lot::Mutex;

use super::file::{
    decode_record, encode_record, make_ref, segment_header, segment_name, split_ref,
    SEGMENT_HEADER_LEN,
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
/// * Nothing else in this process maps or writes these files (they live in
///   the head's private directory, recreated on startup).
struct HeadSegment {
    path: PathBuf,
    map: MmapRaw,
    written: AtomicUsize,
}

impl HeadSegment {
    /// The published prefix of the segment.
    fn published(&self) -> &[u8] {
        let n = self.written.load(Ordering::Acquire);
        // SAFETY: see the type-level comment: `[0, n)` is immutable and
        // within the mapping.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr(), n) }
    }
}

/// Chunk bytes of one record: keeps its segment's mapping alive.
struct RecordBytes {
    seg: Arc<HeadSegment>,
    /// Published length at read time; the record lies inside it.
    len: usize,
}

impl AsRef<[u8]> for RecordBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `[0, len)` was published before this value was created and
        // is immutable from then on (see `HeadSegment`).
        unsafe { std::slice::from_raw_parts(self.seg.map.as_ptr(), self.len) }
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
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(HeadChunkFile {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.clamp(SEGMENT_HEADER_LEN as u64 + 64, u32::MAX as u64),
            inner: Mutex::new(Inner {
                segments: BTreeMap::new(),
                cur: 0,
                buf: Vec::new(),
            }),
        })
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
        f.set_len(len).map_err(|e| Error::io(&path, e))?;
        let map = MmapRaw::map_raw(&f).map_err(|e| Error::io(&path, e))?;
        let hdr = segment_header(true);
        // SAFETY: fresh mapping of `len >= SEGMENT_HEADER_LEN` bytes, nothing
        // published yet, no other references exist.
        unsafe { std::ptr::copy_nonoverlapping(hdr.as_ptr(), map.as_mut_ptr(), hdr.len()) };
        Ok(Arc::new(HeadSegment {
            path,
            map,
            written: AtomicUsize::new(SEGMENT_HEADER_LEN),
        }))
    }

    /// Appends a chunk record (not fsynced) and returns its reference.
    pub fn write(&self, meta: HeadChunkMeta, chunk_data: &[u8], encoding: Encoding) -> Result<ChunkRef> {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        inner.buf.clear();
        encode_record(&mut inner.buf, Some(meta), encoding, chunk_data);
        let len = inner.buf.len();
        let need_new = match inner.segments.get(&inner.cur) {
            None => true,
            Some(s) => {
                s.written.load(Ordering::Relaxed) + len > s.map.len()
            }
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

    /// Reads a chunk back, verifying its CRC32C. The bytes point into the
    /// mapping and stay valid even if the segment is truncated later.
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
        let len = published.len();
        let rec =
            decode_record(published, off as usize, true).map_err(|d| Error::corruption(&seg.path, d))?;
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(RecordBytes { seg, len });
        Ok(Chunk::new(rec.encoding, ChunkBytes::from_shared(owner, rec.data)))
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
