//! The WAL writer: appends framed records to the current segment, cuts
//! segments by size, fsyncs per [`SyncPolicy`].
//!
//! With [`SyncPolicy::Always`] commits are group-committed: the write
//! happens under the writer lock, the fsync after it is released, and a
//! committer whose bytes an fsync already covered (one that started after
//! its write) returns without another. N targets committing at once share
//! one fsync instead of queueing N of them behind the lock, and a commit
//! still returns only once its own bytes are durable.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::vfs::{Fs, WriteFile};

use super::checkpoint_dir::{latest_checkpoint, remove_tmp_checkpoints};
use super::frame::{FrameEncoder, SEGMENT_HEADER_LEN};
use super::record::Record;
use super::segment::{create_segment, list_segments, segment_path};

/// When the WAL fsyncs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fsync before every commit returns (default: nothing acknowledged is
    /// lost on power loss).
    Always,
    /// The caller calls [`Wal::sync`] about every given interval; commits only
    /// `write()` to the OS (survives a process kill, not power loss). The
    /// previous segment is fsynced on every cut.
    Interval(Duration),
    /// Never fsync unless [`Wal::sync`] is called.
    Never,
}

/// WAL tuning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalOptions {
    /// A new segment is started before a write that would grow the current
    /// one beyond this many bytes.
    pub segment_size: u64,
    pub sync: SyncPolicy,
    /// The file system the WAL — and the database opened with these
    /// options — writes through (default: the OS).
    pub vfs: Fs,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size: 128 << 20,
            sync: SyncPolicy::Always,
            vfs: Fs::os(),
        }
    }
}

struct State {
    /// Shared so the group-commit fsync can run on it without the lock.
    file: Arc<WriteFile>,
    seg: u32,
    /// Bytes in the current segment (all of them written to the OS).
    seg_len: u64,
    /// Bytes written since open, over all segments: the position a
    /// committer waits to see fsynced.
    written: u64,
    buf: Vec<u8>,
    enc: FrameEncoder,
    /// Set after a failure that leaves the on-disk state unknown; the next
    /// write first tries to recover (see [`Wal::recover_locked`]).
    failed: bool,
}

/// A write-ahead log directory open for appending. `Send + Sync`; writers
/// serialize on an internal mutex.
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    state: Mutex<State>,
    /// Serializes checkpoints.
    pub(crate) checkpoint_lock: Mutex<()>,
    /// Held by the committer running the group fsync; the others queue
    /// here and usually find their bytes covered by it.
    sync_lock: Mutex<()>,
    /// `State::written` as of the last successful fsync.
    synced: AtomicU64,
    fsyncs: AtomicU64,
    fsync_nanos: AtomicU64,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn unusable(path: &Path) -> Error {
    Error::io(
        path,
        std::io::Error::other("WAL write or fsync failed earlier; not recovered yet"),
    )
}

impl Wal {
    /// Opens (creating) the dir; does NOT read existing segments — replay
    /// first with [`super::replay`]. Starts a new segment after the last
    /// existing one (or checkpoint), so a repaired or torn tail is never
    /// appended to. Leftover `checkpoint.*.tmp` directories are deleted.
    pub fn open(dir: &Path, opts: WalOptions) -> Result<Wal> {
        opts.vfs.create_dir_durable(dir)?;
        remove_tmp_checkpoints(opts.vfs, dir)?;
        let last_seg = list_segments(dir)?.last().map(|(n, _)| *n);
        let cp = latest_checkpoint(dir)?.map(|(n, _)| n);
        let next = match last_seg.max(cp) {
            None => 0,
            Some(n) => n.checked_add(1).ok_or_else(|| {
                Error::io(dir, std::io::Error::other("WAL segment numbers exhausted"))
            })?,
        };
        let file = create_segment(opts.vfs, dir, next, opts.sync != SyncPolicy::Never)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            opts,
            state: Mutex::new(State {
                file: Arc::new(file),
                seg: next,
                seg_len: SEGMENT_HEADER_LEN,
                written: 0,
                buf: Vec::new(),
                enc: FrameEncoder::new(),
                failed: false,
            }),
            checkpoint_lock: Mutex::new(()),
            sync_lock: Mutex::new(()),
            synced: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            fsync_nanos: AtomicU64::new(0),
        })
    }

    /// The options the WAL was opened with.
    pub fn options(&self) -> WalOptions {
        self.opts
    }

    /// Encodes and appends records as one write, then fsyncs according to
    /// policy. When this returns Ok the records are durable per policy. All
    /// records of one call land in the same segment.
    pub fn log(&self, records: &[Record]) -> Result<()> {
        let end = self.write(records)?;
        if self.opts.sync == SyncPolicy::Always {
            self.sync_through(end)?;
        }
        Ok(())
    }

    /// Appends records as one write without fsyncing, whatever the policy:
    /// they survive a process kill at once and a power loss after the next
    /// fsync ([`Wal::sync_per_policy`], a synced `log`, a segment cut). For
    /// writers whose data nobody waits on, such as rule results, so a
    /// thousand small commits do not cost a thousand fsyncs.
    pub fn log_unsynced(&self, records: &[Record]) -> Result<()> {
        self.write(records).map(|_| ())
    }

    /// fsyncs what was written so far when the policy is
    /// [`SyncPolicy::Always`]: the one fsync that covers a run of
    /// [`Wal::log_unsynced`] calls. Other policies sync on their own
    /// schedule, so this does nothing for them.
    pub fn sync_per_policy(&self) -> Result<()> {
        if self.opts.sync != SyncPolicy::Always {
            return Ok(());
        }
        let end = self.state.lock().written;
        self.sync_through(end)
    }

    /// Appends `records` to the OS under the writer lock; returns the
    /// `written` position just after them.
    fn write(&self, records: &[Record]) -> Result<u64> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if st.failed {
            self.recover_locked(st)?;
        }
        st.buf.clear();
        for r in records {
            st.enc
                .append(r.type_byte(), &mut st.buf, |b| r.encode(b))
                .map_err(|e| Error::io(segment_path(&self.dir, st.seg), e))?;
        }
        if st.buf.is_empty() {
            return Ok(st.written);
        }
        let n = st.buf.len() as u64;
        if st.seg_len > SEGMENT_HEADER_LEN && st.seg_len + n > self.opts.segment_size {
            self.cut_locked(st)?;
        }
        if let Err(e) = (&*st.file).write_all(&st.buf) {
            // Drop a partial frame so later frames are not written after garbage.
            if st.file.set_len(st.seg_len).is_err() {
                st.failed = true;
            }
            return Err(Error::io(segment_path(&self.dir, st.seg), e));
        }
        st.seg_len += n;
        st.written += n;
        if st.buf.capacity() > 64 << 20 {
            st.buf = Vec::new();
        }
        Ok(st.written)
    }

    /// Returns once everything up to `end` is fsynced: at once when an
    /// fsync that started after that write already finished, otherwise
    /// after running one fsync for every write so far. Earlier segments
    /// were fsynced when they were cut, so syncing the current one covers
    /// all bytes written.
    fn sync_through(&self, end: u64) -> Result<()> {
        let _turn = self.sync_lock.lock();
        if self.synced.load(Ordering::Acquire) >= end {
            return Ok(());
        }
        let (file, target, seg) = {
            let st = self.state.lock();
            if st.failed {
                return Err(unusable(&segment_path(&self.dir, st.seg)));
            }
            (Arc::clone(&st.file), st.written, st.seg)
        };
        if let Err(e) = self.timed_sync(&file) {
            self.state.lock().failed = true;
            return Err(Error::io(segment_path(&self.dir, seg), e));
        }
        self.synced.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    /// Makes the WAL writable again after a failed write or fsync (a full
    /// disk that freed up, a transient device error): drops any partial
    /// frame, fsyncs what was written, and continues in a new segment, so
    /// nothing is appended to a file whose unsynced pages the kernel may
    /// have dropped. On failure the WAL stays failed and the next write
    /// tries again; the error is the file system's, for the caller to
    /// report.
    fn recover_locked(&self, st: &mut State) -> Result<()> {
        let path = segment_path(&self.dir, st.seg);
        st.file
            .set_len(st.seg_len)
            .map_err(|e| Error::io(&path, e))?;
        if let Err(e) = self.timed_sync(&st.file) {
            return Err(Error::io(&path, e));
        }
        st.failed = false;
        self.synced.fetch_max(st.written, Ordering::AcqRel);
        if let Err(e) = self.cut_locked(st) {
            st.failed = true;
            return Err(e);
        }
        tracing::info!(dir = %self.dir.display(), segment = st.seg, "WAL writable again after an earlier failure");
        Ok(())
    }

    fn timed_sync(&self, f: &WriteFile) -> std::io::Result<()> {
        let start = Instant::now();
        let res = f.sync_data();
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.fsync_nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        res
    }

    fn fsync_locked(&self, st: &mut State) -> Result<()> {
        if let Err(e) = self.timed_sync(&st.file) {
            st.failed = true;
            return Err(Error::io(segment_path(&self.dir, st.seg), e));
        }
        self.synced.fetch_max(st.written, Ordering::AcqRel);
        Ok(())
    }

    fn cut_locked(&self, st: &mut State) -> Result<u32> {
        if self.opts.sync != SyncPolicy::Never {
            self.fsync_locked(st)?;
        }
        let next = st.seg.checked_add(1).ok_or_else(|| {
            Error::io(
                &self.dir,
                std::io::Error::other("WAL segment numbers exhausted"),
            )
        })?;
        let path = segment_path(&self.dir, next);
        if path.exists() {
            // Only an earlier cut that failed halfway (a full disk) leaves
            // the next segment behind; nothing was logged to it.
            self.opts.vfs.remove_file(&path)?;
        }
        st.file = Arc::new(create_segment(
            self.opts.vfs,
            &self.dir,
            next,
            self.opts.sync != SyncPolicy::Never,
        )?);
        st.seg = next;
        st.seg_len = SEGMENT_HEADER_LEN;
        tracing::debug!(segment = next, dir = %self.dir.display(), "WAL segment cut");
        Ok(next)
    }

    /// fsyncs the current segment. The fsync runs outside the writer lock, so
    /// concurrent `log` calls are not blocked by it.
    pub fn sync(&self) -> Result<()> {
        let (f, seg) = {
            let st = self.state.lock();
            if st.failed {
                return Err(unusable(&segment_path(&self.dir, st.seg)));
            }
            (Arc::clone(&st.file), st.seg)
        };
        if let Err(e) = self.timed_sync(&f) {
            self.state.lock().failed = true;
            return Err(Error::io(segment_path(&self.dir, seg), e));
        }
        Ok(())
    }

    /// Closes the current segment and starts a new one; returns the new
    /// segment's number.
    pub fn cut(&self) -> Result<u32> {
        let mut st = self.state.lock();
        if st.failed {
            return Err(unusable(&segment_path(&self.dir, st.seg)));
        }
        self.cut_locked(&mut st)
    }

    /// The segment currently appended to.
    pub fn current_segment(&self) -> u32 {
        self.state.lock().seg
    }

    /// (first, last) segment numbers present.
    pub fn segment_range(&self) -> Result<Option<(u32, u32)>> {
        let segs = list_segments(&self.dir)?;
        Ok(match (segs.first(), segs.last()) {
            (Some(a), Some(b)) => Some((a.0, b.0)),
            _ => None,
        })
    }

    /// Deletes segments with number < n. The segment being written is never
    /// deleted.
    pub fn truncate_before(&self, n: u32) -> Result<()> {
        let limit = n.min(self.current_segment());
        let mut deleted = false;
        for (seg, path) in list_segments(&self.dir)? {
            if seg >= limit {
                break;
            }
            self.opts.vfs.remove_file(&path)?;
            deleted = true;
        }
        if deleted {
            self.opts.vfs.sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes on disk under the WAL directory (segments and checkpoint). Walks
    /// the directory, so call it for stats, not per write.
    pub fn size_bytes(&self) -> u64 {
        crate::fs::dir_size(&self.dir)
    }

    /// Total time spent in fsync and number of fsyncs (for stats).
    pub fn fsync_stats(&self) -> (u64, Duration) {
        (
            self.fsyncs.load(Ordering::Relaxed),
            Duration::from_nanos(self.fsync_nanos.load(Ordering::Relaxed)),
        )
    }
}

/// With [`SyncPolicy::Interval`], a clean close makes everything logged durable.
impl Drop for Wal {
    fn drop(&mut self) {
        let st = self.state.get_mut();
        if matches!(self.opts.sync, SyncPolicy::Interval(_)) && !st.failed {
            if let Err(e) = st.file.sync_data() {
                tracing::warn!(dir = %self.dir.display(), error = %e, "WAL fsync on close failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::{FaultKind, FaultVfs};
    use crate::wal::reader::tests::{batches, collect, opts};

    #[test]
    fn wal_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Wal>();
    }

    #[test]
    fn unsynced_writes_share_one_fsync_and_replay() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
        let written = batches(3);
        for r in &written {
            wal.log_unsynced(std::slice::from_ref(r)).unwrap();
        }
        assert_eq!(wal.fsync_stats().0, 0, "no fsync per unsynced write");
        wal.sync_per_policy().unwrap();
        assert_eq!(wal.fsync_stats().0, 1, "one fsync covers them all");
        wal.sync_per_policy().unwrap();
        assert_eq!(wal.fsync_stats().0, 1, "nothing new to sync");
        drop(wal);
        assert_eq!(collect(d.path()).0, written);

        // Other policies keep their own schedule.
        let d = tempfile::tempdir().unwrap();
        let o = WalOptions {
            segment_size: 1 << 20,
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        };
        let wal = Wal::open(d.path(), o).unwrap();
        wal.log_unsynced(&batches(1)).unwrap();
        wal.sync_per_policy().unwrap();
        assert_eq!(wal.fsync_stats().0, 0);
    }

    #[test]
    fn sync_policies_and_stats() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
        assert_eq!(wal.options().sync, SyncPolicy::Always);
        wal.log(&batches(3)).unwrap();
        wal.log(&batches(3)).unwrap();
        assert_eq!(wal.fsync_stats().0, 2);
        drop(wal);

        let d = tempfile::tempdir().unwrap();
        let o = WalOptions {
            segment_size: 1 << 20,
            sync: SyncPolicy::Interval(Duration::from_secs(1)),
            ..WalOptions::default()
        };
        let wal = Wal::open(d.path(), o).unwrap();
        wal.log(&batches(3)).unwrap();
        assert_eq!(wal.fsync_stats().0, 0);
        wal.sync().unwrap();
        assert_eq!(wal.fsync_stats().0, 1);
        assert!(wal.size_bytes() > SEGMENT_HEADER_LEN);
    }

    #[test]
    fn open_starts_new_segment_and_truncate_before() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
        assert_eq!(wal.current_segment(), 0);
        wal.log(&batches(2)).unwrap();
        assert_eq!(wal.cut().unwrap(), 1);
        assert_eq!(wal.cut().unwrap(), 2);
        drop(wal);
        let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
        assert_eq!(wal.current_segment(), 3);
        assert_eq!(wal.segment_range().unwrap(), Some((0, 3)));
        wal.truncate_before(2).unwrap();
        assert_eq!(wal.segment_range().unwrap(), Some((2, 3)));
        // Never deletes the active segment.
        wal.truncate_before(100).unwrap();
        assert_eq!(wal.segment_range().unwrap(), Some((3, 3)));
        assert_eq!(wal.dir(), d.path());
    }

    #[test]
    fn concurrent_writers() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(4096)).unwrap();
        let recs = batches(60);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for r in &recs {
                        wal.log(std::slice::from_ref(r)).unwrap();
                    }
                });
            }
        });
        drop(wal);
        let (got, stats) = collect(d.path());
        assert_eq!(got.len(), 240);
        assert!(stats.corruption.is_none() && stats.truncated.is_none());
    }

    #[test]
    fn concurrent_commits_share_one_fsync() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
        let recs = batches(4);
        let mut enc = FrameEncoder::new();
        let mut buf = Vec::new();
        for r in &recs {
            enc.append(r.type_byte(), &mut buf, |b| r.encode(b))
                .unwrap();
        }
        let all = buf.len() as u64;
        std::thread::scope(|s| {
            // An fsync "in progress": the committers write, then queue.
            let turn = wal.sync_lock.lock();
            for r in &recs {
                let wal = &wal;
                s.spawn(move || wal.log(std::slice::from_ref(r)).unwrap());
            }
            while wal.state.lock().written < all {
                std::thread::yield_now();
            }
            drop(turn);
        });
        // The first committer through syncs all four writes; the other
        // three find theirs covered.
        assert_eq!(wal.fsync_stats().0, 1);
        drop(wal);
        let (got, stats) = collect(d.path());
        assert_eq!(got.len(), 4);
        assert!(stats.corruption.is_none() && stats.truncated.is_none());
    }

    #[test]
    fn failed_fsync_is_not_acknowledged_to_waiters() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
        let recs = batches(1);
        wal.log(&recs).unwrap();
        let synced = wal.synced.load(Ordering::Acquire);
        // A write not yet covered by an fsync, then a failure: its
        // committer gets the error, not an acknowledgement.
        let end = wal.write(&recs).unwrap();
        assert!(end > synced);
        wal.state.lock().failed = true;
        assert!(wal.sync_through(end).is_err());
        // Bytes the earlier fsync covered stay acknowledged.
        assert!(wal.sync_through(synced).is_ok());
    }

    #[test]
    fn oversized_batch_gets_its_own_segment() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(256)).unwrap();
        let big = batches(30);
        wal.log(&big[..1]).unwrap();
        wal.log(&big).unwrap();
        wal.log(&big[..1]).unwrap();
        assert_eq!(wal.segment_range().unwrap(), Some((0, 2)));
        drop(wal);
        let (got, _) = collect(d.path());
        assert_eq!(got.len(), 32);
    }

    /// A WAL in a fresh dir under a fault injector (leaked: `Fs` wants a
    /// `'static`).
    fn faulty(segment_size: u64) -> (tempfile::TempDir, &'static FaultVfs, Wal) {
        let d = tempfile::tempdir().unwrap();
        let v: &'static FaultVfs = Box::leak(Box::new(FaultVfs::new(d.path(), &[]).unwrap()));
        let o = WalOptions {
            segment_size,
            sync: SyncPolicy::Always,
            vfs: Fs::new(v),
        };
        let wal = Wal::open(d.path(), o).unwrap();
        (d, v, wal)
    }

    /// Regression: one failed fsync made the WAL refuse every later write
    /// until a restart, so a server whose disk filled up once never
    /// ingested again.
    #[test]
    fn writable_again_after_failed_fsync_clears() {
        for kind in [FaultKind::Io, FaultKind::NoSpace] {
            let (d, v, wal) = faulty(1 << 20);
            let recs = batches(3);
            wal.log(&recs[..1]).unwrap();
            // The write succeeds, its fsync fails.
            v.fail_from(v.ops() + 2, kind);
            assert!(wal.log(&recs[1..2]).is_err());
            assert!(wal.log(&recs[1..2]).is_err(), "still failing");
            v.clear();
            wal.log(&recs[1..]).unwrap();
            drop(wal);
            let (got, stats) = collect(d.path());
            assert!(stats.corruption.is_none(), "{kind:?}: {stats:?}");
            // The unacknowledged batch may or may not be there; the
            // acknowledged ones are, in order.
            assert_eq!(got.first(), Some(&recs[0]), "{kind:?}");
            assert_eq!(&got[got.len() - 2..], &recs[1..], "{kind:?}");
        }
    }

    /// Regression: a segment cut that failed after creating the next file
    /// (a full disk while writing its header) left it behind, and every
    /// later cut failed on "file exists".
    #[test]
    fn segment_cut_retried_after_half_created_segment() {
        let (d, v, wal) = faulty(256);
        let big = batches(30);
        wal.log(&big[..1]).unwrap();
        // The cut's fsync passes, the create passes, the header write is short.
        v.fail_from(v.ops() + 3, FaultKind::ShortWrite);
        assert!(wal.log(&big).is_err());
        v.clear();
        wal.log(&big).unwrap();
        wal.log(&big[..1]).unwrap();
        drop(wal);
        let (got, stats) = collect(d.path());
        assert!(stats.corruption.is_none(), "{stats:?}");
        assert_eq!(got.len(), 32);
    }

    /// A short write (half a frame reached the file, then ENOSPC) leaves no
    /// partial frame for replay to stop at once the disk frees up.
    #[test]
    fn short_write_leaves_no_partial_frame() {
        let (d, v, wal) = faulty(1 << 20);
        let recs = batches(4);
        wal.log(&recs[..1]).unwrap();
        v.fail_from(v.ops() + 1, FaultKind::ShortWrite);
        assert!(wal.log(&recs[1..2]).is_err());
        v.clear();
        wal.log(&recs[2..]).unwrap();
        drop(wal);
        let (got, stats) = collect(d.path());
        assert!(
            stats.corruption.is_none() && stats.truncated.is_none(),
            "{stats:?}"
        );
        let mut want = vec![recs[0].clone()];
        want.extend_from_slice(&recs[2..]);
        assert_eq!(got, want);
    }
}
