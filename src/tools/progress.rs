//! Progress of tool calls, from the tool host back to the caller. Every request to a host
//! carries a progress token of Luna's own (rmcp gives each one; a client's token means nothing
//! to the host, and two clients may choose the same one); the host's `notifications/progress`
//! for a call whose caller asked for progress go to the caller's sink while the call runs, and
//! nowhere else.
//!
//! The token is known once the request is on its way, so a host that reports at once may be
//! faster than the route: a few reports for tokens without a route are held, and handed over
//! when it opens.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use rmcp::model::NumberOrString;
use tokio::sync::mpsc;

/// Updates one call keeps while its caller is slow to take them; later ones are dropped (a
/// progress report is superseded by the next one anyway).
pub const PROGRESS_BACKLOG: usize = 64;

/// One progress report of a running call.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub progress: f64,
    pub total: Option<f64>,
    pub message: Option<String>,
}

/// Where a call's progress goes.
pub type ProgressSink = mpsc::Sender<Progress>;

/// Reports held for tokens without a route, at most; the oldest go first.
const HELD_TOKENS: usize = 16;
const HELD_PER_TOKEN: usize = 8;

/// The calls in flight that want progress, by Luna's token.
#[derive(Clone, Default)]
pub struct ProgressRoutes {
    inner: Arc<Mutex<Routes>>,
}

#[derive(Default)]
struct Routes {
    open: HashMap<String, ProgressSink>,
    /// Reports that came before their route (or for calls that wanted none), oldest first.
    held: VecDeque<(String, Vec<Progress>)>,
}

/// A call's route; dropping it (the call ended) closes it.
pub struct Route {
    token: String,
    routes: ProgressRoutes,
}

impl Drop for Route {
    fn drop(&mut self) {
        self.routes.lock().open.remove(&self.token);
    }
}

/// A token as a key (`7`, `"abc"`): numbers and strings never collide.
pub fn key(token: &NumberOrString) -> String {
    serde_json::to_string(token).unwrap_or_default()
}

impl ProgressRoutes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Routes the reports for `token` to `sink` (those held for it first) until the route drops.
    pub fn open(&self, token: &NumberOrString, sink: ProgressSink) -> Route {
        let token = key(token);
        let mut routes = self.lock();
        if let Some(at) = routes.held.iter().position(|(held, _)| *held == token) {
            let (_, early) = routes.held.remove(at).expect("the position is in range");
            for progress in early {
                let _ = sink.try_send(progress);
            }
        }
        routes.open.insert(token.clone(), sink);
        Route { token, routes: self.clone() }
    }

    /// Hands `progress` to the call with `token`, or holds it for a little while.
    pub fn deliver(&self, token: &NumberOrString, progress: Progress) {
        let token = key(token);
        let mut routes = self.lock();
        if let Some(sink) = routes.open.get(&token) {
            let _ = sink.try_send(progress);
            return;
        }
        match routes.held.iter_mut().find(|(held, _)| *held == token) {
            Some((_, reports)) if reports.len() < HELD_PER_TOKEN => reports.push(progress),
            Some(_) => {}
            None => {
                if routes.held.len() == HELD_TOKENS {
                    routes.held.pop_front();
                }
                routes.held.push_back((token, vec![progress]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reaches_only_its_own_call_even_when_it_came_first_and_stops_with_it() {
        let routes = ProgressRoutes::default();
        let (first_sink, mut first) = mpsc::channel(PROGRESS_BACKLOG);
        let (second_sink, mut second) = mpsc::channel(PROGRESS_BACKLOG);
        let report = |progress: f64| Progress { progress, total: Some(2.0), message: None };
        let (one, two) = (NumberOrString::Number(1), NumberOrString::String("1".into()));
        // The host was faster than the route.
        routes.deliver(&one, report(0.5));
        let first_route = routes.open(&one, first_sink);
        let _second_route = routes.open(&two, second_sink);
        routes.deliver(&one, report(1.0));
        assert_eq!((first.try_recv().unwrap(), first.try_recv().unwrap()), (report(0.5), report(1.0)));
        assert!(second.try_recv().is_err(), "the token \"1\" is not the token 1");
        drop(first_route);
        routes.deliver(&one, report(2.0));
        assert!(first.try_recv().is_err(), "a finished call gets nothing more");
        for token in 0..100 {
            routes.deliver(&NumberOrString::Number(100 + token), report(1.0));
        }
        assert!(routes.lock().held.len() <= HELD_TOKENS, "reports nobody takes are bounded");
    }
}
