//! The gateway: Luna's only TCP entry point, a pingora `ProxyHttp`.
//!
//! # Request phases
//!
//! ```text
//! downstream request
//!   │
//!   ├─ request_filter ──── open local mode: a request a proxy forwarded → 403
//!   │                      strip reserved headers (X-Luna-*, X-Forwarded-*, every spelling)
//!   │                      public modes, plain HTTP: ACME challenge answered, everything
//!   │                      else 308 to the HTTPS origin → done
//!   │                      Host must name this Luna (421 otherwise: DNS rebinding)
//!   │                      canonical path (400 if refused)   ─┐ one string used for match,
//!   │                      route lookup on the RouteTable     ─┘ policy and upstream request
//!   │                      gateway endpoints (/healthz) answered here → done
//!   │                      `/ext/x` → 308 to `/ext/x/` (routes that want a trailing slash)
//!   │                      cross-site writes and WebSocket handshakes → 403 (CSRF)
//!   │                      auth gate on protected routes: session cookie → user, or
//!   │                      302 to /auth/login (browsers) / 401 JSON (API, XHR)
//!   ├─ upstream_peer ───── Unix socket (core API) or loopback TCP; connect timeout 1 s;
//!   │                      no read timeout for WebSocket upgrades and SSE
//!   ├─ upstream_request_filter ── canonical (maybe prefix-stripped) path + query,
//!   │                      X-Forwarded-For/-Proto/-Host, X-Forwarded-Prefix,
//!   │                      X-Luna-User, -Role and -Identity for a logged-in user,
//!   │                      one Cookie field: Luna's cookies only to the core API, all
//!   │                      but Luna's to extensions and external services
//!   ├─ response_filter ─── HSTS on HTTPS responses
//!   ├─ fail_to_proxy ───── upstream down → 502 page naming the route (504 on timeout),
//!   │                      `Connection: close` (the connection is not reused)
//!   └─ logging ─────────── one access-log line per request
//! ```
//!
//! The route table is read once per request from an `ArcSwap` and never locked.

pub mod app_ports;
mod apps;
mod headers;
pub mod path;
mod responses;
pub mod routes;
pub mod site;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::HeaderValue;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, HttpProxy, ProxyHttp, Session};
use pingora::server::configuration::ServerConf;
use pingora::services::listening::Service;

use crate::auth::cookies::{cookie_pairs, luna_cookies, sets_luna_cookie, without_luna_cookies};
use crate::auth::identity::IDENTITY_AUDIENCE;
use crate::auth::sessions::SessionUser;
use crate::auth::{Auth, Verdict};
use crate::metrics::Metrics;
use crate::tls::Certificates;
use pingora::listeners::tls::TlsSettings;
use responses::{LocalResponse, is_tls};
use routes::{Access, GatewayEndpoint, Route, RouteHandle, Upstream};
use site::{Site, Target};

pub use headers::is_reserved as is_reserved_header;

/// Upstreams live on this machine: a connection that takes longer than this is not coming.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait for the next bytes of an ordinary response (not WebSocket, not SSE), and for
/// an upstream to take the next bytes of a request body (one that answered early and stopped
/// reading would otherwise hold the request, and its answer, forever). Generous because the
/// Agent API may wait that long on a model.
const UPSTREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Gateway {
    routes: RouteHandle,
    auth: Arc<Auth>,
    site: Site,
    https: Option<Https>,
    upstream_idle_timeout: Duration,
    metrics: Arc<Metrics>,
}

/// The public modes: plain HTTP only answers ACME challenges and redirects here.
#[derive(Clone)]
pub struct Https {
    /// `https://host[:port]`, the redirect target.
    pub origin: String,
    pub certificates: Arc<Certificates>,
}

/// What one request has learned so far; lives from `new_ctx` to `logging`.
pub struct RequestCtx {
    started: Instant,
    /// The canonical path, set by `request_filter` before any other phase reads it.
    path: String,
    route: Option<Arc<Route>>,
    /// WebSocket upgrade or event stream: no read timeout.
    streaming: bool,
    /// The logged-in user, once the auth gate let the request through.
    user: Option<Arc<SessionUser>>,
    /// The app origin the request came to (the audience of its identity token).
    app_origin: Option<String>,
    /// Luna's id of this request: in its access-log line, sent upstream and to the client as
    /// `X-Request-Id` (a client's own value is replaced: upstreams can trust this one).
    request_id: RequestId,
}

/// 16 hex digits, made once per request as the header value it is sent as (twice).
struct RequestId(http::HeaderValue);

impl RequestId {
    fn new() -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let random = rand::random::<u64>();
        let text: [u8; 16] = std::array::from_fn(|at| DIGITS[((random >> (60 - 4 * at)) & 0xf) as usize]);
        Self(http::HeaderValue::from_bytes(&text).expect("hex digits make a header value"))
    }

    fn header(&self) -> http::HeaderValue {
        self.0.clone()
    }
}

impl std::ops::Deref for RequestId {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl Gateway {
    pub fn new(routes: RouteHandle, auth: Arc<Auth>, site: Site, https: Option<Https>) -> Self {
        Self { routes, auth, site, https, upstream_idle_timeout: UPSTREAM_IDLE_TIMEOUT, metrics: Arc::default() }
    }

    /// Counts into `metrics` (the ones `/metrics` shows) instead of a private set.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Another idle timeout than [`UPSTREAM_IDLE_TIMEOUT`] (tests wait seconds, not minutes).
    pub fn with_upstream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_idle_timeout = timeout;
        self
    }

    /// Plain HTTP in a public mode: the ACME challenge, or a redirect to the same path on the
    /// HTTPS origin (built from Luna's names, never the request's `Host`: no open redirect).
    async fn plain_http(&self, session: &mut Session, ctx: &mut RequestCtx, https: &Https) -> Result<bool> {
        let request = session.req_header();
        ctx.path = request.uri.path().to_string();
        if let Some(token) = ctx.path.strip_prefix(ACME_CHALLENGE_PREFIX) {
            let response = match https.certificates.challenges.answer(token) {
                Some(key_authorization) => LocalResponse::plain(200, key_authorization),
                None => LocalResponse::error(request, 404, "unknown_challenge", "no such ACME challenge"),
            };
            response.send(session, &ctx.request_id).await?;
            return Ok(true);
        }
        // Only an origin-form target is appended (`OPTIONS *` would glue `*` to the host).
        let target = request.uri.path_and_query().map_or("/", |target| target.as_str());
        let target = if target.starts_with('/') { target } else { "/" };
        // An app's name goes to its own HTTPS origin, anything else to the Hub's.
        let origin = match self.site.target(request, None) {
            Target::App(app) => self.site.app_origin(&app),
            _ => None,
        };
        let origin = origin.as_deref().unwrap_or(&https.origin);
        LocalResponse::redirect(&format!("{origin}{target}")).send(session, &ctx.request_id).await?;
        Ok(true)
    }
}

const ACME_CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";
/// The gateway's own health endpoint.
const HEALTH_PATH: &str = "/healthz";

/// The pingora service running a [`Gateway`]: plain HTTP on `http_listen`, and in the
/// public modes HTTPS (HTTP/2 and HTTP/1.1) on the listener the certificates serve.
pub fn proxy_service(conf: &Arc<ServerConf>, gateway: Gateway, http_listen: SocketAddr) -> Service<HttpProxy<Gateway>> {
    let https = gateway.https.clone();
    let app_ports = gateway.site.app_ports().map(|ports| ports.range());
    let mut service = pingora::proxy::http_proxy_service_with_name(conf, gateway, "luna gateway");
    service.add_tcp(&http_listen.to_string());
    let tls = |https: &Https| {
        // No files: with a resolver set, pingora's rustls acceptor ignores the paths.
        let mut tls = TlsSettings::intermediate("", "").expect("TLS settings without files");
        tls.set_cert_resolver(https.certificates.resolver());
        tls.enable_h2();
        tls
    };
    let main = https.as_ref().map_or(http_listen, |https| https.certificates.settings().listen);
    if let Some(https) = &https {
        service.add_tls_with_settings(&main.to_string(), None, tls(https));
    }
    // Apps by port: one listener each, served like the main one (the certificate names the
    // host, whatever the port).
    for port in app_ports.into_iter().flatten() {
        let address = SocketAddr::new(main.ip(), port).to_string();
        match &https {
            Some(https) => service.add_tls_with_settings(&address, None, tls(https)),
            None => service.add_tcp(&address),
        }
    }
    service
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        // Every context ends in `logging`, which counts it out again.
        self.metrics.in_flight.inc();
        RequestCtx {
            started: Instant::now(),
            path: String::new(),
            route: None,
            streaming: false,
            user: None,
            app_origin: None,
            request_id: RequestId::new(),
        }
    }

    /// Runs first for every request. `Ok(true)` means a response was written here.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        if self.auth.is_open() && headers::came_through_a_proxy(session.req_header()) {
            // Without a login every request is the owner's: only on this machine. A tunnel or
            // proxy in front (which may well rewrite Host to 127.0.0.1) would let anyone in.
            let request = session.req_header();
            ctx.path = request.uri.path().to_string();
            let response = LocalResponse::error(
                request,
                403,
                "forwarded_request",
                "this Luna has no login, so it only serves this machine, not requests forwarded by a proxy \
                 or tunnel: configure GitHub login to serve others",
            );
            response.send(session, &ctx.request_id).await?;
            return Ok(true);
        }
        headers::strip_reserved(session.req_header_mut());
        if let Some(https) = &self.https
            && !is_tls(session)
        {
            return self.plain_http(session, ctx, https).await;
        }

        let request = session.req_header();
        if request.headers.get_all("authorization").iter().nth(1).is_some() {
            // RFC 6750 §3.1: whoever reads the first and whoever reads the last would disagree
            // about who is calling.
            ctx.path = request.uri.path().to_string();
            let response =
                LocalResponse::error(request, 400, "invalid_request", "send one Authorization header, not several");
            response.send(session, &ctx.request_id).await?;
            return Ok(true);
        }
        let local_port = session.server_addr().and_then(|address| address.as_inet()).map(|address| address.port());
        match self.site.target(request, local_port) {
            Target::Hub => {}
            Target::App(app) => {
                let table = self.routes.load_full();
                let Some((name, routes)) = table.app_entry(&app) else {
                    ctx.path = request.uri.path().to_string();
                    let detail = format!("no app named {app} runs on this Luna");
                    LocalResponse::error(request, 404, "no_app", &detail).send(session, &ctx.request_id).await?;
                    return Ok(true);
                };
                return self.app_request(session, ctx, name, routes).await;
            }
            Target::Stranger => {
                ctx.path = request.uri.path().to_string();
                let response =
                    LocalResponse::error(request, 421, "unknown_host", "this Luna does not serve that host name");
                response.send(session, &ctx.request_id).await?;
                return Ok(true);
            }
        }
        ctx.path = match path::canonicalize(request.uri.path()) {
            Ok(canonical) => canonical,
            Err(error) => {
                ctx.path = request.uri.path().to_string();
                let response = LocalResponse::error(request, 400, "bad_path", &error.to_string());
                response.send(session, &ctx.request_id).await?;
                return Ok(true);
            }
        };
        let Some(route) = self.routes.load().lookup(&ctx.path).cloned() else {
            let response = LocalResponse::error(request, 404, "no_route", "no route serves this path");
            response.send(session, &ctx.request_id).await?;
            return Ok(true);
        };
        if route.trailing_slash && ctx.path == route.prefix && route.app.is_none() {
            let location = with_query(format!("{}/", route.prefix), request);
            ctx.route = Some(route);
            LocalResponse::redirect(&location).send(session, &ctx.request_id).await?;
            return Ok(true);
        }
        ctx.streaming = is_streaming(request);
        if ctx.streaming {
            self.metrics.open_streams.inc();
        }
        // What uses the session answers only the Hub's own pages (and navigations to them);
        // public routes only refuse writes from other sites.
        let access = match route.access {
            Access::SessionOrBearer if request.headers.contains_key("authorization") => Access::Public,
            Access::SessionOrBearer => Access::Session,
            access => access,
        };
        let foreign = match access {
            Access::Session => self.site.is_foreign(request, None),
            _ => self.site.is_cross_site_write(request),
        };
        if foreign {
            let response = LocalResponse::error(
                request,
                403,
                "cross_site",
                "requests from other origins (apps included) may not use or change Luna",
            );
            ctx.route = Some(route);
            response.send(session, &ctx.request_id).await?;
            return Ok(true);
        }
        if access == Access::Session {
            match self.auth.check(cookies_of(request).as_deref()).await {
                Verdict::Allowed(user) => ctx.user = user,
                Verdict::Unauthenticated => {
                    let response = unauthenticated(request, &ctx.path);
                    ctx.route = Some(route);
                    response.send(session, &ctx.request_id).await?;
                    return Ok(true);
                }
                Verdict::Unavailable => {
                    let response =
                        LocalResponse::error(request, 503, "auth_unavailable", "sessions cannot be checked right now");
                    ctx.route = Some(route);
                    response.send(session, &ctx.request_id).await?;
                    return Ok(true);
                }
            }
        }
        if let Some(app) = &route.app {
            // Third-party pages never on the Hub's origin: on their own (after the login, so
            // nobody learns from here which apps there are).
            let table = self.routes.load();
            let Some(origin) = self.site.assign_app_origin(&app.name, &|name| table.app(name).is_some()) else {
                let detail = "every port of server.app_ports serves a running app already: widen the range";
                let response = LocalResponse::error(request, 503, "no_app_port", detail);
                ctx.route = Some(route);
                response.send(session, &ctx.request_id).await?;
                return Ok(true);
            };
            let at_root = app.at_root;
            let below = if at_root { &ctx.path[route.prefix.len().min(ctx.path.len())..] } else { &ctx.path[..] };
            let location = with_query(format!("{origin}{}", if below.is_empty() { "/" } else { below }), request);
            ctx.route = Some(route);
            LocalResponse::redirect(&location).send(session, &ctx.request_id).await?;
            return Ok(true);
        }
        let endpoint = match &route.upstream {
            Upstream::Gateway(endpoint) => Some(*endpoint),
            _ => None,
        };
        ctx.route = Some(route);
        match endpoint {
            Some(GatewayEndpoint::Healthz) => {
                LocalResponse::text(200, "ok\n").send(session, &ctx.request_id).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut RequestCtx) -> Result<Box<HttpPeer>> {
        let route = ctx.route.as_ref().ok_or_else(|| Error::explain(InternalError, "no route chosen"))?;
        let mut peer = match &route.upstream {
            Upstream::CoreApi(socket) => {
                let socket =
                    socket.to_str().ok_or_else(|| Error::explain(InternalError, "socket path is not UTF-8"))?;
                HttpPeer::new_uds(socket, false, String::new())?
            }
            Upstream::Tcp(address) => HttpPeer::new(*address, false, String::new()),
            Upstream::Gateway(_) => return Err(Error::explain(InternalError, "gateway endpoint has no upstream")),
        };
        peer.options.connection_timeout = Some(UPSTREAM_CONNECT_TIMEOUT);
        peer.options.read_timeout = if ctx.streaming { None } else { Some(self.upstream_idle_timeout) };
        peer.options.write_timeout = peer.options.read_timeout;
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let route = ctx.route.as_ref().ok_or_else(|| Error::explain(InternalError, "no route chosen"))?;
        let upstream_path = route.upstream_path(&ctx.path);
        // An origin-form target whose path is canonical and unstripped (most) goes as it came.
        let unchanged = upstream_request.uri.authority().is_none() && upstream_request.uri.path() == upstream_path;
        if !unchanged {
            let mut target = upstream_path.to_string();
            if let Some(query) = upstream_request.uri.query() {
                target.push('?');
                target.push_str(query);
            }
            let uri = target
                .parse::<http::Uri>()
                .map_err(|error| Error::because(InternalError, "rebuilding the upstream path", error))?;
            upstream_request.set_uri(uri);
        }

        upstream_request.insert_header("x-request-id", ctx.request_id.header())?;
        let client = session.client_addr().and_then(|address| address.as_inet()).map(|address| address.ip());
        if let Some(ip) = client {
            upstream_request.insert_header("x-forwarded-for", ip.to_string())?;
        }
        let scheme = if is_tls(session) { "https" } else { "http" };
        upstream_request.insert_header("x-forwarded-proto", HeaderValue::from_static(scheme))?;
        let host = session.req_header().headers.get("host").cloned();
        if let Some(host) = host {
            upstream_request.insert_header("x-forwarded-host", host)?;
        }
        if route.strip_prefix {
            upstream_request.insert_header("x-forwarded-prefix", route.prefix.as_str())?;
        }
        if let Some(user) = &ctx.user {
            let role = self.auth.role_of(user);
            upstream_request.insert_header("x-luna-user", user.login.as_str())?;
            upstream_request.insert_header("x-luna-role", HeaderValue::from_static(role.as_str()))?;
            let audience = ctx.app_origin.as_deref().unwrap_or(IDENTITY_AUDIENCE);
            let token = self
                .auth
                .identity
                .token_for(user, role, audience)
                .map_err(|error| Error::because(InternalError, "signing the identity token", error))?;
            upstream_request.insert_header("x-luna-identity", token)?;
        }
        // One `Cookie` field upstream: the core API gets Luna's cookies alone, extensions and
        // external services everything but them.
        if upstream_request.headers.contains_key("cookie") {
            let cookie = {
                let pairs = cookie_pairs(cookie_fields(upstream_request));
                match route.upstream {
                    Upstream::Tcp(_) => without_luna_cookies(&pairs),
                    _ => luna_cookies(&pairs).map(String::into_bytes),
                }
            };
            upstream_request.remove_header("cookie");
            if let Some(cookie) = cookie {
                upstream_request.insert_header("cookie", cookie)?;
            }
        }
        Ok(())
    }

    /// Upstreams outside the core may not set Luna's own cookies (session fixation, login
    /// CSRF): those `Set-Cookie` lines are dropped.
    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if !ctx.route.as_ref().is_some_and(|route| matches!(route.upstream, Upstream::Tcp(_))) {
            return Ok(());
        }
        let set_cookies: Vec<_> = upstream_response.headers.get_all("set-cookie").iter().cloned().collect();
        let kept: Vec<_> = set_cookies.iter().filter(|value| !sets_luna_cookie(value.as_bytes())).cloned().collect();
        if kept.len() != set_cookies.len() {
            upstream_response.remove_header("set-cookie");
            for value in kept {
                upstream_response.append_header("set-cookie", value)?;
            }
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        upstream_response.insert_header("x-request-id", ctx.request_id.header())?;
        if is_tls(session) {
            upstream_response.insert_header("strict-transport-security", HeaderValue::from_static(responses::HSTS))?;
        }
        Ok(())
    }

    /// A refused or timed-out connection to a local upstream will not succeed on a retry.
    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        _ctx: &mut RequestCtx,
        mut error: Box<Error>,
    ) -> Box<Error> {
        error.set_retry(false);
        error
    }

    async fn fail_to_proxy(&self, session: &mut Session, error: &Error, ctx: &mut RequestCtx) -> FailToProxy {
        if let Some(status) = session.response_written().map(|response| response.status)
            && (!status.is_informational() || status == http::StatusCode::SWITCHING_PROTOCOLS)
        {
            // The upstream's answer (at least its head) is out, e.g. an early 413 to a large
            // upload followed by a reset: it stands. An error page now would be glued to its
            // body; closing shows a cut body as cut.
            let route_name = ctx.route.as_ref().map_or("none", |route| route.name.as_str());
            self.metrics.upstream_error(route_name, "other");
            return FailToProxy { error_code: status.as_u16(), can_reuse_downstream: false };
        }
        let status = match error.etype() {
            HTTPStatus(code) => *code,
            ConnectTimedout | ReadTimedout | WriteTimedout => 504,
            _ => match error.esource() {
                ErrorSource::Upstream => 502,
                ErrorSource::Downstream => match error.etype() {
                    ReadError | WriteError | ConnectionClosed => 0,
                    _ => 400,
                },
                ErrorSource::Internal | ErrorSource::Unset => 500,
            },
        };
        let kind = match error.etype() {
            ConnectTimedout | ReadTimedout | WriteTimedout => "timeout",
            ConnectRefused | ConnectError | ConnectNoRoute => "connect",
            _ => "other",
        };
        if matches!(error.esource(), ErrorSource::Upstream) || kind == "timeout" {
            let route_name = ctx.route.as_ref().map_or("none", |route| route.name.as_str());
            self.metrics.upstream_error(route_name, kind);
        }
        if status > 0 {
            // After a failed proxy attempt pingora never reuses the client's connection, so the
            // answer says so: a client that sent its next request at once would read EOF.
            session.set_keepalive(None);
            let route_name = ctx.route.as_ref().map_or("gateway", |route| route.name.as_str());
            let (code, detail) = match status {
                502 => ("upstream_unavailable", format!("{route_name} is not answering")),
                504 => ("upstream_timeout", format!("{route_name} did not answer in time")),
                _ => ("gateway_error", format!("{route_name}: request failed")),
            };
            let response = LocalResponse::error(session.req_header(), status, code, &detail);
            if let Err(write_error) = response.send(session, &ctx.request_id).await {
                tracing::debug!(%write_error, "could not write the error page");
            }
        }
        FailToProxy { error_code: status, can_reuse_downstream: false }
    }

    async fn logging(&self, session: &mut Session, error: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session.response_written().map_or(0, |response| response.status.as_u16());
        let route = ctx.route.as_ref().map_or("-", |route| route.name.as_str());
        self.metrics.in_flight.dec();
        if ctx.streaming {
            self.metrics.open_streams.dec();
        }
        let took = ctx.started.elapsed();
        let method = session.req_header().method.as_str();
        self.metrics.request(if route == "-" { "none" } else { route }, method, status, took);
        macro_rules! access_line {
            ($level:expr) => {
                tracing::event!(
                    target: "luna::access",
                    $level,
                    method = %session.req_header().method,
                    path = %ctx.path,
                    request_id = %ctx.request_id,
                    status,
                    route,
                    // Fields are only worked out when the line is written (`luna::access=off`: never).
                    upstream = ctx.route.as_ref().map_or("-".into(), |route| upstream_label(&route.upstream)),
                    duration_ms = took.as_secs_f64() * 1000.0,
                    error = error.map(|error| error.etype().as_str()),
                )
            };
        }
        // Health checks (systemd's watchdog probe every few seconds, monitors) would drown the
        // log: they are written at debug level.
        if ctx.path == HEALTH_PATH {
            access_line!(tracing::Level::DEBUG);
        } else {
            access_line!(tracing::Level::INFO);
        }
    }
}

/// `location` with the request's query appended.
fn with_query(mut location: String, request: &RequestHeader) -> String {
    if let Some(query) = request.uri.query() {
        location.push('?');
        location.push_str(query);
    }
    location
}

/// Browsers are sent to the login with a way back; API clients get a 401 to handle.
fn unauthenticated(request: &RequestHeader, path: &str) -> LocalResponse {
    if !responses::wants_html(request) {
        return LocalResponse::error(request, 401, "unauthenticated", "log in first: /auth/login");
    }
    let back = with_query(path.to_string(), request);
    let rd: String = oauth2::url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
    LocalResponse::found(&format!("/auth/login?rd={rd}"))
}

/// Luna's own cookies of the request, as one `Cookie` value.
fn cookies_of(request: &RequestHeader) -> Option<String> {
    luna_cookies(&cookie_pairs(cookie_fields(request)))
}

/// The request's `Cookie` fields: HTTP/2 clients may send several (RFC 9113 §8.2.3).
fn cookie_fields(request: &RequestHeader) -> impl Iterator<Item = &[u8]> {
    request.headers.get_all("cookie").iter().map(|value| value.as_bytes())
}

fn is_streaming(request: &RequestHeader) -> bool {
    let header = |name: &str| request.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("");
    header("upgrade").eq_ignore_ascii_case("websocket") || header("accept").contains("text/event-stream")
}

fn upstream_label(upstream: &Upstream) -> String {
    match upstream {
        Upstream::Gateway(_) => "gateway".to_string(),
        Upstream::CoreApi(_) => "core-api".to_string(),
        Upstream::Tcp(address) => address.to_string(),
    }
}
