//! Start-up from the command line as Prometheus users write it: an explicit
//! `--config.file` that does not exist fails, the default one may be
//! missing, every Prometheus 3.x flag is accepted, and URL passwords are
//! never shown (config API, log).

use crate::common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{poll, Server};

/// Runs the binary in a temp dir with `args` until it exits (killed after
/// 30 s); returns its exit status and stderr.
fn run_to_exit(args: &[String]) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().unwrap();
    // The data directory is the working directory's default `./data`.
    let listen = format!("--web.listen-address=127.0.0.1:{}", common::free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferroprom"))
        .args(std::iter::once(&listen).chain(args))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ferroprom still running after 30s with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

#[test]
fn an_explicit_missing_config_file_fails_start_up() {
    let missing = "/nonexistent/dir/promethues.yml";
    let (status, err) = run_to_exit(&[format!("--config.file={missing}")]);
    assert!(!status.success(), "{err}");
    assert!(
        err.contains(&format!("--config.file=\"{missing}\"")) && err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn without_the_flag_a_missing_default_file_uses_the_built_in_config() {
    let s = Server::start(None, &[]);
    let yaml = s.api("/api/v1/status/config", &[])["yaml"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(yaml.contains(&format!("localhost:{}", s.port)), "{yaml}");
}

#[test]
fn web_config_file_is_refused_rather_than_ignored() {
    let (status, err) = run_to_exit(&["--web.config.file=/etc/prometheus/web.yml".into()]);
    assert!(!status.success(), "{err}");
    assert!(err.contains("TLS and authentication"), "{err}");
}

/// A systemd unit's command line (Debian's and the upstream examples'),
/// with flags that act and flags that are only accepted.
#[test]
fn a_typical_systemd_command_line_starts() {
    let mut s = Server::start(
        Some("global:\n  scrape_interval: 1h\n"),
        &[
            "--web.console.libraries=/usr/share/prometheus/console_libraries",
            "--web.console.templates=/usr/share/prometheus/consoles",
            "--web.page-title=x",
            "--web.cors.origin=.*",
            "--web.external-url=http://127.0.0.1/",
            "--storage.tsdb.retention.time=30d",
            "--storage.tsdb.min-block-duration=2h",
            "--storage.tsdb.max-block-duration=1d",
            "--storage.tsdb.wal-compression",
            "--storage.tsdb.no-lockfile",
            "--enable-feature=exemplar-storage",
            "--enable-feature=native-histograms,no-such-feature",
            "--log.format=json",
            "--web.enable-lifecycle",
            "--rules.alert.resend-delay=1m",
        ],
    );
    let log = s.keep_log();
    let (code, _) = s.get("/-/ready", &[]);
    assert_eq!(code, 200);
    // Logged before ready: the pipe holds it until read.
    let text = poll(10, "the feature log line", || {
        let t = log.lock().unwrap().clone();
        t.contains("no-such-feature").then_some(t)
    });
    for want in [
        "have no effect here",
        "web.page-title=x",
        "storage.tsdb.no-lockfile",
        "exemplar-storage,native-histograms",
        "unknown option for --enable-feature",
        "no-such-feature",
    ] {
        assert!(text.contains(want), "{want:?} not in log:\n{text}");
    }
    // `--log.format=json`: one JSON object per line, as log shippers read.
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string() && v["fields"].is_object(),
            "{line}"
        );
    }
}

#[test]
fn url_passwords_are_hidden_in_the_config_api_and_the_log() {
    // Nothing listens at port 1: the queue only has to start.
    let mut s = Server::start(
        Some(
            "remote_write:\n  - url: http://writer:hunter2@127.0.0.1:1/write\n    basic_auth:\n      username: b\n      password: opensesame\n",
        ),
        &[],
    );
    let log = s.keep_log();
    let yaml = s.api("/api/v1/status/config", &[])["yaml"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        yaml.contains("http://writer:xxxxx@127.0.0.1:1/write") && yaml.contains("<secret>"),
        "{yaml}"
    );
    assert!(
        !yaml.contains("hunter2") && !yaml.contains("opensesame"),
        "{yaml}"
    );
    let text = poll(10, "the queue start logged", || {
        let t = log.lock().unwrap().clone();
        t.contains("queue started").then_some(t)
    });
    assert!(text.contains("writer:xxxxx@127.0.0.1:1/write"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    // Nor in the queue's metric labels, which any scraper reads.
    let (_, metrics) = s.get("/metrics", &[]);
    assert!(
        metrics.contains("url=\"http://writer:xxxxx@127.0.0.1:1/write\""),
        "{metrics}"
    );
    assert!(!metrics.contains("hunter2"));
}
