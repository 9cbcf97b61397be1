//! The `alerting:` section: where alerts go (`alertmanagers:`, discovered
//! like scrape targets) and how they are relabeled on the way.

use std::path::Path;

use serde::Deserialize;

use super::http_client::Proxies;
use super::locate::KeyPath;
use super::sd::sd_keys;
use super::validate::{check_relabel, problem, validate_sd, Problem};
use super::{NameValidationScheme, PromDuration, RelabelConfig, Scheme};

/// `alerting:`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// Applied to every alert (after the external labels are added) before
    /// it is queued; an alert they drop is not sent anywhere.
    #[serde(default)]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

sd_keys! {
    /// One `alertmanagers:` entry: a set of Alertmanagers found through
    /// service discovery that all receive every alert the same way. After
    /// loading, credentials are in `authorization` and relative file paths
    /// are absolute, as for scrape jobs.
    #[derive(Clone, Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct AlertmanagerConfig {
        #[serde(default)]
        pub scheme: Scheme,
        /// Put before `/api/v2/alerts` in the URL alerts are posted to.
        #[serde(default)]
        pub path_prefix: String,
        /// Limit for one POST to one Alertmanager.
        #[serde(default = "super::duration::ten_seconds")]
        pub timeout: PromDuration,
        /// Only `v2` exists since Prometheus 3; checked by the loader so the
        /// error names the line.
        #[serde(default = "v2")]
        pub api_version: String,
        /// Applied to discovered Alertmanagers (`__address__`, `__scheme__`,
        /// `__alerts_path__`); one they drop is listed as dropped.
        #[serde(default)]
        pub relabel_configs: Vec<RelabelConfig>,
        /// Applied to the alerts sent to this set only.
        #[serde(default)]
        pub alert_relabel_configs: Vec<RelabelConfig>,
    }
}

/// `alerting:` left empty (as in Prometheus's stock file) reads as null;
/// that means no settings, not an error.
pub(super) fn or_default<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<AlertingConfig, D::Error> {
    Ok(Option::<AlertingConfig>::deserialize(d)?.unwrap_or_default())
}

fn v2() -> String {
    "v2".to_string()
}

impl AlertingConfig {
    /// Prometheus's checks of the section; resolves relative paths against
    /// `dir` and collects accepted-but-ignored keys into `warnings`.
    pub(super) fn validate(
        &mut self,
        scheme: NameValidationScheme,
        dir: Option<&Path>,
        warnings: &mut Vec<String>,
    ) -> Result<(), Problem> {
        let path = KeyPath::default().key("alerting");
        check_relabel(
            &self.alert_relabel_configs,
            scheme,
            &path.key("alert_relabel_configs"),
        )?;
        for (i, am) in self.alertmanagers.iter_mut().enumerate() {
            am.validate(scheme, &path.key("alertmanagers").index(i), dir, warnings)?;
        }
        Ok(())
    }
}

impl AlertmanagerConfig {
    fn validate(
        &mut self,
        scheme: NameValidationScheme,
        path: &KeyPath,
        dir: Option<&Path>,
        warnings: &mut Vec<String>,
    ) -> Result<(), Problem> {
        match self.api_version.as_str() {
            "v2" => {}
            "v1" => {
                return Err(problem(
                    path.key("api_version"),
                    "alertmanager api v1 is no longer supported",
                ))
            }
            other => {
                return Err(problem(
                    path.key("api_version"),
                    format!("expected Alertmanager api version to be one of [v2] but got {other}"),
                ))
            }
        }
        self.with_http_client(|h| h.validate(path, dir))?;
        // An Alertmanager's address is host:port; the path comes from
        // `path_prefix` (Prometheus refuses it here even with relabeling).
        for (i, sc) in self.static_configs.iter().enumerate() {
            for (j, t) in sc.targets.iter().enumerate() {
                if t.contains('/') {
                    return Err(problem(
                        path.key("static_configs").index(i).key("targets").index(j),
                        format!("{t:?} is not a valid hostname"),
                    ));
                }
            }
        }
        self.with_sd_configs(|sd| validate_sd(sd, path, dir, warnings))?;
        check_relabel(&self.relabel_configs, scheme, &path.key("relabel_configs"))?;
        check_relabel(
            &self.alert_relabel_configs,
            scheme,
            &path.key("alert_relabel_configs"),
        )?;
        self.with_http_client(|h| h.warn_ignored(path, Proxies::Ignored, warnings));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::err;
    use crate::config::{parse_str, parse_str_in_dir, PromDuration, Scheme};

    #[test]
    fn defaults_follow_prometheus() {
        let cfg = parse_str(
            "alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['a:9093']}]\n",
        )
        .unwrap();
        let am = &cfg.alerting.alertmanagers[0];
        assert_eq!(am.scheme, Scheme::Http);
        assert_eq!(am.timeout, PromDuration::from_secs(10));
        assert_eq!(am.api_version, "v2");
        assert!(am.path_prefix.is_empty() && am.follow_redirects);
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        // An empty section (Prometheus's stock file leaves it so) loads.
        let cfg = parse_str("alerting:\n").unwrap();
        assert!(cfg.alerting.alertmanagers.is_empty());
    }

    #[test]
    fn every_key_loads_and_paths_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = parse_str_in_dir(
            "
alerting:
  alert_relabel_configs:
    - {source_labels: [severity], regex: debug, action: drop}
  alertmanagers:
    - scheme: https
      path_prefix: /am
      timeout: 3s
      api_version: v2
      static_configs: [{targets: ['127.0.0.1:9093'], labels: {dc: a}}]
      file_sd_configs: [{files: [am.yml]}]
      http_sd_configs: [{url: 'http://127.0.0.1:8000/sd'}]
      relabel_configs: [{source_labels: [dc], regex: b, action: drop}]
      alert_relabel_configs: [{target_label: via, replacement: am}]
      bearer_token_file: token
      tls_config: {insecure_skip_verify: true}
",
            dir.path(),
        )
        .unwrap();
        let a = &cfg.alerting;
        assert_eq!(a.alert_relabel_configs.len(), 1);
        let am = &a.alertmanagers[0];
        assert_eq!(am.scheme, Scheme::Https);
        assert_eq!(am.path_prefix, "/am");
        assert_eq!(am.timeout, PromDuration::from_secs(3));
        assert_eq!(
            am.file_sd_configs[0].files,
            [dir.path().join("am.yml").to_string_lossy()]
        );
        let auth = am.authorization.as_ref().unwrap();
        assert_eq!(
            auth.credentials_file.as_deref(),
            Some(dir.path().join("token").to_str().unwrap())
        );
        assert_eq!(am.relabel_configs.len(), 1);
        assert_eq!(am.alert_relabel_configs.len(), 1);
    }

    #[test]
    fn errors_name_key_and_line() {
        for (text, want) in [
            (
                "alerting:\n  alertmanagers:\n    - api_version: v1\n",
                "alerting.alertmanagers[0].api_version: alertmanager api v1 is no longer supported (line 3)",
            ),
            (
                "alerting:\n  alertmanagers:\n    - api_version: v3\n",
                "expected Alertmanager api version to be one of [v2] but got v3 (line 3)",
            ),
            (
                "alerting:\n  alertmanagers:\n    - timeout: 10s\n      tiemout: 5s\n",
                "alerting.alertmanagers[0]: unknown field `tiemout`",
            ),
            (
                "alerting:\n  alertmanager: []\n",
                "alerting: unknown field `alertmanager`",
            ),
            (
                "alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['h:9093/x']}]\n",
                "alerting.alertmanagers[0].static_configs[0].targets[0]: \"h:9093/x\" is not a valid hostname (line 3)",
            ),
            (
                "alerting:\n  alertmanagers:\n    - bearer_token: a\n      basic_auth: {username: u}\n",
                "alerting.alertmanagers[0].basic_auth: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured (line 4)",
            ),
            (
                "alerting:\n  alertmanagers:\n    - file_sd_configs: [{files: ['a.txt']}]\n",
                "path name \"a.txt\" is not valid for file discovery",
            ),
            (
                "alerting:\n  alertmanagers:\n    - http_sd_configs: [{url: 'ftp://h/sd'}]\n",
                "URL scheme must be 'http' or 'https'",
            ),
            (
                "alerting:\n  alertmanagers:\n    - relabel_configs: [{regex: '('}]\n",
                "alerting.alertmanagers[0].relabel_configs[0].target_label: relabel configuration for replace action requires 'target_label' value (line 3)",
            ),
            (
                "alerting:\n  alert_relabel_configs:\n    - {action: replace, target_label: '', replacement: x}\n",
                "alerting.alert_relabel_configs[0]",
            ),
            (
                "alerting:\n  alertmanagers:\n    - scheme: ftp\n",
                "alerting.alertmanagers[0].scheme: unknown variant `ftp`",
            ),
            (
                "alerting:\n  alertmanagers:\n    - timeout: soon\n",
                "alerting.alertmanagers[0].timeout: invalid duration",
            ),
        ] {
            let e = err(text);
            assert!(e.contains(want), "{text}\n  want {want}\n  got  {e}");
        }
    }
}
