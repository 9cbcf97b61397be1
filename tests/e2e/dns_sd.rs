//! dns_sd end to end: the real binary, pointed at a DNS server the test
//! runs on loopback (through `FERROPROM_DNS_SD_SERVER`), scrapes the
//! targets SRV and A records name, follows record changes, and keeps its
//! targets while lookups fail; and, against Prometheus 2.42 asking the same
//! server, discovers the same targets with the same labels for every
//! record type.

use crate::common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use common::dns::{name, Answer, DnsServer};
use common::exporter::Exporter;
use common::peers::{self, Peer};
use common::{active_targets, Server};
use hickory_resolver::proto::rr::rdata::{A, AAAA, MX, SRV};
use hickory_resolver::proto::rr::{RData, RecordType};

const SRV_NAME: &str = "_metrics._tcp.ferroprom.test.";
const A_NAME: &str = "web.ferroprom.test.";

fn srv(port: u16) -> RData {
    RData::SRV(SRV::new(0, 0, port, name("localhost.")))
}

/// ferroprom with `config`, resolving through `dns`.
fn start(dns: &DnsServer, config: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let env = [("FERROPROM_DNS_SD_SERVER", dns.addr())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with_env(dir, Some(config), &[], &env)
}

#[test]
fn srv_and_a_records_become_scraped_targets() {
    let e1 = Exporter::start("dns_sd_test_value 1\n");
    let e2 = Exporter::start("dns_sd_test_value 2\n");
    let dns = DnsServer::start();
    dns.set(
        SRV_NAME,
        RecordType::SRV,
        Answer::Records(vec![srv(e1.port), srv(e2.port)]),
    );
    dns.set(
        A_NAME,
        RecordType::A,
        Answer::Records(vec![RData::A(A(Ipv4Addr::LOCALHOST))]),
    );
    let config = format!(
        "
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: srv
    dns_sd_configs:
      - names: ['{SRV_NAME}']
        refresh_interval: 1s
  - job_name: a
    dns_sd_configs:
      - names: ['{A_NAME}', 'missing.ferroprom.test.']
        type: a
        port: {}
        refresh_interval: 1s
",
        e1.port
    );
    let s = start(&dns, &config);

    let mut want = vec![
        format!("localhost:{}", e1.port),
        format!("localhost:{}", e2.port),
    ];
    want.sort();
    s.wait_target_addresses("srv", &want, 20);
    let t = s.targets_of("srv");
    let first = t
        .iter()
        .find(|t| t["discoveredLabels"]["__address__"] == want[0].as_str())
        .unwrap();
    let port = want[0].rsplit_once(':').unwrap().1;
    let d = &first["discoveredLabels"];
    assert_eq!(d["__meta_dns_name"], SRV_NAME, "{d}");
    assert_eq!(d["__meta_dns_srv_record_target"], "localhost.", "{d}");
    assert_eq!(d["__meta_dns_srv_record_port"], port, "{d}");
    assert_eq!(first["labels"]["instance"], want[0].as_str());
    // Both SRV targets are scraped.
    s.wait_for("dns_sd_test_value{job=\"srv\"}", 20, |r| r.len() == 2);

    // A records use the configured port; the missing name adds nothing.
    let a = [format!("127.0.0.1:{}", e1.port)];
    s.wait_target_addresses("a", &a, 20);
    let t = s.targets_of("a");
    assert_eq!(t[0]["discoveredLabels"]["__meta_dns_name"], A_NAME);
    s.wait_for("up{job=\"a\"}", 20, |r| {
        r.len() == 1 && r[0]["value"][1] == "1"
    });

    // A record set that shrinks shrinks the targets.
    dns.set(
        SRV_NAME,
        RecordType::SRV,
        Answer::Records(vec![srv(e2.port)]),
    );
    s.wait_target_addresses("srv", &[format!("localhost:{}", e2.port)], 20);

    // Failing lookups keep the targets and are counted.
    let failures_before = s
        .self_metric("prometheus_sd_dns_lookup_failures_total", &[])
        .unwrap();
    dns.set(SRV_NAME, RecordType::SRV, Answer::ServFail);
    let deadline = Instant::now() + Duration::from_secs(20);
    while s
        .self_metric("prometheus_sd_dns_lookup_failures_total", &[])
        .unwrap()
        <= failures_before
    {
        assert!(Instant::now() < deadline, "no lookup failure counted");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        s.target_addresses("srv"),
        [format!("localhost:{}", e2.port)],
        "kept while lookups fail"
    );
    let lookups = s
        .self_metric("prometheus_sd_dns_lookups_total", &[])
        .unwrap();
    assert!(lookups >= 4.0, "lookups {lookups}");
    assert!(dns.queries() as f64 >= lookups);

    // A name that disappears (NXDOMAIN) empties its group.
    dns.remove(SRV_NAME, RecordType::SRV);
    s.wait_target_addresses("srv", &[], 20);
}

/// Per target of `job`, its address and `__meta_dns_*` discovered labels,
/// sorted.
fn dns_labels(body: &str, job: &str) -> Vec<BTreeMap<String, String>> {
    let mut all: Vec<BTreeMap<String, String>> = active_targets(body, job)
        .iter()
        .map(|t| {
            t["discoveredLabels"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| k.starts_with("__meta_dns") || *k == "__address__")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .collect();
    all.sort();
    all
}

#[test]
fn same_targets_and_labels_as_prometheus() {
    let Some(bin) = peers::require("prometheus") else {
        return;
    };
    if peers::find("unshare").is_none() {
        println!("skipping: unshare not installed");
        return;
    }
    // Prometheus's resolver always asks port 53.
    let dns = match DnsServer::start_on(53) {
        Ok(d) => d,
        Err(e) => {
            println!("skipping: cannot serve DNS on 127.0.0.1:53: {e}");
            return;
        }
    };
    let records = [
        (
            "_m._tcp.ferroprom.test.",
            RecordType::SRV,
            vec![srv(9101), srv(9102)],
        ),
        (
            "a.ferroprom.test.",
            RecordType::A,
            vec![
                RData::A(A(Ipv4Addr::LOCALHOST)),
                RData::A(A(Ipv4Addr::new(127, 0, 0, 2))),
            ],
        ),
        (
            "aaaa.ferroprom.test.",
            RecordType::AAAA,
            vec![RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))],
        ),
        (
            "mx.ferroprom.test.",
            RecordType::MX,
            vec![RData::MX(MX::new(10, name("localhost.")))],
        ),
    ];
    for (n, t, rs) in &records {
        dns.set(n, *t, Answer::Records(rs.clone()));
    }
    // Scrapes go to closed loopback ports; only discovery is compared.
    let config = "
global: {scrape_interval: 1h}
scrape_configs:
  - job_name: srv
    dns_sd_configs: [{names: ['_m._tcp.ferroprom.test.'], refresh_interval: 1s}]
  - job_name: a
    dns_sd_configs:
      - {names: ['a.ferroprom.test.', 'missing.ferroprom.test.'], type: A, port: 9100, refresh_interval: 1s}
  - job_name: aaaa
    dns_sd_configs: [{names: ['aaaa.ferroprom.test.'], type: AAAA, port: 9100, refresh_interval: 1s}]
  - job_name: mx
    dns_sd_configs: [{names: ['mx.ferroprom.test.'], type: MX, port: 9103, refresh_interval: 1s}]
";
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
    let prom = Peer::prometheus_with_resolv_conf(&bin, config, &resolv);
    let ours = start(&dns, config);
    // NS is left out: Prometheus 2.42 does not know it yet (3.x does).
    let want = [("srv", 2), ("a", 2), ("aaaa", 1), ("mx", 1)];
    // Prometheus passes discovery on at most every 5s.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let theirs = prom.get("/api/v1/targets", &[]).1;
        let mine = ours.get("/api/v1/targets", &[]).1;
        let complete = |body: &str| {
            want.iter()
                .all(|(j, n)| active_targets(body, j).len() == *n)
        };
        if complete(&theirs) && complete(&mine) {
            for (job, _) in want {
                assert_eq!(
                    dns_labels(&mine, job),
                    dns_labels(&theirs, job),
                    "job {job}: ours (left) and Prometheus's differ"
                );
            }
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not all targets discovered: ours {mine}\nPrometheus {theirs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
