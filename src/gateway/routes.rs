//! The route table: longest path prefix wins (SPEC §5). Routes of an app (an extension's
//! UI and API, an external service's UI) are also in the app's own table, which serves its
//! origin (`<app>.<site host>`): the UI at the root, the API at its path.
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
    /// A request with an `Authorization` header is the upstream's to check (an API key);
    /// one without needs the session, as [`Access::Session`].
    SessionOrBearer,
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
    /// The app whose origin also serves this route, and how.
    pub app: Option<AppPart>,
}

/// What a route is to the app whose origin serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPart {
    /// The app's name (its origin's first label), lower-case.
    pub name: String,
    /// The UI, served at the root of the origin; else served at its own path there too.
    pub at_root: bool,
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
            app: None,
        }
    }

    /// The UI of app `name`: at the root of its origin.
    pub fn app_ui(mut self, name: &str) -> Self {
        self.app = Some(AppPart { name: name.to_ascii_lowercase(), at_root: true });
        self
    }

    /// A route of app `name` also served at the same path on its origin (its API).
    pub fn app_path(mut self, name: &str) -> Self {
        self.app = Some(AppPart { name: name.to_ascii_lowercase(), at_root: false });
        self
    }

    pub fn public(mut self) -> Self {
        self.access = Access::Public;
        self
    }

    pub fn session_or_bearer(mut self) -> Self {
        self.access = Access::SessionOrBearer;
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
    /// App name → the table of its origin.
    apps: HashMap<String, RouteTable>,
}

impl RouteTable {
    pub fn new(routes: impl IntoIterator<Item = Route>) -> Self {
        let mut by_prefix = HashMap::new();
        let mut apps: HashMap<String, RouteTable> = HashMap::new();
        for route in routes {
            if let Some(app) = &route.app {
                let on_origin = if app.at_root {
                    Route { prefix: "/".into(), strip_prefix: false, trailing_slash: false, ..route.clone() }
                } else {
                    route.clone()
                };
                let table = apps.entry(app.name.clone()).or_default();
                // Two apps of one name (an extension and an external service): the first wins.
                table.by_prefix.entry(on_origin.prefix.clone()).or_insert_with(|| Arc::new(on_origin));
            }
            by_prefix.insert(route.prefix.clone(), Arc::new(route));
        }
        Self { by_prefix, apps }
    }

    /// The names of the apps with origins of their own, lower-case.
    pub fn app_names(&self) -> impl Iterator<Item = &str> {
        self.apps.keys().map(String::as_str)
    }

    /// The table of app `name`'s origin (`name` lower-case).
    pub fn app(&self, name: &str) -> Option<&RouteTable> {
        self.apps.get(name)
    }

    /// [`RouteTable::app`], with the name as this table holds it.
    pub fn app_entry(&self, name: &str) -> Option<(&str, &RouteTable)> {
        self.apps.get_key_value(name).map(|(name, table)| (name.as_str(), table))
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
    fn an_apps_origin_serves_its_ui_at_the_root_and_its_api_at_its_path() {
        let tcp = |port: u16| Upstream::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
        let table = RouteTable::new([
            Route::new("/ext/Hello", "ext:hello", tcp(1)).with_trailing_slash().stripping_prefix().app_ui("Hello"),
            Route::new("/api/Hello", "api:hello", tcp(2)).stripping_prefix().app_path("Hello"),
        ]);
        assert!(table.app("Hello").is_none(), "app names are lower-case");
        let app = table.app("hello").unwrap();
        let ui = app.lookup("/app.js").unwrap();
        assert_eq!((ui.upstream.clone(), ui.upstream_path("/app.js"), ui.trailing_slash), (tcp(1), "/app.js", false));
        let api = app.lookup("/api/Hello/greeting").unwrap();
        assert_eq!((api.upstream.clone(), api.upstream_path("/api/Hello/greeting")), (tcp(2), "/greeting"));
        assert_eq!(table.lookup("/ext/Hello/x").unwrap().name, "ext:hello", "the path route stays");
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
