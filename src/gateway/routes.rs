//! The route table: longest path prefix wins (SPEC §5).
//!
//! A [`RouteTable`] is an immutable snapshot. Whoever changes routes (settings, extensions,
//! external services) builds a whole new table and swaps it into the [`RouteHandle`]; a
//! request that already loaded the old snapshot finishes on it. Tables are never edited in
//! place.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

/// Shared between the gateway (reads per request) and the route owners (swap whole tables).
pub type RouteHandle = Arc<ArcSwap<RouteTable>>;

/// Where a matched request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// Answered by the gateway itself, without an upstream.
    Gateway(GatewayEndpoint),
    /// The core API on its Unix socket.
    CoreApi(PathBuf),
    /// A loopback HTTP server: an extension UI or service, an external service.
    Tcp(SocketAddr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayEndpoint {
    Healthz,
}

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, login, public metadata.
    Public,
    /// A logged-in, allowed user (or anyone local, in open local mode).
    Session,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `/` or a path without trailing slash; matches itself and everything below it.
    pub prefix: String,
    /// What the access log and error pages call this route (`core-api`, `ext:hello`, ...).
    pub name: String,
    pub upstream: Upstream,
    /// Send the path below the prefix (and `X-Forwarded-Prefix`) instead of the full path.
    pub strip_prefix: bool,
    /// The bare prefix (`/ext/x`) redirects to `/ext/x/`, so relative links in the app work.
    pub trailing_slash: bool,
    /// Protected unless made public: a route nobody thought about needs a login.
    pub access: Access,
}

impl Route {
    pub fn new(prefix: &str, name: &str, upstream: Upstream) -> Self {
        let prefix = match prefix.trim_end_matches('/') {
            "" => "/".to_string(),
            trimmed => trimmed.to_string(),
        };
        Self {
            prefix,
            name: name.to_string(),
            upstream,
            strip_prefix: false,
            trailing_slash: false,
            access: Access::Session,
        }
    }

    pub fn public(mut self) -> Self {
        self.access = Access::Public;
        self
    }

    pub fn with_trailing_slash(mut self) -> Self {
        self.trailing_slash = true;
        self
    }

    pub fn stripping_prefix(mut self) -> Self {
        self.strip_prefix = true;
        self
    }

    /// The path the upstream receives for the canonical request path `path`.
    pub fn upstream_path<'a>(&self, path: &'a str) -> &'a str {
        if !self.strip_prefix || self.prefix == "/" {
            return path;
        }
        match &path[self.prefix.len().min(path.len())..] {
            "" => "/",
            rest => rest,
        }
    }
}

#[derive(Debug, Default)]
pub struct RouteTable {
    by_prefix: HashMap<String, Arc<Route>>,
}

impl RouteTable {
    pub fn new(routes: impl IntoIterator<Item = Route>) -> Self {
        let by_prefix = routes.into_iter().map(|route| (route.prefix.clone(), Arc::new(route))).collect();
        Self { by_prefix }
    }

    /// The route with the longest prefix that `path` (canonical) falls under.
    ///
    /// Walks the path's ancestors from longest to shortest: one hash lookup per segment,
    /// whatever the number of routes.
    pub fn lookup(&self, path: &str) -> Option<&Arc<Route>> {
        let mut candidate = match path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        };
        loop {
            if let Some(route) = self.by_prefix.get(candidate) {
                return Some(route);
            }
            if candidate == "/" {
                return None;
            }
            candidate = match candidate.rfind('/') {
                Some(0) | None => "/",
                Some(cut) => &candidate[..cut],
            };
        }
    }

    pub fn routes(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.by_prefix.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let api = || Upstream::CoreApi(PathBuf::from("/run/api.sock"));
        RouteTable::new([
            Route::new("/", "hub", api()),
            Route::new("/healthz", "healthz", Upstream::Gateway(GatewayEndpoint::Healthz)),
            Route::new("/api/supervisor", "core-api", api()),
            Route::new("/ext/hello/", "ext:hello", Upstream::Tcp("127.0.0.1:5200".parse().unwrap())).stripping_prefix(),
        ])
    }

    #[test]
    fn longest_prefix_wins_on_segment_boundaries() {
        let table = table();
        let name = |path: &str| table.lookup(path).map(|route| route.name.clone());
        assert_eq!(name("/api/supervisor/health").as_deref(), Some("core-api"));
        assert_eq!(name("/api/supervisor").as_deref(), Some("core-api"));
        assert_eq!(name("/api/supervisor/").as_deref(), Some("core-api"));
        assert_eq!(name("/api/supervisorx").as_deref(), Some("hub"));
        assert_eq!(name("/ext/hello/index.html").as_deref(), Some("ext:hello"));
        assert_eq!(name("/ext/hellothere").as_deref(), Some("hub"));
        assert_eq!(name("/").as_deref(), Some("hub"));
        assert_eq!(name("/healthz").as_deref(), Some("healthz"));
    }

    #[test]
    fn a_table_without_root_matches_nothing_outside_its_prefixes() {
        let table = RouteTable::new([Route::new("/a", "a", Upstream::Gateway(GatewayEndpoint::Healthz))]);
        assert!(table.lookup("/b").is_none());
        assert!(table.lookup("/").is_none());
    }

    #[test]
    fn stripping_keeps_a_leading_slash() {
        let route =
            Route::new("/ext/hello", "ext:hello", Upstream::Tcp("127.0.0.1:1".parse().unwrap())).stripping_prefix();
        assert_eq!(route.upstream_path("/ext/hello/app.js"), "/app.js");
        assert_eq!(route.upstream_path("/ext/hello/"), "/");
        assert_eq!(route.upstream_path("/ext/hello"), "/");
    }
}
