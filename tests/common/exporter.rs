//! A test exporter: serves whatever body is currently set at `/metrics`
//! (or any path), can fail, hang or go away. Plain std threads, no runtime.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the exporter answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this body and content type.
    Ok { body: String, content_type: String },
    /// This status code with a short body.
    Status(u16),
    /// Accept the request and never answer.
    Hang,
}

struct Shared {
    reply: Mutex<Reply>,
    requests: AtomicU64,
    last_request: Mutex<String>,
    stop: AtomicBool,
}

/// A running exporter on 127.0.0.1.
pub struct Exporter {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Exporter {
    pub fn start(body: &str) -> Exporter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            reply: Mutex::new(Reply::Ok {
                body: body.to_string(),
                content_type: "text/plain; version=0.0.4".into(),
            }),
            requests: AtomicU64::new(0),
            last_request: Mutex::new(String::new()),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = Arc::clone(&s);
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        Exporter { port, shared }
    }

    /// `host:port` to put in a scrape config.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn set_body(&self, body: &str) {
        *self.shared.reply.lock().unwrap() = Reply::Ok {
            body: body.to_string(),
            content_type: "text/plain; version=0.0.4".into(),
        };
    }

    pub fn set_reply(&self, r: Reply) {
        *self.shared.reply.lock().unwrap() = r;
    }

    /// A second handle that can change the reply from another thread.
    pub fn clone_handle(&self) -> ExporterHandle {
        ExporterHandle(Arc::clone(&self.shared))
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The request head (request line and headers) of the last scrape.
    pub fn last_request(&self) -> String {
        self.shared.last_request.lock().unwrap().clone()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, s: &Shared) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push_str(&line);
        }
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        s.requests.fetch_add(1, Ordering::Relaxed);
        *s.last_request.lock().unwrap() = head;
        let reply = s.reply.lock().unwrap().clone();
        let ok = match reply {
            Reply::Ok { body, content_type } => write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            Reply::Status(code) => write!(
                conn,
                "HTTP/1.1 {code} Oops\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\noops"
            ),
            Reply::Hang => {
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
        };
        if ok.is_err() {
            return;
        }
    }
}

/// Changes an exporter's body from another thread.
pub struct ExporterHandle(Arc<Shared>);

impl ExporterHandle {
    pub fn set_body(&self, body: &str) {
        *self.0.reply.lock().unwrap() = Reply::Ok {
            body: body.to_string(),
            content_type: "text/plain; version=0.0.4".into(),
        };
    }
}
