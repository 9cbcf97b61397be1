//! Metric metadata received through remote write, kept for
//! `/api/v1/metadata` next to what scraped targets expose.

use std::collections::BTreeMap;

use parking_lot::RwLock;

use crate::remote::proto::{self, MetricType};
use crate::scrape::status::MetricMetadata;

/// Most metric families kept; a sender cannot grow the map without bound.
pub const MAX_FAMILIES: usize = 100_000;

/// The latest TYPE/HELP/UNIT per metric family name, as the last write
/// request carrying it said.
#[derive(Default)]
pub struct MetadataStore {
    by_name: RwLock<BTreeMap<String, MetricMetadata>>,
}

impl MetadataStore {
    /// Records the metadata of one write request. Entries without a name
    /// are ignored; new families beyond [`MAX_FAMILIES`] are dropped while
    /// known ones are still updated.
    pub fn update(&self, list: &[proto::MetricMetadata]) {
        if list.is_empty() {
            return;
        }
        let mut map = self.by_name.write();
        for md in list {
            if md.metric_family_name.is_empty() {
                continue;
            }
            let kind = MetricType::try_from(md.r#type).unwrap_or(MetricType::Unknown);
            let entry = MetricMetadata {
                metric: md.metric_family_name.clone(),
                kind: kind.api_name().to_string(),
                help: md.help.clone(),
                unit: md.unit.clone(),
            };
            let len = map.len();
            match map.get_mut(&md.metric_family_name) {
                Some(old) => *old = entry,
                None if len < MAX_FAMILIES => {
                    map.insert(md.metric_family_name.clone(), entry);
                }
                None => {}
            }
        }
    }

    /// Everything stored, sorted by metric name.
    pub fn all(&self) -> Vec<MetricMetadata> {
        self.by_name.read().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(name: &str, t: MetricType, help: &str) -> proto::MetricMetadata {
        proto::MetricMetadata {
            r#type: t as i32,
            metric_family_name: name.into(),
            help: help.into(),
            unit: String::new(),
        }
    }

    #[test]
    fn latest_wins_and_unnamed_is_ignored() {
        let s = MetadataStore::default();
        s.update(&[
            md("b", MetricType::Counter, "old"),
            md("", MetricType::Gauge, "x"),
        ]);
        s.update(&[
            md("b", MetricType::Counter, "new"),
            md("a", MetricType::Info, ""),
        ]);
        let all = s.all();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].metric.as_str(), all[0].kind.as_str()),
            ("a", "info")
        );
        assert_eq!(all[1].help, "new");
    }

    #[test]
    fn unknown_type_number_reads_as_unknown() {
        let s = MetadataStore::default();
        let mut m = md("x", MetricType::Gauge, "");
        m.r#type = 42;
        s.update(&[m]);
        assert_eq!(s.all()[0].kind, "unknown");
    }
}
