//! Cardinality statistics of the head (what `/api/v1/status/tsdb` shows).
//!
//! Over the whole head they come from the postings index alone: one pass
//! over the distinct label pairs, not over the series. Focused on series
//! selectors, the matching ids come from postings intersection and only
//! those series' interned label ids are counted, so the cost follows the
//! matched set, not the head.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use roaring::RoaringBitmap;

use super::churn::{now_secs, HeadChurn};
use super::{FastMap, Head, SHARDS};
use crate::error::Result;
use crate::labels::{Matcher, METRIC_NAME};

/// What to compute statistics over.
#[derive(Clone, Debug)]
pub struct CardinalityQuery {
    /// Most entries per ranking.
    pub limit: usize,
    /// Series selectors: the statistics cover the union of the head series
    /// matching any of them. Empty means every head series.
    pub selectors: Vec<Vec<Matcher>>,
    /// A label whose values get their own series-count ranking.
    pub focus_label: Option<String>,
}

impl Default for CardinalityQuery {
    fn default() -> Self {
        CardinalityQuery {
            limit: 10,
            selectors: Vec::new(),
            focus_label: None,
        }
    }
}

/// Head cardinality: totals and the largest entries of each ranking,
/// sorted by descending count (ties by name). Totals and rankings cover the
/// selected series; the time range and churn are the whole head's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cardinality {
    pub num_series: u64,
    /// Distinct `(name, value)` pairs.
    pub num_label_pairs: u64,
    /// Smallest sample timestamp held, `i64::MAX` when empty.
    pub min_time: i64,
    /// Largest sample timestamp held, `i64::MIN` when empty.
    pub max_time: i64,
    /// Metric name → number of series.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Label name → number of distinct values.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Label name → bytes of its values summed over all series carrying it.
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// `name=value` → number of series.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
    /// Label name → number of series carrying it.
    pub series_count_by_label_name: Vec<(String, u64)>,
    /// Value of the focus label → number of series; `None` without one.
    pub series_count_by_focus_label_value: Option<Vec<(String, u64)>>,
    /// Series created and removed in the last hour.
    pub churn: HeadChurn,
}

/// Keeps the `limit` largest `(count, name)` entries. Names are built only
/// for entries that enter the ranking, so a pass over many pairs allocates
/// little.
struct TopK {
    limit: usize,
    /// Min-heap on count; among equal counts the greatest name is evicted
    /// first, so the survivors are the smallest names.
    heap: BinaryHeap<Reverse<(u64, Reverse<String>)>>,
}

impl TopK {
    fn new(limit: usize) -> Self {
        TopK {
            limit,
            heap: BinaryHeap::with_capacity(limit.min(1024) + 1),
        }
    }

    /// Offers an entry whose name is the concatenation of `parts`.
    fn offer(&mut self, count: u64, parts: &[&str]) {
        if self.limit == 0 {
            return;
        }
        if self.heap.len() >= self.limit {
            let Some(Reverse((min_count, Reverse(min_name)))) = self.heap.peek() else {
                return;
            };
            let beats =
                count > *min_count || (count == *min_count && concat_cmp(parts, min_name).is_lt());
            if !beats {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Reverse((count, Reverse(parts.concat()))));
    }

    fn into_sorted(self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .heap
            .into_iter()
            .map(|Reverse((c, Reverse(n)))| (n, c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

/// Compares the concatenation of `parts` with `s` without building it.
fn concat_cmp(parts: &[&str], s: &str) -> std::cmp::Ordering {
    let mut rest = s.as_bytes();
    for p in parts {
        let p = p.as_bytes();
        let n = p.len().min(rest.len());
        match p[..n].cmp(&rest[..n]) {
            std::cmp::Ordering::Equal => {}
            other => return other,
        }
        if p.len() > rest.len() {
            return std::cmp::Ordering::Greater;
        }
        rest = &rest[n..];
    }
    if rest.is_empty() {
        std::cmp::Ordering::Equal
    } else {
        std::cmp::Ordering::Less
    }
}

/// What one label name adds up to over the selected series.
#[derive(Clone, Copy, Default)]
struct NameTotals {
    values: u64,
    bytes: u64,
    series: u64,
}

impl NameTotals {
    fn add(&mut self, value: &str, series: u64) {
        self.values += 1;
        self.bytes += value.len() as u64 * series;
        self.series += series;
    }
}

/// The rankings being built; fed one `(name, value, series)` pair at a
/// time and one total per name.
struct Rankings<'q> {
    focus: Option<&'q str>,
    pairs: u64,
    by_metric: TopK,
    by_pair: TopK,
    by_focus: TopK,
    by_values: TopK,
    by_bytes: TopK,
    by_series: TopK,
}

impl<'q> Rankings<'q> {
    fn new(q: &'q CardinalityQuery) -> Self {
        let k = || TopK::new(q.limit);
        Rankings {
            focus: q.focus_label.as_deref(),
            pairs: 0,
            by_metric: k(),
            by_pair: k(),
            by_focus: k(),
            by_values: k(),
            by_bytes: k(),
            by_series: k(),
        }
    }

    fn pair(&mut self, name: &str, value: &str, series: u64) {
        self.pairs += 1;
        if name == METRIC_NAME {
            self.by_metric.offer(series, &[value]);
        }
        if self.focus == Some(name) {
            self.by_focus.offer(series, &[value]);
        }
        self.by_pair.offer(series, &[name, "=", value]);
    }

    fn name(&mut self, name: &str, t: NameTotals) {
        self.by_values.offer(t.values, &[name]);
        self.by_bytes.offer(t.bytes, &[name]);
        self.by_series.offer(t.series, &[name]);
    }

    fn finish(self, head: &Head, num_series: u64) -> Cardinality {
        Cardinality {
            num_series,
            num_label_pairs: self.pairs,
            min_time: head.min_time(),
            max_time: head.max_time(),
            series_count_by_metric_name: self.by_metric.into_sorted(),
            label_value_count_by_label_name: self.by_values.into_sorted(),
            memory_in_bytes_by_label_name: self.by_bytes.into_sorted(),
            series_count_by_label_value_pair: self.by_pair.into_sorted(),
            series_count_by_label_name: self.by_series.into_sorted(),
            series_count_by_focus_label_value: self.focus.map(|_| self.by_focus.into_sorted()),
            churn: head.churn.window(now_secs()),
        }
    }
}

impl Head {
    /// Cardinality statistics of the series `q` selects, with at most
    /// `q.limit` entries per ranking. Fails only if a matcher cannot be
    /// evaluated against the postings.
    pub fn cardinality(&self, q: &CardinalityQuery) -> Result<Cardinality> {
        if q.selectors.is_empty() {
            return Ok(self.cardinality_all(q));
        }
        let ids = {
            let p = self.postings.read();
            let mut ids = RoaringBitmap::new();
            for sel in &q.selectors {
                ids |= crate::index::postings_for_matchers(&*p, sel)?;
            }
            ids
        };
        Ok(self.cardinality_of(&ids, q))
    }

    /// Over every head series, from the postings alone. Holds the postings
    /// read lock for one pass over the label pairs; appends of new series
    /// wait for it, appends to existing ones do not.
    fn cardinality_all(&self, q: &CardinalityQuery) -> Cardinality {
        let mut r = Rankings::new(q);
        let postings = self.postings.read();
        for name in postings.label_names() {
            let mut t = NameTotals::default();
            for (value, ids) in postings.values_of(&name) {
                t.add(value, ids.len());
                r.pair(&name, value, ids.len());
            }
            r.name(&name, t);
        }
        let num_series = postings.all().len();
        drop(postings);
        r.finish(self, num_series)
    }

    /// Over the series `ids`: their interned label ids are counted per
    /// pair (one shard lock per shard, no strings), and strings are looked
    /// up once per distinct pair. A series removed since `ids` was read is
    /// skipped.
    fn cardinality_of(&self, ids: &RoaringBitmap, q: &CardinalityQuery) -> Cardinality {
        let mut by_shard: Vec<Vec<u32>> = vec![Vec::new(); SHARDS as usize];
        for id in ids {
            by_shard[(id % SHARDS) as usize].push(id);
        }
        // Key: name symbol in the high half, value symbol in the low half.
        let mut pair_counts: FastMap<u64, u64> = FastMap::default();
        let mut num_series = 0u64;
        for (shard, ids) in self.shards.iter().zip(&by_shard) {
            if ids.is_empty() {
                continue;
            }
            let shard = shard.lock();
            for id in ids {
                let Some(s) = shard.series.get(id) else {
                    continue;
                };
                num_series += 1;
                for p in s.labels.chunks_exact(2) {
                    *pair_counts
                        .entry(u64::from(p[0]) << 32 | u64::from(p[1]))
                        .or_default() += 1;
                }
            }
        }
        drop(by_shard);
        let mut r = Rankings::new(q);
        self.symbols.with(|syms| {
            let mut names: FastMap<u32, NameTotals> = FastMap::default();
            for (&key, &series) in &pair_counts {
                let (name, value) = ((key >> 32) as u32, key as u32);
                let value = syms.get(value);
                names.entry(name).or_default().add(value, series);
                r.pair(syms.get(name), value, series);
            }
            for (name, t) in names {
                r.name(syms.get(name), t);
            }
        });
        r.finish(self, num_series)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::HeadOptions;
    use crate::labels::{Labels, Matcher};

    fn pairs(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(n, c)| (n.to_string(), *c)).collect()
    }

    fn top(limit: usize) -> CardinalityQuery {
        CardinalityQuery {
            limit,
            ..CardinalityQuery::default()
        }
    }

    #[test]
    fn concat_compare() {
        use std::cmp::Ordering::*;
        assert_eq!(concat_cmp(&["a", "=", "b"], "a=b"), Equal);
        assert_eq!(concat_cmp(&["a", "=", "b"], "a=c"), Less);
        assert_eq!(concat_cmp(&["a", "=", "b"], "a="), Greater);
        assert_eq!(concat_cmp(&["a", "="], "a=b"), Less);
        assert_eq!(concat_cmp(&[], ""), Equal);
        assert_eq!(concat_cmp(&["b"], "a=zz"), Greater);
    }

    #[test]
    fn top_k_keeps_largest_then_smallest_names() {
        let mut t = TopK::new(3);
        for (n, c) in [("d", 5), ("a", 1), ("c", 5), ("b", 5), ("e", 9), ("f", 5)] {
            t.offer(c, &[n]);
        }
        assert_eq!(t.into_sorted(), pairs(&[("e", 9), ("b", 5), ("c", 5)]));
        let mut none = TopK::new(0);
        none.offer(1, &["x"]);
        assert!(none.into_sorted().is_empty());
    }

    #[test]
    fn head_cardinality() {
        let dir = tempfile::tempdir().unwrap();
        let (head, _) = Head::open(dir.path(), HeadOptions::default()).unwrap();
        let empty = head.cardinality(&top(10)).unwrap();
        assert_eq!(empty.num_series, 0);
        assert_eq!(empty.min_time, i64::MAX);
        assert_eq!(empty.max_time, i64::MIN);
        assert!(empty.series_count_by_metric_name.is_empty());

        fill_node(&head);

        let c = head.cardinality(&top(10)).unwrap();
        assert_eq!(c.num_series, 4);
        // __name__: 2 values, instance: 2, job: 2.
        assert_eq!(c.num_label_pairs, 6);
        assert_eq!((c.min_time, c.max_time), (1000, 1003));
        assert_eq!(
            c.series_count_by_metric_name,
            pairs(&[("up", 3), ("http_requests_total", 1)])
        );
        assert_eq!(
            c.label_value_count_by_label_name,
            pairs(&[("__name__", 2), ("instance", 2), ("job", 2)])
        );
        // __name__: 3*"up" + 1*"http_requests_total" = 6 + 19;
        // instance: 3*"a:1" + 1*"bb:2" = 9 + 4; job: 2*"node" + 2*"prom" = 16.
        assert_eq!(
            c.memory_in_bytes_by_label_name,
            pairs(&[("__name__", 25), ("job", 16), ("instance", 13)])
        );
        assert_eq!(
            c.series_count_by_label_value_pair,
            pairs(&[
                ("__name__=up", 3),
                ("instance=a:1", 3),
                ("job=node", 2),
                ("job=prom", 2),
                ("__name__=http_requests_total", 1),
                ("instance=bb:2", 1),
            ])
        );

        let top1 = head.cardinality(&top(1)).unwrap();
        assert_eq!(top1.series_count_by_metric_name, pairs(&[("up", 3)]));
        assert_eq!(
            top1.series_count_by_label_value_pair,
            pairs(&[("__name__=up", 3)])
        );
        assert_eq!(top1.num_label_pairs, 6, "totals ignore the limit");

        // Deleted data keeps the series (tombstones); truncation drops them.
        head.delete(&[Matcher::equal("job", "node")], 0, 5000)
            .unwrap();
        assert_eq!(head.cardinality(&top(10)).unwrap().num_series, 4);
        head.truncate(10_000).unwrap();
        let gone = head.cardinality(&top(10)).unwrap();
        assert_eq!(gone.num_series, 0);
        assert_eq!(gone.num_label_pairs, 0);
    }

    /// Four series: `up` for two jobs and instances, one other metric.
    fn fill_node(head: &Head) {
        let mut app = head.appender();
        for (i, (name, job, inst)) in [
            ("up", "node", "a:1"),
            ("up", "node", "bb:2"),
            ("up", "prom", "a:1"),
            ("http_requests_total", "prom", "a:1"),
        ]
        .into_iter()
        .enumerate()
        {
            let l = Labels::from_pairs([("__name__", name), ("job", job), ("instance", inst)]);
            app.append(&l, 1000 + i as i64, 1.0).unwrap();
        }
        app.commit().unwrap();
    }

    fn node_head(dir: &std::path::Path) -> Head {
        let (head, _) = Head::open(dir, HeadOptions::default()).unwrap();
        fill_node(&head);
        head
    }

    #[test]
    fn focused_statistics_and_extension_rankings() {
        let dir = tempfile::tempdir().unwrap();
        let head = node_head(dir.path());
        let all = head
            .cardinality(&CardinalityQuery {
                focus_label: Some("instance".into()),
                ..top(10)
            })
            .unwrap();
        assert_eq!(
            all.series_count_by_label_name,
            pairs(&[("__name__", 4), ("instance", 4), ("job", 4)])
        );
        assert_eq!(
            all.series_count_by_focus_label_value,
            Some(pairs(&[("a:1", 3), ("bb:2", 1)]))
        );
        assert_eq!(
            head.cardinality(&top(10))
                .unwrap()
                .series_count_by_focus_label_value,
            None
        );

        // Two selectors: their union (the overlap counted once).
        let q = CardinalityQuery {
            selectors: vec![
                vec![Matcher::equal("job", "node")],
                vec![
                    Matcher::equal("instance", "bb:2"),
                    Matcher::equal("__name__", "up"),
                ],
            ],
            focus_label: Some("instance".into()),
            limit: 10,
        };
        let c = head.cardinality(&q).unwrap();
        assert_eq!(c.num_series, 2);
        // __name__=up, job=node, instance=a:1, instance=bb:2.
        assert_eq!(c.num_label_pairs, 4);
        assert_eq!((c.min_time, c.max_time), (1000, 1003), "the whole head's");
        assert_eq!(c.series_count_by_metric_name, pairs(&[("up", 2)]));
        assert_eq!(
            c.label_value_count_by_label_name,
            pairs(&[("instance", 2), ("__name__", 1), ("job", 1)])
        );
        assert_eq!(
            c.memory_in_bytes_by_label_name,
            pairs(&[("job", 8), ("instance", 7), ("__name__", 4)])
        );
        assert_eq!(
            c.series_count_by_label_value_pair,
            pairs(&[
                ("__name__=up", 2),
                ("job=node", 2),
                ("instance=a:1", 1),
                ("instance=bb:2", 1),
            ])
        );
        assert_eq!(
            c.series_count_by_focus_label_value,
            Some(pairs(&[("a:1", 1), ("bb:2", 1)]))
        );
        // A focus label no selected series carries ranks nothing.
        let none = head
            .cardinality(&CardinalityQuery {
                focus_label: Some("zone".into()),
                ..q.clone()
            })
            .unwrap();
        assert_eq!(none.series_count_by_focus_label_value, Some(vec![]));
        // Selectors matching nothing give empty statistics.
        let nothing = head
            .cardinality(&CardinalityQuery {
                selectors: vec![vec![Matcher::equal("job", "none")]],
                ..top(10)
            })
            .unwrap();
        assert_eq!(nothing.num_series, 0);
        assert!(nothing.series_count_by_label_value_pair.is_empty());
    }

    #[test]
    fn churn_counts_creations_and_removals_but_not_replay() {
        let dir = tempfile::tempdir().unwrap();
        let head = node_head(dir.path());
        let churn = |h: &Head| {
            let c = h.cardinality(&top(1)).unwrap().churn;
            assert_eq!(c.window_seconds, 3600);
            (c.series_created, c.series_removed)
        };
        assert_eq!(churn(&head), (4, 0));
        // Appending to existing series creates nothing.
        let mut app = head.appender();
        app.append(
            &Labels::from_pairs([("__name__", "up"), ("instance", "a:1"), ("job", "node")]),
            5000,
            1.0,
        )
        .unwrap();
        app.commit().unwrap();
        assert_eq!(churn(&head), (4, 0));
        // Truncation removes the three series with nothing after 4000.
        head.truncate(4000).unwrap();
        assert_eq!(churn(&head), (4, 3));
        head.close().unwrap();
        drop(head);
        // The reopened head replays the remaining series without counting them.
        let (again, _) = Head::open(dir.path(), HeadOptions::default()).unwrap();
        assert_eq!(again.num_series(), 1);
        assert_eq!(churn(&again), (0, 0));
    }

    mod brute_force {
        use super::*;
        use crate::labels::MatchOp;
        use crate::wal::{SyncPolicy, WalOptions};
        use proptest::prelude::*;
        use std::collections::{BTreeMap, BTreeSet};

        const NAMES: &[&str] = &["__name__", "a", "b", "job"];
        const VALUES: &[&str] = &["m1", "m2", "x", "xy", "1", "10"];

        /// Series as label pairs over a small alphabet (so series share
        /// pairs), each with the time of its one sample.
        fn heads() -> impl Strategy<Value = Vec<(Vec<(&'static str, &'static str)>, i64)>> {
            let pair = (prop::sample::select(NAMES), prop::sample::select(VALUES));
            let series = (
                proptest::collection::vec(pair, 1..4),
                prop::sample::select(vec![1000i64, 5000]),
            );
            proptest::collection::vec(series, 0..40)
        }

        fn matcher() -> impl Strategy<Value = Matcher> {
            (
                prop::sample::select(NAMES),
                prop::sample::select(vec![
                    MatchOp::Equal,
                    MatchOp::NotEqual,
                    MatchOp::RegexMatch,
                    MatchOp::RegexNoMatch,
                ]),
                prop::sample::select(vec!["m1", "x", "x.*", "1|10", ""]),
            )
                .prop_map(|(n, op, v)| Matcher::new(op, n, v).unwrap())
        }

        /// The rankings as the API defines them: descending count, ties by
        /// name, at most `limit`.
        fn ranked(m: BTreeMap<String, u64>, limit: usize) -> Vec<(String, u64)> {
            let mut v: Vec<(String, u64)> = m.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v.truncate(limit);
            v
        }

        /// Every statistic counted from the series' label sets directly.
        fn expected(series: &[Labels], q: &CardinalityQuery) -> Cardinality {
            let chosen: Vec<&Labels> = series
                .iter()
                .filter(|l| {
                    q.selectors.is_empty()
                        || q.selectors
                            .iter()
                            .any(|s| s.iter().all(|m| m.matches_labels(l)))
                })
                .collect();
            let mut by_metric = BTreeMap::new();
            let mut by_pair = BTreeMap::new();
            let mut by_focus = BTreeMap::new();
            let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut bytes = BTreeMap::new();
            let mut by_name = BTreeMap::new();
            for l in &chosen {
                for p in l.iter() {
                    *by_pair
                        .entry(format!("{}={}", p.name, p.value))
                        .or_insert(0) += 1;
                    if p.name == METRIC_NAME {
                        *by_metric.entry(p.value.clone()).or_insert(0) += 1;
                    }
                    if q.focus_label.as_deref() == Some(p.name.as_str()) {
                        *by_focus.entry(p.value.clone()).or_insert(0) += 1;
                    }
                    values
                        .entry(p.name.clone())
                        .or_default()
                        .insert(p.value.clone());
                    *bytes.entry(p.name.clone()).or_insert(0) += p.value.len() as u64;
                    *by_name.entry(p.name.clone()).or_insert(0) += 1;
                }
            }
            let num_label_pairs = by_pair.len() as u64;
            Cardinality {
                num_series: chosen.len() as u64,
                num_label_pairs,
                min_time: 0,
                max_time: 0,
                series_count_by_metric_name: ranked(by_metric, q.limit),
                label_value_count_by_label_name: ranked(
                    values
                        .into_iter()
                        .map(|(n, v)| (n, v.len() as u64))
                        .collect(),
                    q.limit,
                ),
                memory_in_bytes_by_label_name: ranked(bytes, q.limit),
                series_count_by_label_value_pair: ranked(by_pair, q.limit),
                series_count_by_label_name: ranked(by_name, q.limit),
                series_count_by_focus_label_value: q
                    .focus_label
                    .as_ref()
                    .map(|_| ranked(by_focus, q.limit)),
                churn: HeadChurn::default(),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]
            #[test]
            fn statistics_equal_a_count_over_the_matching_series(
                input in heads(),
                selectors in proptest::collection::vec(proptest::collection::vec(matcher(), 1..3), 0..3),
                focus in prop::option::of(prop::sample::select(NAMES)),
                limit in 1usize..6,
                truncate in any::<bool>(),
            ) {
                let dir = tempfile::tempdir().unwrap();
                let opts = HeadOptions {
                    wal: WalOptions { sync: SyncPolicy::Never, ..WalOptions::default() },
                    ..HeadOptions::default()
                };
                let (head, _) = Head::open(dir.path(), opts).unwrap();
                let mut held: BTreeMap<Labels, i64> = BTreeMap::new();
                let mut app = head.appender();
                for (pairs, t) in input {
                    let mut dedup: BTreeMap<&str, &str> = BTreeMap::new();
                    dedup.extend(pairs);
                    let l = Labels::from_pairs(dedup);
                    if held.contains_key(&l) {
                        continue;
                    }
                    app.append(&l, t, 1.0).unwrap();
                    held.insert(l, t);
                }
                app.commit().unwrap();
                if truncate {
                    // Removes the series whose one sample is older.
                    head.truncate(3000).unwrap();
                    held.retain(|_, t| *t >= 3000);
                }
                let series: Vec<Labels> = held.into_keys().collect();
                let q = CardinalityQuery {
                    limit,
                    selectors,
                    focus_label: focus.map(str::to_string),
                };
                let mut got = head.cardinality(&q).unwrap();
                (got.min_time, got.max_time, got.churn) = (0, 0, HeadChurn::default());
                prop_assert_eq!(got, expected(&series, &q));
                // Focused on everything, the per-series path agrees with
                // the postings-only one.
                let everything = CardinalityQuery {
                    selectors: vec![vec![Matcher::new(MatchOp::RegexMatch, "__name__", ".*").unwrap()]],
                    ..q.clone()
                };
                let all = CardinalityQuery { selectors: vec![], ..q };
                prop_assert_eq!(
                    head.cardinality(&everything).unwrap(),
                    head.cardinality(&all).unwrap()
                );
            }
        }
    }
}
