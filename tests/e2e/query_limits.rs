//! `--query.max-memory`: a query whose heap passes the budget stops with
//! `422 execution`, whatever allocated it, and the server answers the next
//! query; without the budget the same query succeeds.

use crate::common;

use common::Server;

/// Holds 864,000 points (~14 MB) in one subquery buffer: far below the
/// default `--query.max-samples`, far above a 4 MiB budget.
const BIG: &str = "quantile_over_time(0.5, vector(1)[10d:1s])";

#[test]
fn a_query_over_its_memory_budget_gets_422_and_the_server_goes_on() {
    let s = Server::start(
        Some("global:\n  scrape_interval: 1h\n"),
        &["--query.max-memory=4MiB"],
    );
    let (code, body) = s.get("/api/v1/query", &[("query", BIG)]);
    assert_eq!(code, 422, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["errorType"], "execution", "{body}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("too much memory: more than 4194304 bytes"),
        "{body}"
    );
    // The budget is per query: a small one right after is answered.
    let r = s.api("/api/v1/query", &[("query", "vector(1)")]);
    assert_eq!(r["result"][0]["value"][1], "1");
    let flags = s.api("/api/v1/status/flags", &[]);
    assert_eq!(flags["query.max-memory"], "4MiB");
}

#[test]
fn without_a_budget_the_same_query_is_answered() {
    let s = Server::start(
        Some("global:\n  scrape_interval: 1h\n"),
        &["--query.max-memory=0"],
    );
    let r = s.api("/api/v1/query", &[("query", BIG)]);
    assert_eq!(r["result"][0]["value"][1], "1");
}
