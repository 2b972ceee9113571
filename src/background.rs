//! Luna's long-running background tasks (the certificate manager, the OAuth clean-up): one
//! owner, one cancellation token, and a bounded drain when Luna stops, instead of tasks
//! aborted one by one.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Default)]
pub struct BackgroundTasks {
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl BackgroundTasks {
    /// Runs `task` until it ends or the set is stopped (then the task is dropped where it
    /// waits: every one of them only waits on timers and the network).
    pub fn spawn(&self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => tracing::debug!(task = name, "stopped"),
                () = task => tracing::debug!(task = name, "ended"),
            }
        });
    }

    /// Stops every task and waits for them, at most `limit`.
    pub async fn stop(self, limit: Duration) {
        self.cancel.cancel();
        self.tracker.close();
        if tokio::time::timeout(limit, self.tracker.wait()).await.is_err() {
            tracing::warn!("background tasks did not stop in time");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stopping_ends_every_task_and_waits_for_them() {
        let tasks = BackgroundTasks::default();
        let (dropped, mut told) = tokio::sync::mpsc::channel::<()>(1);
        tasks.spawn("forever", async move {
            let _guard = dropped;
            std::future::pending::<()>().await;
        });
        tasks.stop(Duration::from_secs(1)).await;
        assert!(told.recv().await.is_none(), "the task was dropped before stop returned");
    }
}
