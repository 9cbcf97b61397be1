//! Resolving label matchers to series ids, with Prometheus semantics.

use roaring::RoaringBitmap;

use super::postings::MemPostings;
use crate::{MatchOp, Matcher, Result};

/// What [`postings_for_matchers`] needs from an index (head or block).
pub trait PostingsSource {
    /// Every series id of the index.
    fn all_postings(&self) -> Result<RoaringBitmap>;
    /// The ids of series with `name="value"`; empty if absent.
    fn postings(&self, name: &str, value: &str) -> Result<RoaringBitmap>;
    /// Union of postings for all values of `name` that satisfy `pred`.
    fn postings_for_values(&self, name: &str, pred: &dyn Fn(&str) -> bool)
        -> Result<RoaringBitmap>;
}

impl PostingsSource for MemPostings {
    fn all_postings(&self) -> Result<RoaringBitmap> {
        Ok(self.all().clone())
    }

    fn postings(&self, name: &str, value: &str) -> Result<RoaringBitmap> {
        Ok(self.get(name, value).cloned().unwrap_or_default())
    }

    fn postings_for_values(
        &self,
        name: &str,
        pred: &dyn Fn(&str) -> bool,
    ) -> Result<RoaringBitmap> {
        let mut out = RoaringBitmap::new();
        for (v, bm) in self.values_of(name) {
            if pred(v) {
                out |= bm;
            }
        }
        Ok(out)
    }
}

/// If `re` is an alternation of plain literals (`a|b|c`, with `\`-escaped
/// punctuation allowed), the literals; otherwise `None`.
pub(crate) fn literal_alternation(re: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = re.chars();
    while let Some(c) = chars.next() {
        match c {
            '|' => out.push(std::mem::take(&mut cur)),
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => cur.push(e),
                _ => return None,
            },
            '.' | '+' | '*' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '^' | '$' => return None,
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// How one matcher contributes to the result.
enum Plan {
    /// Intersect with these ids.
    Intersect(RoaringBitmap),
    /// Remove these ids.
    Subtract(RoaringBitmap),
    /// No effect (e.g. `=~".*"`).
    Nothing,
}

fn union_of(src: &dyn PostingsSource, name: &str, values: &[String]) -> Result<RoaringBitmap> {
    let mut out = RoaringBitmap::new();
    for v in values {
        if !v.is_empty() {
            out |= src.postings(name, v)?;
        }
    }
    Ok(out)
}

/// Ids of series with label `name` whose value does (`want`=true) or does
/// not satisfy `m`. A series lacking the label is never included.
fn values_where(src: &dyn PostingsSource, m: &Matcher, want: bool) -> Result<RoaringBitmap> {
    let regex = matches!(m.op, MatchOp::RegexMatch | MatchOp::RegexNoMatch);
    // The set of values the matcher accepts/rejects when it is a literal set.
    let lits = match m.op {
        MatchOp::Equal | MatchOp::NotEqual => Some(vec![m.value.clone()]),
        _ => literal_alternation(&m.value),
    };
    let positive = matches!(m.op, MatchOp::Equal | MatchOp::RegexMatch);
    if let Some(lits) = lits {
        // `m` accepts exactly `lits` (positive) or everything but `lits`.
        if want == positive {
            return union_of(src, &m.name, &lits);
        }
        return src.postings_for_values(&m.name, &|v| {
            lits.binary_search_by(|l| l.as_str().cmp(v)).is_err()
        });
    }
    if regex && (m.value == ".*" || m.value == ".+") {
        // `.` matches newlines too, so these accept every non-empty value.
        return if want == positive {
            src.postings_for_values(&m.name, &|_| true)
        } else {
            Ok(RoaringBitmap::new())
        };
    }
    src.postings_for_values(&m.name, &|v| m.matches(v) == want)
}

fn plan(src: &dyn PostingsSource, m: &Matcher) -> Result<Plan> {
    if m.matches_empty() {
        // Selects series lacking the label too: drop those whose value fails.
        if matches!(m.op, MatchOp::RegexMatch) && m.value == ".*" {
            return Ok(Plan::Nothing);
        }
        Ok(Plan::Subtract(values_where(src, m, false)?))
    } else {
        Ok(Plan::Intersect(values_where(src, m, true)?))
    }
}

/// Ids of series matching ALL matchers, with Prometheus semantics.
///
/// A label a series lacks has the value `""`. A matcher not matching `""`
/// narrows the result to series having a matching value (intersection); one
/// matching `""` removes the series whose value it rejects (subtraction). If
/// no matcher intersects, subtraction starts from all series. An empty
/// matcher list selects nothing, as in Prometheus.
pub fn postings_for_matchers(
    src: &dyn PostingsSource,
    matchers: &[Matcher],
) -> Result<RoaringBitmap> {
    if matchers.is_empty() {
        return Ok(RoaringBitmap::new());
    }
    // Intersecting matchers first, cheap (literal) ones before scans, so an
    // empty intersection returns early.
    let mut order: Vec<&Matcher> = matchers.iter().collect();
    order.sort_by_key(|m| {
        let lit = matches!(m.op, MatchOp::Equal | MatchOp::NotEqual)
            || literal_alternation(&m.value).is_some();
        (m.matches_empty(), !lit)
    });
    let mut acc: Option<RoaringBitmap> = None;
    for m in order {
        match plan(src, m)? {
            Plan::Intersect(bm) => {
                let next = match acc.take() {
                    None => bm,
                    Some(a) => a & bm,
                };
                if next.is_empty() {
                    return Ok(next);
                }
                acc = Some(next);
            }
            Plan::Subtract(bm) => {
                let mut a = match acc.take() {
                    Some(a) => a,
                    None => src.all_postings()?,
                };
                a -= bm;
                if a.is_empty() {
                    return Ok(a);
                }
                acc = Some(a);
            }
            Plan::Nothing => {}
        }
    }
    match acc {
        Some(a) => Ok(a),
        None => src.all_postings(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Labels;

    #[test]
    fn literal_alternations() {
        assert_eq!(literal_alternation("a|b").unwrap(), vec!["a", "b"]);
        assert_eq!(literal_alternation("b|a|").unwrap(), vec!["", "a", "b"]);
        assert_eq!(literal_alternation(r"a\.b").unwrap(), vec!["a.b"]);
        assert_eq!(literal_alternation("").unwrap(), vec![""]);
        assert!(literal_alternation("a.b").is_none());
        assert!(literal_alternation("[ab]").is_none());
        assert!(literal_alternation(r"\d").is_none());
    }

    fn ids(bm: RoaringBitmap) -> Vec<u32> {
        bm.iter().collect()
    }

    #[test]
    fn basic_semantics() {
        let mut p = MemPostings::new();
        p.add(0, &Labels::from_pairs([("n", "up"), ("a", "1")]));
        p.add(1, &Labels::from_pairs([("n", "up"), ("a", "2")]));
        p.add(2, &Labels::from_pairs([("n", "up")]));
        p.add(3, &Labels::from_pairs([("n", "down"), ("a", "1")]));
        let re = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
        let q = |ms: &[Matcher]| ids(postings_for_matchers(&p, ms).unwrap());
        assert_eq!(q(&[Matcher::equal("n", "up")]), vec![0, 1, 2]);
        assert_eq!(
            q(&[Matcher::equal("n", "up"), Matcher::equal("a", "")]),
            vec![2]
        );
        assert_eq!(
            q(&[Matcher::equal("n", "up"), re(MatchOp::NotEqual, "a", "")]),
            vec![0, 1]
        );
        assert_eq!(q(&[re(MatchOp::NotEqual, "a", "1")]), vec![1, 2]);
        assert_eq!(q(&[re(MatchOp::RegexMatch, "a", ".*")]), vec![0, 1, 2, 3]);
        assert_eq!(q(&[re(MatchOp::RegexMatch, "a", ".+")]), vec![0, 1, 3]);
        assert_eq!(
            q(&[re(MatchOp::RegexNoMatch, "a", ".*")]),
            Vec::<u32>::new()
        );
        assert_eq!(q(&[re(MatchOp::RegexNoMatch, "a", "1|2")]), vec![2]);
        assert_eq!(q(&[re(MatchOp::RegexMatch, "a", "1|")]), vec![0, 2, 3]);
        assert_eq!(q(&[]), Vec::<u32>::new());
    }

    #[test]
    fn two_equalities_over_100k_series() {
        let mut p = MemPostings::new();
        let n = 100_000u32;
        for i in 0..n {
            let l = Labels::from_pairs([
                ("__name__", format!("m{}", i % 10)),
                ("job", format!("j{}", i % 7)),
                ("instance", format!("i{i}")),
            ]);
            p.add(i, &l);
        }
        let got = postings_for_matchers(
            &p,
            &[
                Matcher::equal("__name__", "m3"),
                Matcher::equal("job", "j5"),
            ],
        )
        .unwrap();
        let want: Vec<u32> = (0..n).filter(|i| i % 10 == 3 && i % 7 == 5).collect();
        assert_eq!(ids(got), want);
    }
}

#[cfg(test)]
mod model_tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::index::{IndexReader, IndexWriter};
    use crate::Labels;

    const NAMES: &[&str] = &["__name__", "a", "b", "c", "d", "e"];
    const VALUES: &[&str] = &[
        "x", "y", "a", "b", "a.b", "x|y", "ü", "日本", "aXb", "", "\n",
    ];
    const PATTERNS: &[&str] = &[
        "",
        ".*",
        ".+",
        "a|b",
        "x|y",
        "x",
        "a.b",
        "[ab]",
        "[^x]",
        "a|",
        "ü|日本",
        r"x\|y",
        r"a\.b",
        ".",
        "a.*",
        "(?i)X",
        "日.",
        "y|a.b",
    ];

    fn label_set() -> impl Strategy<Value = Labels> {
        proptest::collection::vec((0..NAMES.len(), 0..VALUES.len()), 3..=6).prop_map(|pairs| {
            Labels::from_pairs(pairs.into_iter().map(|(n, v)| (NAMES[n], VALUES[v])))
        })
    }

    fn matcher() -> impl Strategy<Value = Matcher> {
        let names = prop_oneof![4 => (0..NAMES.len()).prop_map(|i| NAMES[i]), 1 => Just("zz")];
        let values = prop_oneof![
            (0..PATTERNS.len()).prop_map(|i| PATTERNS[i]),
            (0..VALUES.len()).prop_map(|i| VALUES[i]),
        ];
        let ops = prop_oneof![
            Just(MatchOp::Equal),
            Just(MatchOp::NotEqual),
            Just(MatchOp::RegexMatch),
            Just(MatchOp::RegexNoMatch),
        ];
        (names, ops, values).prop_map(|(n, op, v)| Matcher::new(op, n, v).unwrap())
    }

    fn model(series: &[Labels], ms: &[Matcher]) -> BTreeSet<Labels> {
        series
            .iter()
            .filter(|l| ms.iter().all(|m| m.matches_labels(l)))
            .cloned()
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
        #[test]
        fn matches_model(
            raw in proptest::collection::vec(label_set(), 1..40),
            queries in proptest::collection::vec(proptest::collection::vec(matcher(), 1..4), 1..8),
        ) {
            let series: Vec<Labels> = raw
                .into_iter()
                .filter(|l| !l.is_empty())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();

            // Head: sparse ids, insertion order unrelated to label order.
            let mut mem = MemPostings::new();
            let n = series.len() as u32;
            let head_id = |i: u32| (i * 7919 + 13) % 100_003;
            for (i, l) in series.iter().enumerate().rev() {
                mem.add(head_id(i as u32), l);
            }
            let by_head_id = |id: u32| series[(0..n).find(|&i| head_id(i) == id).unwrap() as usize].clone();

            // Block index built from the same series.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("index");
            let mut w = IndexWriter::create(crate::vfs::Fs::os(), &path).unwrap();
            for l in &series {
                w.add_series(l, &[]).unwrap();
            }
            w.finish().unwrap();
            let r = IndexReader::open(&path).unwrap();

            for ms in &queries {
                let want = model(&series, ms);
                let got_mem: BTreeSet<Labels> =
                    postings_for_matchers(&mem, ms).unwrap().iter().map(by_head_id).collect();
                prop_assert_eq!(&got_mem, &want, "head, matchers {:?}", ms.iter().map(|m| m.to_string()).collect::<Vec<_>>());
                let ids = postings_for_matchers(&r, ms).unwrap();
                let got_idx: Vec<Labels> = ids.iter().map(|id| r.series(id).unwrap().0).collect();
                // Block ids follow label order, so results come out sorted.
                prop_assert!(got_idx.windows(2).all(|w| w[0] < w[1]));
                let got_idx: BTreeSet<Labels> = got_idx.into_iter().collect();
                prop_assert_eq!(&got_idx, &want, "block, matchers {:?}", ms.iter().map(|m| m.to_string()).collect::<Vec<_>>());
            }

            // Garbage-collect every other series from the head and re-check.
            let gone: RoaringBitmap = (0..n).step_by(2).map(head_id).collect();
            mem.delete(&gone);
            let kept: Vec<Labels> = series.iter().skip(1).step_by(2).cloned().collect();
            prop_assert_eq!(mem.all().len(), kept.len() as u64);
            for ms in &queries {
                let want = model(&kept, ms);
                let got: BTreeSet<Labels> =
                    postings_for_matchers(&mem, ms).unwrap().iter().map(by_head_id).collect();
                prop_assert_eq!(&got, &want, "head after delete, matchers {:?}", ms.iter().map(|m| m.to_string()).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn two_equalities_over_100k_series_block() {
        let n = 100_000u32;
        let mut series: Vec<Labels> = (0..n)
            .map(|i| {
                Labels::from_pairs([
                    ("__name__", format!("m{}", i % 10)),
                    ("job", format!("j{}", i % 7)),
                    ("instance", format!("i{i}")),
                ])
            })
            .collect();
        series.sort();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let mut w = IndexWriter::create(crate::vfs::Fs::os(), &path).unwrap();
        for l in &series {
            w.add_series(l, &[]).unwrap();
        }
        w.finish().unwrap();
        let r = IndexReader::open(&path).unwrap();
        let got = postings_for_matchers(
            &r,
            &[
                Matcher::equal("__name__", "m3"),
                Matcher::equal("job", "j5"),
            ],
        )
        .unwrap();
        let want: Vec<u32> = (0..n)
            .filter(|&i| {
                let l = &series[i as usize];
                l.get("__name__") == "m3" && l.get("job") == "j5"
            })
            .collect();
        assert_eq!(
            want.len(),
            (0..n).filter(|i| i % 10 == 3 && i % 7 == 5).count()
        );
        assert_eq!(got.iter().collect::<Vec<_>>(), want);
    }
}
