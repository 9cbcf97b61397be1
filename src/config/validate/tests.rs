//! The checks and defaults of `validate.rs`, through the loader: each
//! config text is parsed and validated as a file would be.

use std::path::Path;

use crate::config::test_support::{assert_err, err};
use crate::config::{parse_str, parse_str_in_dir, NameValidationScheme, PromDuration, Scheme};

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
    let cfg = parse_str("global: {scrape_interval: 5s}\nscrape_configs: [{job_name: a}]").unwrap();
    assert_eq!(cfg.global.scrape_timeout, PromDuration::from_secs(5));
    assert_eq!(
        cfg.scrape_configs[0].scrape_timeout,
        Some(PromDuration::from_secs(5))
    );
    let e = err("global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n");
    assert!(
        e.contains(
            "global.scrape_timeout: global scrape timeout greater than scrape interval (line 3)"
        ),
        "{e}"
    );
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
    assert_err(
        "scrape_configs:\n  - job_name: a\n    dns_sd_configs:\n      - {names: []}\n",
        "scrape_configs[0].dns_sd_configs[0]",
        "DNS-SD config must contain at least one SRV record name",
        4,
    );
    assert_err(
        "alerting:\n  alertmanagers:\n    - dns_sd_configs:\n      - {names: [am.example], type: A}\n",
        "alerting.alertmanagers[0].dns_sd_configs[0]",
        "a port is required in DNS-SD configs for all record types except SRV",
        4,
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    dns_sd_configs:\n      - {names: [x], type: TXT}\n",
        "",
        "invalid DNS-SD records type TXT",
        4,
    );
    assert_err(
        "scrape_configs:\n  - job_name: a\n    dns_sd_configs:\n      - {names: [x], prot: 80}\n",
        "",
        "unknown field `prot`",
        4,
    );
    // SRV needs no port; the other types take theirs, in any case.
    let cfg = parse_str(
        "scrape_configs:\n  - job_name: a\n    dns_sd_configs:\n      - names: [_m._tcp.example]\n      - {names: [mx.example], type: mx, port: 25, refresh_interval: 1m}\n",
    )
    .unwrap();
    let d = &cfg.scrape_configs[0].dns_sd_configs;
    assert_eq!(d[0].record_type, crate::config::DnsRecordType::Srv);
    assert_eq!(
        d[0].refresh_interval,
        crate::config::PromDuration::from_secs(30)
    );
    assert_eq!(d[1].record_type, crate::config::DnsRecordType::Mx);
    assert_eq!((d[1].port, d[1].refresh_interval.ms()), (25, 60_000));
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
fn external_labels_drop_empty_values() {
    let cfg = parse_str("global:\n  external_labels: {a: x, b: ''}\n").unwrap();
    assert_eq!(cfg.global.external_labels.len(), 1);
    assert_eq!(cfg.global.external_labels["a"], "x");
}

#[test]
fn external_labels_expand_environment_variables_when_loaded() {
    // PATH is set for every test process; the other name is never set.
    let path = std::env::var("PATH").unwrap();
    let cfg = parse_str(
        "global:\n  external_labels:\n    p: '${PATH}'\n    price: '$$5'\n    gone: $FERROPROM_TEST_UNSET_VARIABLE\n",
    )
    .unwrap();
    let labels = &cfg.global.external_labels;
    assert_eq!(labels["p"], path);
    assert_eq!(labels["price"], "$5");
    // Expanded to "", so removed like any empty label, and warned about.
    assert!(!labels.contains_key("gone"), "{labels:?}");
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.starts_with("global.external_labels.gone:")
                && w.contains("FERROPROM_TEST_UNSET_VARIABLE")),
        "{:?}",
        cfg.warnings
    );
}
