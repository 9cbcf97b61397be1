//! The real file system: `std::fs`, one call per operation.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::{OpenMode, Vfs, VfsFile, WriteFile};

/// `std::fs` as a [`Vfs`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OsVfs;

/// Opens `path` per `mode` with `std::fs` (shared with the fault injector,
/// which works on real files).
pub(super) fn open_file(path: &Path, mode: OpenMode) -> io::Result<File> {
    let mut o = OpenOptions::new();
    match mode {
        OpenMode::Truncate => o.write(true).create(true).truncate(true),
        OpenMode::CreateNew => o.append(true).create_new(true),
        OpenMode::Existing => o.write(true),
    };
    o.open(path)
}

pub(super) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

impl Vfs for OsVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<WriteFile> {
        open_file(path, mode).map(|f| WriteFile::new(OsFile(f)))
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        fs::create_dir(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir_all(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        sync_dir(path)
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::hard_link(from, to)
    }
}

#[derive(Debug)]
struct OsFile(File);

impl VfsFile for OsFile {
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}
