//! Scrape targets: what a job's config and a discovered target group turn
//! into, following Prometheus's `PopulateLabels`.
//!
//! A discovered target's labels are, in order of precedence: its own
//! labels (`__address__`, `__meta_*`), the group's labels, then `job`,
//! `__scrape_interval__`, `__scrape_timeout__`, `__metrics_path__`,
//! `__scheme__` and `__param_<name>` from the job where not already set.
//! `relabel_configs` then run; a target they drop is kept as a dropped
//! target for `/api/v1/targets`. Afterwards `__meta_*` labels go, `instance`
//! defaults to `__address__`, and the `__`-prefixed labels that remain
//! (`__scheme__`, `__metrics_path__`, `__param_*`, `__scrape_interval__`,
//! `__scrape_timeout__`) decide how the target is scraped but are not
//! attached to its series.

use std::collections::BTreeMap;
use std::time::Duration;

use storage::{Label, Labels};

use super::error::TargetError;
use super::hash::Fnv64a;
use crate::config::{PromDuration, ScrapeConfig};
use crate::discovery::TargetGroup;
use crate::relabel::{self, CompiledRule};

const ADDRESS: &str = "__address__";
const SCHEME: &str = "__scheme__";
const METRICS_PATH: &str = "__metrics_path__";
const SCRAPE_INTERVAL: &str = "__scrape_interval__";
const SCRAPE_TIMEOUT: &str = "__scrape_timeout__";
const PARAM_PREFIX: &str = "__param_";
const META_PREFIX: &str = "__meta_";
const RESERVED_PREFIX: &str = "__";

/// A target to scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    discovered: Labels,
    /// All labels after relabeling except `__meta_*`.
    all: Labels,
    /// `all` without `__`-prefixed names: attached to every series.
    labels: Labels,
    url: String,
    interval: PromDuration,
    timeout: PromDuration,
    hash: u64,
}

/// What became of one discovered target.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetOutcome {
    Active(Target),
    /// Relabeling dropped it; these are its labels before relabeling.
    Dropped(Labels),
    /// The target is unusable; `index` is its position in the group.
    Failed {
        index: usize,
        error: TargetError,
    },
}

/// Turns every target of `group` into a [`TargetOutcome`] for the job
/// `cfg`, whose `relabel_configs` were compiled into `rules`.
pub fn targets_from_group(
    cfg: &ScrapeConfig,
    rules: &[CompiledRule],
    group: &TargetGroup,
) -> Vec<TargetOutcome> {
    group
        .targets
        .iter()
        .enumerate()
        .map(|(index, t)| match populate(cfg, rules, t, &group.labels) {
            Ok(Some(target)) => TargetOutcome::Active(target),
            Ok(None) => TargetOutcome::Dropped(discovered_labels(cfg, t, &group.labels)),
            Err(error) => TargetOutcome::Failed { index, error },
        })
        .collect()
}

/// The label set before relabeling.
fn discovered_labels(
    cfg: &ScrapeConfig,
    target: &BTreeMap<String, String>,
    group: &BTreeMap<String, String>,
) -> Labels {
    let mut set: BTreeMap<&str, String> = BTreeMap::new();
    for (n, v) in group.iter().chain(target.iter()) {
        // Target labels win over group labels: inserted last.
        set.insert(n, v.clone());
    }
    let interval = cfg.scrape_interval.unwrap_or_default().to_string();
    let timeout = cfg.scrape_timeout.unwrap_or_default().to_string();
    for (n, v) in [
        ("job", cfg.job_name.as_str()),
        (SCRAPE_INTERVAL, interval.as_str()),
        (SCRAPE_TIMEOUT, timeout.as_str()),
        (METRICS_PATH, cfg.metrics_path.as_str()),
        (SCHEME, cfg.scheme.as_str()),
    ] {
        set_if_empty(&mut set, n, v);
    }
    let params: Vec<(String, &str)> = cfg
        .params
        .iter()
        .filter_map(|(k, vs)| {
            vs.first()
                .map(|v| (format!("{PARAM_PREFIX}{k}"), v.as_str()))
        })
        .collect();
    for (n, v) in &params {
        set_if_empty(&mut set, n, v);
    }
    Labels::new(set.into_iter().map(|(n, v)| Label::new(n, v)).collect())
}

fn set_if_empty<'a>(set: &mut BTreeMap<&'a str, String>, name: &'a str, value: &str) {
    let slot = set.entry(name).or_default();
    if slot.is_empty() {
        *slot = value.to_string();
    }
}

fn populate(
    cfg: &ScrapeConfig,
    rules: &[CompiledRule],
    target: &BTreeMap<String, String>,
    group: &BTreeMap<String, String>,
) -> Result<Option<Target>, TargetError> {
    let discovered = discovered_labels(cfg, target, group);
    let mut lset = discovered.clone().into_vec();
    if !relabel::process(rules, &mut lset) {
        return Ok(None);
    }
    let mut lset = Labels::new(lset).into_vec();
    let addr = get(&lset, ADDRESS).to_string();
    if addr.is_empty() {
        return Err(TargetError::NoAddress);
    }
    if addr.contains('/') {
        return Err(TargetError::InvalidAddress(addr));
    }
    let scheme = get(&lset, SCHEME);
    if scheme != "http" && scheme != "https" {
        return Err(TargetError::Scheme(scheme.to_string()));
    }
    let interval_s = get(&lset, SCRAPE_INTERVAL).to_string();
    let interval: PromDuration = interval_s.parse().map_err(TargetError::Interval)?;
    if interval.ms() == 0 {
        return Err(TargetError::ZeroInterval);
    }
    let timeout_s = get(&lset, SCRAPE_TIMEOUT).to_string();
    let timeout: PromDuration = timeout_s.parse().map_err(TargetError::Timeout)?;
    if timeout.ms() == 0 {
        return Err(TargetError::ZeroTimeout);
    }
    if timeout > interval {
        return Err(TargetError::TimeoutAboveInterval {
            timeout: timeout_s,
            interval: interval_s,
        });
    }
    lset.retain(|l| !l.name.starts_with(META_PREFIX));
    if get(&lset, "instance").is_empty() {
        lset.retain(|l| l.name != "instance");
        lset.push(Label::new("instance", addr));
    }
    let all = Labels::new(lset);
    let labels = Labels::from_sorted(
        all.iter()
            .filter(|l| !l.name.starts_with(RESERVED_PREFIX))
            .cloned()
            .collect(),
    );
    let url = scrape_url(&all, &cfg.params);
    let mut h = Fnv64a::default();
    h.write(format!("{:016}", all.stable_hash()).as_bytes());
    h.write(url.as_bytes());
    Ok(Some(Target {
        discovered,
        all,
        labels,
        url,
        interval,
        timeout,
        hash: h.finish(),
    }))
}

fn get<'a>(lset: &'a [Label], name: &str) -> &'a str {
    lset.iter()
        .find(|l| l.name == name)
        .map_or("", |l| l.value.as_str())
}

/// `scheme://address/path?params`: the job's params with each
/// `__param_<name>` label replacing that parameter's first value.
fn scrape_url(labels: &Labels, cfg_params: &BTreeMap<String, Vec<String>>) -> String {
    let mut params = cfg_params.clone();
    for l in labels.iter() {
        if let Some(k) = l.name.strip_prefix(PARAM_PREFIX) {
            match params.get_mut(k) {
                Some(vs) if !vs.is_empty() => vs[0] = l.value.clone(),
                _ => {
                    params.insert(k.to_string(), vec![l.value.clone()]);
                }
            }
        }
    }
    let path = labels.get(METRICS_PATH);
    let mut url = format!("{}://{}", labels.get(SCHEME), labels.get(ADDRESS));
    if !path.starts_with('/') {
        url.push('/');
    }
    url.push_str(path);
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, vs) in &params {
        for v in vs {
            q.append_pair(k, v);
        }
    }
    let q = q.finish();
    if !q.is_empty() {
        url.push('?');
        url.push_str(&q);
    }
    url
}

impl Target {
    /// Labels before relabeling (`__address__`, `__meta_*`, ...).
    pub fn discovered_labels(&self) -> &Labels {
        &self.discovered
    }

    /// Labels attached to every series scraped from this target.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// All labels after relabeling, `__`-prefixed ones included.
    pub fn all_labels(&self) -> &Labels {
        &self.all
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn interval(&self) -> PromDuration {
        self.interval
    }

    pub fn timeout(&self) -> PromDuration {
        self.timeout
    }

    /// Identity of the target within its job: equal labels and URL mean the
    /// same target, whichever group it was discovered in.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How long to wait from `now_ns` (Unix nanoseconds) until this
    /// target's first scrape. The phase within the interval comes from the
    /// target's hash (mixed with `seed`, which differs between servers), so
    /// a target keeps its phase across restarts and reloads and targets
    /// spread over the interval.
    pub fn offset(&self, interval: Duration, seed: u64, now_ns: u128) -> Duration {
        let iv = interval.as_nanos().max(1);
        let base = iv - now_ns % iv;
        let off = ((self.hash ^ seed) as u128) % iv;
        let mut next = base + off;
        if next > iv {
            next -= iv;
        }
        Duration::from_nanos(next.min(u64::MAX as u128) as u64)
    }

    /// The URL with a loopback host replaced by this machine's name, as
    /// Prometheus reports `globalUrl`.
    pub fn global_url(&self) -> String {
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return self.url.clone();
        };
        let (hostport, tail) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(hostport);
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]");
        match (loopback, hostname()) {
            (true, Some(name)) => format!("{scheme}://{name}{port}{tail}"),
            _ => self.url.clone(),
        }
    }
}

/// Host and `:port` suffix (possibly empty) of `host:port` or `[v6]:port`.
fn split_host_port(s: &str) -> (&str, &str) {
    if s.starts_with('[') {
        return match s.find(']') {
            Some(i) => (&s[..=i], &s[i + 1..]),
            None => (s, ""),
        };
    }
    match s.rfind(':') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// This machine's host name.
pub(crate) fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RelabelAction, RelabelConfig};

    fn job(yaml: &str) -> ScrapeConfig {
        let cfg = crate::config::parse_str(yaml).unwrap();
        cfg.scrape_configs.into_iter().next().unwrap()
    }

    fn group(targets: &[&[(&str, &str)]], labels: &[(&str, &str)]) -> TargetGroup {
        TargetGroup {
            source: "0".into(),
            targets: targets
                .iter()
                .map(|t| {
                    t.iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect()
                })
                .collect(),
            labels: labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn rules(cfg: &ScrapeConfig) -> Vec<CompiledRule> {
        relabel::compile(&cfg.relabel_configs).unwrap()
    }

    fn active(o: &TargetOutcome) -> &Target {
        match o {
            TargetOutcome::Active(t) => t,
            other => panic!("expected an active target, got {other:?}"),
        }
    }

    const BASIC: &str = "
global: {scrape_interval: 15s, scrape_timeout: 10s}
scrape_configs:
  - job_name: node
    metrics_path: /probe
    params: {module: [http_2xx, other], target: [a b]}
";

    #[test]
    fn labels_url_and_defaults() {
        let cfg = job(BASIC);
        let g = group(
            &[&[("__address__", "h1:9100"), ("__meta_x", "m"), ("zone", "t")]],
            &[("zone", "g"), ("team", "infra")],
        );
        let out = targets_from_group(&cfg, &rules(&cfg), &g);
        let t = active(&out[0]);
        assert_eq!(
            t.labels(),
            &Labels::from_pairs([
                ("instance", "h1:9100"),
                ("job", "node"),
                ("team", "infra"),
                ("zone", "t"),
            ])
        );
        assert_eq!(
            t.discovered_labels(),
            &Labels::from_pairs([
                ("__address__", "h1:9100"),
                ("__meta_x", "m"),
                ("__metrics_path__", "/probe"),
                ("__param_module", "http_2xx"),
                ("__param_target", "a b"),
                ("__scheme__", "http"),
                ("__scrape_interval__", "15s"),
                ("__scrape_timeout__", "10s"),
                ("job", "node"),
                ("team", "infra"),
                ("zone", "t"),
            ])
        );
        assert_eq!(
            t.url(),
            "http://h1:9100/probe?module=http_2xx&module=other&target=a+b"
        );
        assert_eq!(t.interval().ms(), 15_000);
        assert_eq!(t.timeout().ms(), 10_000);
    }

    fn relabel_rule(
        src: &[&str],
        regex: &str,
        target: &str,
        repl: &str,
        action: RelabelAction,
    ) -> RelabelConfig {
        RelabelConfig {
            source_labels: src.iter().map(|s| s.to_string()).collect(),
            separator: ";".into(),
            regex: regex.into(),
            modulus: 0,
            target_label: (!target.is_empty()).then(|| target.to_string()),
            replacement: repl.into(),
            action,
        }
    }

    #[test]
    fn relabeled_scrape_settings_take_effect() {
        let mut cfg = job(BASIC);
        cfg.relabel_configs = vec![
            relabel_rule(&[], "(.*)", "__param_target", "x", RelabelAction::Replace),
            relabel_rule(
                &[],
                "(.*)",
                "__scrape_interval__",
                "1m",
                RelabelAction::Replace,
            ),
            relabel_rule(
                &[],
                "(.*)",
                "__scrape_timeout__",
                "30s",
                RelabelAction::Replace,
            ),
            relabel_rule(&[], "(.*)", "__scheme__", "https", RelabelAction::Replace),
            relabel_rule(
                &[],
                "(.*)",
                "__metrics_path__",
                "/m",
                RelabelAction::Replace,
            ),
            relabel_rule(&[], "(.*)", "__param_extra", "1", RelabelAction::Replace),
            relabel_rule(&[], "(.*)", "instance", "named", RelabelAction::Replace),
        ];
        let g = group(&[&[("__address__", "h:1")]], &[]);
        let out = targets_from_group(&cfg, &rules(&cfg), &g);
        let t = active(&out[0]);
        assert_eq!(
            t.url(),
            "https://h:1/m?extra=1&module=http_2xx&module=other&target=x"
        );
        assert_eq!(t.interval().ms(), 60_000);
        assert_eq!(t.timeout().ms(), 30_000);
        assert_eq!(t.labels().get("instance"), "named");
    }

    #[test]
    fn dropped_and_failed_targets() {
        let mut cfg = job(BASIC);
        cfg.relabel_configs = vec![relabel_rule(
            &["__address__"],
            "drop.*",
            "",
            "$1",
            RelabelAction::Drop,
        )];
        let g = group(
            &[
                &[("__address__", "drop-me:1")],
                &[("other", "x")],
                &[("__address__", "h/x")],
                &[("__address__", "ok:1")],
            ],
            &[],
        );
        let out = targets_from_group(&cfg, &rules(&cfg), &g);
        match &out[0] {
            TargetOutcome::Dropped(l) => assert_eq!(l.get("__address__"), "drop-me:1"),
            o => panic!("{o:?}"),
        }
        assert_eq!(
            out[1],
            TargetOutcome::Failed {
                index: 1,
                error: TargetError::NoAddress
            }
        );
        assert_eq!(
            out[2],
            TargetOutcome::Failed {
                index: 2,
                error: TargetError::InvalidAddress("h/x".into())
            }
        );
        active(&out[3]);
    }

    #[test]
    fn bad_interval_labels_fail_the_target() {
        for (iv, to, want) in [
            ("0s", "1s", TargetError::ZeroInterval),
            ("1s", "0s", TargetError::ZeroTimeout),
            (
                "1s",
                "2s",
                TargetError::TimeoutAboveInterval {
                    timeout: "2s".into(),
                    interval: "1s".into(),
                },
            ),
        ] {
            let cfg = job(BASIC);
            let g = group(
                &[&[
                    ("__address__", "h:1"),
                    ("__scrape_interval__", iv),
                    ("__scrape_timeout__", to),
                ]],
                &[],
            );
            let out = targets_from_group(&cfg, &[], &g);
            assert_eq!(
                out[0],
                TargetOutcome::Failed {
                    index: 0,
                    error: want
                }
            );
        }
        let cfg = job(BASIC);
        let g = group(
            &[&[("__address__", "h:1"), ("__scrape_interval__", "x")]],
            &[],
        );
        assert!(matches!(
            targets_from_group(&cfg, &[], &g)[0],
            TargetOutcome::Failed {
                error: TargetError::Interval(_),
                ..
            }
        ));
    }

    #[test]
    fn hash_is_identity_and_offset_is_stable() {
        let cfg = job(BASIC);
        let g = group(&[&[("__address__", "a:1")], &[("__address__", "b:1")]], &[]);
        let out = targets_from_group(&cfg, &[], &g);
        let (a, b) = (active(&out[0]), active(&out[1]));
        assert_ne!(a.hash(), b.hash());
        let again = targets_from_group(&cfg, &[], &g);
        assert_eq!(active(&again[0]).hash(), a.hash());

        let iv = Duration::from_secs(15);
        let now: u128 = 1_700_000_000_123_456_789;
        let o1 = a.offset(iv, 7, now);
        assert!(o1 <= iv);
        // The scrape lands on the same phase of the interval whenever asked.
        let phase = |now: u128, o: Duration| (now + o.as_nanos()) % iv.as_nanos();
        let later = now + 3_333_333_333;
        assert_eq!(phase(now, o1), phase(later, a.offset(iv, 7, later)));
        assert_eq!(phase(now, o1), ((a.hash() ^ 7) as u128) % iv.as_nanos());
    }

    #[test]
    fn global_url_names_the_host_for_loopback() {
        let cfg = job(BASIC);
        let g = group(&[&[("__address__", "localhost:9090")]], &[]);
        let out = targets_from_group(&cfg, &[], &g);
        let t = active(&out[0]);
        if let Some(h) = hostname() {
            assert!(t
                .global_url()
                .starts_with(&format!("http://{h}:9090/probe?")));
        }
        assert_eq!(split_host_port("[::1]:80"), ("[::1]", ":80"));
        assert_eq!(split_host_port("h"), ("h", ""));
    }
}
