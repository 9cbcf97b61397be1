//! A small authoritative DNS server on loopback UDP for the dns_sd tests:
//! answers from a table the test edits while it runs, NXDOMAIN for names
//! it does not know, SERVFAIL for names the test marks as failing. Plain
//! std threads; built on hickory-proto's message types.

use std::collections::HashMap;
use std::net::UdpSocket;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

/// What the server answers for one name and type.
#[derive(Clone, Debug)]
pub enum Answer {
    Records(Vec<RData>),
    ServFail,
}

type Table = HashMap<(String, RecordType), Answer>;

/// A running DNS server; stopped on drop.
pub struct DnsServer {
    pub port: u16,
    table: Arc<Mutex<Table>>,
    queries: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

/// `name` made absolute and lower-case, the table's key.
fn key(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    if n.ends_with('.') {
        n
    } else {
        format!("{n}.")
    }
}

/// A domain name for record data.
pub fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

impl DnsServer {
    /// On a free port.
    pub fn start() -> DnsServer {
        Self::start_on(0).unwrap()
    }

    /// On `port` of 127.0.0.1 (53 for resolvers that cannot be told a
    /// port); the error when it cannot be bound.
    pub fn start_on(port: u16) -> std::io::Result<DnsServer> {
        let socket = UdpSocket::bind(("127.0.0.1", port))?;
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let table = Arc::new(Mutex::new(Table::new()));
        let queries = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, q, s) = (table.clone(), queries.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                q.fetch_add(1, Ordering::Relaxed);
                if let Some(reply) = answer(&buf[..n], &t.lock().unwrap()) {
                    let _ = socket.send_to(&reply, peer);
                }
            }
        });
        Ok(DnsServer {
            port,
            table,
            queries,
            stop,
        })
    }

    /// `ip:port` for the resolver.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sets the answer for `name` and `t`.
    pub fn set(&self, name: &str, t: RecordType, a: Answer) {
        self.table.lock().unwrap().insert((key(name), t), a);
    }

    /// Forgets `name` and `t`: NXDOMAIN from now on (unless another type
    /// of the name is known, then an empty answer).
    pub fn remove(&self, name: &str, t: RecordType) {
        self.table.lock().unwrap().remove(&(key(name), t));
    }

    /// Queries received so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The reply to one request datagram; `None` for one that does not parse.
fn answer(request: &[u8], table: &Table) -> Option<Vec<u8>> {
    let req = Message::from_vec(request).ok()?;
    let mut resp = Message::new(req.metadata.id, MessageType::Response, req.metadata.op_code);
    resp.metadata.authoritative = true;
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    let q = req.queries.first()?.clone();
    resp.add_query(q.clone());
    let k = key(&q.name.to_string());
    match table.get(&(k.clone(), q.query_type)) {
        Some(Answer::Records(rs)) => {
            for r in rs {
                resp.add_answer(Record::from_rdata(q.name.clone(), 5, r.clone()));
            }
        }
        Some(Answer::ServFail) => resp.metadata.response_code = ResponseCode::ServFail,
        None if table.keys().any(|(n, _)| *n == k) => {}
        None => resp.metadata.response_code = ResponseCode::NXDomain,
    }
    resp.to_vec().ok()
}
