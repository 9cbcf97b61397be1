//! Rule evaluation in the real binary: recording rules write series that
//! queries see, a reload with a broken rule file fails and leaves the
//! running rules alone, and a broken rule file stops start-up.

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;

const CONFIG: &str = "global:
  evaluation_interval: 1s
rule_files: [rules/*.yml, named.yml]
";

const RULES: &str = "groups:
- name: chain
  rules:
  - record: test:one
    expr: vector(1)
    labels: {origin: rule}
  - record: test:two
    expr: test:one * 2
";

const BROKEN: &str = "groups:
- name: chain
  rules:
  - record: test:one
    expr: sum(
";

fn value(sample: &serde_json::Value) -> &str {
    sample["value"][1].as_str().unwrap()
}

fn eval_time(s: &Server) -> f64 {
    let r = s.query("timestamp(test:two)");
    r.first().map_or(0.0, |v| value(v).parse::<f64>().unwrap())
}

#[test]
fn recording_rules_run_and_a_broken_reload_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("named.yml"), RULES).unwrap();
    let s = Server::start_in(dir, Some(CONFIG), &["--web.enable-lifecycle"]);

    let r = s.wait_for("test:two", 20, |r| !r.is_empty());
    assert_eq!(value(&r[0]), "2");
    assert_eq!(r[0]["metric"]["origin"], "rule");
    assert_eq!(r[0]["metric"]["__name__"], "test:two");

    // A broken file in the glob fails the reload.
    std::fs::write(s.dir.path().join("rules/bad.yml"), BROKEN).unwrap();
    let (code, body) = s.post("/-/reload", &[]);
    assert_ne!(code, 200, "{body}");
    assert!(body.contains("bad.yml"), "{body}");
    let (_, metrics) = s.get("/metrics", &[]);
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 0"),
        "reload not reported as failed"
    );

    // The old rules keep being evaluated.
    let before = eval_time(&s);
    let deadline = Instant::now() + Duration::from_secs(20);
    while eval_time(&s) <= before {
        assert!(
            Instant::now() < deadline,
            "rules stopped after a failed reload"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(metrics.contains("prometheus_rule_group_iterations_total{rule_group="));

    // Fixed: the reload succeeds.
    std::fs::remove_file(s.dir.path().join("rules/bad.yml")).unwrap();
    let (code, body) = s.post("/-/reload", &[]);
    assert_eq!(code, 200, "{body}");

    // A broken rule file stops start-up, naming file and line.
    let (dir, status, _) = s.stop();
    assert!(status.success());
    std::fs::write(dir.path().join("named.yml"), BROKEN).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferroprom"))
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!(
            "--web.listen-address=127.0.0.1:{}",
            common::free_port()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("named.yml: 5"), "{err}");
}
