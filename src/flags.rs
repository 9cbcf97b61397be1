//! Command-line flags, named and defaulted as Prometheus's.

use std::collections::BTreeMap;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

mod no_effect;

pub use no_effect::NoEffect;

/// Log verbosity (`--log.level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// Log line format (`--log.format`): key=value text, or one JSON object
/// per line for log shippers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Logfmt => "logfmt",
            LogFormat::Json => "json",
        }
    }
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// ferroprom: a Prometheus-compatible time-series database server.
#[derive(Clone, Debug, Parser)]
#[command(name = "ferroprom", version, about, long_about = None)]
pub struct Flags {
    /// Prometheus configuration file path. When this flag is not given and
    /// prometheus.yml does not exist, a built-in configuration that scrapes
    /// ferroprom itself every 15s is used; a path given that does not exist
    /// is an error.
    #[arg(long = "config.file", default_value = "prometheus.yml")]
    pub config_file: String,

    /// Whether `--config.file` was given on the command line (only the
    /// default path may fall back to the built-in configuration). Set by
    /// [`Flags::from_command_line`]; clap's derive cannot fill it.
    #[arg(skip)]
    pub config_file_given: bool,

    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "./data")]
    pub storage_path: String,

    /// How long to retain samples in storage. When neither this nor
    /// retention.size is set, defaults to 15d. Units: y, w, d, h, m, s, ms.
    #[arg(long = "storage.tsdb.retention.time")]
    pub retention_time: Option<String>,

    /// Maximum number of bytes that can be stored for blocks. Units: B, KB,
    /// MB, GB, TB, PB, EB. 0 disables.
    #[arg(long = "storage.tsdb.retention.size", default_value = "0")]
    pub retention_size: String,

    /// How far ahead of the server clock a sample's timestamp may be;
    /// later ones are refused at scrape, remote write and rule output (and
    /// skipped at WAL replay), so one bad timestamp cannot stop ingestion.
    /// `tsdb import` is not limited. Units: y, w, d, h, m, s, ms.
    #[arg(
        long = "storage.tsdb.future-sample-grace",
        default_value = "10m",
        value_parser = |s: &str| storage::compact::parse_duration_ms(s)
    )]
    pub future_sample_grace_ms: i64,

    /// Most labels a remote-write series may have (0: no limit).
    #[arg(long = "web.remote-write-receiver.label-limit", default_value_t = 200)]
    pub remote_write_label_limit: usize,

    /// Longest label name, in bytes, a remote-write series may have (0: no
    /// limit).
    #[arg(
        long = "web.remote-write-receiver.label-name-length-limit",
        default_value_t = 1024
    )]
    pub remote_write_label_name_length_limit: usize,

    /// Longest label value, in bytes, a remote-write series may have (0: no
    /// limit).
    #[arg(
        long = "web.remote-write-receiver.label-value-length-limit",
        default_value_t = 65536
    )]
    pub remote_write_label_value_length_limit: usize,

    /// Address to listen on for the web interface and API.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub listen_address: String,

    /// Enable shutdown and reload via HTTP request (/-/quit, /-/reload).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,

    /// Enable API endpoints for admin control actions.
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,

    /// Enable the API endpoint accepting remote write requests.
    #[arg(long = "web.enable-remote-write-receiver")]
    pub enable_remote_write_receiver: bool,

    /// The maximum lookback duration for retrieving metrics during
    /// expression evaluations and federation.
    #[arg(long = "query.lookback-delta", default_value = "5m")]
    pub lookback_delta: String,

    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", default_value = "2m")]
    pub query_timeout: String,

    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub query_max_samples: usize,

    /// Most heap memory one query may hold, as a size (`2GB`, `512MiB`) or
    /// a share of the memory available (the machine's, or the container's
    /// limit when smaller); 0 = no limit. A query that passes it stops with
    /// a 422 error, as one over --query.max-samples does.
    #[arg(long = "query.max-memory", default_value = "25%")]
    pub query_max_memory: String,

    /// ferroprom's own: the most memory (estimated) the range-query result
    /// cache holds, as a size (`128MiB`); 0 turns the cache off. Dashboards
    /// that refresh a range get the steps already computed from it and
    /// evaluate only the new ones; new data, deletions and retention
    /// invalidate what they could change.
    #[arg(long = "query.cache-max-bytes", default_value = "128MiB")]
    pub query_cache_max_bytes: String,

    /// Maximum number of queries executed concurrently. Counted in threads:
    /// a query holds one slot, plus one per helper thread it took from the
    /// slots free when it started (up to one per extra core), so a busy
    /// server runs each query on one thread.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    pub query_max_concurrency: usize,

    /// Max time to tolerate ferroprom outage for restoring "for" state of
    /// alerts.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h")]
    pub rules_alert_for_outage_tolerance: String,

    /// Minimum duration between an alert and its restored "for" state.
    /// Only alerts with a configured "for" greater than the grace period
    /// are restored.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m")]
    pub rules_alert_for_grace_period: String,

    /// Minimum amount of time to wait before resending an alert to
    /// Alertmanager.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m")]
    pub rules_alert_resend_delay: String,

    /// The capacity of the queue for pending Alertmanager notifications.
    #[arg(
        long = "alertmanager.notification-queue-capacity",
        default_value_t = 10_000
    )]
    pub notification_queue_capacity: usize,

    /// The maximum number of notifications per batch to send to the
    /// Alertmanager.
    #[arg(long = "alertmanager.notification-batch-size", default_value_t = 256)]
    pub notification_batch_size: usize,

    /// The URL under which ferroprom is externally reachable (links in
    /// alerts and the web UI; its path is where browsers find the UI).
    /// Defaults to http://<hostname>:<listen port>/.
    #[arg(long = "web.external-url")]
    pub external_url: Option<String>,

    /// Prefix for the internal routes of web endpoints: the UI, the API
    /// and every other route are served under it. Defaults to the path of
    /// --web.external-url.
    #[arg(long = "web.route-prefix")]
    pub route_prefix: Option<String>,

    /// Maximum duration before timing out read of the request, body
    /// included; request headers must arrive within 30s or this, if less.
    #[arg(long = "web.read-timeout", default_value = "5m")]
    pub web_read_timeout: String,

    /// Maximum number of simultaneous connections (0: no limit). Beyond
    /// it, new connections wait, and the oldest idle one is closed.
    #[arg(long = "web.max-connections", default_value_t = 512)]
    pub web_max_connections: usize,

    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", value_enum, default_value = "info")]
    pub log_level: LogLevel,

    /// Output format of log messages.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    pub log_format: LogFormat,

    /// TLS and authentication for the web interface: not supported, so
    /// start-up fails when it is given rather than serve without them.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,

    #[command(flatten)]
    pub no_effect: NoEffect,

    /// A tool to run instead of the server.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Tools run from the command line instead of the server.
#[derive(Clone, Debug, PartialEq, Subcommand)]
pub enum Command {
    /// Work with the TSDB on disk (the server must be stopped).
    #[command(subcommand)]
    Tsdb(TsdbCommand),
    /// Check configuration and rule files (like `promtool check`).
    #[command(subcommand)]
    Check(CheckCommand),
    /// Unit testing (like `promtool test`).
    #[command(subcommand)]
    Test(TestCommand),
}

/// `ferroprom test ...`
#[derive(Clone, Debug, PartialEq, Subcommand)]
pub enum TestCommand {
    /// Unit tests for rules (promtool's unit-test files).
    Rules(TestRulesArgs),
}

/// The flags of `ferroprom test rules`, as promtool's.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct TestRulesArgs {
    /// Only run test groups whose names match the regular expression; may
    /// be given several times.
    #[arg(long = "run")]
    pub run: Vec<String>,
    /// Say when each test group starts and ends, and dump its data.
    #[arg(long = "debug")]
    pub debug: bool,
    /// Print alert mismatches as a diff of expected and received alerts.
    #[arg(long = "diff")]
    pub diff: bool,
    /// Ignore unknown fields in the rule files the tests load.
    #[arg(long = "ignore-unknown-fields")]
    pub ignore_unknown_fields: bool,
    /// The unit-test files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `ferroprom check ...`
#[derive(Clone, Debug, PartialEq, Subcommand)]
pub enum CheckCommand {
    /// Check configuration files and the rule files they name.
    Config {
        /// Only check the configuration's syntax, not the files it names.
        #[arg(long = "syntax-only")]
        syntax_only: bool,
        #[command(flatten)]
        lint: LintArgs,
        /// The configuration files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check rule files.
    Rules {
        #[command(flatten)]
        lint: LintArgs,
        /// The rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// The lint flags of the `check` tools, as promtool's.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct LintArgs {
    /// Which lint checks to run: `all`, `duplicate-rules` or `none`.
    #[arg(long = "lint", value_enum, default_value = "duplicate-rules")]
    pub lint: Lint,
    /// Make lint findings fail the check (exit status 3).
    #[arg(long = "lint-fatal")]
    pub lint_fatal: bool,
}

/// `--lint` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lint {
    All,
    DuplicateRules,
    None,
}

/// `ferroprom tsdb ...`
#[derive(Clone, Debug, PartialEq, Subcommand)]
pub enum TsdbCommand {
    /// Create blocks from historical data (like `promtool tsdb
    /// create-blocks-from`); the server loads them when it next starts.
    #[command(subcommand)]
    Import(ImportCommand),
}

/// `ferroprom tsdb import <format> ...`
#[derive(Clone, Debug, PartialEq, Subcommand)]
pub enum ImportCommand {
    /// Import an OpenMetrics file in which every sample has a timestamp
    /// (plain or gzip-compressed; ends with `# EOF`).
    Openmetrics {
        /// The OpenMetrics file to read.
        file: PathBuf,
        /// The data directory to write blocks into.
        #[arg(default_value = "data")]
        data_dir: PathBuf,
    },
}

/// Validated values of the flags that take durations and sizes.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub retention_ms: Option<i64>,
    pub retention_bytes: Option<u64>,
    pub lookback_delta_ms: i64,
    pub query_timeout: std::time::Duration,
    pub web_read_timeout: std::time::Duration,
    /// `--query.max-memory` in bytes; `None` = no limit.
    pub query_max_memory: Option<usize>,
    /// `--query.cache-max-bytes`; 0 = no cache.
    pub query_cache_max_bytes: usize,
}

/// A flag with a value that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid value for --{flag}: {msg}")]
pub struct FlagError {
    pub flag: &'static str,
    pub msg: String,
}

const DEFAULT_RETENTION_MS: i64 = 15 * 24 * 3600 * 1000;

impl Flags {
    /// Parses `args` (the program name first) as [`Flags::try_parse_from`]
    /// does, and records whether `--config.file` came from them.
    pub fn from_command_line<I, T>(args: I) -> Result<Flags, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Flags::command().try_get_matches_from(args)?;
        let mut flags = Flags::from_arg_matches(&matches)?;
        flags.config_file_given =
            matches.value_source("config_file") == Some(clap::parser::ValueSource::CommandLine);
        Ok(flags)
    }

    /// Parses the duration and size flags.
    pub fn parse_values(&self) -> Result<Parsed, FlagError> {
        use storage::compact::{parse_duration_ms, parse_size_bytes};
        let err = |flag, msg| FlagError { flag, msg };
        let retention_bytes = match parse_size_bytes(&self.retention_size)
            .map_err(|m| err("storage.tsdb.retention.size", m))?
        {
            0 => None,
            n => Some(n),
        };
        let retention_ms = match &self.retention_time {
            Some(s) => {
                match parse_duration_ms(s).map_err(|m| err("storage.tsdb.retention.time", m))? {
                    0 => None,
                    n => Some(n),
                }
            }
            None if retention_bytes.is_some() => None,
            None => Some(DEFAULT_RETENTION_MS),
        };
        let lookback_delta_ms =
            parse_duration_ms(&self.lookback_delta).map_err(|m| err("query.lookback-delta", m))?;
        if lookback_delta_ms <= 0 {
            return Err(err("query.lookback-delta", "must be positive".into()));
        }
        let timeout_ms =
            parse_duration_ms(&self.query_timeout).map_err(|m| err("query.timeout", m))?;
        if self.query_max_concurrency == 0 {
            return Err(err("query.max-concurrency", "must be at least 1".into()));
        }
        let read_timeout_ms =
            parse_duration_ms(&self.web_read_timeout).map_err(|m| err("web.read-timeout", m))?;
        if read_timeout_ms <= 0 {
            return Err(err("web.read-timeout", "must be positive".into()));
        }
        let query_max_memory = parse_memory_limit(&self.query_max_memory, || {
            crate::alloc::system_memory::limit_bytes()
        })
        .map_err(|m| err("query.max-memory", m))?;
        let query_cache_max_bytes = parse_size_bytes(&self.query_cache_max_bytes)
            .map_err(|m| err("query.cache-max-bytes", m))?;
        Ok(Parsed {
            query_max_memory,
            query_cache_max_bytes: usize::try_from(query_cache_max_bytes).unwrap_or(usize::MAX),
            retention_ms,
            retention_bytes,
            lookback_delta_ms,
            query_timeout: std::time::Duration::from_millis(timeout_ms as u64),
            web_read_timeout: std::time::Duration::from_millis(read_timeout_ms as u64),
        })
    }

    /// Every flag and its value, for `/api/v1/status/flags`.
    pub fn as_map(&self) -> BTreeMap<String, String> {
        let b = |v: bool| v.to_string();
        BTreeMap::from([
            ("config.file".into(), self.config_file.clone()),
            ("storage.tsdb.path".into(), self.storage_path.clone()),
            (
                "storage.tsdb.retention.time".into(),
                self.retention_time.clone().unwrap_or_else(|| "0s".into()),
            ),
            (
                "storage.tsdb.retention.size".into(),
                self.retention_size.clone(),
            ),
            ("web.listen-address".into(), self.listen_address.clone()),
            ("web.enable-lifecycle".into(), b(self.enable_lifecycle)),
            ("web.enable-admin-api".into(), b(self.enable_admin_api)),
            (
                "web.enable-remote-write-receiver".into(),
                b(self.enable_remote_write_receiver),
            ),
            ("query.lookback-delta".into(), self.lookback_delta.clone()),
            ("query.timeout".into(), self.query_timeout.clone()),
            (
                "query.max-samples".into(),
                self.query_max_samples.to_string(),
            ),
            (
                "query.max-concurrency".into(),
                self.query_max_concurrency.to_string(),
            ),
            ("log.level".into(), self.log_level.as_str().into()),
            ("log.format".into(), self.log_format.as_str().into()),
            ("query.max-memory".into(), self.query_max_memory.clone()),
            (
                "query.cache-max-bytes".into(),
                self.query_cache_max_bytes.clone(),
            ),
            (
                "rules.alert.for-outage-tolerance".into(),
                self.rules_alert_for_outage_tolerance.clone(),
            ),
            (
                "rules.alert.for-grace-period".into(),
                self.rules_alert_for_grace_period.clone(),
            ),
            (
                "rules.alert.resend-delay".into(),
                self.rules_alert_resend_delay.clone(),
            ),
            (
                "alertmanager.notification-queue-capacity".into(),
                self.notification_queue_capacity.to_string(),
            ),
            (
                "alertmanager.notification-batch-size".into(),
                self.notification_batch_size.to_string(),
            ),
            (
                "web.external-url".into(),
                self.external_url.clone().unwrap_or_default(),
            ),
            (
                "web.route-prefix".into(),
                self.route_prefix.clone().unwrap_or_default(),
            ),
            ("web.read-timeout".into(), self.web_read_timeout.clone()),
            (
                "web.max-connections".into(),
                self.web_max_connections.to_string(),
            ),
        ])
    }

    /// `--web.external-url` as Prometheus computes it: the flag, or
    /// `http://<hostname>:<listen port>/`, with the path's trailing
    /// slashes removed.
    pub fn external_url(&self) -> Result<reqwest::Url, FlagError> {
        let err = |msg: String| FlagError {
            flag: "web.external-url",
            msg,
        };
        let text = match self.external_url.as_deref() {
            Some(u) if !u.is_empty() => u.to_string(),
            _ => {
                let port = self
                    .listen_address
                    .rsplit_once(':')
                    .map(|(_, p)| p)
                    .ok_or_else(|| {
                        err(format!(
                            "no port in --web.listen-address {:?}",
                            self.listen_address
                        ))
                    })?;
                format!("http://{}:{port}/", hostname())
            }
        };
        if text.starts_with(['"', '\'']) || text.ends_with(['"', '\'']) {
            return Err(err("URL must not begin or end with quotes".into()));
        }
        let mut url = reqwest::Url::parse(&text).map_err(|e| err(e.to_string()))?;
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        Ok(url)
    }

    /// `--web.route-prefix`, defaulting to the external URL's path, as
    /// `/` followed by the prefix without surrounding slashes.
    pub fn route_prefix(&self) -> Result<String, FlagError> {
        let prefix = match self.route_prefix.as_deref() {
            Some(p) => p.to_string(),
            None => self.external_url()?.path().to_string(),
        };
        Ok(format!("/{}", prefix.trim_matches('/')))
    }
}

/// This machine's name, for the default external URL.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `--query.max-memory`: `N%` of `available()` (rounded down), or a size;
/// 0 means no limit. A share of an unknown total is no limit either.
fn parse_memory_limit(
    text: &str,
    available: impl FnOnce() -> Option<u64>,
) -> Result<Option<usize>, String> {
    let bytes = match text.trim().strip_suffix('%') {
        Some(pct) => {
            let pct: f64 = pct
                .trim()
                .parse()
                .map_err(|_| format!("{text:?}: not a percentage"))?;
            if !(0.0..=100.0).contains(&pct) {
                return Err(format!("{text:?}: a share must be within 0% and 100%"));
            }
            match available() {
                Some(total) => (total as f64 * pct / 100.0) as u64,
                None => 0,
            }
        }
        None => storage::compact::parse_size_bytes(text)?,
    };
    Ok((bytes > 0).then(|| usize::try_from(bytes).unwrap_or(usize::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Flags {
        Flags::try_parse_from(std::iter::once("ferroprom").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_are_prometheus_defaults() {
        let f = parse(&[]);
        assert_eq!(f.config_file, "prometheus.yml");
        assert_eq!(f.storage_path, "./data");
        assert_eq!(f.listen_address, "0.0.0.0:9090");
        let p = f.parse_values().unwrap();
        assert_eq!(p.retention_ms, Some(DEFAULT_RETENTION_MS));
        assert_eq!(p.retention_bytes, None);
        assert_eq!(p.lookback_delta_ms, 300_000);
        assert_eq!(p.query_timeout.as_secs(), 120);
        assert_eq!(f.query_max_samples, 50_000_000);
        assert_eq!(f.query_max_concurrency, 20);
        assert_eq!(p.query_cache_max_bytes, 128 << 20);
        let p = parse(&["--query.cache-max-bytes=0"])
            .parse_values()
            .unwrap();
        assert_eq!(p.query_cache_max_bytes, 0);
    }

    #[test]
    fn dotted_names_with_and_without_equals() {
        let f = parse(&[
            "--config.file=/etc/p.yml",
            "--storage.tsdb.retention.time",
            "30d",
            "--storage.tsdb.retention.size=10GB",
            "--web.enable-lifecycle",
            "--log.level=debug",
        ]);
        assert_eq!(f.config_file, "/etc/p.yml");
        assert!(f.enable_lifecycle && !f.enable_admin_api);
        let p = f.parse_values().unwrap();
        assert_eq!(p.retention_ms, Some(30 * 24 * 3600 * 1000));
        assert_eq!(p.retention_bytes, Some(10 << 30));
        assert_eq!(f.as_map()["log.level"], "debug");
    }

    #[test]
    fn size_alone_disables_time_retention() {
        let p = parse(&["--storage.tsdb.retention.size=1GB"])
            .parse_values()
            .unwrap();
        assert_eq!(p.retention_ms, None);
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (args, flag) in [
            (
                &["--storage.tsdb.retention.time=15x"][..],
                "storage.tsdb.retention.time",
            ),
            (
                &["--storage.tsdb.retention.size=lots"][..],
                "storage.tsdb.retention.size",
            ),
            (&["--query.lookback-delta=0s"][..], "query.lookback-delta"),
            (&["--query.timeout=soon"][..], "query.timeout"),
            (&["--query.max-concurrency=0"][..], "query.max-concurrency"),
            (
                &["--query.cache-max-bytes=lots"][..],
                "query.cache-max-bytes",
            ),
        ] {
            let e = parse(args).parse_values().unwrap_err();
            assert_eq!(e.flag, flag);
            assert!(e
                .to_string()
                .starts_with(&format!("invalid value for --{flag}")));
        }
        assert!(Flags::try_parse_from(["ferroprom", "--log.level=loud"]).is_err());
        assert!(Flags::try_parse_from(["ferroprom", "tsdb", "import", "csv", "x"]).is_err());
        assert!(Flags::try_parse_from(["ferroprom", "tsdb", "import", "openmetrics"]).is_err());
        assert!(Flags::try_parse_from(["ferroprom", "--no.such-flag"]).is_err());
    }

    #[test]
    fn alertmanager_and_external_url_flags() {
        let f = parse(&[]);
        assert_eq!(f.notification_queue_capacity, 10_000);
        assert_eq!(f.notification_batch_size, 256);
        let url = f.external_url().unwrap();
        assert_eq!(url.port(), Some(9090));
        assert_eq!(url.path(), "/");
        assert_eq!(f.route_prefix().unwrap(), "/");
        let f = parse(&[
            "--alertmanager.notification-queue-capacity=5",
            "--alertmanager.notification-batch-size",
            "7",
            "--web.external-url=https://example.com/prom/",
        ]);
        assert_eq!(
            (f.notification_queue_capacity, f.notification_batch_size),
            (5, 7)
        );
        assert_eq!(
            f.external_url().unwrap().as_str(),
            "https://example.com/prom"
        );
        assert_eq!(f.route_prefix().unwrap(), "/prom");
        assert_eq!(f.as_map()["web.external-url"], "https://example.com/prom/");
        let f = parse(&["--web.external-url=http://h/x", "--web.route-prefix=/y/"]);
        assert_eq!(f.route_prefix().unwrap(), "/y");
        let e = parse(&["--web.external-url='http://h/'"])
            .external_url()
            .unwrap_err();
        assert_eq!(e.flag, "web.external-url");
        assert!(parse(&["--web.external-url=not a url"])
            .external_url()
            .is_err());
    }

    #[test]
    fn explicit_config_file_is_told_from_the_default() {
        let f = Flags::from_command_line(["ferroprom"]).unwrap();
        assert_eq!(f.config_file, "prometheus.yml");
        assert!(!f.config_file_given);
        for arg in ["--config.file=prometheus.yml", "--config.file=/x.yml"] {
            assert!(
                Flags::from_command_line(["ferroprom", arg])
                    .unwrap()
                    .config_file_given
            );
        }
        assert!(Flags::from_command_line(["ferroprom", "--no.such-flag"]).is_err());
    }

    /// Every Prometheus 3.x flag without effect here parses, with its
    /// value, alone and all together; switches also in kingpin's `--no-`
    /// form.
    #[test]
    fn every_no_effect_flag_parses() {
        let mut all = vec!["ferroprom".to_string()];
        for name in NoEffect::VALUE_FLAGS {
            let value = "x";
            let arg = format!("--{name}={value}");
            let f = parse(&[&arg]);
            assert_eq!(f.no_effect.given(), [format!("{name}={value}")], "{arg}");
            all.push(arg);
        }
        for name in NoEffect::SWITCHES {
            for arg in [format!("--{name}"), format!("--no-{name}")] {
                assert_eq!(parse(&[&arg]).no_effect.given(), [name.to_string()]);
            }
            all.push(format!("--{name}"));
        }
        let f = Flags::try_parse_from(&all).unwrap();
        assert_eq!(
            f.no_effect.given().len(),
            NoEffect::VALUE_FLAGS.len() + NoEffect::SWITCHES.len()
        );
        assert!(parse(&[]).no_effect.given().is_empty());
        assert!(Flags::try_parse_from(["ferroprom", "--log.format=xml"]).is_err());
    }

    #[test]
    fn query_max_memory_is_a_share_or_a_size() {
        let total = || Some(8u64 << 30);
        assert_eq!(parse_memory_limit("25%", total), Ok(Some(2 << 30)));
        assert_eq!(parse_memory_limit("512MiB", total), Ok(Some(512 << 20)));
        assert_eq!(parse_memory_limit("0", total), Ok(None));
        assert_eq!(parse_memory_limit("0%", total), Ok(None));
        assert_eq!(parse_memory_limit("50%", || None), Ok(None));
        assert!(parse_memory_limit("150%", total).is_err());
        assert!(parse_memory_limit("lots", total).is_err());
        let p = parse(&[]).parse_values().unwrap();
        assert!(p.query_max_memory.is_some_and(|b| b > 0));
        assert!(parse(&["--query.max-memory=x%"]).parse_values().is_err());
    }

    #[test]
    fn enable_feature_is_repeatable_and_comma_separated() {
        let f = parse(&[
            "--enable-feature=exemplar-storage,native-histograms",
            "--enable-feature",
            "no-such-feature,,memory-snapshot-on-shutdown",
        ]);
        assert_eq!(
            f.no_effect.features(),
            (
                vec![
                    "exemplar-storage",
                    "native-histograms",
                    "memory-snapshot-on-shutdown"
                ],
                vec!["no-such-feature"]
            )
        );
        assert!(f.no_effect.given().is_empty());
    }

    #[test]
    fn import_subcommand() {
        assert_eq!(parse(&[]).command, None);
        let f = parse(&["tsdb", "import", "openmetrics", "in.om"]);
        assert_eq!(
            f.command,
            Some(Command::Tsdb(TsdbCommand::Import(
                ImportCommand::Openmetrics {
                    file: "in.om".into(),
                    data_dir: "data".into(),
                }
            )))
        );
        let f = parse(&[
            "--log.level=warn",
            "tsdb",
            "import",
            "openmetrics",
            "in.om",
            "/tmp/d",
        ]);
        assert_eq!(f.log_level, LogLevel::Warn);
        assert!(matches!(
            f.command,
            Some(Command::Tsdb(TsdbCommand::Import(ImportCommand::Openmetrics { data_dir, .. })))
                if data_dir == std::path::Path::new("/tmp/d")
        ));
    }
}
