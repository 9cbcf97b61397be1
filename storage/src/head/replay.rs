//! Rebuilding the head from the WAL at startup.

use std::path::Path;

use super::{Head, OpenReport};
use crate::error::Result;
use crate::tombstones::Interval;
use crate::wal::{self, Record};

/// Replays checkpoint and segments into `head`. Series keep their WAL refs
/// so later records (and tombstones) resolve to them.
pub(super) fn replay(head: &mut Head, wal_dir: &Path) -> Result<OpenReport> {
    let mut skipped = 0u64;
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    let mut applied = 0u64;
    let stats = wal::replay(wal_dir, |rec| {
        match rec {
            Record::Series(series) => {
                for s in series {
                    if s.labels.validate().is_err() {
                        continue;
                    }
                    let want = u32::try_from(s.series_ref).ok();
                    let (id, _) = head.get_or_create(&s.labels, want);
                    if let Some(m) = head.shard(id).lock().series.get_mut(&id) {
                        m.wal_logged = true;
                    }
                    if Some(id) != want {
                        tracing::warn!(series_ref = s.series_ref, "WAL series ref remapped");
                    }
                }
            }
            Record::Samples(samples) => {
                for s in samples {
                    let id = s.series_ref as u32;
                    let mut shard = head.shard(id).lock();
                    let ok = shard.series.get_mut(&id).is_some_and(|m| {
                        m.append(id, s.t, s.v, head.opts.block_range, &head.chunks)
                            .is_ok()
                    });
                    if ok {
                        applied += 1;
                        lo = lo.min(s.t);
                        hi = hi.max(s.t);
                    } else {
                        skipped += 1;
                    }
                }
            }
            Record::Tombstones(stones) => {
                let mut ts = head.tombstones.write();
                for t in stones {
                    ts.add(
                        t.series_ref,
                        Interval {
                            mint: t.mint,
                            maxt: t.maxt,
                        },
                    );
                }
            }
        }
        Ok(())
    })?;
    if applied > 0 {
        head.note_time(lo);
        head.note_time(hi);
    }
    if let Some(err) = &stats.corruption {
        tracing::error!(error = %err, "WAL corruption: replay stopped there; earlier data kept");
    }
    if skipped > 0 {
        tracing::warn!(skipped, "WAL samples could not be applied during replay");
    }
    Ok(OpenReport {
        replay: stats,
        samples_skipped: skipped,
    })
}
