//! Prometheus's checks and defaults applied after deserialising: what the
//! YAML types alone cannot express (cross-field and cross-job rules, values
//! inherited from `global:`, relative paths). Each problem is reported with
//! the path of the key it is about; the loader turns that into a line.

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use super::body_size::parse_size;
use super::http_client::Proxies;
use super::locate::KeyPath;
use super::remote_read::{RemoteReadConfig, RESERVED_HEADERS};
use super::scrape::HttpSdConfig;
use super::sd::{DnsRecordType, DnsSdConfig, SdConfigs};
use super::{Config, GlobalConfig, NameValidationScheme, RemoteWriteConfig, ScrapeConfig};
use crate::relabel::compile_with_scheme;

/// A problem with the config, at `path`.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) path: KeyPath,
    pub(crate) message: String,
}

type Result<T> = std::result::Result<T, Problem>;

pub(super) fn problem(path: KeyPath, message: impl Into<String>) -> Problem {
    Problem {
        path,
        message: message.into(),
    }
}

/// What the loader knows from the text that serde defaults hide.
pub(crate) struct Explicit {
    /// `global.scrape_timeout` was written (its default depends on the
    /// global interval).
    pub(crate) global_scrape_timeout: bool,
}

/// Validates `cfg`, fills in defaults and resolves relative paths against
/// `dir`; collects accepted-but-ignored settings into `cfg.warnings`.
pub(crate) fn validate(cfg: &mut Config, dir: Option<&Path>, explicit: &Explicit) -> Result<()> {
    let mut warnings = Vec::new();
    validate_global(cfg, dir, explicit, &mut warnings)?;
    let root = KeyPath::default();
    for (i, pattern) in cfg.rule_files.iter_mut().enumerate() {
        if !is_valid_pattern(pattern) {
            return Err(problem(
                root.key("rule_files").index(i),
                format!("invalid rule file path {pattern:?}"),
            ));
        }
        resolve(pattern, dir);
    }
    for (i, pattern) in cfg.scrape_config_files.iter_mut().enumerate() {
        if !is_valid_pattern(pattern) {
            return Err(problem(
                root.key("scrape_config_files").index(i),
                format!("invalid scrape config file path {pattern:?}"),
            ));
        }
        resolve(pattern, dir);
    }
    let mut taken = HashSet::new();
    validate_jobs(
        &mut cfg.scrape_configs,
        &cfg.global,
        dir,
        &mut taken,
        &mut warnings,
    )?;
    validate_remote_reads(
        &mut cfg.remote_read,
        cfg.global.metric_name_validation_scheme,
        dir,
        &mut warnings,
    )?;
    validate_remote_writes(
        &mut cfg.remote_write,
        cfg.global.metric_name_validation_scheme,
        dir,
        &mut warnings,
    )?;
    cfg.alerting
        .validate(cfg.global.metric_name_validation_scheme, dir, &mut warnings)?;
    top_level_warnings(cfg, &mut warnings);
    cfg.warnings = warnings;
    Ok(())
}

/// Validates and defaults `jobs` (a config's `scrape_configs`, or those of
/// one of its `scrape_config_files`), rejecting job names already in
/// `taken` and adding theirs.
pub(crate) fn validate_jobs(
    jobs: &mut [ScrapeConfig],
    global: &GlobalConfig,
    dir: Option<&Path>,
    taken: &mut HashSet<String>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    for (i, job) in jobs.iter_mut().enumerate() {
        let path = KeyPath::default().key("scrape_configs").index(i);
        validate_job(job, global, &path, dir, warnings)?;
        if !taken.insert(job.job_name.clone()) {
            return Err(problem(
                path.key("job_name"),
                format!(
                    "found multiple scrape configs with job name {:?}",
                    job.job_name
                ),
            ));
        }
    }
    Ok(())
}

fn validate_global(
    cfg: &mut Config,
    dir: Option<&Path>,
    explicit: &Explicit,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let path = KeyPath::default().key("global");
    let g = &mut cfg.global;
    let scheme = g.metric_name_validation_scheme;
    for name in g.external_labels.keys() {
        if !scheme.is_valid_label_name(name) {
            return Err(problem(
                path.key("external_labels").key(name),
                format!("{name:?} is not a valid label name"),
            ));
        }
    }
    super::env_expand::expand_external_labels(
        &mut g.external_labels,
        |var| std::env::var_os(var),
        warnings,
    );
    g.external_labels.retain(|_, v| !v.is_empty());
    if g.scrape_interval.ms() == 0 {
        g.scrape_interval = super::duration::one_minute();
    }
    let timeout_set = explicit.global_scrape_timeout && g.scrape_timeout.ms() != 0;
    if timeout_set && g.scrape_timeout > g.scrape_interval {
        return Err(problem(
            path.key("scrape_timeout"),
            "global scrape timeout greater than scrape interval",
        ));
    }
    if !timeout_set {
        g.scrape_timeout = std::cmp::min(super::duration::ten_seconds(), g.scrape_interval);
    }
    if g.evaluation_interval.ms() == 0 {
        g.evaluation_interval = super::duration::one_minute();
    }
    g.body_size_limit_bytes = body_size(&g.body_size_limit, &path)?;
    for file in [&mut g.query_log_file, &mut g.scrape_failure_log_file]
        .into_iter()
        .flatten()
    {
        resolve(file, dir);
    }
    let ignored = [
        (
            "scrape_failure_log_file",
            g.scrape_failure_log_file.is_some(),
        ),
        (
            "metric_name_escaping_scheme",
            g.metric_name_escaping_scheme.is_some(),
        ),
        (
            "always_scrape_classic_histograms",
            g.always_scrape_classic_histograms.is_some(),
        ),
        (
            "convert_classic_histograms_to_nhcb",
            g.convert_classic_histograms_to_nhcb.is_some(),
        ),
        ("query_log_file", g.query_log_file.is_some()),
    ];
    warn_ignored(&path, &ignored, warnings);
    Ok(())
}

fn validate_job(
    job: &mut ScrapeConfig,
    global: &GlobalConfig,
    path: &KeyPath,
    dir: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    if job.job_name.is_empty() {
        return Err(problem(path.key("job_name"), "job_name is empty"));
    }
    let name = job.job_name.clone();

    // Interval first, then the timeout (explicit or inherited) against it.
    let interval = match job.scrape_interval {
        Some(d) if d.ms() != 0 => d,
        _ => global.scrape_interval,
    };
    job.scrape_interval = Some(interval);
    match job.scrape_timeout {
        Some(t) if t.ms() != 0 => {
            if t > interval {
                return Err(problem(
                    path.key("scrape_timeout"),
                    format!(
                        "scrape timeout greater than scrape interval for scrape config with job name {name:?}"
                    ),
                ));
            }
        }
        _ => job.scrape_timeout = Some(std::cmp::min(global.scrape_timeout, interval)),
    }

    // Limits: 0 (or unset) inherits the global value, as in Prometheus.
    for (limit, global_value) in [
        (&mut job.sample_limit, global.sample_limit),
        (&mut job.label_limit, global.label_limit),
        (
            &mut job.label_name_length_limit,
            global.label_name_length_limit,
        ),
        (
            &mut job.label_value_length_limit,
            global.label_value_length_limit,
        ),
        (&mut job.target_limit, global.target_limit),
    ] {
        if limit.unwrap_or(0) == 0 {
            *limit = Some(global_value);
        }
    }
    job.body_size_limit_bytes = match body_size(&job.body_size_limit, path)? {
        0 => global.body_size_limit_bytes,
        n => n,
    };
    let scheme = *job
        .metric_name_validation_scheme
        .get_or_insert(global.metric_name_validation_scheme);
    if job.scrape_protocols.is_none() {
        job.scrape_protocols = global.scrape_protocols.clone();
    }
    if job.keep_dropped_targets.unwrap_or(0) == 0 {
        job.keep_dropped_targets = global.keep_dropped_targets;
    }

    // Go's url.URL inserts the slash Prometheus users routinely leave out.
    if !job.metrics_path.starts_with('/') {
        job.metrics_path.insert(0, '/');
    }

    job.with_http_client(|h| h.validate(path, dir))?;

    for (i, sc) in job.static_configs.iter().enumerate() {
        let sc_path = path.key("static_configs").index(i);
        // As Prometheus: a URL in targets is a mistake unless relabeling
        // may rewrite it.
        if job.relabel_configs.is_empty() {
            for (j, t) in sc.targets.iter().enumerate() {
                if t.contains('/') {
                    return Err(problem(
                        sc_path.key("targets").index(j),
                        format!("{t:?} is not a valid hostname"),
                    ));
                }
            }
        }
        check_label_names(sc.labels.keys(), scheme, &sc_path.key("labels"))?;
    }
    job.with_sd_configs(|sd| validate_sd(sd, path, dir, warnings))?;
    check_relabel(&job.relabel_configs, scheme, &path.key("relabel_configs"))?;
    check_relabel(
        &job.metric_relabel_configs,
        scheme,
        &path.key("metric_relabel_configs"),
    )?;
    if let Some(f) = job.scrape_failure_log_file.as_mut() {
        resolve(f, dir);
    }

    let ignored = [
        (
            "scrape_classic_histograms",
            job.scrape_classic_histograms.is_some(),
        ),
        (
            "always_scrape_classic_histograms",
            job.always_scrape_classic_histograms.is_some(),
        ),
        (
            "convert_classic_histograms_to_nhcb",
            job.convert_classic_histograms_to_nhcb.is_some(),
        ),
        (
            "metric_name_escaping_scheme",
            job.metric_name_escaping_scheme.is_some(),
        ),
        (
            "native_histogram_bucket_limit",
            job.native_histogram_bucket_limit.is_some(),
        ),
        (
            "native_histogram_min_bucket_factor",
            job.native_histogram_min_bucket_factor.is_some(),
        ),
        (
            "scrape_failure_log_file",
            job.scrape_failure_log_file.is_some(),
        ),
    ];
    warn_ignored(path, &ignored, warnings);
    // Scrapes honour the proxy keys (see `crate::scrape::client`).
    job.with_http_client(|h| h.warn_ignored(path, Proxies::Honoured, warnings));
    Ok(())
}

/// Checks the discovery keys (but `static_configs`, whose check depends
/// on the entry) of the entry at `path` (a scrape job or an Alertmanager
/// set) and makes their paths absolute against `dir`.
pub(super) fn validate_sd(
    sd: &mut SdConfigs,
    path: &KeyPath,
    dir: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    for (i, fsd) in sd.file_sd_configs.iter_mut().enumerate() {
        let fsd_path = path.key("file_sd_configs").index(i);
        if fsd.files.is_empty() {
            return Err(problem(
                fsd_path,
                "file service discovery config must contain at least one path name",
            ));
        }
        for (j, f) in fsd.files.iter_mut().enumerate() {
            if !file_sd_pattern().is_match(f) {
                return Err(problem(
                    fsd_path.key("files").index(j),
                    format!("path name {f:?} is not valid for file discovery"),
                ));
            }
            resolve(f, dir);
        }
    }
    for (i, hsd) in sd.http_sd_configs.iter_mut().enumerate() {
        validate_http_sd(hsd, &path.key("http_sd_configs").index(i), dir, warnings)?;
    }
    for (i, dsd) in sd.dns_sd_configs.iter().enumerate() {
        validate_dns_sd(dsd, &path.key("dns_sd_configs").index(i))?;
    }
    for (i, csd) in sd.consul_sd_configs.iter_mut().enumerate() {
        csd.validate(&path.key("consul_sd_configs").index(i), dir, warnings)?;
    }
    for (i, ksd) in sd.kubernetes_sd_configs.iter_mut().enumerate() {
        ksd.validate(&path.key("kubernetes_sd_configs").index(i), dir)?;
    }
    Ok(())
}

/// Prometheus's checks of a `dns_sd_configs` entry (the type is checked
/// while parsing).
fn validate_dns_sd(dsd: &DnsSdConfig, path: &KeyPath) -> Result<()> {
    if dsd.names.is_empty() {
        return Err(problem(
            path.clone(),
            "DNS-SD config must contain at least one SRV record name",
        ));
    }
    if dsd.record_type != DnsRecordType::Srv && dsd.port == 0 {
        return Err(problem(
            path.clone(),
            "a port is required in DNS-SD configs for all record types except SRV",
        ));
    }
    Ok(())
}

/// Compiles relabeling `rules` (at `path`) to report the first bad one
/// with the key it is about.
pub(super) fn check_relabel(
    rules: &[crate::config::RelabelConfig],
    scheme: NameValidationScheme,
    path: &KeyPath,
) -> Result<()> {
    if let Err(e) = compile_with_scheme(rules, scheme) {
        let mut p = path.index(e.index);
        if let Some(field) = e.error.field() {
            p = p.key(field);
        }
        return Err(problem(p, e.error.to_string()));
    }
    Ok(())
}

fn validate_http_sd(
    hsd: &mut HttpSdConfig,
    path: &KeyPath,
    dir: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let url_path = path.key("url");
    let url = reqwest::Url::parse(&hsd.url)
        .map_err(|e| problem(url_path.clone(), format!("invalid URL {:?}: {e}", hsd.url)))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(problem(url_path, "URL scheme must be 'http' or 'https'"));
    }
    if url.host_str().unwrap_or("").is_empty() {
        return Err(problem(url_path, "host is missing in URL"));
    }
    if hsd.refresh_interval.ms() == 0 {
        return Err(problem(
            path.key("refresh_interval"),
            "refresh_interval must be greater than 0",
        ));
    }
    hsd.with_http_client(|h| h.validate(path, dir))?;
    hsd.with_http_client(|h| h.warn_ignored(path, Proxies::Ignored, warnings));
    Ok(())
}

/// The checks `remote_read` and `remote_write` entries share: an http(s)
/// URL with a host, and extra headers that are valid and not ones the
/// protocol or the HTTP layer own (Prometheus's rules and messages).
fn check_endpoint(
    section: &str,
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
    path: &KeyPath,
) -> Result<()> {
    let url_path = path.key("url");
    if url.is_empty() {
        return Err(problem(url_path, format!("url for {section} is empty")));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| problem(url_path.clone(), format!("invalid URL {url:?}: {e}")))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(problem(url_path, "URL scheme must be 'http' or 'https'"));
    }
    if parsed.host_str().unwrap_or("").is_empty() {
        return Err(problem(url_path, "host is missing in URL"));
    }
    for (name, value) in headers {
        let at = || path.key("headers").key(name);
        let lower = name.to_ascii_lowercase();
        if lower == "authorization" {
            return Err(problem(
                at(),
                "authorization header must be changed via the basic_auth or authorization parameter",
            ));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(problem(
                at(),
                format!("{name} is a reserved header. It must not be changed"),
            ));
        }
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(problem(at(), format!("invalid header name {name:?}")));
        }
        if reqwest::header::HeaderValue::from_str(value).is_err() {
            return Err(problem(at(), format!("invalid value for header {name:?}")));
        }
    }
    Ok(())
}

/// Checks every `remote_read:` entry as Prometheus's
/// `RemoteReadConfig.UnmarshalYAML` does, plus what the client needs (an
/// http(s) URL, a positive timeout); names must be unique when set.
fn validate_remote_reads(
    reads: &mut [RemoteReadConfig],
    scheme: NameValidationScheme,
    dir: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mut names = HashSet::new();
    for (i, rr) in reads.iter_mut().enumerate() {
        let path = KeyPath::default().key("remote_read").index(i);
        check_endpoint("remote_read", &rr.url, &rr.headers, &path)?;
        if rr.remote_timeout.ms() <= 0 {
            return Err(problem(
                path.key("remote_timeout"),
                "remote_timeout must be greater than 0",
            ));
        }
        check_label_names(
            rr.required_matchers.keys(),
            scheme,
            &path.key("required_matchers"),
        )?;
        rr.with_http_client(|h| h.validate(&path, dir))?;
        rr.with_http_client(|h| h.warn_ignored(&path, Proxies::Ignored, warnings));
        if !rr.name.is_empty() && !names.insert(rr.name.clone()) {
            return Err(problem(
                path.key("name"),
                format!(
                    "found multiple remote read configs with job name {:?}",
                    rr.name
                ),
            ));
        }
    }
    Ok(())
}

/// Checks every `remote_write` entry as Prometheus does, plus the queue
/// settings that would otherwise make a queue that cannot send, and
/// rejects duplicate entries and names.
fn validate_remote_writes(
    queues: &mut [RemoteWriteConfig],
    scheme: NameValidationScheme,
    dir: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mut names = HashSet::new();
    let mut hashes = HashSet::new();
    for (i, rw) in queues.iter_mut().enumerate() {
        let path = KeyPath::default().key("remote_write").index(i);
        validate_remote_write(rw, scheme, &path, dir, warnings)?;
        if !rw.name.is_empty() && !names.insert(rw.name.clone()) {
            return Err(problem(
                path.key("name"),
                format!(
                    "found multiple remote write configs with job name {:?}",
                    rw.name
                ),
            ));
        }
        if !hashes.insert(rw.hash()) {
            return Err(problem(
                path,
                format!(
                    "duplicate remote write configs are not allowed, found duplicate for URL: {}",
                    rw.url
                ),
            ));
        }
    }
    Ok(())
}

fn validate_remote_write(
    rw: &mut RemoteWriteConfig,
    scheme: NameValidationScheme,
    path: &KeyPath,
    dir: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    check_endpoint("remote_write", &rw.url, &rw.headers, path)?;
    for (key, set) in [
        ("oauth2", rw.oauth2.is_some()),
        ("sigv4", rw.sigv4.is_some()),
        ("azuread", rw.azuread.is_some()),
        ("google_iam", rw.google_iam.is_some()),
    ] {
        // Sending without the credentials the receiver expects would only
        // get every batch refused; say so at load time instead.
        if set {
            return Err(problem(
                path.key(key),
                format!("{key} authentication is not supported by ferroprom"),
            ));
        }
    }
    if let Some(m) = rw.protobuf_message.as_deref() {
        if m != "prometheus.WriteRequest" {
            return Err(problem(
                path.key("protobuf_message"),
                format!("unsupported protobuf_message {m:?}: ferroprom sends remote write 1.0 (prometheus.WriteRequest)"),
            ));
        }
    }
    let q = &rw.queue_config;
    let qp = path.key("queue_config");
    for (key, ok, what) in [
        (
            "capacity",
            q.capacity > 0,
            "capacity must be greater than 0",
        ),
        (
            "max_samples_per_send",
            q.max_samples_per_send > 0,
            "max_samples_per_send must be greater than 0",
        ),
        (
            "min_shards",
            q.min_shards > 0,
            "min_shards must be greater than 0",
        ),
        (
            "max_shards",
            q.max_shards >= q.min_shards,
            "max_shards must not be less than min_shards",
        ),
        (
            "batch_send_deadline",
            q.batch_send_deadline.ms() > 0,
            "batch_send_deadline must be greater than 0",
        ),
        (
            "max_backoff",
            q.max_backoff >= q.min_backoff,
            "max_backoff must not be less than min_backoff",
        ),
    ] {
        if !ok {
            return Err(problem(qp.key(key), what));
        }
    }
    let m = &rw.metadata_config;
    let mp = path.key("metadata_config");
    if m.send && m.send_interval.ms() == 0 {
        return Err(problem(
            mp.key("send_interval"),
            "send_interval must be greater than 0",
        ));
    }
    if m.max_samples_per_send == 0 {
        return Err(problem(
            mp.key("max_samples_per_send"),
            "max_samples_per_send must be greater than 0",
        ));
    }
    if rw.remote_timeout.ms() == 0 {
        return Err(problem(
            path.key("remote_timeout"),
            "remote_timeout must be greater than 0",
        ));
    }
    check_relabel(
        &rw.write_relabel_configs,
        scheme,
        &path.key("write_relabel_configs"),
    )?;
    rw.with_http_client(|h| h.validate(path, dir))?;
    let ignored = [
        ("send_exemplars", rw.send_exemplars),
        ("send_native_histograms", rw.send_native_histograms),
        ("round_robin_dns", rw.round_robin_dns.is_some()),
    ];
    warn_ignored(path, &ignored, warnings);
    rw.with_http_client(|h| h.warn_ignored(path, Proxies::Ignored, warnings));
    let sample_age_limit = rw.queue_config.sample_age_limit.is_some();
    warn_ignored(
        path,
        &[("queue_config.sample_age_limit", sample_age_limit)],
        warnings,
    );
    Ok(())
}

fn check_label_names<'a>(
    names: impl Iterator<Item = &'a String>,
    scheme: NameValidationScheme,
    path: &KeyPath,
) -> Result<()> {
    for name in names {
        if !scheme.is_valid_label_name(name) {
            return Err(problem(
                path.key(name),
                format!("{name:?} is not a valid label name"),
            ));
        }
    }
    Ok(())
}

fn body_size(limit: &Option<String>, path: &KeyPath) -> Result<u64> {
    match limit.as_deref() {
        None | Some("") => Ok(0),
        Some(s) => parse_size(s).map_err(|e| problem(path.key("body_size_limit"), e)),
    }
}

pub(super) fn clear_empty(v: &mut Option<String>) {
    if v.as_deref() == Some("") {
        *v = None;
    }
}

/// Makes a relative path absolute against the config file's directory, as
/// Prometheus does; absolute paths and unknown directories leave it alone.
pub(super) fn resolve(p: &mut String, dir: Option<&Path>) {
    let Some(dir) = dir else { return };
    if p.is_empty() || Path::new(p.as_str()).is_absolute() {
        return;
    }
    *p = dir.join(p.as_str()).to_string_lossy().into_owned();
}

/// File SD patterns as Prometheus allows them: JSON or YAML files, with at
/// most one `*`, in the last path element.
fn file_sd_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$").expect("static regex")
    })
}

/// Prometheus's rule for rule and scrape config file patterns: wildcards
/// only in the last path element, and a well-formed glob.
fn is_valid_pattern(pattern: &str) -> bool {
    let star_in_dir = pattern
        .find('*')
        .is_some_and(|i| pattern[i..].contains('/'));
    !star_in_dir && is_valid_glob(pattern)
}

/// Whether a glob pattern is well formed (every `[` closed, no trailing
/// escape), the only way Go's `filepath.Match` rejects a pattern.
fn is_valid_glob(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_none() => return false,
            '[' => {
                let mut closed = false;
                let mut first = true;
                for c in chars.by_ref() {
                    if c == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = c == '^' && first;
                }
                if !closed {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

pub(super) fn warn_ignored(path: &KeyPath, keys: &[(&str, bool)], warnings: &mut Vec<String>) {
    for (key, set) in keys {
        if *set {
            warnings.push(format!(
                "{}: accepted for compatibility but not supported; ignored",
                path.key(key)
            ));
        }
    }
}

fn top_level_warnings(cfg: &Config, warnings: &mut Vec<String>) {
    let root = KeyPath::default();
    let ignored = [
        ("storage", cfg.storage.is_some()),
        ("tracing", cfg.tracing.is_some()),
        ("runtime", cfg.runtime.is_some()),
        ("otlp", cfg.otlp.is_some()),
    ];
    warn_ignored(&root, &ignored, warnings);
}

#[cfg(test)]
mod tests;
