//! The parameters of `/api/v1/rules`, read and checked in Prometheus 3.x's
//! order and with its messages, and the selection of groups and rules they
//! make.

use std::collections::{BTreeMap, HashSet};
use std::num::IntErrorKind;

use storage::Matcher;

use super::super::params::{go_quote, invalid_param, parse_matchers, Params};
use super::super::parse_go_bool;
use super::super::response::ApiError;
use crate::rules::{GroupSnapshot, RuleSnapshot};

/// Which groups and rules a request asks for.
pub(super) struct RuleFilter {
    alerting: bool,
    recording: bool,
    /// `rule_name[]`, `rule_group[]`, `file[]`: empty means any.
    rule_names: HashSet<String>,
    groups: HashSet<String>,
    files: HashSet<String>,
    /// `match[]` on the rule labels: any one set, all matchers of it.
    matchers: Vec<Vec<Matcher>>,
    /// `exclude_alerts`: rules list `alerts: null`.
    pub(super) exclude_alerts: bool,
    pub(super) page: Option<Page>,
}

/// `group_limit` groups per answer, starting at the group
/// `group_next_token` names.
pub(super) struct Page {
    pub(super) limit: usize,
    pub(super) token: Option<String>,
}

impl RuleFilter {
    pub(super) fn parse(params: &Params) -> Result<RuleFilter, ApiError> {
        let set = |key: &str| -> HashSet<String> {
            params.all(key).into_iter().map(str::to_string).collect()
        };
        let matchers = parse_matchers(&params.all("match[]"))?;
        // Go's strings.ToLower, so the message shows the lowered value.
        let kind = params.get("type").unwrap_or("").to_lowercase();
        if !matches!(kind.as_str(), "" | "alert" | "record") {
            return Err(invalid_param(
                "type",
                format!("not supported value {}", go_quote(kind.as_bytes())),
            ));
        }
        let exclude = params.get("exclude_alerts").unwrap_or("").to_lowercase();
        let exclude_alerts = !exclude.is_empty()
            && parse_go_bool(&exclude).map_err(|e| {
                invalid_param(
                    "exclude_alerts",
                    format!("error converting exclude_alerts: {e}"),
                )
            })?;
        Ok(RuleFilter {
            alerting: kind != "record",
            recording: kind != "alert",
            rule_names: set("rule_name[]"),
            groups: set("rule_group[]"),
            files: set("file[]"),
            matchers,
            exclude_alerts,
            page: parse_page(params)?,
        })
    }

    pub(super) fn wants_group(&self, g: &GroupSnapshot) -> bool {
        (self.groups.is_empty() || self.groups.contains(&g.name))
            && (self.files.is_empty() || self.files.contains(&g.file))
    }

    pub(super) fn wants_rule(&self, r: &RuleSnapshot) -> bool {
        let kind = match r.alerting {
            Some(_) => self.alerting,
            None => self.recording,
        };
        kind && (self.rule_names.is_empty() || self.rule_names.contains(&r.name))
            && self.matches_labels(&r.labels)
    }

    /// A missing label matches as the empty value, as in selectors.
    fn matches_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.is_empty()
            || self.matchers.iter().any(|set| {
                set.iter()
                    .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
            })
    }
}

fn parse_page(params: &Params) -> Result<Option<Page>, ApiError> {
    let limit = params.get("group_limit").unwrap_or("");
    let token = params.get("group_next_token").unwrap_or("");
    if limit.is_empty() {
        if !token.is_empty() {
            return Err(invalid_param(
                "group_next_token",
                "group_limit needs to be present in order to paginate over the groups",
            ));
        }
        return Ok(None);
    }
    // Go's strconv.ParseInt(limit, 10, 32).
    let n = limit.parse::<i32>().map_err(|e| {
        let why = match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        invalid_param(
            "group_limit",
            format!(
                "group_limit needs to be a valid number: strconv.ParseInt: parsing {}: {why}",
                go_quote(limit.as_bytes())
            ),
        )
    })?;
    if n <= 0 {
        return Err(invalid_param(
            "group_limit",
            "group_limit needs to be greater than 0",
        ));
    }
    Ok(Some(Page {
        limit: n as usize,
        token: (!token.is_empty()).then(|| token.to_string()),
    }))
}

/// The page token naming a group, as upstream's: hex SHA-256 of
/// `<file>;<name>`. The hash comes from the ring provider of the TLS stack,
/// already linked, rather than from one more dependency.
pub(super) fn group_token(g: &GroupSnapshot) -> String {
    let rustls::SupportedCipherSuite::Tls13(suite) =
        rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
    else {
        unreachable!("TLS13_AES_128_GCM_SHA256 is a TLS 1.3 suite")
    };
    let digest = suite
        .common
        .hash_provider
        .hash(format!("{};{}", g.file, g.name).as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
