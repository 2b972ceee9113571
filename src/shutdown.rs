//! Orderly shutdown.
//!
//! pingora owns the signals, but its own sequence is built for proxies: SIGINT exits at
//! once, and SIGTERM waits a fixed grace period. Luna must stop its actor tree (and so its
//! child processes) and remove its API socket first, so it hands pingora a
//! [`LunaSignals`] watcher that, on SIGTERM, SIGINT or `POST /api/supervisor/shutdown`:
//!
//! 1. asks the core to drain ([`DrainListener::requested`]),
//! 2. waits until it reports done, at most [`DRAIN_TIMEOUT`] (logged when it runs out),
//! 3. then lets pingora run its graceful shutdown (short grace period for in-flight requests).

use std::time::Duration;

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Upper bound for stopping the actor tree and the API; child processes get 5 s of that.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

/// Creates the two ends of the drain.
pub fn drain() -> (DrainTrigger, DrainListener) {
    let (requested_tx, requested_rx) = watch::channel(false);
    let (done_tx, done_rx) = watch::channel(false);
    (DrainTrigger { requested: requested_tx, done: done_rx }, DrainListener { requested: requested_rx, done: done_tx })
}

/// Held by whoever may start a shutdown (the signal watcher, the API).
#[derive(Clone)]
pub struct DrainTrigger {
    requested: watch::Sender<bool>,
    done: watch::Receiver<bool>,
}

impl DrainTrigger {
    pub fn request(&self) {
        self.requested.send_replace(true);
    }

    async fn requested(&self) {
        let mut requested = self.requested.subscribe();
        let _ = requested.wait_for(|flag| *flag).await;
    }

    async fn done(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|flag| *flag).await;
    }
}

/// Held by the core service, which does the draining.
pub struct DrainListener {
    requested: watch::Receiver<bool>,
    done: watch::Sender<bool>,
}

impl DrainListener {
    /// Resolves once a shutdown was asked for.
    pub async fn requested(&mut self) {
        let _ = self.requested.wait_for(|flag| *flag).await;
    }

    pub fn finished(&self) {
        self.done.send_replace(true);
    }
}

/// The shutdown signal pingora's main loop waits on.
pub struct LunaSignals {
    pub trigger: DrainTrigger,
}

#[async_trait]
impl ShutdownSignalWatch for LunaSignals {
    async fn recv(&self) -> ShutdownSignal {
        let (mut terminate, mut interrupt) = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(%error, "cannot install signal handlers; shutting down");
                return ShutdownSignal::FastShutdown;
            }
        };
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
            _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
            _ = self.trigger.requested() => tracing::info!("shutdown requested through the API"),
        }
        self.trigger.request();
        if tokio::time::timeout(DRAIN_TIMEOUT, self.trigger.done()).await.is_err() {
            tracing::warn!(timeout = ?DRAIN_TIMEOUT, "drain did not finish in time; exiting anyway");
        }
        ShutdownSignal::GracefulTerminate
    }
}
