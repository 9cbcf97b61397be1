//! Cached range results per [`Key`]: one contiguous run of evaluation
//! times each, bounded in bytes with least-recently-used eviction, and
//! cut back when data at or before a cached time changes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use promql::Series;

use super::key::Key;

/// Invalidations remembered for results computed while they happened
/// (see [`Store::put`]); a result older than all of them is not stored.
const INVALIDATION_LOG: usize = 64;

/// The results of one key at the evaluation times `from..=to` (on its
/// grid); `series` sorted by labels, each with its points in that range,
/// none empty.
#[derive(Clone, Debug)]
pub struct Run {
    pub from: i64,
    pub to: i64,
    pub series: Arc<Vec<Series>>,
}

impl Run {
    /// Bytes the run holds, estimated.
    fn bytes(&self) -> usize {
        series_bytes(&self.series)
    }

    /// Keeps the evaluation times before `t` (a run on a grid of `step`);
    /// `false` when none is left.
    fn cut_from(&mut self, t: i64, step: i64) -> bool {
        if t <= self.from {
            return false;
        }
        if t > self.to {
            return true;
        }
        self.to = self.from + (t - 1 - self.from) / step * step;
        let series = Arc::make_mut(&mut self.series);
        for s in series.iter_mut() {
            let keep = s.points.partition_point(|&(pt, _)| pt < t);
            s.points.truncate(keep);
        }
        series.retain(|s| !s.points.is_empty());
        true
    }
}

/// Bytes `series` would hold in a run, estimated.
pub fn series_bytes(series: &[Series]) -> usize {
    series
        .iter()
        .map(|s| {
            std::mem::size_of::<Series>()
                + s.points.len() * std::mem::size_of::<(i64, f64)>()
                + s.metric
                    .iter()
                    .map(|l| std::mem::size_of::<promql::Label>() + l.name.len() + l.value.len())
                    .sum::<usize>()
        })
        .sum()
}

struct Entry {
    run: Run,
    bytes: usize,
    /// Position in `Store::recency`.
    used: u64,
}

/// What a change to the store did, for the cache's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effect {
    /// Entries cut back by invalidation (removed or shortened).
    pub invalidated: u64,
    pub evicted: u64,
}

/// The entries, their recency and their size.
pub struct Store {
    max_bytes: usize,
    bytes: usize,
    entries: HashMap<Key, Entry>,
    /// Use counter → key, oldest first.
    recency: BTreeMap<u64, Key>,
    clock: u64,
    /// Invalidations so far, and the recent ones as `(number, time)`.
    invalidations: u64,
    log: VecDeque<(u64, i64)>,
}

impl Store {
    pub fn new(max_bytes: usize) -> Store {
        Store {
            max_bytes,
            bytes: 0,
            entries: HashMap::new(),
            recency: BTreeMap::new(),
            clock: 0,
            invalidations: 0,
            log: VecDeque::new(),
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The budget.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// A mark to hand back to [`Store::put`] with results computed after
    /// it.
    pub fn mark(&self) -> u64 {
        self.invalidations
    }

    /// Data at times `≥ t` changed: every run keeps only earlier times.
    pub fn invalidate(&mut self, t: i64) -> Effect {
        self.invalidations += 1;
        self.log.push_back((self.invalidations, t));
        if self.log.len() > INVALIDATION_LOG {
            self.log.pop_front();
        }
        let mut effect = Effect::default();
        let mut dead = Vec::new();
        for (key, e) in self.entries.iter_mut() {
            if e.run.to < t {
                continue;
            }
            effect.invalidated += 1;
            if e.run.cut_from(t, key.step()) {
                let bytes = key.bytes() + e.run.bytes();
                self.bytes = self.bytes - e.bytes + bytes;
                e.bytes = bytes;
            } else {
                dead.push(key.clone());
            }
        }
        for key in dead {
            self.remove(&key);
        }
        effect
    }

    /// The run of `key`, now the most recently used.
    pub fn get(&mut self, key: &Key) -> Option<Run> {
        self.clock += 1;
        let e = self.entries.get_mut(key)?;
        self.recency.remove(&e.used);
        e.used = self.clock;
        self.recency.insert(self.clock, key.clone());
        Some(e.run.clone())
    }

    /// Stores `run` for `key` (replacing what was there), computed from
    /// data read after [`Store::mark`] returned `mark`: the invalidations
    /// since cut it first. Evicts least recently used entries to stay
    /// within the budget; a run larger than the whole budget is not kept.
    pub fn put(&mut self, key: Key, mut run: Run, mark: u64) -> Effect {
        self.remove(&key);
        let mut effect = Effect::default();
        if mark < self.invalidations {
            let Some(&(oldest, _)) = self.log.front() else {
                return effect;
            };
            if oldest > mark + 1 {
                // Forgotten invalidations may have touched it.
                return effect;
            }
            let since = self
                .log
                .iter()
                .filter(|&&(n, _)| n > mark)
                .map(|&(_, t)| t)
                .min();
            if let Some(t) = since {
                if !run.cut_from(t, key.step()) {
                    return effect;
                }
            }
        }
        let bytes = key.bytes() + run.bytes();
        if bytes > self.max_bytes {
            return effect;
        }
        while self.bytes + bytes > self.max_bytes {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
                effect.evicted += 1;
            }
        }
        self.clock += 1;
        self.recency.insert(self.clock, key.clone());
        self.bytes += bytes;
        self.entries.insert(
            key,
            Entry {
                run,
                bytes,
                used: self.clock,
            },
        );
        effect
    }

    fn remove(&mut self, key: &Key) {
        if let Some(e) = self.entries.remove(key) {
            self.recency.remove(&e.used);
            self.bytes -= e.bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql::Labels;

    const STEP: i64 = 10;

    fn key(q: &str) -> Key {
        Key::for_query(&promql::parse(q).unwrap(), 0, STEP, None).unwrap()
    }

    /// Series `a` on every step of `from..=to`, `b` on the last only.
    fn run(from: i64, to: i64) -> Run {
        let a = Series {
            metric: Labels::from_pairs([("s", "a")]),
            points: (from..=to)
                .step_by(STEP as usize)
                .map(|t| (t, 1.0))
                .collect(),
        };
        let b = Series {
            metric: Labels::from_pairs([("s", "b")]),
            points: vec![(to, 2.0)],
        };
        Run {
            from,
            to,
            series: Arc::new(vec![a, b]),
        }
    }

    #[test]
    fn invalidation_cuts_runs_back() {
        let mut s = Store::new(1 << 20);
        s.put(key("a"), run(0, 100), s.mark());
        s.put(key("b"), run(50, 100), s.mark());
        s.put(key("c"), run(0, 30), s.mark());
        let full = s.bytes();
        assert_eq!(
            s.invalidate(45),
            Effect {
                invalidated: 2,
                evicted: 0
            }
        );
        assert_eq!(s.len(), 2, "b started after 45");
        assert!(s.get(&key("b")).is_none());
        let a = s.get(&key("a")).unwrap();
        assert_eq!((a.from, a.to), (0, 40));
        assert_eq!(a.series[0].points.last(), Some(&(40, 1.0)));
        assert_eq!(s.get(&key("c")).unwrap().to, 30);
        assert!(s.bytes() < full);
        // A time on the grid goes too.
        s.invalidate(40);
        assert_eq!(s.get(&key("a")).unwrap().to, 30);
        s.invalidate(0);
        assert_eq!((s.len(), s.bytes()), (0, 0));
    }

    #[test]
    fn a_series_left_without_points_goes() {
        let mut s = Store::new(1 << 20);
        s.put(key("a"), run(50, 100), s.mark());
        s.invalidate(60);
        let a = s.get(&key("a")).unwrap();
        let names: Vec<&str> = a.series.iter().map(|x| x.metric.get("s")).collect();
        assert_eq!(names, ["a"]);
        let mut r = run(50, 100);
        assert!(r.cut_from(60, STEP));
        assert!(r.cut_from(55, STEP));
        assert_eq!((r.from, r.to), (50, 50));
    }

    #[test]
    fn results_older_than_an_invalidation_are_cut_by_it() {
        let mut s = Store::new(1 << 20);
        let mark = s.mark();
        s.invalidate(70);
        s.put(key("a"), run(0, 100), mark);
        assert_eq!(s.get(&key("a")).unwrap().to, 60);
        // Too many invalidations since: not stored.
        let mark = s.mark();
        for t in 0..=INVALIDATION_LOG as i64 {
            s.invalidate(1000 + t);
        }
        s.put(key("b"), run(0, 100), mark);
        assert!(s.get(&key("b")).is_none());
        // Entirely after an invalidation: not stored either.
        let mark = s.mark();
        s.invalidate(0);
        s.put(key("c"), run(0, 100), mark);
        assert!(s.get(&key("c")).is_none());
    }

    #[test]
    fn least_recently_used_is_evicted_first() {
        let one = key("a").bytes() + run(0, 100).bytes();
        let mut s = Store::new(one * 3);
        for q in ["a", "b", "c"] {
            s.put(key(q), run(0, 100), s.mark());
        }
        assert_eq!(s.len(), 3);
        s.get(&key("a"));
        let e = s.put(key("d"), run(0, 100), s.mark());
        assert_eq!(e.evicted, 1);
        assert!(s.get(&key("b")).is_none(), "b was least recently used");
        assert!(s.get(&key("a")).is_some() && s.get(&key("d")).is_some());
        assert!(s.bytes() <= one * 3);
        // Larger than the whole budget: not kept, nothing evicted for it.
        let mut small = Store::new(one / 2);
        assert_eq!(small.put(key("a"), run(0, 100), 0).evicted, 0);
        assert_eq!(small.len(), 0);
        // Replacing an entry frees its old size.
        s.put(key("a"), run(0, 10), s.mark());
        assert!(s.bytes() < one * 3);
    }
}
