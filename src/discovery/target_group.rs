//! Target groups: what every discovery mechanism produces, the JSON /
//! YAML form file_sd and http_sd read them from, and the two spellings
//! every mechanism shares: `host:port` addresses and meta-label names made
//! from outside keys.

use std::collections::BTreeMap;
use std::fmt::Display;

use serde::Deserialize;

use crate::config::StaticConfig;

/// The label holding a target's `host:port`.
pub const ADDRESS_LABEL: &str = "__address__";

/// `host:port`, with a host that contains a colon (an IPv6 address) in
/// brackets, as Go's `net.JoinHostPort` writes it.
pub(crate) fn join_host_port(host: &str, port: impl Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A label-name suffix made of `[a-zA-Z0-9_]` only, every other character
/// replaced by `_`, as Prometheus turns outside keys (Kubernetes labels,
/// Consul metadata) into `__meta_*` names. A leading digit is kept: the
/// suffix always follows a prefix.
pub(crate) fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Targets sharing a set of labels, as one discovery source produced them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Identifies the group within its job: the static config's index
    /// (`"0"`), `<file>:<i>` for file_sd, `<url>:<i>` for http_sd.
    pub source: String,
    /// One label set per target; each holds at least `__address__`.
    pub targets: Vec<BTreeMap<String, String>>,
    /// Labels shared by all targets, including discovery metadata such as
    /// `__meta_filepath` or `__meta_url`.
    pub labels: BTreeMap<String, String>,
}

impl TargetGroup {
    /// The group for `static_configs[index]`.
    pub fn from_static(index: usize, sc: &StaticConfig) -> TargetGroup {
        TargetGroup {
            source: index.to_string(),
            targets: sc.targets.iter().map(|t| address(t)).collect(),
            labels: sc.labels.clone(),
        }
    }
}

fn address(target: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(ADDRESS_LABEL.to_string(), target.to_string())])
}

/// The on-disk / on-the-wire form: `[{"targets": [...], "labels": {...}}]`.
#[derive(Deserialize)]
struct RawGroup {
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Strict YAML form: Prometheus rejects unknown keys in YAML files but not
/// in JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictRawGroup {
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// How a group list is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Yaml,
}

/// Parses a list of groups. Sources are `<source_prefix>:<i>` and each
/// group gets the `meta` label (e.g. `__meta_filepath`).
pub(crate) fn parse_groups(
    text: &str,
    format: Format,
    source_prefix: &str,
    meta: (&str, &str),
) -> Result<Vec<TargetGroup>, String> {
    type Raw = (Option<Vec<String>>, Option<BTreeMap<String, String>>);
    let raw: Vec<Raw> = match format {
        Format::Json => serde_json::from_str::<Vec<Option<RawGroup>>>(text)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|g| g.ok_or_else(|| "nil target group item found".to_string()))
            .map(|g| g.map(|g| (g.targets, g.labels)))
            .collect::<Result<_, _>>()?,
        Format::Yaml => {
            if text.trim().is_empty() {
                return Ok(Vec::new());
            }
            serde_yaml_ng::from_str::<Option<Vec<StrictRawGroup>>>(text)
                .map_err(|e| e.to_string())?
                .unwrap_or_default()
                .into_iter()
                .map(|g| (g.targets, g.labels))
                .collect()
        }
    };
    raw.into_iter()
        .enumerate()
        .map(|(i, (targets, labels))| {
            let mut labels = labels.unwrap_or_default();
            if let Some(bad) = labels.keys().find(|k| k.is_empty()) {
                return Err(format!("{bad:?} is not a valid label name"));
            }
            labels.insert(meta.0.to_string(), meta.1.to_string());
            Ok(TargetGroup {
                source: format!("{source_prefix}:{i}"),
                targets: targets
                    .unwrap_or_default()
                    .iter()
                    .map(|t| address(t))
                    .collect(),
                labels,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_yaml() {
        let json =
            r#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": ["c:3"]}]"#;
        let g = parse_groups(json, Format::Json, "f.json", ("__meta_filepath", "f.json")).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].source, "f.json:0");
        assert_eq!(g[1].source, "f.json:1");
        assert_eq!(g[0].targets[1][ADDRESS_LABEL], "b:2");
        assert_eq!(g[0].labels["env"], "prod");
        assert_eq!(g[1].labels["__meta_filepath"], "f.json");

        let yaml = "- targets: ['a:1']\n  labels:\n    env: dev\n";
        let y = parse_groups(yaml, Format::Yaml, "f.yml", ("__meta_filepath", "f.yml")).unwrap();
        assert_eq!(y[0].targets[0][ADDRESS_LABEL], "a:1");
        assert_eq!(y[0].labels["env"], "dev");
        assert!(parse_groups("", Format::Yaml, "e", ("m", "v"))
            .unwrap()
            .is_empty());
        assert!(parse_groups("[]", Format::Json, "e", ("m", "v"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn rejects_malformed_groups() {
        for (text, format) in [
            ("", Format::Json),
            ("{}", Format::Json),
            ("[null]", Format::Json),
            (r#"[{"targets": [1]}]"#, Format::Json),
            (r#"[{"targets": ["a"], "labels": {"": "x"}}]"#, Format::Json),
            ("- targets: [a]\n  lables: {}\n", Format::Yaml),
            ("targets: [a]", Format::Yaml),
        ] {
            assert!(
                parse_groups(text, format, "s", ("m", "v")).is_err(),
                "{text:?} should fail"
            );
        }
    }

    #[test]
    fn addresses_and_label_names_are_spelled_as_go_does() {
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(join_host_port("::1", 9090u16), "[::1]:9090");
        assert_eq!(join_host_port("node.example", -1), "node.example:-1");
        assert_eq!(
            sanitize_label_name("app.kubernetes.io/name"),
            "app_kubernetes_io_name"
        );
        assert_eq!(sanitize_label_name("Ünschedulable_9"), "_nschedulable_9");
        assert_eq!(sanitize_label_name("0abc"), "0abc");
    }

    #[test]
    fn static_config_becomes_a_group() {
        let sc = StaticConfig {
            targets: vec!["h:9100".into()],
            labels: BTreeMap::from([("team".into(), "db".into())]),
        };
        let g = TargetGroup::from_static(3, &sc);
        assert_eq!(g.source, "3");
        assert_eq!(g.targets, vec![address("h:9100")]);
        assert_eq!(g.labels["team"], "db");
    }
}
