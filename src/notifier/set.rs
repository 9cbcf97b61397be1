//! One `alertmanagers:` entry at run time: its HTTP client, the
//! Alertmanagers discovery found for it (after its `relabel_configs`), and
//! how it posts a batch to one of them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use parking_lot::RwLock;
use storage::Label;

use super::{Alert, NotifierError};
use crate::config::{AlertmanagerConfig, NameValidationScheme};
use crate::discovery::{TargetGroup, ADDRESS_LABEL};
use crate::http_client::{self, ClientError};
use crate::relabel::{self, CompiledRule};

const SCHEME_LABEL: &str = "__scheme__";
/// Holds the URL path alerts are posted to, so relabeling can change it.
const ALERTS_PATH_LABEL: &str = "__alerts_path__";

/// Why one POST to one Alertmanager failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("bad response status {0}")]
    Status(reqwest::StatusCode),
}

/// The Alertmanagers of a set, as URLs alerts are posted to.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Discovered {
    /// Deduplicated, in discovery order.
    pub(crate) active: Vec<String>,
    /// Dropped by the set's `relabel_configs`, with the URL they had before.
    pub(crate) dropped: Vec<String>,
}

pub(crate) struct AlertmanagerSet {
    /// `config-<index>`, the name discovery reports it under.
    pub(crate) name: String,
    cfg: AlertmanagerConfig,
    client: reqwest::Client,
    relabel: Vec<CompiledRule>,
    alert_relabel: Vec<CompiledRule>,
    discovered: RwLock<Discovered>,
}

impl AlertmanagerSet {
    /// The set for `alerting.alertmanagers[index]` of a loaded config,
    /// with no Alertmanagers yet.
    pub(crate) fn new(
        index: usize,
        cfg: &AlertmanagerConfig,
        scheme: NameValidationScheme,
    ) -> Result<AlertmanagerSet, NotifierError> {
        let at = |message: String| NotifierError::Set { index, message };
        let client = http_client::build(&cfg.client_settings(cfg.timeout.as_std()))
            .map_err(|e| at(e.to_string()))?;
        let compile =
            |rules| relabel::compile_with_scheme(rules, scheme).map_err(|e| at(e.to_string()));
        Ok(AlertmanagerSet {
            name: crate::discovery::alertmanager_set_name(index),
            relabel: compile(&cfg.relabel_configs)?,
            alert_relabel: compile(&cfg.alert_relabel_configs)?,
            cfg: cfg.clone(),
            client,
            discovered: RwLock::default(),
        })
    }

    /// Replaces the set's Alertmanagers with those in `groups`.
    pub(crate) fn sync(&self, groups: &[TargetGroup]) {
        let found = discover(groups, &self.cfg, &self.relabel);
        *self.discovered.write() = found;
    }

    /// Whether `other` discovers its Alertmanagers the same way (so the
    /// groups found for this set hold for it too).
    pub(crate) fn same_discovery(&self, other: &AlertmanagerSet) -> bool {
        self.cfg.sd_configs() == other.cfg.sd_configs()
    }

    pub(crate) fn discovered(&self) -> Discovered {
        self.discovered.read().clone()
    }

    /// `alerts` after this set's `alert_relabel_configs`; borrowed when it
    /// has none.
    pub(crate) fn relabel_alerts<'a>(&self, alerts: &'a [Alert]) -> Cow<'a, [Alert]> {
        if self.alert_relabel.is_empty() {
            return Cow::Borrowed(alerts);
        }
        Cow::Owned(
            alerts
                .iter()
                .cloned()
                .filter_map(|mut a| {
                    relabel::process(&self.alert_relabel, &mut a.labels).then_some(a)
                })
                .collect(),
        )
    }

    /// POSTs an encoded batch to `url`; any 2xx answer is success.
    pub(crate) async fn post(&self, url: &str, body: bytes::Bytes) -> Result<(), PostError> {
        let req = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let settings = self.cfg.client_settings(self.cfg.timeout.as_std());
        let resp = http_client::authorize(req, &settings)?.send().await?;
        if !resp.status().is_success() {
            return Err(PostError::Status(resp.status()));
        }
        Ok(())
    }
}

/// Turns discovered groups into Alertmanager URLs as Prometheus does:
/// each target starts with `__scheme__` and `__alerts_path__` from the
/// config and its group's labels (its own win), then the set's relabeling
/// decides whether it is active or dropped. A group with an address that
/// is not `host:port` after relabeling is skipped whole, with an error.
fn discover(
    groups: &[TargetGroup],
    cfg: &AlertmanagerConfig,
    rules: &[CompiledRule],
) -> Discovered {
    let mut found = Discovered::default();
    let path = alerts_path(&cfg.path_prefix);
    for group in groups {
        match discover_group(group, cfg.scheme.as_str(), &path, rules) {
            Ok((active, dropped)) => {
                for url in active {
                    if !found.active.contains(&url) {
                        found.active.push(url);
                    }
                }
                found.dropped.extend(dropped);
            }
            Err(e) => {
                tracing::error!(group = %group.source, error = %e, "creating discovered Alertmanagers failed")
            }
        }
    }
    found
}

type Urls = (Vec<String>, Vec<String>);

fn discover_group(
    group: &TargetGroup,
    scheme: &str,
    path: &str,
    rules: &[CompiledRule],
) -> Result<Urls, String> {
    let (mut active, mut dropped) = (Vec::new(), Vec::new());
    for target in &group.targets {
        let mut set: BTreeMap<&str, &str> = group
            .labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        set.insert(SCHEME_LABEL, scheme);
        set.insert(ALERTS_PATH_LABEL, path);
        set.extend(target.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let mut labels: Vec<Label> = set.into_iter().map(|(n, v)| Label::new(n, v)).collect();
        let before = url_of(&labels);
        if !relabel::process(rules, &mut labels) {
            dropped.push(before);
            continue;
        }
        let address = get(&labels, ADDRESS_LABEL);
        if address.contains('/') {
            return Err(format!("{address:?} is not a valid hostname"));
        }
        active.push(url_of(&labels));
    }
    Ok((active, dropped))
}

fn get<'a>(labels: &'a [Label], name: &str) -> &'a str {
    labels
        .iter()
        .find(|l| l.name == name)
        .map_or("", |l| l.value.as_str())
}

/// `<__scheme__>://<__address__><__alerts_path__>`.
fn url_of(labels: &[Label]) -> String {
    let path = get(labels, ALERTS_PATH_LABEL);
    let slash = if path.starts_with('/') { "" } else { "/" };
    format!(
        "{}://{}{slash}{path}",
        get(labels, SCHEME_LABEL),
        get(labels, ADDRESS_LABEL)
    )
}

/// `path_prefix` joined with `/api/v2/alerts` and cleaned the way Go's
/// `path.Join` cleans it (no empty, `.` or `..` elements).
fn alerts_path(prefix: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in prefix.split('/').chain(["api", "v2", "alerts"]) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    fn set(yaml: &str) -> AlertmanagerSet {
        let cfg = parse_str(&format!("alerting:\n  alertmanagers:\n    - {yaml}\n")).unwrap();
        AlertmanagerSet::new(
            0,
            &cfg.alerting.alertmanagers[0],
            NameValidationScheme::Utf8,
        )
        .unwrap()
    }

    fn group(targets: &[&str], labels: &[(&str, &str)]) -> TargetGroup {
        TargetGroup {
            source: "0".into(),
            targets: targets
                .iter()
                .map(|t| BTreeMap::from([(ADDRESS_LABEL.to_string(), t.to_string())]))
                .collect(),
            labels: labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn alerts_path_joins_like_go() {
        assert_eq!(alerts_path(""), "/api/v2/alerts");
        assert_eq!(alerts_path("/am/"), "/am/api/v2/alerts");
        assert_eq!(alerts_path("am//x/."), "/am/x/api/v2/alerts");
        assert_eq!(alerts_path("/a/../b"), "/b/api/v2/alerts");
    }

    #[test]
    fn urls_from_scheme_prefix_and_address() {
        let s = set("{scheme: https, path_prefix: /prefix, static_configs: [{targets: [a]}]}");
        s.sync(&[group(&["am1:9093", "am2:9093", "am1:9093"], &[])]);
        let d = s.discovered();
        assert_eq!(
            d.active,
            [
                "https://am1:9093/prefix/api/v2/alerts",
                "https://am2:9093/prefix/api/v2/alerts"
            ]
        );
        assert!(d.dropped.is_empty());
        assert_eq!(s.name, "config-0");
    }

    #[test]
    fn relabeling_drops_and_rewrites_alertmanagers() {
        let s = set(
            "relabel_configs:
        - {source_labels: [dc], regex: b, action: drop}
        - {source_labels: [__address__], regex: '(.*):9093', target_label: __alerts_path__, replacement: '/via/$1'}
        - {target_label: __scheme__, replacement: https}",
        );
        s.sync(&[
            group(&["am1:9093"], &[("dc", "a")]),
            group(&["am2:9093"], &[("dc", "b")]),
            group(&["am3:80"], &[("dc", "a")]),
        ]);
        let d = s.discovered();
        assert_eq!(
            d.active,
            ["https://am1:9093/via/am1", "https://am3:80/api/v2/alerts"]
        );
        assert_eq!(d.dropped, ["http://am2:9093/api/v2/alerts"]);
    }

    #[test]
    fn target_labels_win_over_group_labels_and_bad_addresses_skip_the_group() {
        let s = set("relabel_configs: [{source_labels: [port], target_label: __address__, regex: '(.+)', replacement: 'h:$1'}]");
        let mut g = group(&["x:1"], &[("port", "2")]);
        g.targets[0].insert("port".into(), "3".into());
        s.sync(&[g, group(&["y:1"], &[("port", "4/x")])]);
        assert_eq!(s.discovered().active, ["http://h:3/api/v2/alerts"]);
    }

    #[test]
    fn set_alert_relabeling_filters_and_rewrites() {
        let s = set("alert_relabel_configs: [{source_labels: [severity], regex: page, action: keep}, {target_label: team, replacement: ops}]");
        let alert = |sev: &str| Alert {
            labels: vec![Label::new("alertname", "A"), Label::new("severity", sev)],
            annotations: Vec::new(),
            starts_at: std::time::UNIX_EPOCH,
            ends_at: None,
            generator_url: String::new(),
        };
        let input = [alert("page"), alert("info")];
        let out = s.relabel_alerts(&input);
        assert_eq!(out.len(), 1);
        assert_eq!(get(&out[0].labels, "team"), "ops");
        let plain = set("{}");
        assert!(matches!(
            plain.relabel_alerts(&[alert("x")]),
            Cow::Borrowed(_)
        ));
    }
}
