//! The head's in-memory inverted index.

use std::collections::HashMap;

use roaring::RoaringBitmap;

use crate::Labels;

/// In-memory inverted index for the head: (label name, value) -> RoaringBitmap
/// of series ids. Thread-safety is the caller's (head wraps it in a RwLock).
#[derive(Default, Debug)]
pub struct MemPostings {
    by_name: HashMap<String, HashMap<String, RoaringBitmap>>,
    all: RoaringBitmap,
}

impl MemPostings {
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes series `id` under each of its label pairs.
    pub fn add(&mut self, id: u32, labels: &Labels) {
        self.all.insert(id);
        for l in labels {
            let values = match self.by_name.get_mut(l.name.as_str()) {
                Some(v) => v,
                None => self.by_name.entry(l.name.clone()).or_default(),
            };
            match values.get_mut(l.value.as_str()) {
                Some(bm) => {
                    bm.insert(id);
                }
                None => {
                    let mut bm = RoaringBitmap::new();
                    bm.insert(id);
                    values.insert(l.value.clone(), bm);
                }
            }
        }
    }

    /// Removes `ids` everywhere and drops entries left empty.
    pub fn delete(&mut self, ids: &RoaringBitmap) {
        if ids.is_empty() {
            return;
        }
        self.all -= ids;
        self.by_name.retain(|_, values| {
            values.retain(|_, bm| {
                *bm -= ids;
                !bm.is_empty()
            });
            !values.is_empty()
        });
    }

    /// The ids of series with label `name="value"`.
    pub fn get(&self, name: &str, value: &str) -> Option<&RoaringBitmap> {
        self.by_name.get(name)?.get(value)
    }

    /// Every id added and not deleted.
    pub fn all(&self) -> &RoaringBitmap {
        &self.all
    }

    /// All label names, sorted.
    pub fn label_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.by_name.keys().cloned().collect();
        v.sort_unstable();
        v
    }

    /// All values of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_name
            .get(name)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    /// Iterates `(value, postings)` of label `name` in no particular order.
    pub fn values_of<'a>(
        &'a self,
        name: &str,
    ) -> impl Iterator<Item = (&'a str, &'a RoaringBitmap)> + 'a {
        self.by_name
            .get(name)
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_get_delete() {
        let mut p = MemPostings::new();
        p.add(5, &Labels::from_pairs([("a", "1"), ("b", "x")]));
        p.add(2, &Labels::from_pairs([("a", "1")]));
        p.add(9, &Labels::from_pairs([("a", "2"), ("c", "y")]));
        assert_eq!(
            p.get("a", "1").unwrap().iter().collect::<Vec<_>>(),
            vec![2, 5]
        );
        assert_eq!(p.label_names(), vec!["a", "b", "c"]);
        assert_eq!(p.label_values("a"), vec!["1", "2"]);
        assert!(p.label_values("zz").is_empty());
        p.delete(&RoaringBitmap::from_iter([5u32, 9]));
        assert_eq!(p.all().iter().collect::<Vec<_>>(), vec![2]);
        assert_eq!(p.label_names(), vec!["a"]);
        assert_eq!(p.label_values("a"), vec!["1"]);
        assert!(p.get("c", "y").is_none());
    }
}
