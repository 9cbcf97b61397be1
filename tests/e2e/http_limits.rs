//! HTTP server limits: slow or silent clients are closed by the header
//! and read timeouts, and cannot keep a normal query from answering even
//! beyond `--web.max-connections`.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Server;

/// Raises this process's open-file limit (inherited by the server it
/// starts) towards `want`; returns the limit in effect.
fn raise_nofile(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        lim.rlim_cur
    }
}

/// Seconds until the server closes `stream`, reading and discarding what
/// it sends; panics after `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return start.elapsed(),
            Err(e) => panic!("connection still open after {:?}: {e}", start.elapsed()),
        }
    }
}

#[test]
fn unfinished_headers_and_bodies_are_closed_after_the_timeout() {
    // The header timeout is 30s or the read timeout if less.
    let server = Server::start(None, &["--web.read-timeout=2s"]);
    let addr = format!("127.0.0.1:{}", server.port);

    // Headers started, never finished.
    let mut partial = TcpStream::connect(&addr).unwrap();
    partial
        .write_all(b"GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // Connected, nothing sent.
    let mut silent = TcpStream::connect(&addr).unwrap();
    // Headers complete, body never finished.
    let mut body = TcpStream::connect(&addr).unwrap();
    body.write_all(
        b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nquery=u",
    )
    .unwrap();

    for (name, s) in [
        ("partial headers", &mut partial),
        ("silent", &mut silent),
        ("partial body", &mut body),
    ] {
        let took = closed_within(s, Duration::from_secs(10));
        assert!(
            took < Duration::from_secs(8),
            "{name}: closed after {took:?}"
        );
    }
    // Still serving.
    assert_eq!(server.get("/api/v1/query", &[("query", "1")]).0, 200);
}

#[test]
fn slow_clients_do_not_keep_a_query_waiting() {
    // 1,000 slow clients need that many descriptors here and up to the
    // cap (plus storage files) in the server.
    let nofile = raise_nofile(4096);
    let slow = if nofile >= 2200 { 1000 } else { 200 };
    let cap = if slow == 1000 { 512 } else { 64 };
    let server = Server::start(None, &[&format!("--web.max-connections={cap}")]);
    let addr = format!("127.0.0.1:{}", server.port);

    // The kernel completes handshakes up to the backlog (4096), so all
    // connect although at most `cap` are accepted.
    let mut clients: Vec<TcpStream> = (0..slow)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let dripper = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            // One header byte a second each; the header never ends.
            let head = b"GET /api/v1/query?query=up HTTP/1.1\r\nX-Slow: ";
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let byte = head.get(i).copied().unwrap_or(b'a');
                // Every other client stays silent (sends nothing at all).
                for c in clients.iter_mut().step_by(2) {
                    // Closed ones (evicted) fail; that is expected.
                    let _ = c.write_all(&[byte]);
                }
                i += 1;
                for _ in 0..10 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };
    std::thread::sleep(Duration::from_secs(3));

    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        // A fresh connection each time, as a new client.
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let start = Instant::now();
        let r = client
            .get(server.url("/api/v1/query"))
            .query(&[("query", "vector(1)")])
            .send()
            .expect("query under slow clients");
        let took = start.elapsed();
        assert_eq!(r.status().as_u16(), 200);
        worst = worst.max(took);
    }
    // The cap holds: the server has about `cap` sockets open, not one per
    // slow client (Linux only; the rest is the listener and self-scrape).
    let fds = format!("/proc/{}/fd", server.child.id());
    if let Ok(dir) = std::fs::read_dir(&fds) {
        let sockets = dir
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|l| l.to_string_lossy().starts_with("socket:"))
            .count();
        assert!(sockets <= cap + 16, "{sockets} sockets open, cap {cap}");
    }
    stop.store(true, Ordering::Relaxed);
    dripper.join().unwrap();
    eprintln!("{slow} slow clients, cap {cap}: slowest query {worst:?}");
    assert!(
        worst < Duration::from_secs(1),
        "query took {worst:?} under {slow} slow clients"
    );
}
