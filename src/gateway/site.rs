//! Which `Host` and `Origin` values name this Luna.
//!
//! - A request for another host name is refused (421): a web page whose DNS name is
//!   rebound to 127.0.0.1 would otherwise be same-origin with Luna in the victim's browser.
//! - A state-changing request (anything but GET/HEAD/OPTIONS, and any WebSocket handshake)
//!   that a browser marks as coming from another site (`Origin`, `Sec-Fetch-Site`) is
//!   refused (403). Session cookies are `SameSite=Lax`, but open local mode has no cookie at
//!   all, and a form on any web page could otherwise stop Luna, log its user out, or drive an
//!   extension's WebSocket.

use std::net::SocketAddr;

use pingora::http::RequestHeader;

#[derive(Debug, Clone)]
pub struct Site {
    /// `host[:port]`, lower-case, as a browser sends it in `Host`.
    hosts: Vec<String>,
    /// `scheme://host[:port]`, as a browser sends it in `Origin`.
    origins: Vec<String>,
}

impl Site {
    /// The names of `public_url`, plus the loopback names of `listen` (served with `scheme`)
    /// when it is loopback.
    pub fn new(public_url: &str, listen: SocketAddr, scheme: &str) -> Self {
        let mut hosts = Vec::new();
        let mut origins = Vec::new();
        if let Ok(url) = reqwest::Url::parse(public_url)
            && let Some(host) = url.host_str()
        {
            let authority = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            origins.push(format!("{}://{authority}", url.scheme()));
            hosts.push(authority.to_ascii_lowercase());
        }
        if listen.ip().is_loopback() {
            let port = listen.port();
            for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")] {
                origins.push(format!("{scheme}://{host}"));
                hosts.push(host);
            }
        }
        Self { hosts, origins }
    }

    /// `host[:port]` names of this Luna.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// `scheme://host[:port]` origins of this Luna.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// True if the request names this Luna (`Host`, or the authority of an HTTP/2 request).
    pub fn is_our_host(&self, request: &RequestHeader) -> bool {
        let host = request
            .uri
            .authority()
            .map(|authority| authority.as_str().to_string())
            .or_else(|| request.headers.get("host").and_then(|value| value.to_str().ok()).map(str::to_string));
        host.is_some_and(|host| self.hosts.iter().any(|ours| ours.eq_ignore_ascii_case(&host)))
    }

    /// True for a state-changing request (or a WebSocket handshake, which is a GET that
    /// opens a two-way channel) a browser sent on behalf of another site.
    pub fn is_cross_site_write(&self, request: &RequestHeader) -> bool {
        let upgrade = request.headers.get("upgrade").is_some();
        if !upgrade && matches!(request.method.as_str(), "GET" | "HEAD" | "OPTIONS") {
            return false;
        }
        let header = |name: &str| request.headers.get(name).and_then(|value| value.to_str().ok());
        if header("sec-fetch-site").is_some_and(|site| site.eq_ignore_ascii_case("cross-site")) {
            return true;
        }
        header("origin").is_some_and(|origin| !self.origins.iter().any(|ours| ours.eq_ignore_ascii_case(origin)))
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

    #[test]
    fn hosts_of_a_local_luna() {
        let site = Site::new("http://127.0.0.1:8800", "127.0.0.1:8800".parse().unwrap(), "http");
        for host in ["127.0.0.1:8800", "localhost:8800", "LOCALHOST:8800", "[::1]:8800"] {
            assert!(site.is_our_host(&request("GET", &[("host", host)])), "{host}");
        }
        for host in ["evil.com", "evil.com:8800", "127.0.0.1:9999", "127.0.0.1"] {
            assert!(!site.is_our_host(&request("GET", &[("host", host)])), "{host}");
        }
        assert!(!site.is_our_host(&request("GET", &[])), "no Host at all");
    }

    #[test]
    fn cross_site_writes_are_recognised() {
        let site = Site::new("https://luna.example.com", "0.0.0.0:443".parse().unwrap(), "https");
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
