//! Prometheus 3.x flags that ferroprom accepts but does not act on, so
//! command lines from existing systemd units and compose files keep
//! working. Each one given is named once in the start-up log
//! ([`NoEffect::given`]); `docs/compatibility.md` lists them.
//!
//! The list is written once, in the macro call below, so the struct, the
//! names and the "given" check cannot drift apart.

/// Declares [`NoEffect`]: `values` take one value (`--name=v`), `switches`
/// take none (kingpin's `--no-name` form is accepted too).
macro_rules! no_effect_flags {
    (values { $($vf:ident = $vn:literal,)* } switches { $($sf:ident = $sn:literal,)* }) => {
        /// Flags accepted for compatibility with Prometheus; none has any
        /// effect. Their values are kept only to be named in the log.
        #[derive(Clone, Debug, Default, PartialEq, clap::Args)]
        #[command(next_help_heading = "Accepted for compatibility with Prometheus; no effect")]
        pub struct NoEffect {
            $(
                #[arg(long = $vn, value_name = "VALUE")]
                $vf: Option<String>,
            )*
            $(
                #[arg(long = $sn, alias = concat!("no-", $sn))]
                $sf: bool,
            )*
            /// Comma-separated Prometheus feature names; may be repeated.
            /// ferroprom's behaviour is fixed, so none changes anything.
            #[arg(long = "enable-feature", value_name = "NAMES", value_delimiter = ',')]
            pub enable_feature: Vec<String>,
        }

        impl NoEffect {
            /// Names of the flags above that take a value.
            pub const VALUE_FLAGS: &'static [&'static str] = &[$($vn,)*];
            /// Names of the flags above that take none.
            pub const SWITCHES: &'static [&'static str] = &[$($sn,)*];

            /// The flags given on the command line (`--enable-feature`
            /// aside: [`NoEffect::features`] reports it), as `name` or
            /// `name=value`.
            pub fn given(&self) -> Vec<String> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = &self.$vf {
                        out.push(format!("{}={v}", $vn));
                    }
                )*
                $(
                    if self.$sf {
                        out.push($sn.to_string());
                    }
                )*
                out
            }
        }
    };
}

no_effect_flags! {
    values {
        config_auto_reload_interval = "config.auto-reload-interval",
        auto_gomemlimit_ratio = "auto-gomemlimit.ratio",
        web_user_assets = "web.user-assets",
        web_rw_accepted_messages = "web.remote-write-receiver.accepted-protobuf-messages",
        web_console_templates = "web.console.templates",
        web_console_libraries = "web.console.libraries",
        web_page_title = "web.page-title",
        web_cors_origin = "web.cors.origin",
        web_max_notifications_subscribers = "web.max-notifications-subscribers",
        tsdb_retention = "storage.tsdb.retention",
        tsdb_min_block_duration = "storage.tsdb.min-block-duration",
        tsdb_max_block_duration = "storage.tsdb.max-block-duration",
        tsdb_max_block_chunk_segment_size = "storage.tsdb.max-block-chunk-segment-size",
        tsdb_wal_segment_size = "storage.tsdb.wal-segment-size",
        tsdb_wal_compression_type = "storage.tsdb.wal-compression-type",
        tsdb_samples_per_chunk = "storage.tsdb.samples-per-chunk",
        tsdb_head_chunks_write_queue_size = "storage.tsdb.head-chunks-write-queue-size",
        tsdb_delayed_compaction_max_percent = "storage.tsdb.delayed-compaction.max-percent",
        agent_path = "storage.agent.path",
        agent_wal_segment_size = "storage.agent.wal-segment-size",
        agent_wal_compression_type = "storage.agent.wal-compression-type",
        agent_wal_truncate_frequency = "storage.agent.wal-truncate-frequency",
        agent_retention_min_time = "storage.agent.retention.min-time",
        agent_retention_max_time = "storage.agent.retention.max-time",
        remote_flush_deadline = "storage.remote.flush-deadline",
        remote_read_sample_limit = "storage.remote.read-sample-limit",
        remote_read_concurrent_limit = "storage.remote.read-concurrent-limit",
        remote_read_max_bytes_in_frame = "storage.remote.read-max-bytes-in-frame",
        rules_max_concurrent_evals = "rules.max-concurrent-evals",
        scrape_name_escaping_scheme = "scrape.name-escaping-scheme",
        scrape_timestamp_tolerance = "scrape.timestamp-tolerance",
        scrape_discovery_reload_interval = "scrape.discovery-reload-interval",
        alertmanager_timeout = "alertmanager.timeout",
    }
    switches {
        tsdb_no_lockfile = "storage.tsdb.no-lockfile",
        tsdb_wal_compression = "storage.tsdb.wal-compression",
        tsdb_allow_overlapping_blocks = "storage.tsdb.allow-overlapping-blocks",
        tsdb_allow_overlapping_compaction = "storage.tsdb.allow-overlapping-compaction",
        agent_wal_compression = "storage.agent.wal-compression",
        agent_no_lockfile = "storage.agent.no-lockfile",
        alertmanager_drain_on_shutdown = "alertmanager.drain-notification-queue-on-shutdown",
        scrape_adjust_timestamps = "scrape.adjust-timestamps",
        web_enable_otlp_receiver = "web.enable-otlp-receiver",
    }
}

/// Feature names Prometheus 2.x and 3.x know for `--enable-feature`
/// (including ones 3.x turned into no-ops); others are logged as unknown,
/// as Prometheus does, and start-up goes on.
const KNOWN_FEATURES: &[&str] = &[
    "agent",
    "auto-gomaxprocs",
    "auto-gomemlimit",
    "auto-reload-config",
    "concurrent-rule-eval",
    "created-timestamp-zero-ingestion",
    "delayed-compaction",
    "exemplar-storage",
    "expand-external-labels",
    "extra-scrape-metrics",
    "memory-snapshot-on-shutdown",
    "metadata-wal-records",
    "native-histograms",
    "new-service-discovery-manager",
    "no-default-scrape-port",
    "old-ui",
    "otlp-deltatocumulative",
    "otlp-write-receiver",
    "promql-at-modifier",
    "promql-delayed-name-removal",
    "promql-experimental-functions",
    "promql-negative-offset",
    "promql-per-step-stats",
    "remote-write-receiver",
    "type-and-unit-labels",
    "use-uncached-io",
];

impl NoEffect {
    /// The `--enable-feature` names given, split into known and unknown
    /// ones (empty items, as in `a,,b`, dropped).
    pub fn features(&self) -> (Vec<&str>, Vec<&str>) {
        self.enable_feature
            .iter()
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
            .partition(|f| KNOWN_FEATURES.contains(f))
    }

    /// Logs, once at start, every flag given here and every feature name.
    pub fn log(&self) {
        let given = self.given();
        if !given.is_empty() {
            tracing::info!(
                flags = %given.join(" "),
                "flags accepted for compatibility with Prometheus have no effect here"
            );
        }
        let (known, unknown) = self.features();
        if !known.is_empty() {
            tracing::info!(
                features = %known.join(","),
                "--enable-feature accepted; these features have no effect here"
            );
        }
        for name in unknown {
            tracing::warn!(option = name, "unknown option for --enable-feature");
        }
    }
}
