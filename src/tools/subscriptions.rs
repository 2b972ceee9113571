//! `resources/subscribe` at `/api/mcp`: which sessions want to hear when a resource changes.
//!
//! Luna subscribes at the host once, when a URI gets its first subscriber, and unsubscribes
//! when the last one leaves (or its session ends); a host's `notifications/resources/updated`
//! goes to every session subscribed to that URI, and to no other.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::{Peer, RoleServer};

/// Resources one session may be subscribed to at once: every URI a template matches could be
/// one, and each costs a subscription at the host.
pub const MAX_PER_SESSION: usize = 100;

/// Who is subscribed to what: for each URI, a `P` (how to reach it) per session id.
struct Table<P> {
    by_uri: BTreeMap<String, HashMap<u64, P>>,
}

impl<P> Default for Table<P> {
    fn default() -> Self {
        Self { by_uri: BTreeMap::new() }
    }
}

impl<P> Table<P> {
    /// `Ok(true)` if `session` is the URI's first subscriber; an error at [`MAX_PER_SESSION`].
    fn add(&mut self, uri: &str, session: u64, peer: P) -> Result<bool, String> {
        if self.by_uri.get(uri).is_some_and(|of_uri| of_uri.contains_key(&session)) {
            return Ok(false);
        }
        let held = self.by_uri.values().filter(|of_uri| of_uri.contains_key(&session)).count();
        if held >= MAX_PER_SESSION {
            return Err(format!("a session may subscribe to at most {MAX_PER_SESSION} resources"));
        }
        let of_uri = self.by_uri.entry(uri.to_string()).or_default();
        of_uri.insert(session, peer);
        Ok(of_uri.len() == 1)
    }

    /// True if `uri` has no subscriber left because `session` left.
    fn remove(&mut self, uri: &str, session: u64) -> bool {
        let Some(of_uri) = self.by_uri.get_mut(uri) else { return false };
        if of_uri.remove(&session).is_none() {
            return false;
        }
        let last = of_uri.is_empty();
        if last {
            self.by_uri.remove(uri);
        }
        last
    }

    /// The URIs left without a subscriber once `session` is gone.
    fn remove_session(&mut self, session: u64) -> Vec<String> {
        let mut abandoned = Vec::new();
        self.by_uri.retain(|uri, of_uri| {
            if of_uri.remove(&session).is_some() && of_uri.is_empty() {
                abandoned.push(uri.clone());
            }
            !of_uri.is_empty()
        });
        abandoned
    }
}

/// The subscriptions of every session at `/api/mcp`.
#[derive(Clone, Default)]
pub struct Subscriptions {
    table: Arc<Mutex<Table<Peer<RoleServer>>>>,
}

impl Subscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table<Peer<RoleServer>>> {
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Subscribes session `session` to `uri`: `Ok(true)` if it is the URI's first subscriber,
    /// an error if the session is at [`MAX_PER_SESSION`].
    pub fn add(&self, uri: &str, session: u64, peer: Peer<RoleServer>) -> Result<bool, String> {
        self.lock().add(uri, session, peer)
    }

    /// Ends one subscription; true if `uri` has no subscriber left.
    pub fn remove(&self, uri: &str, session: u64) -> bool {
        self.lock().remove(uri, session)
    }

    /// Ends every subscription of a session that ended; answers the URIs left without any.
    pub fn remove_session(&self, session: u64) -> Vec<String> {
        self.lock().remove_session(session)
    }

    /// Every URI with a subscriber.
    pub fn uris(&self) -> Vec<String> {
        self.lock().by_uri.keys().cloned().collect()
    }

    /// A host said `uri` changed: every session subscribed to it is told.
    pub async fn updated(&self, params: ResourceUpdatedNotificationParam) {
        let peers: Vec<_> =
            self.lock().by_uri.get(&params.uri).map(|of_uri| of_uri.values().cloned().collect()).unwrap_or_default();
        for peer in peers {
            let _ = peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(params.uri.clone())).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_asked_on_the_first_subscriber_and_told_after_the_last_and_a_session_is_capped() {
        let mut table = Table::default();
        assert_eq!(table.add("test://a", 1, ()), Ok(true), "the first subscriber");
        assert_eq!(table.add("test://a", 2, ()), Ok(false));
        assert_eq!(table.add("test://a", 2, ()), Ok(false), "subscribing twice is one subscription");
        assert!(!table.remove("test://a", 1), "another session is still subscribed");
        assert!(!table.remove("test://a", 1), "not subscribed any more");
        assert_eq!(table.add("test://b", 2, ()), Ok(true));
        assert_eq!(table.remove_session(2), ["test://a", "test://b"], "the session's end leaves both");
        assert!(table.by_uri.is_empty());

        for n in 0..MAX_PER_SESSION {
            table.add(&format!("test://template/{n}/data"), 7, ()).unwrap();
        }
        assert!(table.add("test://one-too-many", 7, ()).is_err(), "a session is capped");
        assert_eq!(table.add("test://template/0/data", 7, ()), Ok(false), "what it holds stays");
        assert_eq!(table.add("test://one-too-many", 8, ()), Ok(true), "other sessions are not");
    }
}
