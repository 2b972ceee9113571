//! Which `Host` and `Origin` values name this Luna.
//!
//! - A request for another host name is refused (421): a web page whose DNS name is
//!   rebound to 127.0.0.1 would otherwise be same-origin with Luna in the victim's browser.
//! - A state-changing request (anything but GET/HEAD/OPTIONS, and any WebSocket handshake)
//!   that a browser marks as coming from another site (`Origin`, `Sec-Fetch-Site`) is
//!   refused (403). Session cookies are `SameSite=Lax`, but open local mode has no cookie at
//!   all, and a form on any web page could otherwise stop Luna, log its user out, or drive an
//!   extension's WebSocket.
//! - Third-party web UIs (extension and external-service UIs) answer on origins of their own,
//!   `<app>.<site host>` ([`AppDomain`]), or `<site host>:<port of the app>` ([`AppPorts`])
//!   where the site is a bare IP address: a page there is not same-origin with the Hub, so
//!   its scripts cannot use the Hub's session. On the Hub's origin every request a browser marks
//!   as sent by another origin (even a same-site one: an app) is refused unless it is a
//!   top-level navigation ([`Site::is_foreign`]).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use pingora::http::RequestHeader;

use super::app_ports::AppPorts;

#[derive(Debug, Clone)]
pub struct Site {
    /// `host[:port]`, lower-case, as a browser sends it in `Host`.
    hosts: Vec<String>,
    /// `scheme://host[:port]`, as a browser sends it in `Origin`.
    origins: Vec<String>,
    /// Where app origins live; `None` only where the site is a bare IP address and no ports
    /// were given for apps.
    apps: Option<AppOrigins>,
}

#[derive(Debug, Clone)]
enum AppOrigins {
    Names(AppDomain),
    /// `scheme://host:<port>`, the port the app was given.
    Ports {
        scheme: String,
        host: String,
        ports: Arc<AppPorts>,
    },
}

/// What a request is for, by the name it gives and the port it came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Hub,
    /// An app's origin; the name lower-case.
    App(Cow<'a, str>),
    /// A name (or an app port with a name) this Luna does not serve.
    Stranger,
}

/// The names below the site's host that app origins use: `<app>.<suffix>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDomain {
    scheme: String,
    /// `.<host>[:port]`, lower-case: `.localhost:8800`, `.1-2-3-4.nip.io`, `.example.com`.
    suffix: String,
}

impl AppDomain {
    /// The app names below `url`'s host: `localhost` for a loopback address (browsers send
    /// every `*.localhost` name to loopback), the host itself for a domain name, none for
    /// another IP address.
    fn of(url: &reqwest::Url) -> Option<Self> {
        let base = match url.host()? {
            url::Host::Domain(domain) => domain.to_ascii_lowercase(),
            url::Host::Ipv4(ip) if ip.is_loopback() => "localhost".into(),
            url::Host::Ipv6(ip) if ip.is_loopback() => "localhost".into(),
            _ => return None,
        };
        let port = url.port().map(|port| format!(":{port}")).unwrap_or_default();
        Some(Self { scheme: url.scheme().to_string(), suffix: format!(".{base}{port}") })
    }

    /// The app a `Host` value names, lower-case.
    fn app_of<'a>(&self, host: &'a str) -> Option<&'a str> {
        let cut = host.len().checked_sub(self.suffix.len())?;
        let (label, suffix) = (host.get(..cut)?, host.get(cut..)?);
        (suffix.eq_ignore_ascii_case(&self.suffix) && crate::auth::app_login::is_app_name(label)).then_some(label)
    }

    fn origin(&self, app: &str) -> String {
        format!("{}://{}{}", self.scheme, app.to_ascii_lowercase(), self.suffix)
    }
}

impl Site {
    /// The names of `public_url`, plus the loopback names of `listen` (served with `scheme`)
    /// when it is loopback. Apps get origins by port when `app_ports` is given, else names
    /// below `public_url`'s host.
    pub fn new(public_url: &str, listen: SocketAddr, scheme: &str, app_ports: Option<Arc<AppPorts>>) -> Self {
        let mut hosts = Vec::new();
        let mut origins = Vec::new();
        let mut apps = None;
        if let Ok(url) = reqwest::Url::parse(public_url)
            && let Some(host) = url.host_str()
        {
            let authority = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            origins.push(format!("{}://{authority}", url.scheme()));
            hosts.push(authority.to_ascii_lowercase());
            apps = match app_ports {
                Some(ports) => {
                    let host = host.to_ascii_lowercase();
                    Some(AppOrigins::Ports { scheme: url.scheme().to_string(), host, ports })
                }
                None => AppDomain::of(&url).map(AppOrigins::Names),
            };
        }
        if listen.ip().is_loopback() {
            let port = listen.port();
            for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")] {
                origins.push(format!("{scheme}://{host}"));
                hosts.push(host);
            }
        }
        Self { hosts, origins, apps }
    }

    /// The Hub's origin: `public_url`'s.
    pub fn origin(&self) -> &str {
        self.origins.first().map_or("", String::as_str)
    }

    /// The ports apps are served on, where they have origins by port.
    pub fn app_ports(&self) -> Option<&Arc<AppPorts>> {
        match &self.apps {
            Some(AppOrigins::Ports { ports, .. }) => Some(ports),
            _ => None,
        }
    }

    /// `scheme://<app>.<site host>[:port]` (or `scheme://<site host>:<app's port>`), the
    /// origin app `name` is served on.
    pub fn app_origin(&self, name: &str) -> Option<String> {
        match self.apps.as_ref()? {
            AppOrigins::Names(apps) => Some(apps.origin(name)),
            AppOrigins::Ports { scheme, host, ports } => {
                ports.port_of(&name.to_ascii_lowercase()).map(|port| format!("{scheme}://{host}:{port}"))
            }
        }
    }

    /// [`Site::app_origin`], giving app `name` (which must exist) a port if it needs one and
    /// has none; `running` names the apps whose ports may not be reclaimed.
    pub fn assign_app_origin(&self, name: &str, running: &dyn Fn(&str) -> bool) -> Option<String> {
        if let Some(AppOrigins::Ports { ports, .. }) = &self.apps {
            ports.assign(&name.to_ascii_lowercase(), running)?;
        }
        self.app_origin(name)
    }

    /// Whom the request is for; `local_port` is the gateway port it came to (`None` when
    /// that cannot matter: the plain-HTTP listener of a public mode).
    pub fn target<'a>(&self, request: &'a RequestHeader, local_port: Option<u16>) -> Target<'a> {
        let Some(host) = request_host(request) else { return Target::Stranger };
        match &self.apps {
            Some(AppOrigins::Names(apps)) => {
                if let Some(app) = apps.app_of(host) {
                    let lower = app.bytes().all(|byte| !byte.is_ascii_uppercase());
                    return Target::App(if lower { Cow::Borrowed(app) } else { Cow::Owned(app.to_ascii_lowercase()) });
                }
            }
            Some(AppOrigins::Ports { host: site_host, ports, .. }) => {
                if let Some(port) = local_port.filter(|port| ports.range().contains(port)) {
                    // An app's port serves that app alone, and only under its own name.
                    let named = host.rsplit_once(':').is_some_and(|(name, given)| {
                        name.eq_ignore_ascii_case(site_host) && !given.starts_with('0') && given.parse() == Ok(port)
                    });
                    return match ports.app_at(port) {
                        Some(app) if named => Target::App(Cow::Owned(app)),
                        _ => Target::Stranger,
                    };
                }
            }
            None => {}
        }
        if self.hosts.iter().any(|ours| ours.eq_ignore_ascii_case(host)) { Target::Hub } else { Target::Stranger }
    }

    /// `host[:port]` names of this Luna.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// `scheme://host[:port]` origins of this Luna.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// A request a browser sent on behalf of another origin than `own` (the Hub's origins
    /// when `None`) that must not reach a route using the session: any state-changing one,
    /// any subresource request (`fetch` from an app's page, which is same-site with the Hub),
    /// and any framing. Top-level navigations pass: a link from an app to the Hub is fine.
    /// Scripts and the CLI send none of these headers.
    pub fn is_foreign(&self, request: &RequestHeader, own: Option<&str>) -> bool {
        let header = |name: &str| request.headers.get(name).and_then(|value| value.to_str().ok());
        let ours = |origin: &str| match own {
            Some(own) => own.eq_ignore_ascii_case(origin),
            None => self.origins.iter().any(|hub| hub.eq_ignore_ascii_case(origin)),
        };
        if header("origin").is_some_and(|origin| !ours(origin)) {
            return true;
        }
        let other_origin = header("sec-fetch-site")
            .is_some_and(|site| !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none"));
        let navigation = header("sec-fetch-mode").is_some_and(|mode| mode.eq_ignore_ascii_case("navigate"))
            && header("sec-fetch-dest").is_none_or(|dest| dest.eq_ignore_ascii_case("document"));
        let write = request.headers.get("upgrade").is_some() || !matches!(request.method.as_str(), "GET" | "HEAD");
        other_origin && (write || !navigation)
    }

    /// True for a state-changing request (or a WebSocket handshake, which is a GET that
    /// opens a two-way channel) a browser sent on behalf of another site.
    pub fn is_cross_site_write(&self, request: &RequestHeader) -> bool {
        cross_site_write(request, |origin| self.origins.iter().any(|ours| ours.eq_ignore_ascii_case(origin)))
    }

    /// [`Site::is_cross_site_write`] for a request to app `app`'s origin.
    pub fn is_cross_site_write_to(&self, request: &RequestHeader, app: &str) -> bool {
        cross_site_write(request, |origin| self.app_origin(app).is_some_and(|own| own.eq_ignore_ascii_case(origin)))
    }
}

fn cross_site_write(request: &RequestHeader, is_ours: impl Fn(&str) -> bool) -> bool {
    let upgrade = request.headers.get("upgrade").is_some();
    if !upgrade && matches!(request.method.as_str(), "GET" | "HEAD" | "OPTIONS") {
        return false;
    }
    let header = |name: &str| request.headers.get(name).and_then(|value| value.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site.eq_ignore_ascii_case("cross-site")) {
        return true;
    }
    header("origin").is_some_and(|origin| !is_ours(origin))
}

/// `Host`, or the authority of an HTTP/2 request.
fn request_host(request: &RequestHeader) -> Option<&str> {
    match request.uri.authority() {
        Some(authority) => Some(authority.as_str()),
        None => request.headers.get("host").and_then(|value| value.to_str().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)]) -> RequestHeader {
        let mut request = RequestHeader::build(method, b"/api/supervisor/shutdown", None).unwrap();
        for (name, value) in headers {
            request.insert_header(name.to_string(), *value).unwrap();
        }
        request
    }

    fn owned(target: Target<'_>) -> Target<'static> {
        match target {
            Target::App(app) => Target::App(Cow::Owned(app.into_owned())),
            Target::Hub => Target::Hub,
            Target::Stranger => Target::Stranger,
        }
    }

    #[test]
    fn hosts_of_a_local_luna() {
        let site = Site::new("http://127.0.0.1:8800", "127.0.0.1:8800".parse().unwrap(), "http", None);
        for host in ["127.0.0.1:8800", "localhost:8800", "LOCALHOST:8800", "[::1]:8800"] {
            assert_eq!(site.target(&request("GET", &[("host", host)]), Some(8800)), Target::Hub, "{host}");
        }
        for host in ["evil.com", "evil.com:8800", "127.0.0.1:9999", "127.0.0.1"] {
            assert_eq!(site.target(&request("GET", &[("host", host)]), Some(8800)), Target::Stranger, "{host}");
        }
        assert_eq!(site.target(&request("GET", &[]), Some(8800)), Target::Stranger, "no Host at all");
    }

    #[test]
    fn apps_have_origins_below_the_sites_name() {
        let local = Site::new("http://127.0.0.1:8800", "127.0.0.1:8800".parse().unwrap(), "http", None);
        assert_eq!(local.app_origin("Grocy").as_deref(), Some("http://grocy.localhost:8800"));
        let target = |site: &Site, host: &str, port| owned(site.target(&request("GET", &[("host", host)]), port));
        assert_eq!(target(&local, "grocy.localhost:8800", Some(8800)), Target::App("grocy".into()));
        assert_eq!(target(&local, "localhost:8800", Some(8800)), Target::Hub);
        for host in
            ["grocy.localhost:9999", "grocy.localhost", "a.b.localhost:8800", ".localhost:8800", "evil.com:8800"]
        {
            assert_eq!(target(&local, host, Some(8800)), Target::Stranger, "{host}");
        }
        let public = Site::new("https://1-2-3-4.nip.io", "0.0.0.0:443".parse().unwrap(), "https", None);
        assert_eq!(public.app_origin("kuma").as_deref(), Some("https://kuma.1-2-3-4.nip.io"));
        assert_eq!(target(&public, "KUMA.1-2-3-4.nip.io", None), Target::App("kuma".into()));
    }

    #[test]
    fn apps_by_port_answer_only_on_their_port_under_the_sites_address() {
        let dir = tempfile::tempdir().unwrap();
        let ports = AppPorts::load(dir.path().join("app_ports.json"), 9400..=9401).unwrap();
        let site = Site::new("https://192.168.1.5", "0.0.0.0:443".parse().unwrap(), "https", Some(ports));
        assert_eq!(site.app_origin("grocy"), None, "no port before the first visit");
        assert_eq!(site.assign_app_origin("Grocy", &|_| true).as_deref(), Some("https://192.168.1.5:9400"));
        let target = |host: &str, port| owned(site.target(&request("GET", &[("host", host)]), port));
        assert_eq!(target("192.168.1.5:9400", Some(9400)), Target::App("grocy".into()));
        assert_eq!(target("192.168.1.5", Some(9400)), Target::Stranger, "the Hub's name on an app's port");
        assert_eq!(target("evil.com:9400", Some(9400)), Target::Stranger);
        assert_eq!(target("192.168.1.5:9401", Some(9401)), Target::Stranger, "a port without an app");
        assert_eq!(target("192.168.1.5:9400", Some(443)), Target::Stranger, "another port's name");
        assert_eq!(target("192.168.1.5", Some(443)), Target::Hub);
    }

    #[test]
    fn the_hub_refuses_other_origins_except_top_level_navigations() {
        let site = Site::new("https://luna.example.com", "0.0.0.0:443".parse().unwrap(), "https", None);
        let app = [("origin", "https://grocy.luna.example.com"), ("sec-fetch-site", "same-site")];
        assert!(site.is_foreign(&request("GET", &app), None), "an app's fetch");
        let beacon = [("sec-fetch-site", "same-site"), ("sec-fetch-mode", "no-cors"), ("sec-fetch-dest", "empty")];
        assert!(site.is_foreign(&request("POST", &beacon), None));
        let frame = [("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "iframe")];
        assert!(site.is_foreign(&request("GET", &frame), None), "framing");
        let link = [("sec-fetch-site", "same-site"), ("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "document")];
        assert!(!site.is_foreign(&request("GET", &link), None), "a link to the Hub");
        assert!(site.is_foreign(&request("POST", &link), None), "a form posted from an app");
        let own = [("origin", "https://luna.example.com"), ("sec-fetch-site", "same-origin")];
        assert!(!site.is_foreign(&request("POST", &own), None));
        assert!(!site.is_foreign(&request("POST", &[]), None), "scripts and the CLI");
    }

    #[test]
    fn cross_site_writes_are_recognised() {
        let site = Site::new("https://luna.example.com", "0.0.0.0:443".parse().unwrap(), "https", None);
        assert!(site.is_cross_site_write(&request("POST", &[("origin", "https://evil.com")])));
        assert!(site.is_cross_site_write(&request("POST", &[("origin", "null")])));
        assert!(site.is_cross_site_write(&request("DELETE", &[("sec-fetch-site", "cross-site")])));
        assert!(!site.is_cross_site_write(&request("POST", &[("origin", "https://luna.example.com")])));
        assert!(!site.is_cross_site_write(&request("POST", &[])), "scripts and the CLI send no Origin");
        assert!(!site.is_cross_site_write(&request("GET", &[("origin", "https://evil.com")])));
        let websocket = [("origin", "https://evil.com"), ("upgrade", "websocket")];
        assert!(site.is_cross_site_write(&request("GET", &websocket)), "cross-site WebSocket hijacking");
    }
}
