//! What changed, for the Hub: each part of Luna that holds state the Hub shows publishes the
//! [`Topic`] of a change here, and `GET /api/supervisor/events` streams the topics to the
//! browser, which then fetches what it shows of that topic again. Topics carry no data: the
//! API stays the one answer to "what is the state", and a missed event costs a refetch, not a
//! wrong page.

use serde::Serialize;
use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind by before it is told to resync.
const BACKLOG: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// An extension was enabled or disabled, or one of its processes changed state.
    Extensions,
    /// The set of tools, or a tool's flags.
    Tools,
    /// An external service was installed, removed, or changed state.
    ExternalServices,
    /// The served certificate or the certificate manager's state.
    Certificates,
    /// An OAuth client was approved or disconnected.
    Clients,
    /// A login session began or ended.
    Sessions,
    /// A new entry in the audit log.
    Audit,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Extensions => "extensions",
            Self::Tools => "tools",
            Self::ExternalServices => "external_services",
            Self::Certificates => "certificates",
            Self::Clients => "clients",
            Self::Sessions => "sessions",
            Self::Audit => "audit",
        }
    }
}

/// The change feed. Cheap to clone; publishing without subscribers costs nothing.
#[derive(Clone, Debug)]
pub struct Events(broadcast::Sender<Topic>);

impl Events {
    pub fn new() -> Self {
        Self(broadcast::channel(BACKLOG).0)
    }

    pub fn publish(&self, topic: Topic) {
        // An error only means nobody listens.
        let _ = self.0.send(topic);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Topic> {
        self.0.subscribe()
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_subscriber_sees_what_is_published_after_it_subscribed() {
        let events = Events::new();
        events.publish(Topic::Tools);
        let mut receiver = events.subscribe();
        events.publish(Topic::Sessions);
        assert_eq!(receiver.recv().await.unwrap(), Topic::Sessions);
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_so() {
        let events = Events::new();
        let mut receiver = events.subscribe();
        for _ in 0..=BACKLOG {
            events.publish(Topic::Extensions);
        }
        assert!(matches!(receiver.recv().await, Err(broadcast::error::RecvError::Lagged(_))));
    }
}
