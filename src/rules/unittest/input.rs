//! The data of one test group: a fresh database in a temporary directory,
//! and the input series appended lazily, up to each evaluation time, as
//! promtool's loader does, so that a rule or an `@` query at time `t` sees
//! no input sample after `t`.

use std::cell::Cell;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use storage::{Db, Labels, Options};

use super::series::{SampleValue, SeriesValues};

/// A directory removed (with its contents) when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("ferroprom-test-rules-{}-{n}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(TempDir(dir)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One input series and the samples of it not appended yet.
struct Pending {
    labels: Labels,
    /// `(t, v)` in time order; `next` is the first not yet appended.
    samples: Vec<(i64, f64)>,
    // A `Cell` so samples can be appended while queries borrow the db.
    next: Cell<usize>,
}

/// A test group's database and its input series.
pub(crate) struct TestStorage {
    pub db: Db,
    pending: Vec<Pending>,
    // Declared after `db` so the database is closed before its directory
    // goes away.
    _dir: TempDir,
}

impl TestStorage {
    /// Opens an empty database; the `i`-th value of each series is due at
    /// `start + i * interval` (ms), `_` leaving a gap and `stale` being a
    /// staleness marker.
    pub fn open(
        series: Vec<(Labels, SeriesValues)>,
        start: i64,
        interval: i64,
    ) -> io::Result<Self> {
        let dir = TempDir::new()?;
        let mut opts = Options {
            compaction_interval: None,
            retention: None,
            ..Options::default()
        };
        // A throw-away database: no fsync per evaluation.
        opts.wal.sync = storage::wal::SyncPolicy::Never;
        let db = Db::open(&dir.0, opts).map_err(io::Error::other)?;
        let pending = series
            .into_iter()
            .map(|(labels, values)| Pending {
                labels,
                samples: values
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, v)| {
                        let t = start + i as i64 * interval;
                        match v? {
                            SampleValue::Float(f) => Some((t, f)),
                            SampleValue::Stale => Some((t, storage::stale_nan())),
                        }
                    })
                    .collect(),
                next: Cell::new(0),
            })
            .collect();
        Ok(TestStorage {
            db,
            pending,
            _dir: dir,
        })
    }

    /// Appends every input sample at or before `ts` not appended yet.
    pub fn append_till(&self, ts: i64) -> Result<(), String> {
        let mut app = self.db.appender();
        for p in &self.pending {
            while let Some(&(t, v)) = p.samples.get(p.next.get()) {
                if t > ts {
                    break;
                }
                app.append(&p.labels, t, v).map_err(|e| e.to_string())?;
                p.next.set(p.next.get() + 1);
            }
        }
        app.commit().map_err(|e| e.to_string())
    }
}
