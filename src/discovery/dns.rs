//! dns_sd: every name of a `dns_sd_configs` entry looked up every
//! `refresh_interval`, one target per record, one group per name (its
//! source is the name, as in Prometheus). A name whose lookup fails keeps
//! its previous group; a name that does not exist (NXDOMAIN) or has no
//! record of the type gets an empty group.
//!
//! The resolver reads the system's `/etc/resolv.conf`. Tests point it at
//! their own DNS server with the environment variable
//! [`SERVER_ENV`] (`ip:port`, UDP then TCP, no search domains), because
//! resolv.conf cannot name a port and a test must not change the machine.
//! Prometheus has no such switch; this one is for tests only.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use tokio::sync::mpsc;

use super::target_group::{join_host_port, ADDRESS_LABEL};
use super::TargetGroup;
use crate::config::{DnsRecordType, DnsSdConfig};
use crate::metrics::{Collected, Counter, Registry};

/// Names the DNS server (`ip:port`) dns_sd asks instead of the system's.
pub(crate) const SERVER_ENV: &str = "FERROPROM_DNS_SD_SERVER";

const NAME_LABEL: &str = "__meta_dns_name";
const SRV_TARGET_LABEL: &str = "__meta_dns_srv_record_target";
const SRV_PORT_LABEL: &str = "__meta_dns_srv_record_port";
const MX_TARGET_LABEL: &str = "__meta_dns_mx_record_target";
const NS_TARGET_LABEL: &str = "__meta_dns_ns_record_target";

/// Lookups and failed lookups of every dns_sd config of the process (scrape
/// jobs and Alertmanager sets alike), as Prometheus counts them.
static LOOKUPS: LazyLock<Counter> = LazyLock::new(Counter::default);
static FAILURES: LazyLock<Counter> = LazyLock::new(Counter::default);

/// Adds `prometheus_sd_dns_lookups_total` and
/// `prometheus_sd_dns_lookup_failures_total` to `registry`.
pub fn register_metrics(registry: &Registry) {
    registry.collector(|| {
        let one = |name: &str, help: &str, c: &Counter| Collected {
            name: name.to_string(),
            help: help.to_string(),
            kind: "counter",
            samples: vec![(Vec::new(), c.get())],
        };
        vec![
            one(
                "prometheus_sd_dns_lookups_total",
                "The number of DNS-SD lookups.",
                &LOOKUPS,
            ),
            one(
                "prometheus_sd_dns_lookup_failures_total",
                "The number of DNS-SD lookup failures.",
                &FAILURES,
            ),
        ]
    });
}

/// Why dns_sd cannot run at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DnsSdError {
    #[error("{SERVER_ENV}={0:?} is not an ip:port")]
    ServerEnv(String),
    #[error("cannot set up the resolver: {0}")]
    Resolver(#[from] NetError),
}

/// The resolver: the system's, or the one [`SERVER_ENV`] names. Answers
/// are not cached, so each refresh sees the current records, as in
/// Prometheus.
fn resolver() -> Result<TokioResolver, DnsSdError> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = match std::env::var(SERVER_ENV) {
        Ok(server) => {
            let addr: SocketAddr = server
                .parse()
                .map_err(|_| DnsSdError::ServerEnv(server.clone()))?;
            let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                .into_iter()
                .map(|mut c| {
                    c.port = addr.port();
                    c
                })
                .collect();
            let ns = NameServerConfig::new(addr.ip(), true, connections);
            let config = ResolverConfig::from_name_servers(vec![ns]);
            TokioResolver::builder_with_config(config, provider)
        }
        Err(_) => TokioResolver::builder(provider)?,
    };
    let opts: &mut ResolverOpts = builder.options_mut();
    opts.cache_size = 0;
    Ok(builder.build()?)
}

fn record_type(t: DnsRecordType) -> RecordType {
    match t {
        DnsRecordType::Srv => RecordType::SRV,
        DnsRecordType::A => RecordType::A,
        DnsRecordType::Aaaa => RecordType::AAAA,
        DnsRecordType::Mx => RecordType::MX,
        DnsRecordType::Ns => RecordType::NS,
    }
}

/// Looks `name` up; a name without records of the type has none, not an
/// error.
async fn lookup(
    resolver: &TokioResolver,
    name: &str,
    t: DnsRecordType,
) -> Result<Vec<RData>, NetError> {
    LOOKUPS.inc();
    match resolver.lookup(name, record_type(t)).await {
        Ok(found) => Ok(found.answers().iter().map(|r| r.data.clone()).collect()),
        Err(e) if e.is_no_records_found() => Ok(Vec::new()),
        Err(e) => {
            FAILURES.inc();
            Err(e)
        }
    }
}

/// The group for `name` from its records. Every target carries all five
/// `__meta_dns_*` labels, empty where the record type has no such field,
/// and the record names keep their final dot, as in Prometheus; the
/// address drops it. Records of other types (a CNAME on the way) are
/// skipped.
pub(crate) fn group(name: &str, records: &[RData], port: u16) -> TargetGroup {
    let mut targets = Vec::with_capacity(records.len());
    for r in records {
        let ip = match r {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        };
        let (address, srv_target, srv_port, mx, ns) = match (r, ip) {
            (_, Some(ip)) => {
                let a = SocketAddr::new(ip, port).to_string();
                (
                    a,
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                )
            }
            (RData::SRV(srv), _) => {
                let t = srv.target.to_string();
                let a = join_host_port(t.trim_end_matches('.'), srv.port);
                (a, t, srv.port.to_string(), String::new(), String::new())
            }
            (RData::MX(mx), _) => {
                let t = mx.exchange.to_string();
                let a = join_host_port(t.trim_end_matches('.'), port);
                (a, String::new(), String::new(), t, String::new())
            }
            (RData::NS(ns), _) => {
                let t = ns.0.to_string();
                let a = join_host_port(t.trim_end_matches('.'), port);
                (a, String::new(), String::new(), String::new(), t)
            }
            _ => continue,
        };
        targets.push(BTreeMap::from([
            (ADDRESS_LABEL.to_string(), address),
            (NAME_LABEL.to_string(), name.to_string()),
            (SRV_TARGET_LABEL.to_string(), srv_target),
            (SRV_PORT_LABEL.to_string(), srv_port),
            (MX_TARGET_LABEL.to_string(), mx),
            (NS_TARGET_LABEL.to_string(), ns),
        ]));
    }
    TargetGroup {
        source: name.to_string(),
        targets,
        labels: BTreeMap::new(),
    }
}

/// Looks every name up now and every `refresh_interval`, sending the
/// groups after each refresh that changed them.
pub(crate) async fn run(cfg: DnsSdConfig, tx: mpsc::Sender<Vec<TargetGroup>>) {
    let resolver = match resolver() {
        Ok(r) => Arc::new(r),
        Err(e) => {
            tracing::error!(error = %e, "dns_sd: cannot start");
            return;
        }
    };
    let mut ticker =
        tokio::time::interval(cfg.refresh_interval.as_std().max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Per name, its last good group; a failed lookup leaves it as it was.
    let mut groups: Vec<Option<TargetGroup>> = vec![None; cfg.names.len()];
    let mut last: Option<Vec<TargetGroup>> = None;
    loop {
        ticker.tick().await;
        let mut lookups = tokio::task::JoinSet::new();
        for (i, name) in cfg.names.iter().enumerate() {
            let (resolver, name, t) = (resolver.clone(), name.clone(), cfg.record_type);
            lookups.spawn(async move { (i, lookup(&resolver, &name, t).await) });
        }
        while let Some(done) = lookups.join_next().await {
            let Ok((i, result)) = done else { continue };
            let name = &cfg.names[i];
            match result {
                Ok(records) => groups[i] = Some(group(name, &records, cfg.port)),
                Err(e) => {
                    tracing::error!(name = %name, error = %e, "dns_sd: lookup failed; keeping the previous targets");
                }
            }
        }
        let now: Vec<TargetGroup> = groups.iter().flatten().cloned().collect();
        if last.as_ref() != Some(&now) {
            last = Some(now.clone());
            if tx.send(now).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::str::FromStr;

    use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SRV};
    use hickory_resolver::proto::rr::Name;

    use super::*;

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn labels(g: &TargetGroup, i: usize) -> Vec<(&str, &str)> {
        g.targets[i]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn srv_records_become_targets_with_their_own_ports() {
        let records = [
            RData::SRV(SRV::new(0, 0, 9100, n("node1.example.com."))),
            RData::SRV(SRV::new(0, 0, 9200, n("node2.example.com."))),
            RData::CNAME(CNAME(n("alias.example.com."))),
        ];
        let g = group("_metrics._tcp.example.com", &records, 0);
        assert_eq!(g.source, "_metrics._tcp.example.com");
        assert!(g.labels.is_empty());
        assert_eq!(g.targets.len(), 2, "the CNAME is skipped");
        assert_eq!(
            labels(&g, 1),
            [
                ("__address__", "node2.example.com:9200"),
                ("__meta_dns_mx_record_target", ""),
                ("__meta_dns_name", "_metrics._tcp.example.com"),
                ("__meta_dns_ns_record_target", ""),
                ("__meta_dns_srv_record_port", "9200"),
                ("__meta_dns_srv_record_target", "node2.example.com."),
            ]
        );
    }

    #[test]
    fn address_records_use_the_configured_port() {
        let records = [
            RData::A(A(Ipv4Addr::new(10, 0, 0, 1))),
            RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)),
        ];
        let g = group("web.example.com", &records, 8080);
        assert_eq!(g.targets[0][ADDRESS_LABEL], "10.0.0.1:8080");
        assert_eq!(g.targets[1][ADDRESS_LABEL], "[::1]:8080");
        assert_eq!(g.targets[1][NAME_LABEL], "web.example.com");
        assert_eq!(g.targets[1][SRV_TARGET_LABEL], "");
        assert_eq!(g.targets[1][SRV_PORT_LABEL], "");
    }

    #[test]
    fn mx_and_ns_records_name_their_hosts() {
        let g = group(
            "example.com",
            &[RData::MX(MX::new(10, n("mail.example.com.")))],
            25,
        );
        assert_eq!(g.targets[0][ADDRESS_LABEL], "mail.example.com:25");
        assert_eq!(g.targets[0][MX_TARGET_LABEL], "mail.example.com.");
        assert_eq!(g.targets[0][NS_TARGET_LABEL], "");
        let g = group("example.com", &[RData::NS(NS(n("ns1.example.com.")))], 53);
        assert_eq!(g.targets[0][ADDRESS_LABEL], "ns1.example.com:53");
        assert_eq!(g.targets[0][NS_TARGET_LABEL], "ns1.example.com.");
        assert_eq!(g.targets[0][MX_TARGET_LABEL], "");
    }

    #[test]
    fn no_records_make_an_empty_group() {
        let g = group("gone.example.com", &[], 80);
        assert_eq!(g.source, "gone.example.com");
        assert!(g.targets.is_empty());
    }
}
