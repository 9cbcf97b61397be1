//! Sending one request until the receiver takes it, refuses it, or the
//! queue is aborted, backing off between attempts as Prometheus 2.42's
//! `sendWriteRequestWithBackoff`: the first retry waits `min_backoff`,
//! each later one twice the previous wait, capped at `max_backoff`; a
//! receiver's `Retry-After` replaces the wait and the doubling continues
//! from it. Samples and metadata go through the same loop.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;

use super::backoff::Backoff;
use super::client::{Client, Outcome};
use crate::metrics::Histogram;

/// How a delivery ended.
#[derive(Debug, PartialEq)]
pub(crate) enum Delivered {
    /// Acknowledged (2xx); `took` is the successful attempt's duration.
    Sent { took: Duration },
    /// The receiver will never take it.
    Refused { status: u16, why: String },
    /// The queue was aborted first; the request was not acknowledged.
    Aborted,
}

/// One failed attempt that will be retried, as told to the caller.
pub(crate) struct RetryNote<'a> {
    /// 1 for the first failure of this request.
    pub(crate) attempt: u32,
    pub(crate) why: &'a str,
    pub(crate) wait: Duration,
}

/// Sends `body` until it is acknowledged or refused, or `abort` turns
/// true. Every attempt's duration goes into `duration`; `on_retry` is
/// called before each wait.
pub(crate) async fn deliver(
    client: &Client,
    body: &Bytes,
    backoff: (Duration, Duration),
    abort: &mut watch::Receiver<bool>,
    duration: &Histogram,
    mut on_retry: impl FnMut(RetryNote<'_>),
) -> Delivered {
    let mut backoff = Backoff::new(backoff.0, backoff.1);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let started = Instant::now();
        let outcome = tokio::select! {
            o = client.send(body.clone()) => o,
            _ = abort.wait_for(|a| *a) => return Delivered::Aborted,
        };
        let took = started.elapsed();
        duration.observe(took.as_secs_f64());
        match outcome {
            Outcome::Sent => return Delivered::Sent { took },
            Outcome::Refused { status, why } => return Delivered::Refused { status, why },
            Outcome::Retry { why, retry_after } => {
                let wait = backoff.next_delay(retry_after);
                on_retry(RetryNote {
                    attempt,
                    why: &why,
                    wait,
                });
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = abort.wait_for(|a| *a) => return Delivered::Aborted,
                }
            }
        }
    }
}
