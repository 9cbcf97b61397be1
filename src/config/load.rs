//! Reading `prometheus.yml`: YAML → [`Config`], defaults from `global:`,
//! validation. Errors name the offending key and its line.

use std::path::{Path, PathBuf};

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

/// Loads and validates the file at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_str(&text)
}

/// Parses and validates configuration text.
pub fn parse_str(text: &str) -> Result<Config, ConfigError> {
    let mut cfg: Config = if text.trim().is_empty() {
        Config::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Invalid(e.to_string()))?
    };
    cfg.source = text.to_string();
    let g = cfg.global.clone();
    for sc in &mut cfg.scrape_configs {
        sc.scrape_interval.get_or_insert(g.scrape_interval);
        let interval = sc.scrape_interval.unwrap();
        sc.scrape_timeout
            .get_or_insert(std::cmp::min(g.scrape_timeout, interval));
        sc.sample_limit.get_or_insert(g.sample_limit);
        sc.label_limit.get_or_insert(g.label_limit);
        sc.label_name_length_limit
            .get_or_insert(g.label_name_length_limit);
        sc.label_value_length_limit
            .get_or_insert(g.label_value_length_limit);
        sc.target_limit.get_or_insert(g.target_limit);
    }
    Ok(cfg)
}
