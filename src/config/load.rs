//! Reading `prometheus.yml`: YAML → [`Config`], defaults from `global:`,
//! validation. Errors name the offending key and its line:
//! `scrape_configs[1].scrape_interval: invalid duration "15": missing unit (line 12)`.

use std::path::{Path, PathBuf};

use super::locate::line_of;
use super::validate::{validate, Explicit, Problem};
use super::Config;

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
    parse(&text, dir.as_deref()).map_err(|e| match e {
        ConfigError::Invalid(msg) => ConfigError::Invalid(format!("{}: {msg}", path.display())),
        other => other,
    })
}

/// Parses and validates configuration text; relative paths stay relative
/// (to the working directory).
pub fn parse_str(text: &str) -> Result<Config, ConfigError> {
    parse(text, None)
}

/// Parses and validates configuration text as if it were a file in `dir`:
/// relative paths in it are resolved against `dir`.
pub fn parse_str_in_dir(text: &str, dir: &Path) -> Result<Config, ConfigError> {
    parse(text, Some(dir))
}

fn parse(text: &str, dir: Option<&Path>) -> Result<Config, ConfigError> {
    let mut cfg: Config = if is_empty_document(text) {
        Config::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(yaml_error)?
    };
    let explicit = Explicit {
        global_scrape_timeout: has_global_timeout(text),
    };
    validate(&mut cfg, dir, &explicit).map_err(|p| located(text, p))?;
    cfg.source = text.to_string();
    Ok(cfg)
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
fn yaml_error(e: serde_yaml_ng::Error) -> ConfigError {
    let text = e.to_string();
    let Some(loc) = e.location() else {
        return ConfigError::Invalid(text);
    };
    let suffix = format!(" at line {} column {}", loc.line(), loc.column());
    let msg = match text.strip_suffix(&suffix) {
        Some(m) => format!("{m} (line {})", loc.line()),
        // libyaml syntax errors put the position mid-sentence; keep them.
        None => text,
    };
    ConfigError::Invalid(msg)
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
