//! What a group's evaluation runs against: the PromQL engine, the data to
//! query, the database to append to, the notification sink and the
//! server-wide settings. Passed in by the caller so the evaluation itself
//! has no clock and no globals (`promtool test rules` drives it with
//! explicit timestamps).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use promql::{Engine, Value};
use storage::querier::Queryable;
use storage::{Db, Labels};

use super::metrics::RuleMetrics;
use super::notify::AlertSink;
use super::template::{QueryFn, QuerySample};

/// Settings shared by every group, from flags and the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `global.external_labels`, visible to templates as `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// `--web.external-url`: `$externalURL` and the base of generator URLs.
    pub external_url: String,
    /// `--rules.alert.resend-delay`.
    pub resend_delay_ms: i64,
    /// `--rules.alert.for-outage-tolerance`.
    pub outage_tolerance_ms: i64,
    /// `--rules.alert.for-grace-period`.
    pub for_grace_period_ms: i64,
}

impl Default for Settings {
    /// Prometheus's flag defaults, no external labels or URL.
    fn default() -> Self {
        Settings {
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            resend_delay_ms: 60_000,
            outage_tolerance_ms: 3_600_000,
            for_grace_period_ms: 600_000,
        }
    }
}

impl Settings {
    /// The three `--rules.alert.*` flags, Prometheus's defaults otherwise;
    /// `external_url` as given.
    pub fn from_flags(
        flags: &crate::flags::Flags,
        external_url: String,
    ) -> Result<Settings, crate::flags::FlagError> {
        let parse = |flag: &'static str, v: &str| {
            storage::compact::parse_duration_ms(v)
                .map_err(|msg| crate::flags::FlagError { flag, msg })
        };
        Ok(Settings {
            external_labels: BTreeMap::new(),
            external_url,
            resend_delay_ms: parse("rules.alert.resend-delay", &flags.rules_alert_resend_delay)?,
            outage_tolerance_ms: parse(
                "rules.alert.for-outage-tolerance",
                &flags.rules_alert_for_outage_tolerance,
            )?,
            for_grace_period_ms: parse(
                "rules.alert.for-grace-period",
                &flags.rules_alert_for_grace_period,
            )?,
        })
    }
}

/// Everything one evaluation needs besides the group.
pub struct EvalContext<'a> {
    pub engine: &'a Engine,
    /// What queries read (local storage, merged with remote-read endpoints
    /// in the server).
    pub queryable: &'a dyn Queryable,
    /// Where results are appended (the WAL-logged append path).
    pub db: &'a Db,
    pub sink: &'a dyn AlertSink,
    pub settings: &'a Settings,
    /// `None` in tests that do not look at self-metrics.
    pub metrics: Option<&'a RuleMetrics>,
    /// Set to abandon running queries (shutdown).
    pub cancel: &'a AtomicBool,
}

/// A query's instant vector, or why there is none.
pub(crate) type QueryOutcome = Result<Vec<promql::Sample>, String>;

impl EvalContext<'_> {
    /// Runs `expr` at `t` as rules need it: a vector as is, a scalar as a
    /// one-sample vector without labels, anything else an error.
    pub(crate) fn query(&self, expr: &promql::ast::Expr, t: i64) -> QueryOutcome {
        let opts = promql::QueryOptions::default();
        let r = self
            .engine
            .instant_with_options(self.queryable, expr, t, &opts, self.cancel)
            .map_err(|e| e.to_string())?;
        match r.value {
            Value::Vector(v) => Ok(v),
            Value::Scalar { t, v } => Ok(vec![promql::Sample {
                metric: Labels::default(),
                t,
                v,
            }]),
            _ => Err("rule result is not a vector or scalar".to_string()),
        }
    }
}

/// The templates' `query` function: parse, then [`EvalContext::query`].
impl QueryFn for EvalContext<'_> {
    fn query(&self, q: &str, at_ms: i64) -> Result<Vec<QuerySample>, String> {
        let expr = promql::parse(q).map_err(|e| e.to_string())?;
        let samples = EvalContext::query(self, &expr, at_ms)?;
        Ok(samples
            .into_iter()
            .map(|s| QuerySample {
                labels: s
                    .metric
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
                value: s.v,
            })
            .collect())
    }
}
