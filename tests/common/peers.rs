//! Real peers for interop tests: Prometheus, VictoriaMetrics and Alertmanager started on a
//! free loopback port with their data in a temp dir, killed by PID on drop.
//!
//! A missing binary skips the test outside CI and fails it inside CI (the
//! `CI` environment variable), so a broken CI image cannot pass silently.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// The peer binary `name`: `/usr/bin/<name>` (where Debian installs it),
/// else the first match on `PATH`.
pub fn find(name: &str) -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin").join(name);
    if fixed.is_file() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// [`find`], applying the skip-or-fail rule: `None` (after saying so) when
/// the binary is absent outside CI; a panic when it is absent in CI.
pub fn require(name: &str) -> Option<PathBuf> {
    if let Some(p) = find(name) {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{name} not installed, and CI is set: .ci/run should have installed it");
    }
    println!("skipping: {name} not installed");
    None
}

/// A running peer process. Killed on drop.
pub struct Peer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub client: reqwest::blocking::Client,
    name: &'static str,
}

impl Peer {
    /// Prometheus with `config` (YAML text) and the remote-write receiver on.
    pub fn prometheus(bin: &Path, config: &str) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--log.level=warn");
        Self::spawn("prometheus", cmd, dir, port, "/-/ready")
    }

    /// Prometheus with `config`, reading `resolv_conf` as its
    /// `/etc/resolv.conf`: the file is bind-mounted in a private mount
    /// namespace of its own (`unshare`), so the machine's stays untouched.
    /// For DNS service discovery against a test's DNS server; needs root.
    pub fn prometheus_with_resolv_conf(bin: &Path, config: &str, resolv_conf: &Path) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(r#"mount --bind "$0" /etc/resolv.conf && exec "$@""#)
            .arg(resolv_conf)
            .arg(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn");
        Self::spawn("prometheus", cmd, dir, port, "/-/ready")
    }

    /// VictoriaMetrics single-node with default settings.
    pub fn victoria_metrics(bin: &Path) -> Peer {
        Self::victoria_metrics_in(bin, tempfile::tempdir().unwrap(), &[])
    }

    /// VictoriaMetrics scraping as `config` (a `prometheus.yml`) says.
    pub fn victoria_metrics_scraping(bin: &Path, config: &str) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("scrape.yml");
        std::fs::write(&cfg, config).unwrap();
        let extra = [
            format!("-promscrape.config={}", cfg.display()),
            "-promscrape.maxDroppedTargets=1000".to_string(),
        ];
        Self::victoria_metrics_in(bin, dir, &extra)
    }

    fn victoria_metrics_in(bin: &Path, dir: tempfile::TempDir, extra: &[String]) -> Peer {
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args(extra);
        cmd.arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!(
                "-storageDataPath={}",
                dir.path().join("data").display()
            ))
            .arg("-loggerLevel=WARN");
        Self::spawn("victoria-metrics", cmd, dir, port, "/health")
    }

    /// Alertmanager with one receiver that sends nowhere, clustering off.
    pub fn alertmanager(bin: &Path) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = dir.path().join("alertmanager.yml");
        std::fs::write(
            &cfg,
            "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n",
        )
        .unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn");
        Self::spawn("alertmanager", cmd, dir, port, "/-/ready")
    }

    fn spawn(
        name: &'static str,
        mut cmd: Command,
        dir: tempfile::TempDir,
        port: u16,
        ready: &str,
    ) -> Peer {
        cmd.current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let mut p = Peer {
            child,
            port,
            dir,
            client,
            name,
        };
        p.wait_ready(ready);
        p
    }

    fn wait_ready(&mut self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(e) = self.child.stderr.as_mut() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("{} exited with {status} before ready:\n{err}", self.name);
            }
            if let Ok(r) = self.client.get(self.url(path)).send() {
                if r.status().is_success() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} not ready within 60s", self.name);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// GET `path` with query params; returns (status, body).
    pub fn get(&self, path: &str, params: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .client
            .get(self.url(path))
            .query(params)
            .send()
            .unwrap_or_else(|e| panic!("{} {path}: {e}", self.name));
        (r.status().as_u16(), r.text().unwrap())
    }
}

impl Peer {
    /// Alertmanager's `GET /api/v2/alerts`: the alerts it holds as active
    /// (resolved ones are not listed).
    pub fn am_alerts(&self) -> Vec<serde_json::Value> {
        let (code, body) = self.get("/api/v2/alerts", &[]);
        assert_eq!(code, 200, "{body}");
        match serde_json::from_str(&body) {
            Ok(serde_json::Value::Array(v)) => v,
            other => panic!("{}: not a JSON array: {other:?}: {body}", self.name),
        }
    }

    /// The alert named `alertname` that Alertmanager holds, if any.
    pub fn am_alert(&self, alertname: &str) -> Option<serde_json::Value> {
        self.am_alerts()
            .into_iter()
            .find(|a| a["labels"]["alertname"] == alertname)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
