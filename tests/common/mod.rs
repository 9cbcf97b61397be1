//! End-to-end test support: runs the real `ferroprom` binary on a loopback
//! port in a temp dir, a tiny test exporter, and a blocking HTTP client.
#![allow(dead_code)]

pub mod api_state;
pub mod browser;
pub mod consul;
pub mod dataset;
pub mod dns;
pub mod exporter;
pub mod kube_api;
pub mod peers;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A free loopback port (bound then released; the binary rebinds it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running ferroprom process. Killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub client: reqwest::blocking::Client,
    /// `--web.route-prefix` as given in the extra flags (`""` when none):
    /// [`Server::url`] puts it before every path.
    pub prefix: String,
}

impl Server {
    /// Starts ferroprom with `config` (YAML text; `None` = no config file,
    /// so the built-in one) and extra flags, and waits until `/-/ready`.
    pub fn start(config: Option<&str>, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, config, extra)
    }

    /// Like [`Server::start`] in an existing directory (restarts).
    pub fn start_in(dir: tempfile::TempDir, config: Option<&str>, extra: &[&str]) -> Server {
        Self::start_with_env(dir, config, extra, &[])
    }

    /// Like [`Server::start_in`] with extra environment variables.
    pub fn start_with_env(
        dir: tempfile::TempDir,
        config: Option<&str>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let port = free_port();
        let cfg_path = dir.path().join("prometheus.yml");
        if let Some(c) = config {
            std::fs::write(&cfg_path, c).unwrap();
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferroprom"));
        // Without a config the flag is left out: only the default path (in
        // the working directory, `dir`) may fall back to the built-in
        // config; an explicit missing one fails start-up.
        if config.is_some() {
            cmd.arg(format!("--config.file={}", cfg_path.display()));
        }
        cmd.arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra)
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let child = cmd.spawn().expect("start ferroprom");
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let prefix = route_prefix(extra);
        let mut s = Server {
            child,
            port,
            dir,
            client,
            prefix,
        };
        s.wait_ready();
        s
    }

    /// The address of `path` under the route prefix.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}{}", self.port, self.prefix, path)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.yml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(e) = self.child.stderr.as_mut() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("ferroprom exited with {status} before ready:\n{err}");
            }
            if let Ok(r) = self.client.get(self.url("/-/ready")).send() {
                if r.status().is_success() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("ferroprom not ready within 30s");
    }

    /// GET `path` with query params; returns (status, body).
    pub fn get(&self, path: &str, params: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .client
            .get(self.url(path))
            .query(params)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    /// POST a form to `path`; returns (status, body).
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self.client.post(self.url(path)).form(form).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    /// GET a JSON API endpoint, asserting success; returns `data`.
    pub fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let (code, body) = self.get(path, params);
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path}: non-JSON body ({e}): {body}"));
        assert_eq!(code, 200, "{path} {params:?}: {body}");
        assert_eq!(v["status"], "success", "{path}: {body}");
        v["data"].clone()
    }

    /// Instant query at now; returns the result array.
    pub fn query(&self, q: &str) -> Vec<Value> {
        let d = self.api("/api/v1/query", &[("query", q)]);
        d["result"].as_array().cloned().unwrap_or_default()
    }

    /// The raw samples `(seconds, value)` of `selector` over the last
    /// `range` (e.g. `1m`), all its series together, oldest first.
    pub fn raw_samples(&self, selector: &str, range: &str) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = self
            .query(&format!("{selector}[{range}]"))
            .iter()
            .flat_map(|series| series["values"].as_array().cloned().unwrap_or_default())
            .map(|p| {
                let v = p[1].as_str().and_then(|v| v.parse().ok());
                (p[0].as_f64().unwrap(), v.unwrap())
            })
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// Polls `query` until `pred` holds on its result, or panics after `secs`.
    pub fn wait_for(&self, q: &str, secs: u64, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let r = self.query(q);
            if pred(&r) {
                return r;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting on {q}: last result {r:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The active targets of `job` in `/api/v1/targets`, sorted by their
    /// discovered address.
    pub fn targets_of(&self, job: &str) -> Vec<Value> {
        active_targets(&self.get("/api/v1/targets", &[]).1, job)
    }

    /// The discovered addresses of `job`'s active targets, sorted.
    pub fn target_addresses(&self, job: &str) -> Vec<String> {
        self.targets_of(job)
            .iter()
            .map(|t| {
                t["discoveredLabels"]["__address__"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    /// Polls until `job`'s addresses are `want` (sorted), or panics after
    /// `secs`; returns how long it took.
    pub fn wait_target_addresses(&self, job: &str, want: &[String], secs: u64) -> Duration {
        let started = Instant::now();
        poll(secs, &format!("{job} targets {want:?}"), || {
            (self.target_addresses(job) == want).then_some(())
        });
        started.elapsed()
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Reads the server's stderr on a thread from now on, so a chatty
    /// server cannot block on a full pipe; returns the text read so far.
    pub fn keep_log(&mut self) -> Arc<Mutex<String>> {
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(err) = self.child.stderr.take() {
            let sink = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let mut l = sink.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        log
    }

    /// The value of one series of the server's own `/metrics`: the first
    /// series named `name` whose labels contain every one of `labels`
    /// (each as printed, e.g. `rule_group="f;g"` or a part of it).
    pub fn self_metric(&self, name: &str, labels: &[&str]) -> Option<f64> {
        let (_, text) = self.get("/metrics", &[]);
        text.lines().find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?;
            let wanted = (rest.is_empty() || rest.starts_with('{'))
                && labels.iter().all(|l| rest.contains(l));
            wanted.then(|| value.parse().ok()).flatten()
        })
    }

    /// Crashes the server: SIGKILL by PID, so nothing is flushed or
    /// closed; returns its directory for a restart.
    pub fn kill(mut self) -> tempfile::TempDir {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
        // Keep the directory alive for the caller; Drop then finds the
        // process already reaped.
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// SIGTERM and wait for exit; returns stderr and the exit status.
    pub fn stop(mut self) -> (tempfile::TempDir, std::process::ExitStatus, String) {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "ferroprom did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut err);
        }
        // Leave the TempDir alive for the caller; disarm Drop's kill.
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (dir, status, err)
    }
}

/// The route prefix the server mounts everything under: the
/// `--web.route-prefix` flag, or the path of `--web.external-url`, without
/// a trailing slash.
fn route_prefix(extra: &[&str]) -> String {
    let flag = |name: &str| extra.iter().find_map(|a| a.strip_prefix(name));
    let path = match flag("--web.route-prefix=") {
        Some(p) => p,
        None => flag("--web.external-url=")
            .and_then(|u| u.split_once("://"))
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or(""),
    };
    match path.trim_matches('/') {
        "" => String::new(),
        p => format!("/{p}"),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The active targets of `job` in a `/api/v1/targets` answer (ours or a
/// peer's), sorted by their discovered address.
pub fn active_targets(body: &str, job: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(body).unwrap();
    let mut t: Vec<Value> = v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["labels"]["job"] == job)
        .cloned()
        .collect();
    t.sort_by_key(|t| t["discoveredLabels"]["__address__"].to_string());
    t
}

/// Calls `f` every 100ms until it gives `Some`, or panics naming `what`
/// after `secs` seconds.
pub fn poll<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Seconds since the epoch, as Prometheus timestamps are given.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Runs `ferroprom tsdb import openmetrics <file> <data_dir>`; returns
/// whether it succeeded and its stderr.
pub fn run_import(file: &Path, data_dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferroprom"))
        .args(["tsdb", "import", "openmetrics"])
        .arg(file)
        .arg(data_dir)
        .output()
        .expect("run ferroprom tsdb import");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A file relative to the workspace root.
pub fn workspace_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `rel` under the read-only peer data: `../shared` beside the workspace,
/// as CI lays it out, or `$FERROPROM_SHARED_DIR` for checkouts elsewhere
/// (git work trees).
pub fn shared_file(rel: &str) -> PathBuf {
    std::env::var_os("FERROPROM_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_file("../shared"))
        .join(rel)
}
