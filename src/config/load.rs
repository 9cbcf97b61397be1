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
    use crate::config::test_support::{assert_err, err};
    use crate::config::{PromDuration, RelabelAction};

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
        assert!(cfg.alerting.alertmanagers[0].static_configs[0]
            .targets
            .is_empty());
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
