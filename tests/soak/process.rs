//! The ferroprom process under soak: started on a loopback port, its log
//! kept line by line, its RSS read from /proc, crashed with `kill -9` and
//! started again on the same data. [`Endpoint`] tells the load threads
//! where it listens and whether a failed request fell in a restart.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the server listens now. `epoch` counts starts, so a request that
/// began before a crash can be told from one that failed on a live server.
#[derive(Default)]
pub struct Endpoint {
    port: AtomicU16,
    pid: AtomicU32,
    epoch: AtomicU64,
    up: AtomicBool,
}

/// A view of the endpoint taken before a request.
#[derive(Clone, Copy, Debug)]
pub struct Live {
    pub port: u16,
    pub pid: u32,
    pub epoch: u64,
}

impl Live {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Endpoint {
    /// The live server, or `None` while it is down.
    pub fn live(&self) -> Option<Live> {
        if !self.up.load(Ordering::Acquire) {
            return None;
        }
        Some(Live {
            port: self.port.load(Ordering::Acquire),
            pid: self.pid.load(Ordering::Acquire),
            epoch: self.epoch.load(Ordering::Acquire),
        })
    }

    /// Whether the server `live` named is still the one running: a request
    /// to it that failed otherwise is excused by the crash.
    pub fn unchanged(&self, live: Live) -> bool {
        self.up.load(Ordering::Acquire) && self.epoch.load(Ordering::Acquire) == live.epoch
    }

    fn set_up(&self, port: u16, pid: u32) {
        self.port.store(port, Ordering::Release);
        self.pid.store(pid, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.up.store(true, Ordering::Release);
    }

    fn set_down(&self) {
        self.up.store(false, Ordering::Release);
    }
}

/// One line of the server's log, with the start it came from.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub epoch: u64,
    pub text: String,
}

/// A running ferroprom. Killed (SIGKILL, by PID) on drop.
pub struct Ferroprom {
    child: Child,
}

impl Ferroprom {
    /// Starts the binary with its data and config in `dir` and `flags`,
    /// waits for `/-/ready` (at most `ready_within`) and publishes it on
    /// `endpoint`. Returns the time from spawn to ready too.
    pub fn start(
        dir: &Path,
        flags: &[String],
        endpoint: &Endpoint,
        log: &Arc<Mutex<Vec<LogLine>>>,
        ready_within: Duration,
    ) -> (Ferroprom, Duration) {
        let port = crate::common::free_port();
        let spawned = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferroprom"))
            .arg(format!("--config.file={}", config_path(dir).display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(flags)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ferroprom");
        let epoch = endpoint.epoch.load(Ordering::Acquire) + 1;
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(log);
        std::thread::spawn(move || {
            for text in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(LogLine { epoch, text });
            }
        });
        let mut server = Ferroprom { child };
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/-/ready");
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "ferroprom exited with {status} before ready; log:\n{}",
                    tail(log)
                );
            }
            if client
                .get(&url)
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            assert!(
                spawned.elapsed() < ready_within,
                "ferroprom not ready within {ready_within:?}; log:\n{}",
                tail(log)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let ready = spawned.elapsed();
        endpoint.set_up(port, server.child.id());
        (server, ready)
    }

    /// `kill -9`: nothing is flushed or closed.
    pub fn crash(mut self, endpoint: &Endpoint) {
        endpoint.set_down();
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (bounded) for a clean exit.
    pub fn stop(mut self, endpoint: &Endpoint) -> std::process::ExitStatus {
        endpoint.set_down();
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "ferroprom ignored SIGTERM for 60s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Ferroprom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The config file the server is started with and reloads.
pub fn config_path(dir: &Path) -> PathBuf {
    dir.join("prometheus.yml")
}

/// Replaces the config file in one rename, so a start or reload never
/// reads half of it.
pub fn write_config(dir: &Path, yaml: &str) {
    let tmp = dir.join("prometheus.yml.tmp");
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, config_path(dir)).unwrap();
}

/// VmRSS of `pid` in KiB, or `None` once the process is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn tail(log: &Mutex<Vec<LogLine>>) -> String {
    let lines = log.lock().unwrap();
    let from = lines.len().saturating_sub(40);
    lines[from..]
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}
