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
    async fn dropping_the_future_sets_the_flag() {
        let (tx, rx) = std::sync::mpsc::channel();
        let job = run_cancellable(move |cancel| {
            while !cancel.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = tx.send(());
        });
        assert!(tokio::time::timeout(Duration::from_millis(50), job)
            .await
            .is_err());
        let seen = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
            .await
            .unwrap();
        assert_eq!(seen, Ok(()));
        // Not set while a job that runs to its end is running.
        assert!(!run_cancellable(|c| c.load(Ordering::Relaxed))
            .await
            .unwrap());
    }
}
