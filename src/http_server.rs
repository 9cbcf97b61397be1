//! The HTTP listener and connection loop: a 4096-deep listen backlog, a
//! cap on open connections, a header read timeout and a whole-request
//! read timeout, so slow or idle clients cannot hold the server.
//!
//! `axum::serve` exposes none of these, hence this loop; it serves
//! HTTP/1.1 and h2c (with upgrades) and shuts down gracefully as
//! `axum::serve` does.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Sleep;

/// Pending connections the kernel queues before `accept`, as Prometheus.
const BACKLOG: u32 = 4096;

/// Longest time a client may take to send a request's headers (also the
/// longest a kept-alive connection may stay idle). Never longer than the
/// read timeout, which in Prometheus covers the headers too.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The limits `serve` enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The whole request, body included, must be read within this.
    pub read_timeout: Duration,
    /// Open connections at most; 0 means no cap.
    pub max_connections: usize,
}

/// Binds `addr` with the listen backlog Prometheus uses (the kernel may
/// lower it to `net.core.somaxconn`).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind`: a restart may rebind while old connections
    // linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting, lets open connections finish their requests and returns.
///
/// At the connection cap, a new connection is accepted only once an open
/// one closes, as Prometheus's `netutil.LimitListener` (extra clients wait
/// in the backlog). Unlike it, the oldest connection with no request in
/// progress (idle keep-alive, or still sending its headers) is closed to
/// make room, so clients that connect and stall cannot lock everyone out
/// until the header timeout frees them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let header_timeout = HEADER_READ_TIMEOUT.min(limits.read_timeout);
    // "No cap" is a cap no process reaches (file descriptors run out
    // first); a number, so shutdown can wait for every permit.
    let cap = match limits.max_connections {
        0 => u32::MAX >> 4,
        n => u32::try_from(n).unwrap_or(u32::MAX >> 4),
    };
    let permits = Arc::new(Semaphore::new(cap as usize));
    let conns = Arc::new(Conns::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                conns.evict_oldest_idle();
                tokio::select! {
                    () = &mut shutdown => break,
                    p = Arc::clone(&permits).acquire_owned() => p.expect("semaphore never closed"),
                }
            }
        };
        let slot = conns.register();
        let router = router.clone();
        let conns = Arc::clone(&conns);
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            serve_connection(
                stream,
                router,
                &slot,
                limits.read_timeout,
                header_timeout,
                &mut stop,
            )
            .await;
            conns.remove(&slot);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection task holds a permit until it ends.
    let _ = permits.acquire_many(cap).await;
    Ok(())
}

/// As `axum::serve`: connection errors concern one client; others (such
/// as running out of file descriptors) are logged and retried after a
/// pause so the loop does not spin.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept error");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    slot: &Arc<Slot>,
    read_timeout: Duration,
    header_timeout: Duration,
    stop: &mut watch::Receiver<bool>,
) {
    // hyper's protocol detection waits for the first bytes without a
    // timeout, so a client that connects and sends nothing is bounded here.
    // Eviction and shutdown close it too, without waiting for the timeout.
    let mut first = [0u8; 1];
    tokio::select! {
        peeked = tokio::time::timeout(header_timeout, stream.peek(&mut first)) => match peeked {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        },
        () = slot.evict.notified() => return,
        _ = stop.wait_for(|stopping| *stopping) => return,
    }
    let conn_slot = Arc::clone(slot);
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = Busy::new(&conn_slot);
        let deadline = tokio::time::sleep(read_timeout);
        let req = req.map(|b| {
            Body::new(ReadDeadline {
                inner: b,
                deadline: Box::pin(deadline),
            })
        });
        let call = tower::ServiceExt::oneshot(router.clone(), req);
        async move {
            let resp = call.await?;
            // Busy until the response body is fully written, so a
            // streaming answer is never taken for an idle connection.
            Ok::<_, std::convert::Infallible>(resp.map(|b| {
                Body::new(b.map_frame(move |f| {
                    let _ = &busy;
                    f
                }))
            }))
        }
    });
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder.http2().enable_connect_protocol();
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
                return;
            }
            // Dropping the connection closes it.
            () = slot.evict.notified() => return,
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The open connections, oldest first, for eviction at the cap.
#[derive(Default)]
struct Conns {
    next_id: AtomicUsize,
    open: Mutex<BTreeMap<usize, Arc<Slot>>>,
}

/// One open connection: requests in progress, and how to close it.
struct Slot {
    id: usize,
    busy: AtomicUsize,
    evict: Notify,
}

impl Conns {
    fn register(&self) -> Arc<Slot> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            id,
            busy: AtomicUsize::new(0),
            evict: Notify::new(),
        });
        self.open.lock().insert(id, Arc::clone(&slot));
        slot
    }

    fn remove(&self, slot: &Slot) {
        self.open.lock().remove(&slot.id);
    }

    /// Closes the oldest connection with no request in progress, if any.
    fn evict_oldest_idle(&self) {
        let mut open = self.open.lock();
        let idle = open
            .values()
            .find(|s| s.busy.load(Ordering::Acquire) == 0)
            .map(|s| s.id);
        if let Some(slot) = idle.and_then(|id| open.remove(&id)) {
            // Stores a permit, so the task sees it even if not yet waiting.
            slot.evict.notify_one();
        }
    }
}

/// Marks its connection busy while a request is in progress.
struct Busy(Arc<Slot>);

impl Busy {
    fn new(slot: &Arc<Slot>) -> Busy {
        slot.busy.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(slot))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request body that fails once the read timeout has passed since the
/// request arrived, as Go's `http.Server.ReadTimeout`.
struct ReadDeadline {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
}

/// The error a request body read past `--web.read-timeout` fails with.
#[derive(Debug, thiserror::Error)]
#[error("request body not read within --web.read-timeout")]
struct ReadTimedOut;

impl HttpBody for ReadDeadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(ReadTimedOut.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
