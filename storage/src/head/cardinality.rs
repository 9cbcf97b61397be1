//! Cardinality statistics of the head (what `/api/v1/status/tsdb` shows):
//! computed from the postings index alone, so the cost is one pass over the
//! distinct label pairs, not over the series.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Head;
use crate::labels::METRIC_NAME;

/// Head cardinality: totals and the largest entries of four rankings, each
/// sorted by descending count (ties by name).
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

impl Head {
    /// Cardinality statistics with at most `limit` entries per ranking.
    /// Holds the postings read lock for one pass over the label pairs;
    /// appends of new series wait for it, appends to existing ones do not.
    pub fn cardinality(&self, limit: usize) -> Cardinality {
        let mut by_metric = TopK::new(limit);
        let mut by_name = TopK::new(limit);
        let mut by_bytes = TopK::new(limit);
        let mut by_pair = TopK::new(limit);
        let mut pairs = 0u64;
        let postings = self.postings.read();
        for name in postings.label_names() {
            let mut values = 0u64;
            let mut bytes = 0u64;
            for (value, ids) in postings.values_of(&name) {
                let series = ids.len();
                values += 1;
                bytes += value.len() as u64 * series;
                if name == METRIC_NAME {
                    by_metric.offer(series, &[value]);
                }
                by_pair.offer(series, &[&name, "=", value]);
            }
            pairs += values;
            by_name.offer(values, &[&name]);
            by_bytes.offer(bytes, &[&name]);
        }
        let num_series = postings.all().len();
        drop(postings);
        Cardinality {
            num_series,
            num_label_pairs: pairs,
            min_time: self.min_time(),
            max_time: self.max_time(),
            series_count_by_metric_name: by_metric.into_sorted(),
            label_value_count_by_label_name: by_name.into_sorted(),
            memory_in_bytes_by_label_name: by_bytes.into_sorted(),
            series_count_by_label_value_pair: by_pair.into_sorted(),
        }
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
        let empty = head.cardinality(10);
        assert_eq!(empty.num_series, 0);
        assert_eq!(empty.min_time, i64::MAX);
        assert_eq!(empty.max_time, i64::MIN);
        assert!(empty.series_count_by_metric_name.is_empty());

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

        let c = head.cardinality(10);
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

        let top1 = head.cardinality(1);
        assert_eq!(top1.series_count_by_metric_name, pairs(&[("up", 3)]));
        assert_eq!(
            top1.series_count_by_label_value_pair,
            pairs(&[("__name__=up", 3)])
        );
        assert_eq!(top1.num_label_pairs, 6, "totals ignore the limit");

        // Deleted data keeps the series (tombstones); truncation drops them.
        head.delete(&[Matcher::equal("job", "node")], 0, 5000)
            .unwrap();
        assert_eq!(head.cardinality(10).num_series, 4);
        head.truncate(10_000).unwrap();
        let gone = head.cardinality(10);
        assert_eq!(gone.num_series, 0);
        assert_eq!(gone.num_label_pairs, 0);
    }
}
