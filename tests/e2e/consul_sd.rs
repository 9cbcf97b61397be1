//! consul_sd end to end: the real binary, pointed at a fake Consul the
//! test runs on loopback, scrapes the instances the catalog lists with
//! every `__meta_consul_*` label, follows changes through blocking queries
//! (held requests released by the change, not polling), drops services
//! that leave the catalog, and keeps its targets while Consul is away.

use crate::common;

use std::time::Duration;

use common::consul::{FakeConsul, Instance};
use common::exporter::Exporter;
use common::{poll, Server};

fn config(consul: &FakeConsul) -> String {
    format!(
        "
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: all
    consul_sd_configs:
      - server: '{addr}'
        token: s3cret
        refresh_interval: 200ms
  - job_name: web-prod
    consul_sd_configs:
      - server: 'http://{addr}'
        services: [web]
        tags: [prod]
        node_meta: {{rack: r1}}
        tag_separator: '|'
        refresh_interval: 200ms
",
        addr = consul.addr
    )
}

#[test]
fn consul_services_are_discovered_followed_and_kept() {
    let e1 = Exporter::start("consul_sd_value 1\n");
    let e2 = Exporter::start("consul_sd_value 2\n");
    let e3 = Exporter::start("consul_sd_value 3\n");
    let mut consul = FakeConsul::start("dc-test");
    consul.set(
        "web",
        vec![
            Instance::new("web-1", "node1", e1.port)
                .tags(&["prod", "v1"])
                .meta("version", "1.0.0")
                .meta("git-sha", "abc")
                .node_meta("rack", "r1"),
            Instance::new("web-2", "node2", e2.port)
                .address("localhost")
                .tags(&["canary"])
                .status("warning"),
        ],
    );
    consul.set("db", vec![Instance::new("db-1", "node3", e3.port)]);
    let mut s = Server::start(Some(&config(&consul)), &[]);
    let _log = s.keep_log();

    // Every service, every instance.
    let all = [
        format!("127.0.0.1:{}", e1.port),
        format!("127.0.0.1:{}", e3.port),
        format!("localhost:{}", e2.port),
    ];
    let mut all = all.to_vec();
    all.sort();
    s.wait_target_addresses("all", &all, 20);
    let web1 = s
        .targets_of("all")
        .into_iter()
        .find(|t| t["discoveredLabels"]["__meta_consul_service_id"] == "web-1")
        .unwrap();
    let d = &web1["discoveredLabels"];
    let port = e1.port.to_string();
    for (label, want) in [
        ("__address__", format!("127.0.0.1:{port}").as_str()),
        ("__meta_consul_address", "127.0.0.1"),
        ("__meta_consul_dc", "dc-test"),
        ("__meta_consul_health", "passing"),
        ("__meta_consul_metadata_rack", "r1"),
        ("__meta_consul_namespace", ""),
        ("__meta_consul_node", "node1"),
        ("__meta_consul_partition", ""),
        ("__meta_consul_service", "web"),
        ("__meta_consul_service_address", ""),
        ("__meta_consul_service_id", "web-1"),
        ("__meta_consul_service_metadata_git_sha", "abc"),
        ("__meta_consul_service_metadata_version", "1.0.0"),
        ("__meta_consul_service_port", port.as_str()),
        ("__meta_consul_tagged_address_lan", "127.0.0.1"),
        ("__meta_consul_tagged_address_wan", "198.51.100.1"),
        ("__meta_consul_tags", ",prod,v1,"),
    ] {
        // An empty label is no label once discovered, as in Prometheus.
        let got = d[label].as_str().unwrap_or("");
        assert_eq!(got, want, "{label} in {d}");
    }
    let web2 = s
        .targets_of("all")
        .into_iter()
        .find(|t| t["discoveredLabels"]["__meta_consul_service_id"] == "web-2")
        .unwrap();
    assert_eq!(web2["discoveredLabels"]["__meta_consul_health"], "warning");
    assert_eq!(
        web2["discoveredLabels"]["__meta_consul_service_address"],
        "localhost"
    );
    assert_eq!(web2["labels"]["instance"], format!("localhost:{}", e2.port));
    s.wait_for("consul_sd_value{job=\"all\"}", 20, |r| r.len() == 3);

    // Only web's prod instances, asked with the tag and node meta.
    let prod = [format!("127.0.0.1:{}", e1.port)];
    s.wait_target_addresses("web-prod", &prod, 20);
    let t = s.targets_of("web-prod");
    assert_eq!(t[0]["discoveredLabels"]["__meta_consul_tags"], "|prod|v1|");
    let reqs = consul.requests();
    assert!(
        reqs.iter()
            .any(|r| r.uri.starts_with("/v1/health/service/web?")
                && r.uri.contains("node-meta=rack%3Ar1")
                && r.uri.contains("tag=prod")
                && r.uri.contains("stale=")),
        "{reqs:?}"
    );
    assert!(
        reqs.iter()
            .filter(|r| r.uri.contains("catalog") && !r.uri.contains("rack"))
            .all(|r| r.token.as_deref() == Some("s3cret")),
        "the token goes with every request of the job that has one"
    );

    // Idle: the watches wait in held queries instead of polling every
    // 200ms (that would be ~30 requests per watch over 3s).
    let count = || {
        consul
            .requests()
            .iter()
            .filter(|r| r.uri.starts_with("/v1/health/service/web?"))
            .count()
    };
    let before = count();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        count() - before <= 2,
        "{} requests while idle",
        count() - before
    );

    // A change is seen at once, released from a held query.
    let web = vec![
        Instance::new("web-1", "node1", e1.port)
            .tags(&["prod", "v1"])
            .node_meta("rack", "r1"),
        Instance::new("web-2", "node2", e2.port)
            .address("localhost")
            .tags(&["prod"])
            .node_meta("rack", "r1"),
    ];
    consul.set("web", web);
    let mut prod = vec![
        format!("127.0.0.1:{}", e1.port),
        format!("localhost:{}", e2.port),
    ];
    prod.sort();
    let took = s.wait_target_addresses("web-prod", &prod, 10);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        consul
            .requests()
            .iter()
            .any(|r| r.uri.starts_with("/v1/health/service/web?") && r.released_by_change),
        "the change came back on a held request"
    );

    // A service that leaves the catalog leaves the targets.
    consul.set("db", Vec::new());
    let mut left = vec![
        format!("127.0.0.1:{}", e1.port),
        format!("localhost:{}", e2.port),
    ];
    left.sort();
    s.wait_target_addresses("all", &left, 10);

    // Consul goes away: the targets stay, the failures are counted.
    let failures = || {
        s.self_metric("prometheus_sd_consul_rpc_failures_total", &[])
            .unwrap_or(-1.0)
    };
    assert_eq!(failures(), 0.0);
    consul.stop();
    poll(10, "consul failures counted", || {
        (failures() > 0.0).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(s.target_addresses("all"), left);
    assert_eq!(s.target_addresses("web-prod"), prod);
    assert!(
        s.self_metric(
            "prometheus_sd_consul_rpc_duration_seconds_count",
            &["endpoint=\"catalog\"", "call=\"service\""]
        )
        .unwrap()
            > 0.0
    );
}

#[test]
fn consul_sd_in_alertmanager_sets_and_bad_configs() {
    let consul = FakeConsul::start("dc1");
    consul.set("alertmanager", vec![Instance::new("am-1", "n1", 9093)]);
    let config = format!(
        "
alerting:
  alertmanagers:
    - consul_sd_configs:
        - server: '{}'
          services: [alertmanager]
          refresh_interval: 200ms
",
        consul.addr
    );
    let s = Server::start(Some(&config), &["--web.enable-lifecycle"]);
    poll(20, "the Alertmanager discovered", || {
        let d = s.api("/api/v1/alertmanagers", &[]);
        let active = d["activeAlertmanagers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        active
            .iter()
            .any(|a| a["url"] == "http://127.0.0.1:9093/api/v2/alerts")
            .then_some(())
    });

    // A config Prometheus refuses is refused at reload, and the running
    // one stays.
    std::fs::write(
        s.config_path(),
        "scrape_configs:\n  - job_name: c\n    consul_sd_configs:\n      - {token: a, authorization: {credentials: b}}\n",
    )
    .unwrap();
    let (code, body) = s.post("/-/reload", &[]);
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains("at most one of consul SD token, authorization, or oauth2 can be configured"),
        "{body}"
    );
    let d = s.api("/api/v1/alertmanagers", &[]);
    assert_eq!(d["activeAlertmanagers"].as_array().unwrap().len(), 1, "{d}");
}
