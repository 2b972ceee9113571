//! `resources/subscribe` at `/api/mcp`: which sessions want to hear when a resource changes.
//!
//! Luna subscribes at the host once, when a URI gets its first subscriber, and unsubscribes
//! when the last one leaves (or its session ends); a host's `notifications/resources/updated`
//! goes to every session subscribed to that URI, and to no other.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::{Peer, RoleServer};

/// The sessions subscribed to one URI, by session id.
type Subscribers = HashMap<u64, Peer<RoleServer>>;

/// Subscribers by URI.
#[derive(Clone, Default)]
pub struct Subscriptions {
    inner: Arc<Mutex<BTreeMap<String, Subscribers>>>,
}

impl Subscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Subscribers>> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Subscribes session `session` to `uri`; true if it is the URI's first subscriber.
    pub fn add(&self, uri: &str, session: u64, peer: Peer<RoleServer>) -> bool {
        let mut subscribers = self.lock();
        let of_uri = subscribers.entry(uri.to_string()).or_default();
        of_uri.insert(session, peer);
        of_uri.len() == 1
    }

    /// Ends one subscription; true if `uri` has no subscriber left.
    pub fn remove(&self, uri: &str, session: u64) -> bool {
        let mut subscribers = self.lock();
        let Some(of_uri) = subscribers.get_mut(uri) else { return false };
        if of_uri.remove(&session).is_none() {
            return false;
        }
        let last = of_uri.is_empty();
        if last {
            subscribers.remove(uri);
        }
        last
    }

    /// Ends every subscription of a session that ended; answers the URIs left without any.
    pub fn remove_session(&self, session: u64) -> Vec<String> {
        let mut subscribers = self.lock();
        let mut abandoned = Vec::new();
        subscribers.retain(|uri, of_uri| {
            let was_subscribed = of_uri.remove(&session).is_some();
            if was_subscribed && of_uri.is_empty() {
                abandoned.push(uri.clone());
            }
            !of_uri.is_empty()
        });
        abandoned
    }

    /// Every URI with a subscriber.
    pub fn uris(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// A host said `uri` changed: every session subscribed to it is told.
    pub async fn updated(&self, params: ResourceUpdatedNotificationParam) {
        let peers: Vec<_> =
            self.lock().get(&params.uri).map(|of_uri| of_uri.values().cloned().collect()).unwrap_or_default();
        for peer in peers {
            let _ = peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(params.uri.clone())).await;
        }
    }
}
