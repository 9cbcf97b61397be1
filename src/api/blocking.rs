//! Request work on the blocking pool that stops when its request goes away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::task::JoinError;

/// Runs `job` on tokio's blocking pool, handing it a cancel flag that is
/// set when the returned future is dropped. axum drops a handler's future
/// when the client disconnects; a job that watches the flag (the PromQL
/// engine, remote reads) then stops instead of working on for nobody. The
/// flag is also set once the job has answered, when nothing looks at it
/// any more. The error is `spawn_blocking`'s: the job panicked, or the
/// runtime is shutting down.
pub(super) async fn run_cancellable<T, F>(job: F) -> Result<T, JoinError>
where
    T: Send + 'static,
    F: FnOnce(Arc<AtomicBool>) -> T + Send + 'static,
{
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(Arc::clone(&cancel));
    tokio::task::spawn_blocking(move || job(cancel)).await
}

/// Sets its flag when dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread")]
    async fn the_flag_is_set_when_the_future_is_dropped() {
        let (flag_tx, flag_rx) = std::sync::mpsc::channel();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let mut job = Box::pin(run_cancellable(move |cancel| {
            let _ = flag_tx.send(cancel);
            let _ = wait.recv();
        }));
        // Polled, so the job started; it is still waiting.
        assert!(tokio::time::timeout(Duration::from_millis(10), &mut job)
            .await
            .is_err());
        let flag = flag_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(!flag.load(Ordering::Relaxed));
        drop(job);
        assert!(flag.load(Ordering::Relaxed));
        release.send(()).unwrap();
    }
}
