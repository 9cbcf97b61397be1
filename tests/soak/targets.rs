//! Synthetic scrape targets on loopback: exporters of an application's pods,
//! each pod a group of counters, gauges and a histogram whose values move
//! with time. Pods are replaced (a new `pod` label, so new series) at the
//! plan's churn rate. Bodies are rendered per request from the clock, so
//! every scrape sees current values.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Series one pod exposes: 4 request counters, a 10-bucket histogram with
/// its sum and count, and 4 gauges.
pub const SERIES_PER_GROUP: usize = 20;

const BUCKETS: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];
/// Share of requests at or under each bucket's bound.
const CDF: [f64; 10] = [0.02, 0.08, 0.2, 0.45, 0.7, 0.88, 0.95, 0.98, 0.995, 1.0];
const REQUESTS: [(&str, &str, f64); 4] = [
    ("GET", "200", 10.0),
    ("POST", "200", 3.0),
    ("GET", "500", 0.1),
    ("POST", "500", 0.05),
];

struct Shared {
    start: Instant,
    groups: usize,
    targets: usize,
    churn_per_sec: f64,
    stop: AtomicBool,
    scrapes: AtomicU64,
}

/// The running targets. Their threads stop when this is dropped.
pub struct Targets {
    ports: Vec<u16>,
    shared: Arc<Shared>,
}

impl Targets {
    /// Serves `series` (a multiple of [`SERIES_PER_GROUP`]) over `targets`
    /// listeners, replacing `churn_per_sec` of the pods per second.
    pub fn start(series: usize, targets: usize, churn_per_sec: f64) -> Targets {
        let shared = Arc::new(Shared {
            start: Instant::now(),
            groups: series / SERIES_PER_GROUP,
            targets,
            churn_per_sec,
            stop: AtomicBool::new(false),
            scrapes: AtomicU64::new(0),
        });
        let ports = (0..targets)
            .map(|k| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let port = listener.local_addr().unwrap().port();
                let s = Arc::clone(&shared);
                std::thread::spawn(move || accept(listener, k, &s));
                port
            })
            .collect();
        Targets { ports, shared }
    }

    /// `host:port` of each target, for a scrape config.
    pub fn addrs(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect()
    }

    /// Scrapes served so far.
    pub fn scrapes(&self) -> u64 {
        self.shared.scrapes.load(Ordering::Relaxed)
    }

    /// Pods replaced so far (each churn gives a pod a new label value).
    pub fn churned(&self) -> u64 {
        self.shared.churned(self.shared.start.elapsed())
    }
}

impl Drop for Targets {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for p in &self.ports {
            // Wake each accept loop so it sees `stop`.
            let _ = TcpStream::connect(("127.0.0.1", *p));
        }
    }
}

impl Shared {
    fn churned(&self, elapsed: Duration) -> u64 {
        (elapsed.as_secs_f64() * self.churn_per_sec * self.groups as f64) as u64
    }

    /// How many times pod `g` has been replaced: churn walks the pods in
    /// order, so the first `churned % groups` are one generation ahead.
    fn generation(&self, g: usize, churned: u64) -> u64 {
        let groups = self.groups as u64;
        churned / groups + u64::from((g as u64) < churned % groups)
    }
}

fn accept(listener: TcpListener, target: usize, s: &Arc<Shared>) {
    for conn in listener.incoming() {
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(conn) = conn else { continue };
        let s = Arc::clone(s);
        std::thread::spawn(move || serve(conn, target, &s));
    }
}

/// Answers requests on one keep-alive connection until the peer closes it.
fn serve(conn: TcpStream, target: usize, s: &Shared) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(120)));
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" || line == "\n" => break,
                Ok(_) => {}
            }
        }
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        s.scrapes.fetch_add(1, Ordering::Relaxed);
        let body = if request_line.contains(" /canary") {
            canary(s.start.elapsed())
        } else {
            render(s, target)
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if conn.write_all(head.as_bytes()).is_err() || conn.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

/// The small exporter a reload adds and removes.
fn canary(elapsed: Duration) -> String {
    format!(
        "# TYPE canary_probe_success gauge\ncanary_probe_success 1\n\
         # TYPE canary_probe_duration_seconds gauge\ncanary_probe_duration_seconds {}\n",
        0.01 + (elapsed.as_secs() % 10) as f64 / 1000.0
    )
}

/// The exposition of target `target`: every pod `g` with
/// `g % targets == target`, family by family.
fn render(s: &Shared, target: usize) -> String {
    let elapsed = s.start.elapsed();
    let t = elapsed.as_secs_f64();
    let churned = s.churned(elapsed);
    let pods: Vec<(usize, String)> = (target..s.groups)
        .step_by(s.targets)
        .map(|g| {
            let gen = s.generation(g, churned);
            (
                g,
                format!("namespace=\"ns-{}\",pod=\"app-{g}-{gen}\"", g % 10),
            )
        })
        .collect();
    let mut b = String::with_capacity(pods.len() * SERIES_PER_GROUP * 110);

    b.push_str("# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n");
    for (g, pod) in &pods {
        let load = 1.0 + (g % 5) as f64;
        for (method, code, rate) in REQUESTS {
            let _ = writeln!(
                b,
                "http_requests_total{{{pod},handler=\"/api/v1/h{}\",method=\"{method}\",code=\"{code}\"}} {}",
                g % 8,
                (t * rate * load).floor()
            );
        }
    }

    b.push_str("# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n");
    for (g, pod) in &pods {
        let count = (t * 13.0 * (1.0 + (g % 5) as f64)).floor();
        let handler = format!("handler=\"/api/v1/h{}\"", g % 8);
        for (le, share) in BUCKETS.iter().zip(CDF) {
            let _ = writeln!(
                b,
                "http_request_duration_seconds_bucket{{{pod},{handler},le=\"{le}\"}} {}",
                (count * share).floor()
            );
        }
        let _ = writeln!(
            b,
            "http_request_duration_seconds_sum{{{pod},{handler}}} {}\nhttp_request_duration_seconds_count{{{pod},{handler}}} {count}",
            count * 0.125
        );
    }

    b.push_str("# HELP process_resident_memory_bytes Resident memory.\n# TYPE process_resident_memory_bytes gauge\n");
    for (g, pod) in &pods {
        let wobble = ((t / 60.0 + *g as f64).sin() * 4096.0).round();
        let _ = writeln!(
            b,
            "process_resident_memory_bytes{{{pod}}} {}",
            50_000_000.0 + wobble * 256.0
        );
    }
    b.push_str("# HELP worker_queue_length Jobs waiting.\n# TYPE worker_queue_length gauge\n");
    for (g, pod) in &pods {
        let _ = writeln!(
            b,
            "worker_queue_length{{{pod}}} {}",
            (t as usize * 7 + g) % 50
        );
    }
    b.push_str("# HELP worker_temperature_celsius Sensor reading.\n# TYPE worker_temperature_celsius gauge\n");
    for (g, pod) in &pods {
        let _ = writeln!(
            b,
            "worker_temperature_celsius{{{pod}}} {:.2}",
            40.0 + 10.0 * (t / 30.0 + *g as f64 / 7.0).cos()
        );
    }
    b.push_str("# HELP app_build_info Build of the running binary.\n# TYPE app_build_info gauge\n");
    for (g, pod) in &pods {
        let _ = writeln!(b, "app_build_info{{{pod},version=\"1.{}.0\"}} 1", g % 3);
    }
    b
}

#[test]
fn every_pod_is_served_once_with_its_series() {
    let s = Shared {
        start: Instant::now(),
        groups: 10,
        targets: 3,
        churn_per_sec: 0.0,
        stop: AtomicBool::new(false),
        scrapes: AtomicU64::new(0),
    };
    let series: usize = (0..3)
        .map(|k| {
            render(&s, k)
                .lines()
                .filter(|l| !l.starts_with('#'))
                .count()
        })
        .sum();
    assert_eq!(series, 10 * SERIES_PER_GROUP);
    // Churn walks the pods in order and wraps around.
    assert_eq!((s.generation(0, 12), s.generation(1, 12)), (2, 2));
    assert_eq!((s.generation(2, 12), s.generation(9, 12)), (1, 1));
}
