//! The seam between the storage engine and the file system: every file the
//! engine creates, writes, fsyncs, renames, truncates or removes goes
//! through a [`Vfs`], so tests can put a fault-injecting one
//! ([`FaultVfs`]) under a real database and fail any single operation.
//!
//! Reads stay on `std::fs`: they cannot lose data, and the block readers
//! map their files. The handle every component holds is [`Fs`], a `Copy`
//! pointer to a `'static` implementation, so options that carry it stay
//! `Copy` and the real one ([`OsVfs`]) costs one indirect call per write
//! or fsync, never per sample (writers buffer).

mod fault;
mod os;

use std::io;
use std::path::Path;

use crate::error::{Error, Result};

pub use fault::{FaultKind, FaultVfs};
pub use os::OsVfs;

/// How [`Vfs::open`] opens a file for writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the file, or truncate it if it exists.
    Truncate,
    /// Create the file, failing if it exists; writes append.
    CreateNew,
    /// Open an existing file for writing (to truncate it).
    Existing,
}

/// A file system the storage engine writes through. Implementations must
/// behave like POSIX: a rename replaces atomically, data and directory
/// entries are durable only after an fsync of the file and of its
/// directory.
pub trait Vfs: Send + Sync + std::fmt::Debug {
    /// Opens `path` for writing.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<WriteFile>;
    /// Creates one directory; its parent must exist.
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and any missing parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Renames a file or directory, replacing a file at `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything under it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// fsyncs a directory, making the entries created, renamed or removed
    /// in it durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Makes `to` a second name of the file `from`.
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()>;
}

/// An open file of a [`Vfs`]. Methods take `&self` (as `&std::fs::File`
/// does) so a file shared behind an `Arc` can be fsynced by one thread
/// while another holds the writer lock.
pub trait VfsFile: Send + Sync + std::fmt::Debug {
    /// Writes some of `buf` at the end of what was written; returns how much.
    fn write(&self, buf: &[u8]) -> io::Result<usize>;
    /// fsyncs the data (and the size).
    fn sync_data(&self) -> io::Result<()>;
    /// fsyncs data and metadata.
    fn sync_all(&self) -> io::Result<()>;
    /// Truncates or extends the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// A file open for writing through a [`Vfs`]. Implements [`io::Write`] (on
/// `&WriteFile` too), so it goes under a `BufWriter` like a `std::fs::File`.
#[derive(Debug)]
pub struct WriteFile(Box<dyn VfsFile>);

impl WriteFile {
    /// Wraps an implementation's file.
    pub fn new(f: impl VfsFile + 'static) -> WriteFile {
        WriteFile(Box::new(f))
    }

    pub fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    pub fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }

    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

impl io::Write for &WriteFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Write for WriteFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The handle to the file system the engine writes through (default: the
/// OS). `Copy`; equal when it points at the same implementation. Its
/// methods name the path in their errors.
#[derive(Clone, Copy, Debug)]
pub struct Fs(&'static dyn Vfs);

static OS: OsVfs = OsVfs;

impl Fs {
    /// The real file system.
    pub fn os() -> Fs {
        Fs(&OS)
    }

    /// Writes through `vfs`. A test that builds a [`FaultVfs`] per run
    /// leaks it (`Box::leak`) or keeps one in a `static`.
    pub fn new(vfs: &'static dyn Vfs) -> Fs {
        Fs(vfs)
    }

    pub fn open(self, path: &Path, mode: OpenMode) -> Result<WriteFile> {
        self.0.open(path, mode).map_err(|e| Error::io(path, e))
    }

    pub fn create_dir(self, path: &Path) -> Result<()> {
        self.0.create_dir(path).map_err(|e| Error::io(path, e))
    }

    pub fn create_dir_all(self, path: &Path) -> Result<()> {
        self.0.create_dir_all(path).map_err(|e| Error::io(path, e))
    }

    pub fn rename(self, from: &Path, to: &Path) -> Result<()> {
        self.0.rename(from, to).map_err(|e| Error::io(to, e))
    }

    /// Removes a file; one already gone is not an error.
    pub fn remove_file(self, path: &Path) -> Result<()> {
        match self.0.remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(path, e)),
            _ => Ok(()),
        }
    }

    /// Removes a directory tree; one already gone is not an error.
    pub fn remove_dir_all(self, dir: &Path) -> Result<()> {
        match self.0.remove_dir_all(dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(dir, e)),
            _ => Ok(()),
        }
    }

    pub fn sync_dir(self, dir: &Path) -> Result<()> {
        self.0.sync_dir(dir).map_err(|e| Error::io(dir, e))
    }

    pub fn hard_link(self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.hard_link(from, to)
    }
}

impl Default for Fs {
    fn default() -> Self {
        Fs::os()
    }
}

impl PartialEq for Fs {
    fn eq(&self, other: &Fs) -> bool {
        std::ptr::addr_eq(self.0 as *const dyn Vfs, other.0 as *const dyn Vfs)
    }
}

impl Eq for Fs {}
