//! After a burst of queries the server hands the memory they warmed back
//! to the kernel (`src/alloc/`: jemalloc's decay, purged by its background
//! thread): resident memory falls back once the queries stop.

use crate::common;

use std::time::{Duration, Instant};

use common::Server;

/// Each holds 864,000 points (~14 MB) in one subquery buffer.
const WIDE: &str = "quantile_over_time(0.5, vector(1)[10d:1s])";

fn rss_anon_bytes(s: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("RssAnon:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

#[test]
fn memory_warmed_by_queries_is_returned_once_they_stop() {
    let s = Server::start(Some("global:\n  scrape_interval: 1h\n"), &[]);
    let idle = rss_anon_bytes(&s);
    let mut warm = 0;
    // Several at once, as a dashboard's panels arrive; the resident size is
    // read while the burst still holds its memory.
    std::thread::scope(|scope| {
        let queries: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..3 {
                        let (code, body) = s.get("/api/v1/query", &[("query", WIDE)]);
                        assert_eq!(code, 200, "{body}");
                    }
                })
            })
            .collect();
        while !queries.iter().all(|q| q.is_finished()) {
            warm = warm.max(rss_anon_bytes(&s));
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    assert!(
        warm > idle + (20 << 20),
        "the queries never held 20 MiB ({idle} → {warm} bytes): the test shows nothing"
    );
    // The pages decay for 2 s, then the background thread returns them;
    // give a loaded machine room, and fail with what was seen.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = rss_anon_bytes(&s);
        if now < idle + (warm - idle) / 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "resident: {idle} bytes before the queries, up to {warm} during them, \
             still {now} 30 s after"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The next query is answered as before.
    let r = s.api("/api/v1/query", &[("query", WIDE)]);
    assert_eq!(r["result"][0]["value"][1], "1");
}
