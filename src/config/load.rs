//! Reading `prometheus.yml`: YAML → [`Config`], defaults from `global:`,
//! validation. Errors name the offending key and its line:
//! `scrape_configs[1].scrape_interval: invalid duration "15": missing unit (line 12)`.

use std::path::{Path, PathBuf};

use std::collections::HashSet;

use serde::de::DeserializeOwned;

use super::glob;
use super::locate::{line_of, KeyPath};
use super::validate::{validate, validate_jobs, Explicit, Problem};
use super::{Config, ScrapeConfig};

/// The configuration used when `--config.file` does not exist.
pub const DEFAULT_CONFIG: &str = include_str!("default.yml");

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("couldn't load configuration (--config.file={path:?}): {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// YAML syntax, unknown key, wrong type or invalid value; the message
    /// names the key and the line.
    #[error("{0}")]
    Invalid(String),
}

/// Loads and validates the file at `path`; relative paths inside it are
/// resolved against its directory.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path.parent().map(|d| {
        if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        }
    });
    let dir = dir.map(|d| std::path::absolute(d).unwrap_or_else(|_| d.to_path_buf()));
    parse(&text, dir.as_deref(), Some(path))
}

/// Parses and validates configuration text; relative paths stay relative
/// (to the working directory).
pub fn parse_str(text: &str) -> Result<Config, ConfigError> {
    parse(text, None, None)
}

/// Parses and validates configuration text as if it were a file in `dir`:
/// relative paths in it are resolved against `dir`.
pub fn parse_str_in_dir(text: &str, dir: &Path) -> Result<Config, ConfigError> {
    parse(text, Some(dir), None)
}

/// `name` is the file the text came from, to prefix its errors with.
fn parse(text: &str, dir: Option<&Path>, name: Option<&Path>) -> Result<Config, ConfigError> {
    let in_main = |e: ConfigError| match (e, name) {
        (ConfigError::Invalid(msg), Some(name)) => {
            ConfigError::Invalid(format!("{}: {msg}", name.display()))
        }
        (e, _) => e,
    };
    let mut cfg: Config = if is_empty_document(text) {
        Config::default()
    } else {
        deserialize(text).map_err(in_main)?
    };
    let explicit = Explicit {
        global_scrape_timeout: has_global_timeout(text),
    };
    validate(&mut cfg, dir, &explicit).map_err(|p| in_main(located(text, p)))?;
    // Errors from these files name their own file.
    load_scrape_config_files(&mut cfg)?;
    cfg.source = text.to_string();
    Ok(cfg)
}

/// The form of a `scrape_config_files` file.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrapeConfigFile {
    #[serde(default)]
    scrape_configs: Vec<ScrapeConfig>,
}

/// Appends the jobs of `cfg.scrape_config_files` (already resolved) to
/// `cfg.scrape_configs`; errors name the file and the line in it.
fn load_scrape_config_files(cfg: &mut Config) -> Result<(), ConfigError> {
    let mut taken: HashSet<String> = cfg
        .scrape_configs
        .iter()
        .map(|j| j.job_name.clone())
        .collect();
    for pattern in cfg.scrape_config_files.clone() {
        for file in glob::expand(&pattern) {
            let in_file = |msg: String| ConfigError::Invalid(format!("{}: {msg}", file.display()));
            let text = std::fs::read_to_string(&file).map_err(|e| in_file(e.to_string()))?;
            let mut sf: ScrapeConfigFile = if is_empty_document(&text) {
                ScrapeConfigFile::default()
            } else {
                deserialize(&text).map_err(|e| in_file(e.to_string()))?
            };
            let mut warnings = Vec::new();
            validate_jobs(
                &mut sf.scrape_configs,
                &cfg.global,
                file.parent(),
                &mut taken,
                &mut warnings,
            )
            .map_err(|p| in_file(located(&text, p).to_string()))?;
            cfg.warnings.extend(
                warnings
                    .into_iter()
                    .map(|w| format!("{}: {w}", file.display())),
            );
            cfg.scrape_configs.append(&mut sf.scrape_configs);
        }
    }
    Ok(())
}

/// Deserialises the text, expanding YAML merge keys (`<<: *anchor`) first
/// when there are any: Prometheus's YAML library honours them and
/// serde_yaml_ng's typed deserialiser does not. The merged document is
/// re-emitted and parsed; its errors are mapped back to lines of the
/// original text through their key paths.
fn deserialize<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let merged = match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) {
        Ok(mut v) if has_merge_keys(&v) => {
            v.apply_merge()
                .map_err(|e| ConfigError::Invalid(format!("YAML merge key: {e}")))?;
            serde_yaml_ng::to_string(&v).map_err(|e| ConfigError::Invalid(e.to_string()))?
        }
        _ => return serde_yaml_ng::from_str(text).map_err(|e| yaml_error(text, e, false)),
    };
    serde_yaml_ng::from_str(&merged).map_err(|e| yaml_error(text, e, true))
}

fn has_merge_keys(v: &serde_yaml_ng::Value) -> bool {
    use serde_yaml_ng::Value;
    match v {
        Value::Mapping(m) => m
            .iter()
            .any(|(k, v)| k.as_str() == Some("<<") || has_merge_keys(v)),
        Value::Sequence(s) => s.iter().any(has_merge_keys),
        Value::Tagged(t) => has_merge_keys(&t.value),
        _ => false,
    }
}

/// Only comments and blank lines: Prometheus loads that as all defaults.
fn is_empty_document(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---")
}

fn has_global_timeout(text: &str) -> bool {
    let Ok(v) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) else {
        return false;
    };
    v.get("global")
        .and_then(|g| g.get("scrape_timeout"))
        .is_some_and(|t| !t.is_null())
}

/// Rewrites serde_yaml_ng's "... at line L column C" into "... (line L)".
/// Unknown and duplicate keys are reported by serde at their mapping's
/// first line; those are moved to the key's own line. With `relocate`, the
/// error came from a re-emitted document and every line is looked up in
/// `text` by the error's key path.
fn yaml_error(text: &str, e: serde_yaml_ng::Error, relocate: bool) -> ConfigError {
    let full = e.to_string();
    let Some(loc) = e.location() else {
        return ConfigError::Invalid(full);
    };
    let suffix = format!(" at line {} column {}", loc.line(), loc.column());
    let msg = match full.strip_suffix(&suffix) {
        Some(m) => m.to_string(),
        None if full.contains(" line ") => {
            // libyaml syntax errors put the position mid-sentence; keep them.
            return ConfigError::Invalid(full);
        }
        None => full,
    };
    let path = misplaced_key(&msg).or_else(|| {
        relocate
            .then(|| msg.split_once(": ").and_then(|(p, _)| parse_path(p)))
            .flatten()
    });
    let line = match path.and_then(|p| line_of(text, &p)) {
        Some(line) => Some(line),
        None if relocate => None,
        None => Some(loc.line()),
    };
    match line {
        Some(line) => ConfigError::Invalid(format!("{msg} (line {line})")),
        None => ConfigError::Invalid(msg),
    }
}

/// For "path: unknown field `k`, ..." and "duplicate field `k`", the path
/// of `k` itself.
fn misplaced_key(msg: &str) -> Option<KeyPath> {
    let (path, rest) = match msg.split_once(": ") {
        Some((p, r)) if !p.contains(' ') && !p.contains('`') => (p, r),
        _ => ("", msg),
    };
    let rest = rest
        .strip_prefix("unknown field `")
        .or_else(|| rest.strip_prefix("duplicate field `"))?;
    let key = &rest[..rest.find('`')?];
    Some(parse_path(path)?.key(key))
}

/// Parses serde_yaml_ng's path syntax (`a[1].b`) back into segments.
fn parse_path(s: &str) -> Option<KeyPath> {
    let mut path = KeyPath::default();
    if s.is_empty() || s == "." {
        return Some(path);
    }
    for part in s.split('.') {
        let (key, mut indexes) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !key.is_empty() {
            path = path.key(key);
        }
        while let Some(rest) = indexes.strip_prefix('[') {
            let end = rest.find(']')?;
            path = path.index(rest[..end].parse().ok()?);
            indexes = &rest[end + 1..];
        }
        if !indexes.is_empty() {
            return None;
        }
    }
    Some(path)
}

fn located(text: &str, p: Problem) -> ConfigError {
    let mut msg = if p.path.0.is_empty() {
        p.message
    } else {
        format!("{}: {}", p.path, p.message)
    };
    if let Some(line) = line_of(text, &p.path) {
        msg.push_str(&format!(" (line {line})"));
    }
    ConfigError::Invalid(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NameValidationScheme, PromDuration, RelabelAction, Scheme};

    fn err(text: &str) -> String {
        match parse_str(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    /// The error names `key`, says `what` and points at `line`.
    fn assert_err(text: &str, key: &str, what: &str, line: usize) {
        let e = err(text);
        assert!(e.contains(key), "missing key {key:?} in: {e}");
        assert!(e.contains(what), "missing {what:?} in: {e}");
        assert!(
            e.contains(&format!("(line {line})")),
            "missing line {line} in: {e}"
        );
    }

    #[test]
    fn default_config_parses() {
        let cfg = parse_str(DEFAULT_CONFIG).unwrap();
        assert_eq!(cfg.scrape_configs.len(), 1);
        let job = &cfg.scrape_configs[0];
        assert_eq!(job.job_name, "ferroprom");
        assert_eq!(job.scrape_interval, Some(PromDuration::from_secs(15)));
        assert_eq!(job.scrape_timeout, Some(PromDuration::from_secs(10)));
        assert_eq!(cfg.source, DEFAULT_CONFIG);
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    }

    #[test]
    fn empty_and_comment_only_files_load_defaults() {
        for text in ["", "\n# nothing\n", "---\n"] {
            let cfg = parse_str(text).unwrap();
            assert!(cfg.scrape_configs.is_empty());
            assert_eq!(cfg.global.scrape_interval, PromDuration::from_secs(60));
        }
    }

    #[test]
    fn prometheus_stock_config_loads() {
        // The prometheus.yml shipped with Prometheus, comments included.
        let text = "\
global:
  scrape_interval: 15s
  evaluation_interval: 15s
alerting:
  alertmanagers:
    - static_configs:
        - targets:
          # - alertmanager:9093
rule_files:
  # - \"first_rules.yml\"
scrape_configs:
  - job_name: \"prometheus\"
    static_configs:
      - targets: [\"localhost:9090\"]
        labels:
          app: \"prometheus\"
";
        let cfg = parse_str(text).unwrap();
        assert_eq!(
            cfg.scrape_configs[0].static_configs[0].labels["app"],
            "prometheus"
        );
        assert!(cfg.rule_files.is_empty());
        assert!(cfg.warnings.iter().any(|w| w.starts_with("alerting")));
    }

    #[test]
    fn job_defaults_come_from_global() {
        let cfg = parse_str(
            "
global:
  scrape_interval: 30s
  scrape_timeout: 20s
  sample_limit: 1000
  label_limit: 30
  body_size_limit: 10MB
  metric_name_validation_scheme: legacy
scrape_configs:
  - job_name: inherit
  - job_name: short
    scrape_interval: 5s
    sample_limit: 0
  - job_name: own
    scrape_interval: 1m
    scrape_timeout: 50s
    sample_limit: 10
    body_size_limit: 1KB
    metrics_path: metrics
    metric_name_validation_scheme: utf8
",
        )
        .unwrap();
        let [inherit, short, own] = &cfg.scrape_configs[..] else {
            panic!()
        };
        assert_eq!(inherit.scrape_interval, Some(PromDuration::from_secs(30)));
        assert_eq!(inherit.scrape_timeout, Some(PromDuration::from_secs(20)));
        assert_eq!(inherit.sample_limit, Some(1000));
        assert_eq!(inherit.label_limit, Some(30));
        assert_eq!(inherit.target_limit, Some(0));
        assert_eq!(inherit.body_size_limit_bytes, 10 << 20);
        assert_eq!(inherit.metrics_path, "/metrics");
        assert_eq!(inherit.scheme, Scheme::Http);
        assert!(inherit.honor_timestamps && !inherit.honor_labels);
        assert_eq!(
            inherit.metric_name_validation_scheme,
            Some(NameValidationScheme::Legacy)
        );
        // Only an interval: timeout = min(global timeout, interval).
        assert_eq!(short.scrape_timeout, Some(PromDuration::from_secs(5)));
        assert_eq!(
            short.sample_limit,
            Some(1000),
            "0 inherits the global limit"
        );
        assert_eq!(own.scrape_timeout, Some(PromDuration::from_secs(50)));
        assert_eq!(own.sample_limit, Some(10));
        assert_eq!(own.body_size_limit_bytes, 1024);
        assert_eq!(own.metrics_path, "/metrics");
        assert_eq!(
            own.metric_name_validation_scheme,
            Some(NameValidationScheme::Utf8)
        );
        assert_eq!(cfg.global.body_size_limit_bytes, 10 << 20);
    }

    #[test]
    fn global_timeout_defaults_to_a_short_interval() {
        let cfg =
            parse_str("global: {scrape_interval: 5s}\nscrape_configs: [{job_name: a}]").unwrap();
        assert_eq!(cfg.global.scrape_timeout, PromDuration::from_secs(5));
        assert_eq!(
            cfg.scrape_configs[0].scrape_timeout,
            Some(PromDuration::from_secs(5))
        );
        let e = err("global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n");
        assert!(e.contains("global.scrape_timeout: global scrape timeout greater than scrape interval (line 3)"), "{e}");
    }

    #[test]
    fn bearer_token_becomes_authorization() {
        let cfg = parse_str_in_dir(
            "
scrape_configs:
  - job_name: a
    bearer_token: s3cret
  - job_name: b
    bearer_token_file: secrets/token
  - job_name: c
    authorization: {type: ' ', credentials: x}
",
            Path::new("/etc/ferroprom"),
        )
        .unwrap();
        let auth = |i: usize| cfg.scrape_configs[i].authorization.clone().unwrap();
        assert_eq!(auth(0).kind, "Bearer");
        assert_eq!(auth(0).credentials.as_deref(), Some("s3cret"));
        assert_eq!(cfg.scrape_configs[0].bearer_token, None);
        assert_eq!(
            auth(1).credentials_file.as_deref(),
            Some("/etc/ferroprom/secrets/token")
        );
        assert_eq!(cfg.scrape_configs[1].bearer_token_file, None);
        assert_eq!(auth(2).kind, "Bearer");
    }

    #[test]
    fn relative_paths_resolve_against_the_config_directory() {
        let cfg = parse_str_in_dir(
            "
rule_files: [rules/*.yml, /abs/r.yml]
scrape_configs:
  - job_name: a
    basic_auth: {username: u, password_file: pw}
    tls_config: {ca_file: ca.pem, cert_file: /abs/c.pem, key_file: k.pem}
    file_sd_configs:
      - files: [targets/*.json, /abs/t.yml]
    http_sd_configs:
      - url: http://127.0.0.1:1/sd
        authorization: {credentials_file: cred}
",
            Path::new("/cfg"),
        )
        .unwrap();
        let job = &cfg.scrape_configs[0];
        assert_eq!(cfg.rule_files, ["/cfg/rules/*.yml", "/abs/r.yml"]);
        assert_eq!(
            job.basic_auth.as_ref().unwrap().password_file.as_deref(),
            Some("/cfg/pw")
        );
        let tls = job.tls_config.as_ref().unwrap();
        assert_eq!(tls.ca_file.as_deref(), Some("/cfg/ca.pem"));
        assert_eq!(tls.cert_file.as_deref(), Some("/abs/c.pem"));
        assert_eq!(tls.key_file.as_deref(), Some("/cfg/k.pem"));
        assert_eq!(
            job.file_sd_configs[0].files,
            ["/cfg/targets/*.json", "/abs/t.yml"]
        );
        let h = &job.http_sd_configs[0];
        assert_eq!(
            h.authorization
                .as_ref()
                .unwrap()
                .credentials_file
                .as_deref(),
            Some("/cfg/cred")
        );
        // Without a directory paths are left as written.
        let cfg = parse_str("rule_files: [r.yml]").unwrap();
        assert_eq!(cfg.rule_files, ["r.yml"]);
    }

    #[test]
    fn load_file_resolves_against_its_directory_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prometheus.yml");
        std::fs::write(
            &path,
            "scrape_configs:\n  - job_name: a\n    file_sd_configs: [{files: [t.json]}]\n",
        )
        .unwrap();
        let cfg = load_file(&path).unwrap();
        let want = dir.path().join("t.json");
        assert_eq!(
            cfg.scrape_configs[0].file_sd_configs[0].files,
            [want.to_string_lossy()]
        );

        std::fs::write(&path, "global:\n  scrape_interval: 15\n").unwrap();
        let e = load_file(&path).unwrap_err().to_string();
        assert!(e.starts_with(&path.display().to_string()), "{e}");
        assert!(e.contains("(line 2)"), "{e}");
        let e = load_file(&dir.path().join("missing.yml")).unwrap_err();
        assert!(matches!(e, ConfigError::Io { .. }), "{e}");
    }

    #[test]
    fn type_and_value_errors_name_key_and_line() {
        assert_err(
            "scrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_interval: 15\n",
            "scrape_configs[1].scrape_interval",
            "invalid duration \"15\"",
            4,
        );
        assert_err(
            "global:\n  scrape_timeout: 1x\n",
            "global.scrape_timeout",
            "invalid duration",
            2,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    scheme: ftp\n",
            "scrape_configs[0].scheme",
            "unknown variant `ftp`",
            3,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    sample_limit: -1\n",
            "scrape_configs[0].sample_limit",
            "invalid type: integer `-1`, expected u64",
            3,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    honor_labels: maybe\n",
            "scrape_configs[0].honor_labels",
            "invalid type",
            3,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: x:1\n",
            "scrape_configs[0].static_configs[0].targets",
            "invalid type",
            4,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: rename\n",
            "scrape_configs[0].relabel_configs[0].action",
            "unknown relabel action \"rename\"",
            4,
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert_err(
            "global:\n  scrape_intervall: 1m\n",
            "global",
            "unknown field `scrape_intervall`",
            2,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    oauth2: {}\n",
            "scrape_configs[0]",
            "unknown field `oauth2`",
            3,
        );
        assert_err("foo: 1\n", "", "unknown field `foo`", 1);
        assert_err(
            "scrape_configs:\n  - job_name: a\n    tls_config: {ca_fil: x}\n",
            "scrape_configs[0].tls_config",
            "unknown field `ca_fil`",
            3,
        );
    }

    #[test]
    fn yaml_syntax_errors_have_a_line() {
        let e = err("scrape_configs:\n  - job_name: a\n   bad indent: [\n");
        assert!(e.contains("line"), "{e}");
    }

    #[test]
    fn semantic_errors_name_key_and_line() {
        assert_err(
            "scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a\n",
            "scrape_configs[2].job_name",
            "found multiple scrape configs with job name \"a\"",
            4,
        );
        assert_err(
            "scrape_configs:\n  - job_name: x\n    scrape_interval: 10s\n    scrape_timeout: 11s\n",
            "scrape_configs[0].scrape_timeout",
            "scrape timeout greater than scrape interval for scrape config with job name \"x\"",
            4,
        );
        assert_err(
            "scrape_configs:\n  - job_name: ''\n",
            "scrape_configs[0].job_name",
            "job_name is empty",
            2,
        );
        assert_err(
            "scrape_configs:\n  - static_configs: []\n",
            "scrape_configs[0]",
            "missing field `job_name`",
            2,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    body_size_limit: 10XB\n",
            "scrape_configs[0].body_size_limit",
            "invalid size \"10XB\"",
            3,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['ok:1', 'http://x:1/metrics']\n",
            "scrape_configs[0].static_configs[0].targets[1]",
            "\"http://x:1/metrics\" is not a valid hostname",
            4,
        );
        assert_err(
            "global:\n  metric_name_validation_scheme: legacy\n  external_labels:\n    ok: 1\n    bad-name: x\n",
            "global.external_labels.bad-name",
            "\"bad-name\" is not a valid label name",
            5,
        );
        assert_err(
            "rule_files: ['a[.yml']\n",
            "rule_files[0]",
            "invalid rule file path",
            1,
        );
    }

    #[test]
    fn relabel_errors_point_at_the_rule_or_key() {
        assert_err(
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [a]\n        regex: '(unclosed'\n        action: keep\n",
            "scrape_configs[0].relabel_configs[0].regex",
            "invalid regex \"(unclosed\"",
            5,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      - action: drop\n        source_labels: [__name__]\n      - action: replace\n        source_labels: [x]\n",
            "scrape_configs[0].metric_relabel_configs[1].target_label",
            "relabel configuration for replace action requires 'target_label' value",
            6,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {action: hashmod, source_labels: [x], target_label: y}\n",
            "scrape_configs[0].relabel_configs[0].modulus",
            "requires non-zero modulus",
            4,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    metric_name_validation_scheme: legacy\n    relabel_configs:\n      - source_labels: [x]\n        target_label: 'not-valid'\n",
            "scrape_configs[0].relabel_configs[0].target_label",
            "\"not-valid\" is invalid 'target_label' for replace action",
            6,
        );
        // With relabeling, URL-like targets are allowed (rules may fix them).
        parse_str(
            "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['h/x']}]\n    relabel_configs: [{source_labels: [__address__], target_label: __address__}]\n",
        )
        .unwrap();
    }

    #[test]
    fn http_client_checks() {
        for (auth, what) in [
            (
                "bearer_token: a\n    bearer_token_file: b",
                "at most one of bearer_token & bearer_token_file must be configured",
            ),
            (
                "basic_auth: {username: u}\n    bearer_token: a",
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ),
            (
                "basic_auth: {username: u, password: p, password_file: f}",
                "at most one of basic_auth password & password_file must be configured",
            ),
            (
                "authorization: {credentials: a, credentials_file: f}",
                "at most one of authorization credentials & credentials_file must be configured",
            ),
            (
                "authorization: {type: Basic, credentials: a}",
                "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
            ),
            (
                "authorization: {credentials: a}\n    basic_auth: {username: u}",
                "at most one of basic_auth, oauth2 & authorization must be configured",
            ),
            (
                "authorization: {credentials: a}\n    bearer_token: t",
                "authorization is not compatible with bearer_token & bearer_token_file",
            ),
            (
                "tls_config: {ca: x, ca_file: y}",
                "at most one of ca and ca_file must be configured",
            ),
            (
                "tls_config: {cert_file: c}",
                "exactly one of key or key_file must be configured when a client certificate is configured",
            ),
            (
                "tls_config: {key_file: k}",
                "exactly one of cert or cert_file must be configured when a client key is configured",
            ),
            ("tls_config: {min_version: TLS14}", "unknown TLS version: TLS14"),
        ] {
            let text = format!("scrape_configs:\n  - job_name: a\n    {auth}\n");
            let e = err(&text);
            assert!(e.contains(what), "{auth}: {e}");
            assert!(e.contains("scrape_configs[0]") && e.contains("(line "), "{e}");
        }
    }

    #[test]
    fn service_discovery_checks() {
        assert_err(
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: []\n",
            "scrape_configs[0].file_sd_configs[0]",
            "file service discovery config must contain at least one path name",
            4,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [targets.txt]\n",
            "scrape_configs[0].file_sd_configs[0].files[0]",
            "path name \"targets.txt\" is not valid for file discovery",
            4,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['*/t.json']\n",
            "files[0]",
            "is not valid for file discovery",
            4,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    http_sd_configs:\n      - url: ftp://h/x\n",
            "scrape_configs[0].http_sd_configs[0].url",
            "URL scheme must be 'http' or 'https'",
            4,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    http_sd_configs:\n      - url: not a url\n",
            "http_sd_configs[0].url",
            "invalid URL",
            4,
        );
        assert_err(
            "scrape_configs:\n  - job_name: a\n    http_sd_configs:\n      - refresh_interval: 1m\n",
            "scrape_configs[0].http_sd_configs[0]",
            "missing field `url`",
            4,
        );
    }

    #[test]
    fn accepted_but_ignored_keys_load_with_warnings() {
        let cfg = parse_str(
            "
global:
  scrape_protocols: [PrometheusText0.0.4]
  query_log_file: q.log
remote_write:
  - url: http://127.0.0.1:1/api/v1/write
remote_read: []
storage: {tsdb: {out_of_order_time_window: 10m}}
scrape_configs:
  - job_name: a
    track_timestamps_staleness: true
    proxy_url: http://127.0.0.1:3128
    scrape_classic_histograms: true
    enable_compression: false
",
        )
        .unwrap();
        assert_eq!(cfg.remote_write.len(), 1);
        assert!(!cfg.scrape_configs[0].enable_compression);
        // Honoured by the scraper, so no warning; the job inherits the
        // global protocols.
        assert_eq!(
            cfg.scrape_configs[0].scrape_protocols.as_deref(),
            Some(&["PrometheusText0.0.4".to_string()][..])
        );
        for w in [
            "global.scrape_protocols",
            "scrape_configs[0].track_timestamps_staleness",
            "scrape_configs[0].proxy_url",
        ] {
            assert!(!cfg.warnings.iter().any(|x| x.starts_with(w)), "{w}");
        }
        for w in [
            "global.query_log_file",
            "storage",
            "scrape_configs[0].scrape_classic_histograms",
        ] {
            assert!(
                cfg.warnings.iter().any(|x| x.starts_with(w)),
                "no warning for {w}: {:?}",
                cfg.warnings
            );
        }
        assert!(!cfg.warnings.iter().any(|w| w.starts_with("remote_read")));
        assert!(!cfg.warnings.iter().any(|w| w.starts_with("remote_write")));
    }

    #[test]
    fn remote_write_entries_load_and_validate() {
        let cfg = parse_str(
            "
global:
  external_labels: {dc: eu}
remote_write:
  - url: http://127.0.0.1:1/api/v1/write
    name: a
    remote_timeout: 10s
    headers: {X-Scope-OrgID: t1}
    bearer_token: secret
    write_relabel_configs:
      - {source_labels: [__name__], regex: 'go_.*', action: drop}
    queue_config: {capacity: 500, max_shards: 4, batch_send_deadline: 1s}
    send_exemplars: true
  - url: http://127.0.0.1:1/api/v1/write
",
        )
        .unwrap();
        let rw = &cfg.remote_write;
        assert_eq!(rw.len(), 2);
        assert_eq!(rw[0].queue_name(), "a");
        assert_eq!(rw[0].remote_timeout, PromDuration::from_secs(10));
        assert_eq!(rw[0].queue_config.capacity, 500);
        assert_eq!(rw[0].queue_config.max_samples_per_send, 2000);
        assert_eq!(rw[0].authorization.as_ref().unwrap().kind, "Bearer");
        assert_eq!(rw[1].queue_name().len(), 6);
        assert!(cfg
            .warnings
            .iter()
            .any(|w| w.starts_with("remote_write[0].send_exemplars")));

        let base = "remote_write:\n  - url: http://127.0.0.1:1/w\n";
        assert_err(
            "remote_write:\n  - name: a\n",
            "remote_write[0]",
            "missing field `url`",
            2,
        );
        assert_err(
            "remote_write:\n  - url: ftp://x/y\n",
            "remote_write[0].url",
            "scheme",
            2,
        );
        assert_err(
            &format!("{base}    headers:\n      Content-Type: x\n"),
            "remote_write[0].headers.Content-Type",
            "reserved header",
            4,
        );
        assert_err(
            &format!("{base}    queue_config:\n      min_shards: 5\n      max_shards: 2\n"),
            "remote_write[0].queue_config.max_shards",
            "less than min_shards",
            5,
        );
        assert_err(
            &format!("{base}    metadata_config:\n      send_interval: 0s\n"),
            "remote_write[0].metadata_config.send_interval",
            "greater than 0",
            4,
        );
        assert_err(
            &format!("{base}    queue_config:\n      capacity: x\n"),
            "remote_write[0].queue_config.capacity",
            "invalid",
            4,
        );
        assert_err(
            &format!("{base}    write_relabel_configs:\n      - {{action: keep, regex: '('}}\n"),
            "remote_write[0].write_relabel_configs[0]",
            "regex",
            4,
        );
        assert_err(
            &format!("{base}    sigv4: {{region: x}}\n"),
            "remote_write[0].sigv4",
            "not supported",
            3,
        );
        assert_err(
            &format!("{base}    name: q\n  - url: http://127.0.0.1:2/w\n    name: q\n"),
            "remote_write[1].name",
            "found multiple remote write configs with job name \"q\"",
            5,
        );
        assert_err(
            &format!("{base}{}", base.trim_start_matches("remote_write:\n")),
            "remote_write[1]",
            "duplicate remote write configs are not allowed, found duplicate for URL: http://127.0.0.1:1/w",
            3,
        );
        assert_err(
            &format!("{base}    bearer_token: a\n    basic_auth: {{username: u}}\n"),
            "remote_write[0].basic_auth",
            "at most one of",
            4,
        );
    }

    #[test]
    fn relabel_rules_load_with_prometheus_defaults() {
        let cfg = parse_str(
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {source_labels: [a], action: Keep, regex: 200}\n",
        )
        .unwrap();
        let r = &cfg.scrape_configs[0].relabel_configs[0];
        assert_eq!(r.action, RelabelAction::Keep);
        assert_eq!(r.regex, "200");
        assert_eq!(r.separator, ";");
        assert_eq!(r.replacement, "$1");
    }

    #[test]
    fn merge_keys_are_expanded_and_errors_keep_their_lines() {
        let text = "
scrape_configs:
  - job_name: a
    scrape_interval: 30s
    tls_config: &tls
      insecure_skip_verify: true
  - job_name: b
    tls_config:
      <<: *tls
      server_name: b.internal
";
        let cfg = parse_str(text).unwrap();
        let tls = cfg.scrape_configs[1].tls_config.as_ref().unwrap();
        assert!(tls.insecure_skip_verify);
        assert_eq!(tls.server_name.as_deref(), Some("b.internal"));
        let bad = format!("{text}    scrape_interval: 15\n");
        assert_err(
            &bad,
            "scrape_configs[1].scrape_interval",
            "invalid duration",
            11,
        );
        let bad = format!("{text}    scrape_timeout: 2m\n");
        assert_err(
            &bad,
            "scrape_configs[1].scrape_timeout",
            "greater than scrape interval",
            11,
        );
    }

    #[test]
    fn scrape_config_files_add_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = dir.path().join("jobs");
        std::fs::create_dir(&jobs).unwrap();
        std::fs::write(
            jobs.join("a.yml"),
            "scrape_configs:\n  - job_name: from-a\n    bearer_token_file: tok\n",
        )
        .unwrap();
        std::fs::write(jobs.join("b.yml"), "# no jobs yet\n").unwrap();
        let main = dir.path().join("prometheus.yml");
        std::fs::write(
            &main,
            "global: {scrape_interval: 7s}\nscrape_config_files: [jobs/*.yml]\nscrape_configs: [{job_name: main}]\n",
        )
        .unwrap();
        let cfg = load_file(&main).unwrap();
        let names: Vec<&str> = cfg
            .scrape_configs
            .iter()
            .map(|j| j.job_name.as_str())
            .collect();
        assert_eq!(names, ["main", "from-a"]);
        let a = &cfg.scrape_configs[1];
        assert_eq!(a.scrape_interval, Some(PromDuration::from_secs(7)));
        let cred = a
            .authorization
            .as_ref()
            .unwrap()
            .credentials_file
            .clone()
            .unwrap();
        assert_eq!(
            Path::new(&cred),
            std::path::absolute(&jobs).unwrap().join("tok")
        );

        // A job name used twice across files; the error names file and line.
        std::fs::write(
            jobs.join("b.yml"),
            "scrape_configs:\n  - job_name: ok\n  - job_name: main\n",
        )
        .unwrap();
        let e = load_file(&main).unwrap_err().to_string();
        assert!(
            e.starts_with(&jobs.join("b.yml").display().to_string()),
            "{e}"
        );
        assert!(e.contains("b.yml: scrape_configs[1].job_name: found multiple scrape configs with job name \"main\" (line 3)"), "{e}");
        std::fs::write(
            jobs.join("b.yml"),
            "scrape_configs:\n  - job_name: x\n    scrape_interval: 1\n",
        )
        .unwrap();
        let e = load_file(&main).unwrap_err().to_string();
        assert!(
            e.contains("b.yml: scrape_configs[0].scrape_interval: invalid duration")
                && e.contains("(line 3)"),
            "{e}"
        );
        assert_err(
            "scrape_config_files: ['a/*/x.yml']\n",
            "scrape_config_files[0]",
            "invalid scrape config file path",
            1,
        );
    }

    #[test]
    fn external_labels_drop_empty_values() {
        let cfg = parse_str("global:\n  external_labels: {a: x, b: ''}\n").unwrap();
        assert_eq!(cfg.global.external_labels.len(), 1);
        assert_eq!(cfg.global.external_labels["a"], "x");
    }
}

#[cfg(test)]
mod testdata {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{NameValidationScheme, PromDuration, RelabelAction, Scheme};

    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/config")
    }

    #[test]
    fn full_prometheus_config_loads() {
        let path = dir().join("prometheus.yml");
        let cfg = load_file(&path).unwrap();
        let base = std::path::absolute(dir()).unwrap();
        let at = |p: &str| base.join(p).to_string_lossy().into_owned();

        assert_eq!(cfg.global.evaluation_interval, PromDuration::from_secs(30));
        assert_eq!(cfg.global.external_labels.len(), 2);
        assert_eq!(cfg.global.body_size_limit_bytes, 50 << 20);
        assert_eq!(cfg.rule_files, [at("rules/*.yml")]);
        assert_eq!(cfg.remote_write.len(), 1);
        assert_eq!(cfg.remote_read.len(), 1);
        let names: Vec<&str> = cfg
            .scrape_configs
            .iter()
            .map(|j| j.job_name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "ferroprom",
                "node",
                "secure-app",
                "token-api",
                "authorized",
                "http-discovered",
                "blackbox"
            ]
        );
        let [ferroprom, node, secure, token, authorized, http_sd, blackbox] =
            &cfg.scrape_configs[..]
        else {
            panic!()
        };
        // From scrape_config_files, with the main file's global defaults.
        assert_eq!(blackbox.params["module"], ["http_2xx"]);
        assert_eq!(blackbox.scrape_interval, Some(PromDuration::from_secs(15)));
        assert_eq!(ferroprom.scrape_interval, Some(PromDuration::from_secs(15)));
        assert_eq!(ferroprom.sample_limit, Some(50_000));
        assert_eq!(ferroprom.body_size_limit_bytes, 50 << 20);

        assert_eq!(node.scrape_timeout, Some(PromDuration::from_secs(25)));
        assert_eq!(node.params["collect[]"], ["cpu", "meminfo"]);
        assert_eq!(node.static_configs.len(), 2);
        assert_eq!(
            node.file_sd_configs[0].files,
            [at("targets/*.json"), at("targets/*.yml")]
        );
        assert_eq!(node.relabel_configs.len(), 8);
        assert_eq!(node.relabel_configs[2].action, RelabelAction::HashMod);
        assert_eq!(node.metric_relabel_configs.len(), 6);
        crate::relabel::compile(&node.relabel_configs).unwrap();

        assert_eq!(secure.scheme, Scheme::Https);
        assert_eq!(secure.metrics_path, "/internal/metrics");
        assert!(!secure.follow_redirects && !secure.enable_http2);
        assert_eq!(secure.body_size_limit_bytes, (1 << 30) + (512 << 20));
        let ba = secure.basic_auth.as_ref().unwrap();
        assert_eq!(
            ba.password_file.as_deref(),
            Some(at("secrets/password").as_str())
        );
        let tls = secure.tls_config.as_ref().unwrap();
        assert_eq!(tls.ca_file.as_deref(), Some(at("secrets/ca.pem").as_str()));
        assert_eq!(tls.server_name.as_deref(), Some("app.internal"));

        let auth = token.authorization.as_ref().unwrap();
        assert_eq!(auth.kind, "Bearer");
        assert_eq!(
            auth.credentials_file.as_deref(),
            Some(at("secrets/token").as_str())
        );
        assert_eq!(
            token.metric_name_validation_scheme,
            Some(NameValidationScheme::Legacy)
        );

        // The merge key brought the anchored TLS settings along.
        let tls = authorized.tls_config.as_ref().unwrap();
        assert_eq!(tls.min_version.as_deref(), Some("TLS12"));
        assert_eq!(tls.ca_file.as_deref(), Some(at("secrets/ca.pem").as_str()));
        assert_eq!(
            tls.key_file.as_deref(),
            Some(at("secrets/client.key").as_str())
        );
        assert_eq!(authorized.authorization.as_ref().unwrap().kind, "Token");

        assert_eq!(http_sd.http_sd_configs.len(), 2);
        assert_eq!(http_sd.label_limit, Some(30));
        assert_eq!(http_sd.target_limit, Some(50));
        assert!(!cfg
            .warnings
            .iter()
            .any(|w| w.starts_with("scrape_configs[5].scrape_protocols")));
        // server_name is applied by the HTTP client, so it is no warning.
        assert!(!cfg.warnings.iter().any(|w| w.contains("server_name")));
        assert_eq!(cfg.source, std::fs::read_to_string(&path).unwrap());
    }

    /// Every file in `bad/` fails with the fragments of its first-line
    /// `# expect:` comment (separated by ` ... `) appearing in order.
    #[test]
    fn bad_configs_fail_with_the_expected_error() {
        let mut checked = 0;
        for entry in std::fs::read_dir(dir().join("bad")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let expect = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{}: no '# expect:' line", path.display()));
            let err = match parse_str(&text) {
                Ok(_) => panic!("{} loaded but should fail", path.display()),
                Err(e) => e.to_string(),
            };
            let mut rest = err.as_str();
            for fragment in expect.split(" ... ") {
                let at = rest.find(fragment).unwrap_or_else(|| {
                    panic!("{}:\n  want {fragment:?}\n  got  {err}", path.display())
                });
                rest = &rest[at + fragment.len()..];
            }
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} bad configs");
    }
}
