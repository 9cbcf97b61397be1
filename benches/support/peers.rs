//! Shared by the benches that run ferroprom next to its peers (Prometheus,
//! VictoriaMetrics) as real processes: which server, how to start, stop and
//! talk to it, what it costs (`/proc` stats, bytes on disk), and sending
//! prepared remote-write bodies over keep-alive connections.
//!
//! Each server runs in a fresh temp dir on a free 127.0.0.1 port and is
//! killed by its PID when dropped. Binaries are found by env:
//! `RW_FERROPROM` / `RW_PROMETHEUS` / `RW_VICTORIA` (default the one cargo
//! built, `/usr/bin/prometheus`, `/usr/bin/victoria-metrics`).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

pub fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A command's trimmed stdout, empty when it cannot run.
pub fn sh(c: &str, a: &[&str]) -> String {
    Command::new(c)
        .args(a)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- HTTP

/// A keep-alive HTTP/1.1 connection with just enough protocol for these
/// benchmarks, so the load generator costs little CPU next to the servers.
pub struct Conn {
    r: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    pub fn open(port: u16) -> io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(Conn {
            r: BufReader::new(s),
            host: format!("127.0.0.1:{port}"),
        })
    }

    /// Sends `body` as a remote-write request would carry it.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<(u16, String)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ferroprom-rw-bench\r\n\
             Content-Encoding: snappy\r\nContent-Type: application/x-protobuf\r\n\
             X-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let s = self.r.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        self.response()
    }

    /// A plain `GET` or `POST` without a body (API calls).
    pub fn call(&mut self, method: &str, path: &str) -> io::Result<(u16, String)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ferroprom-rw-bench\r\n\
             Content-Length: 0\r\n\r\n",
            self.host
        );
        self.r.get_mut().write_all(head.as_bytes())?;
        self.response()
    }

    fn response(&mut self) -> io::Result<(u16, String)> {
        let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(&format!("bad status line {line:?}")))?;
        let (mut len, mut chunked) = (0usize, false);
        loop {
            line.clear();
            self.r.read_line(&mut line)?;
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let v = v.trim();
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.parse().map_err(|_| bad("content-length"))?;
                } else if k.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = v.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.r.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| bad("chunk size"))?;
                let start = body.len();
                body.resize(start + n + 2, 0);
                self.r.read_exact(&mut body[start..])?;
                body.truncate(start + n);
                if n == 0 {
                    break;
                }
            }
        } else {
            body.resize(len, 0);
            self.r.read_exact(&mut body)?;
        }
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// How an upload of prepared remote-write bodies went.
pub struct Upload {
    pub wall: Duration,
    /// Requests not answered 2xx (or not answered at all).
    pub failed: usize,
    pub first_error: Option<String>,
}

/// Posts each connection's bodies in order, all connections at once, one
/// thread per connection; a connection that breaks is reopened.
pub fn upload(port: u16, per_conn: &[Vec<Vec<u8>>]) -> Upload {
    let start = Instant::now();
    let outcomes: Vec<(usize, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = per_conn
            .iter()
            .map(|bodies| {
                s.spawn(move || {
                    let mut conn = Conn::open(port).expect("connect");
                    let (mut failed, mut first) = (0, None);
                    for b in bodies {
                        match conn.request("POST", "/api/v1/write", b) {
                            Ok((st, _)) if (200..300).contains(&st) => {}
                            Ok((st, msg)) => {
                                failed += 1;
                                first.get_or_insert_with(|| format!("{st}: {}", msg.trim()));
                            }
                            Err(e) => {
                                failed += 1;
                                first.get_or_insert_with(|| e.to_string());
                                conn = Conn::open(port).expect("reconnect");
                            }
                        }
                    }
                    (failed, first)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sender thread"))
            .collect()
    });
    let wall = start.elapsed();
    Upload {
        wall,
        failed: outcomes.iter().map(|o| o.0).sum(),
        first_error: outcomes.into_iter().find_map(|o| o.1),
    }
}

// ---------------------------------------------------------------- servers

#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Ferroprom,
    Prometheus,
    Victoria,
}

impl Kind {
    pub fn parse(s: &str) -> Kind {
        match s {
            "ferroprom" => Kind::Ferroprom,
            "prometheus" => Kind::Prometheus,
            "victoria-metrics" | "victoriametrics" | "vm" => Kind::Victoria,
            _ => panic!("unknown server {s:?} (ferroprom, prometheus, victoria-metrics)"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Ferroprom => "ferroprom",
            Kind::Prometheus => "prometheus",
            Kind::Victoria => "victoria-metrics",
        }
    }

    pub fn binary(self) -> PathBuf {
        match self {
            Kind::Ferroprom => {
                env_or("RW_FERROPROM", env!("CARGO_BIN_EXE_ferroprom").to_string()).into()
            }
            Kind::Prometheus => env_or("RW_PROMETHEUS", "/usr/bin/prometheus".to_string()).into(),
            Kind::Victoria => env_or("RW_VICTORIA", "/usr/bin/victoria-metrics".to_string()).into(),
        }
    }

    fn ready_path(self) -> &'static str {
        match self {
            Kind::Victoria => "/health",
            _ => "/-/ready",
        }
    }

    pub fn version(self) -> String {
        let flag = match self {
            Kind::Victoria => "-version",
            _ => "--version",
        };
        let first_line = |c: &mut Command| {
            c.output()
                .ok()
                .map(|o| {
                    let all = [o.stdout, o.stderr].concat();
                    let s = String::from_utf8_lossy(&all);
                    s.lines().next().unwrap_or("").trim().to_string()
                })
                .unwrap_or_default()
        };
        let v = first_line(Command::new(self.binary()).arg(flag));
        if !v.is_empty() {
            return v;
        }
        // Debian's VictoriaMetrics prints no version: ask the package.
        let owner = first_line(Command::new("dpkg-query").arg("-S").arg(self.binary()));
        match owner.split_once(':') {
            Some((pkg, _)) => {
                let ver = first_line(Command::new("dpkg-query").args(["-W", "-f=${Version}", pkg]));
                format!("{pkg} {ver} (Debian package)")
            }
            None => "version unknown".into(),
        }
    }
}

/// A server process in its own temp dir, killed by PID on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    /// The data dir (`--storage.tsdb.path`, `-storageDataPath`).
    pub data: PathBuf,
    /// Flags after the ones every run gets, kept for restarts.
    extra: Vec<String>,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `kind` with only the flags needed to take remote writes.
    pub fn start(kind: Kind) -> Server {
        Server::start_with(kind, &[])
    }

    /// Starts `kind` with `extra` flags appended, and waits until it is
    /// ready.
    pub fn start_with(kind: Kind, extra: &[String]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let port = free_port();
        let cfg = dir.path().join("config.yml");
        // No scrape jobs: every sample comes in through remote write.
        std::fs::write(&cfg, "global:\n  scrape_interval: 15s\n").expect("config");
        let child = Server::spawn(kind, dir.path(), &data, port, extra);
        let mut s = Server {
            child,
            port,
            data,
            extra: extra.to_vec(),
            dir,
        };
        s.wait_ready(kind);
        s
    }

    /// Starts `kind` on `data` and `port`, logging to `server.log` in `dir`
    /// (appended to, so a restart keeps the first run's log).
    fn spawn(kind: Kind, dir: &Path, data: &Path, port: u16, extra: &[String]) -> Child {
        let cfg = dir.join("config.yml");
        let mut cmd = Command::new(kind.binary());
        match kind {
            Kind::Ferroprom | Kind::Prometheus => {
                cmd.arg(format!("--config.file={}", cfg.display()))
                    .arg(format!("--storage.tsdb.path={}", data.display()))
                    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                    .arg("--web.enable-remote-write-receiver");
            }
            Kind::Victoria => {
                cmd.arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                    .arg(format!("-storageDataPath={}", data.display()));
            }
        }
        cmd.args(extra);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .expect("log file");
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        cmd.spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", kind.name()))
    }

    /// `kill -9`s the server, starts it again on the same data and port, and
    /// returns the time from spawning to its first ready answer.
    pub fn crash_and_restart(&mut self, kind: Kind) -> Duration {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(to) = std::env::var("RW_KEEP_CRASHED") {
            // A copy of the crashed data dir, to profile a restart by hand.
            let to = Path::new(&to).join(kind.name());
            let _ = std::fs::remove_dir_all(&to);
            let ok = Command::new("cp")
                .arg("-a")
                .arg(&self.data)
                .arg(&to)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "copying {} to {}", self.data.display(), to.display());
        }
        let start = Instant::now();
        self.child = Server::spawn(kind, self.dir.path(), &self.data, self.port, &self.extra);
        self.wait_ready(kind);
        start.elapsed()
    }

    fn wait_ready(&mut self, kind: Kind) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "{} exited with {st} before ready; log:\n{}",
                    kind.name(),
                    self.log()
                );
            }
            if let Ok((200, _)) =
                Conn::open(self.port).and_then(|mut c| c.request("GET", kind.ready_path(), b""))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} not ready within 60 s", kind.name());
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// One API call on a fresh connection: status and body.
    pub fn call(&self, method: &str, path: &str) -> io::Result<(u16, String)> {
        Conn::open(self.port)?.call(method, path)
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.child.id())).unwrap_or_default()
    }

    /// A `kB` figure of `/proc/<pid>/status`, in bytes.
    fn status_bytes(&self, field: &str) -> u64 {
        self.proc_file("status")
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// Peak resident set size in bytes.
    pub fn peak_rss(&self) -> u64 {
        self.status_bytes("VmHWM:")
    }

    /// Starts a new peak: the kernel sets `VmHWM` back to the current
    /// RSS (`clear_refs` value 5), so what follows has a peak of its own.
    pub fn reset_peak_rss(&self) {
        let path = format!("/proc/{}/clear_refs", self.child.id());
        if let Err(e) = std::fs::write(&path, "5") {
            eprintln!("cannot reset the peak RSS through {path}: {e}");
        }
    }

    /// Resident set size now, in bytes.
    pub fn rss(&self) -> u64 {
        self.status_bytes("VmRSS:")
    }

    /// User + system CPU seconds used so far.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = self.proc_file("stat");
        // Fields after the parenthesised command name; utime and stime are
        // the 14th and 15th fields of the whole line.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(11) + ticks(12)) / hz
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytes in use under `p`, as `du` counts them: head chunk segments are
/// preallocated sparse files whose length says nothing.
pub fn dir_size(p: &Path) -> u64 {
    dir_sum(p, &|m| std::os::unix::fs::MetadataExt::blocks(m) * 512)
}

/// The sum of the lengths of the files under `p`: for directories without
/// preallocated files, the data itself without the file system's rounding
/// up to whole blocks (which would dwarf small parts).
pub fn dir_len(p: &Path) -> u64 {
    dir_sum(p, &|m| m.len())
}

fn dir_sum(p: &Path, size: &dyn Fn(&std::fs::Metadata) -> u64) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_sum(&e.path(), size),
            Ok(m) => size(&m),
            Err(_) => 0,
        })
        .sum()
}
