//! A fault-injecting [`Vfs`] for tests. It works on real files and counts
//! every mutating operation (open for writing, write, fsync, set_len,
//! create_dir, rename, remove, directory fsync, hard link), and can
//!
//! - fail the Nth operation and every later one with `ENOSPC`, `EIO`, or a
//!   short write (the Nth operation, if a write, writes half its buffer;
//!   everything after fails with `ENOSPC`), until [`FaultVfs::clear`] — the
//!   disk "frees up";
//! - lose power after the Nth fsync: every later operation fails with
//!   `EIO`, and [`FaultVfs::power_loss`] then puts the directory tree back
//!   to its durable image, in which only fsynced bytes and the directory
//!   entries of fsynced directories exist.
//!
//! The durable image is kept per inode: a file's bytes as of its last
//! fsync, a directory's entries as of its last fsync (so a rename or a
//! new file survives only once its directory was synced, wherever the
//! directory was moved since). Root entries the engine writes outside the
//! seam are named at construction and left as they are.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::os::open_file;
use super::{OpenMode, Vfs, VfsFile, WriteFile};

/// How injected failures fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// `ENOSPC`: the disk is full.
    NoSpace,
    /// `EIO`: the device failed.
    Io,
    /// The first failing operation, if a write, writes half its buffer and
    /// reports that; later ones fail with `ENOSPC`.
    ShortWrite,
}

/// One directory entry of the durable image.
#[derive(Clone, Debug)]
struct Entry {
    name: OsString,
    ino: u64,
    dir: bool,
}

#[derive(Default)]
struct State {
    /// Mutating operations so far.
    ops: u64,
    /// Fsyncs (of files and directories) so far.
    fsyncs: u64,
    fail_from: Option<(u64, FaultKind)>,
    power_off_after: Option<u64>,
    powered_off: bool,
    /// Durable bytes per file inode.
    files: HashMap<u64, Vec<u8>>,
    /// Durable entries per directory inode.
    dirs: HashMap<u64, Vec<Entry>>,
    root_ino: u64,
}

/// See the module documentation.
#[derive(Debug)]
pub struct FaultVfs {
    root: PathBuf,
    untracked: Vec<OsString>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("ops", &self.ops)
            .field("fsyncs", &self.fsyncs)
            .field("fail_from", &self.fail_from)
            .field("power_off_after", &self.power_off_after)
            .finish_non_exhaustive()
    }
}

/// What the operation about to run may do.
enum Verdict {
    Run,
    Fail(io::Error),
    /// Write this many bytes, then report success.
    Short(usize),
}

fn errno(kind: FaultKind) -> io::Error {
    match kind {
        FaultKind::Io => io::Error::from_raw_os_error(libc::EIO),
        FaultKind::NoSpace | FaultKind::ShortWrite => io::Error::from_raw_os_error(libc::ENOSPC),
    }
}

impl State {
    /// Counts one mutating operation and decides its fate. `write_len` is
    /// the buffer length for writes.
    fn next(&mut self, write_len: Option<usize>) -> Verdict {
        self.ops += 1;
        if self.powered_off {
            return Verdict::Fail(errno(FaultKind::Io));
        }
        match self.fail_from {
            Some((n, kind)) if self.ops >= n => match (kind, write_len) {
                (FaultKind::ShortWrite, Some(len)) if self.ops == n && len > 1 => {
                    Verdict::Short(len / 2)
                }
                _ => Verdict::Fail(errno(kind)),
            },
            _ => Verdict::Run,
        }
    }

    /// Counts a successful fsync; the power goes out after the chosen one.
    fn synced(&mut self) {
        self.fsyncs += 1;
        if self.power_off_after.is_some_and(|n| self.fsyncs >= n) {
            self.powered_off = true;
        }
    }
}

impl FaultVfs {
    /// A fault injector over the tree at `root` (created if missing), its
    /// current contents taken as durable. `untracked` names root entries
    /// the engine writes without the seam; power loss leaves them alone.
    pub fn new(root: &Path, untracked: &[&str]) -> io::Result<FaultVfs> {
        fs::create_dir_all(root)?;
        let v = FaultVfs {
            root: root.to_path_buf(),
            untracked: untracked.iter().map(OsString::from).collect(),
            state: Arc::new(Mutex::new(State::default())),
        };
        v.reset()?;
        Ok(v)
    }

    /// Back to no faults and zero counts, with the tree as it is now taken
    /// as durable (for reusing one injector over many runs).
    pub fn reset(&self) -> io::Result<()> {
        let mut st = State {
            root_ino: fs::metadata(&self.root)?.ino(),
            ..State::default()
        };
        self.capture(&self.root, &mut st, true)?;
        *self.state.lock() = st;
        Ok(())
    }

    /// Records `dir` and everything under it as durable.
    fn capture(&self, dir: &Path, st: &mut State, top: bool) -> io::Result<()> {
        let ino = fs::metadata(dir)?.ino();
        let mut entries = Vec::new();
        for e in fs::read_dir(dir)? {
            let e = e?;
            if top && self.untracked.contains(&e.file_name()) {
                continue;
            }
            let m = e.metadata()?;
            if m.is_dir() {
                self.capture(&e.path(), st, false)?;
            } else {
                st.files.insert(m.ino(), fs::read(e.path())?);
            }
            entries.push(Entry {
                name: e.file_name(),
                ino: m.ino(),
                dir: m.is_dir(),
            });
        }
        st.dirs.insert(ino, entries);
        Ok(())
    }

    /// Fails mutating operation `n` (1-based, counted since the last
    /// reset) and every later one with `kind`, until [`FaultVfs::clear`].
    pub fn fail_from(&self, n: u64, kind: FaultKind) {
        self.state.lock().fail_from = Some((n, kind));
    }

    /// Loses power right after fsync `n` (of a file or directory, 1-based;
    /// at once if that many already ran).
    pub fn power_off_after(&self, n: u64) {
        let mut st = self.state.lock();
        st.power_off_after = Some(n);
        if st.fsyncs >= n {
            st.powered_off = true;
        }
    }

    /// The disk frees up: operations run again (power loss is not cleared).
    pub fn clear(&self) {
        self.state.lock().fail_from = None;
    }

    /// Mutating operations so far.
    pub fn ops(&self) -> u64 {
        self.state.lock().ops
    }

    /// Fsyncs so far.
    pub fn fsyncs(&self) -> u64 {
        self.state.lock().fsyncs
    }

    /// Whether the power went out.
    pub fn powered_off(&self) -> bool {
        self.state.lock().powered_off
    }

    /// Puts the tree back to its durable image (call once nothing writes
    /// any more), then takes it as the new durable state with no faults.
    pub fn power_loss(&self) -> io::Result<()> {
        {
            let st = self.state.lock();
            for e in fs::read_dir(&self.root)? {
                let e = e?;
                if self.untracked.contains(&e.file_name()) {
                    continue;
                }
                if e.file_type()?.is_dir() {
                    fs::remove_dir_all(e.path())?;
                } else {
                    fs::remove_file(e.path())?;
                }
            }
            self.rebuild(&st, &self.root, st.root_ino, true)?;
        }
        self.reset()
    }

    fn rebuild(&self, st: &State, dir: &Path, ino: u64, top: bool) -> io::Result<()> {
        for e in st.dirs.get(&ino).map(Vec::as_slice).unwrap_or_default() {
            if top && self.untracked.contains(&e.name) {
                continue;
            }
            let path = dir.join(&e.name);
            if e.dir {
                fs::create_dir(&path)?;
                self.rebuild(st, &path, e.ino, false)?;
            } else {
                let bytes = st.files.get(&e.ino).map(Vec::as_slice).unwrap_or_default();
                fs::write(&path, bytes)?;
            }
        }
        Ok(())
    }

    fn check(&self, write_len: Option<usize>) -> io::Result<Verdict> {
        match self.state.lock().next(write_len) {
            Verdict::Fail(e) => Err(e),
            v => Ok(v),
        }
    }

    /// Runs a mutating operation unless a fault is due.
    fn op<T>(&self, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        self.check(None)?;
        f()
    }
}

fn entries_of(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        // An entry removed since the listing is not in the image: a synced
        // directory may be shared (a test's WAL in a temp dir syncs /tmp,
        // where other tests remove theirs meanwhile).
        let m = match e.metadata() {
            Ok(m) => m,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        out.push(Entry {
            name: e.file_name(),
            ino: m.ino(),
            dir: m.is_dir(),
        });
    }
    Ok(out)
}

impl Vfs for FaultVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<WriteFile> {
        self.check(None)?;
        // Opened for reading too, so an fsync can record the bytes it made
        // durable whatever the file is called by then.
        let file = match mode {
            OpenMode::Existing => OpenOptions::new().read(true).write(true).open(path)?,
            _ => {
                drop(open_file(path, mode)?);
                let f = OpenOptions::new().read(true).write(true).open(path)?;
                if mode == OpenMode::CreateNew {
                    let mut f = f;
                    f.seek(io::SeekFrom::End(0))?;
                    f
                } else {
                    f
                }
            }
        };
        let ino = file.metadata()?.ino();
        Ok(WriteFile::new(FaultFile {
            file: Mutex::new(file),
            ino,
            state: Arc::clone(&self.state),
        }))
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.op(|| fs::create_dir(path))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.op(|| fs::create_dir_all(path))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.op(|| fs::rename(from, to))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.op(|| fs::remove_file(path))
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.op(|| fs::remove_dir_all(path))
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.check(None)?;
        let ino = fs::metadata(path)?.ino();
        let entries = entries_of(path)?;
        let mut st = self.state.lock();
        st.dirs.insert(ino, entries);
        st.synced();
        Ok(())
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.op(|| fs::hard_link(from, to))
    }
}

/// A file of a [`FaultVfs`]; writes go to the end, as the engine only
/// appends (or rewrites from the start after a truncation).
#[derive(Debug)]
struct FaultFile {
    file: Mutex<File>,
    ino: u64,
    state: Arc<Mutex<State>>,
}

impl FaultFile {
    fn check(&self, write_len: Option<usize>) -> io::Result<Verdict> {
        match self.state.lock().next(write_len) {
            Verdict::Fail(e) => Err(e),
            v => Ok(v),
        }
    }

    /// Records the file's bytes as durable. No real fsync: the durable
    /// image is the model, and thousands of runs must take seconds.
    fn sync(&self) -> io::Result<()> {
        self.check(None)?;
        let mut f = self.file.lock();
        let pos = f.stream_position()?;
        f.seek(io::SeekFrom::Start(0))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        f.seek(io::SeekFrom::Start(pos))?;
        drop(f);
        let mut st = self.state.lock();
        st.files.insert(self.ino, bytes);
        st.synced();
        Ok(())
    }
}

impl VfsFile for FaultFile {
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let n = match self.check(Some(buf.len()))? {
            Verdict::Short(n) => n,
            _ => buf.len(),
        };
        self.file.lock().write(&buf[..n])
    }

    fn sync_data(&self) -> io::Result<()> {
        self.sync()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check(None)?;
        let mut f = self.file.lock();
        f.set_len(len)?;
        // Later writes continue at the new end, as with O_APPEND.
        let end = f.stream_position()?.min(len);
        f.seek(io::SeekFrom::Start(end))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(v: &FaultVfs, path: &Path, data: &[u8], sync: bool) {
        let mut f = v.open(path, OpenMode::Truncate).unwrap();
        f.write_all(data).unwrap();
        if sync {
            f.sync_data().unwrap();
        }
    }

    #[test]
    fn power_loss_keeps_only_synced_bytes_and_entries() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::write(root.join("old"), b"before").unwrap();
        let v = FaultVfs::new(root, &["untracked"]).unwrap();
        std::fs::create_dir(root.join("untracked")).unwrap();
        // Synced file, synced entry: survives.
        write(&v, &root.join("a"), b"aaaa", true);
        // Synced file, entry never synced: gone.
        v.sync_dir(root).unwrap();
        write(&v, &root.join("b"), b"bb", true);
        // Bytes appended after the fsync: lost, the synced prefix stays.
        let mut f = v.open(&root.join("a"), OpenMode::Existing).unwrap();
        f.write_all(b"xx").unwrap();
        // A directory synced inside, renamed, parent synced: survives
        // under its new name with its contents.
        v.create_dir(&root.join("d.tmp")).unwrap();
        write(&v, &root.join("d.tmp/f"), b"ff", true);
        v.sync_dir(&root.join("d.tmp")).unwrap();
        v.rename(&root.join("d.tmp"), &root.join("d")).unwrap();
        v.remove_file(&root.join("old")).unwrap();
        v.sync_dir(root).unwrap();
        // After the last fsync counted here, nothing reaches the disk.
        v.power_off_after(v.fsyncs());
        assert!(v.powered_off());
        assert!(v.open(&root.join("e"), OpenMode::Truncate).is_err());
        std::fs::write(root.join("untracked/keep"), b"k").unwrap();

        v.power_loss().unwrap();
        let mut names: Vec<_> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a", "b", "d", "untracked"]);
        assert_eq!(std::fs::read(root.join("a")).unwrap(), b"aaaa");
        assert_eq!(std::fs::read(root.join("b")).unwrap(), b"bb");
        assert_eq!(std::fs::read(root.join("d/f")).unwrap(), b"ff");
        assert_eq!(std::fs::read(root.join("untracked/keep")).unwrap(), b"k");
        assert!(!v.powered_off(), "power is back");
    }

    #[test]
    fn entry_not_synced_is_lost() {
        let d = tempfile::tempdir().unwrap();
        let v = FaultVfs::new(d.path(), &[]).unwrap();
        write(&v, &d.path().join("x"), b"data", true);
        v.power_off_after(v.fsyncs());
        v.power_loss().unwrap();
        assert!(!d.path().join("x").exists());
    }

    #[test]
    fn nth_operation_fails_until_cleared() {
        let d = tempfile::tempdir().unwrap();
        let v = FaultVfs::new(d.path(), &[]).unwrap();
        v.fail_from(3, FaultKind::NoSpace);
        let f = v.open(&d.path().join("x"), OpenMode::Truncate).unwrap(); // 1
        assert_eq!((&f).write(b"abcd").unwrap(), 4); // 2
        let e = (&f).write(b"efgh").unwrap_err(); // 3
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert!(v.create_dir(&d.path().join("y")).is_err()); // 4
        v.clear();
        assert_eq!((&f).write(b"ij").unwrap(), 2);
        assert_eq!(std::fs::read(d.path().join("x")).unwrap(), b"abcdij");
        assert_eq!(v.ops(), 5);

        v.fail_from(v.ops() + 1, FaultKind::Io);
        let e = f.sync_data().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
    }

    #[test]
    fn short_write_writes_half_then_fails() {
        let d = tempfile::tempdir().unwrap();
        let v = FaultVfs::new(d.path(), &[]).unwrap();
        let f = v.open(&d.path().join("x"), OpenMode::Truncate).unwrap();
        v.fail_from(v.ops() + 1, FaultKind::ShortWrite);
        let e = (&f).write_all(b"abcdefgh").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(std::fs::read(d.path().join("x")).unwrap(), b"abcd");
        // Truncation and later writes continue at the new end.
        v.clear();
        f.set_len(2).unwrap();
        (&f).write_all(b"zz").unwrap();
        assert_eq!(std::fs::read(d.path().join("x")).unwrap(), b"abzz");
    }
}
