//! A browser as far as login is concerned: a cookie jar, and redirects followed by hand
//! so each step can be inspected.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::raw_http::{self, RawResponse};

#[derive(Default, Clone)]
pub struct Browser {
    jar: BTreeMap<String, String>,
}

impl Browser {
    /// A navigation (`Accept: text/html`) carrying the jar's cookies.
    pub fn get(&mut self, address: SocketAddr, target: &str) -> RawResponse {
        self.request(address, "GET", target, &[("Accept", "text/html")])
    }

    pub fn request(
        &mut self,
        address: SocketAddr,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> RawResponse {
        self.request_with_body(address, method, target, headers, "")
    }

    /// A form submission (`application/x-www-form-urlencoded`), as a browser sends it.
    pub fn post_form(&mut self, address: SocketAddr, target: &str, form: &str) -> RawResponse {
        let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/html")];
        self.request_with_body(address, "POST", target, &headers, form)
    }

    pub fn request_with_body(
        &mut self,
        address: SocketAddr,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> RawResponse {
        let cookie = self.cookie_header();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if !cookie.is_empty() {
            all.push(("Cookie", &cookie));
        }
        let response = raw_http::request_with_body(address, method, target, &all, body);
        for set_cookie in response.headers("set-cookie") {
            let pair = set_cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if set_cookie.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_string(), value.to_string());
            }
        }
        response
    }

    pub fn cookie(&self, name: &str) -> Option<&String> {
        self.jar.get(name)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_string(), value.to_string());
    }

    pub fn cookie_header(&self) -> String {
        self.jar.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    /// `/auth/login?rd=<rd>` → GitHub → the callback URL GitHub redirects to (not yet visited).
    pub fn start_login(&mut self, luna: SocketAddr, rd: &str) -> String {
        let rd: String = url_encode(rd);
        let login = self.get(luna, &format!("/auth/login?rd={rd}"));
        assert_eq!(login.status, 302, "login: {}", login.body);
        let (github, path) = split_url(login.header("location").unwrap());
        let authorize = raw_http::get(github, &path);
        assert_eq!(authorize.status, 302, "authorize: {}", authorize.body);
        let (back, callback) = split_url(authorize.header("location").unwrap());
        assert_eq!(back, luna, "GitHub sends the browser back to Luna");
        callback
    }

    /// `target` on the app origin `host` (`<app>.localhost:<port>`), logged in there through
    /// the login hop if it asks for one: app origin → Hub `/auth/app` → the app origin's
    /// callback → `target`. `headers` go with the last request. The jar is one for all
    /// hosts (a real browser keeps cookies per host; Chromium tests check that part).
    pub fn open_app(&mut self, luna: SocketAddr, host: &str, target: &str, headers: &[(&str, &str)]) -> RawResponse {
        self.open_app_at(luna, luna, host, target, headers)
    }

    /// [`Browser::open_app`] where the app listens elsewhere than the Hub (apps by port).
    pub fn open_app_at(
        &mut self,
        luna: SocketAddr,
        app: SocketAddr,
        host: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> RawResponse {
        let page = [("Host", host), ("Accept", "text/html")];
        let first = self.request(app, "GET", target, &page);
        let hub = first.header("location").and_then(|location| location.split_once("/auth/app?"));
        if first.status == 302
            && let Some((_, query)) = hub
        {
            let hop = self.get(luna, &format!("/auth/app?{query}"));
            assert_eq!(hop.status, 302, "the Hub's half of the hop: {}", hop.body);
            let location = hop.header("location").unwrap();
            let after_scheme = location.split_once("://").map_or(location, |(_, rest)| rest);
            let callback = &after_scheme[after_scheme.find('/').unwrap()..];
            assert!(after_scheme.starts_with(host), "the code goes to the app's origin: {location}");
            let back = self.request(app, "GET", callback, &page);
            assert_eq!(back.status, 302, "the app origin's callback: {}", back.body);
        }
        let mut all = vec![("Host", host)];
        all.extend_from_slice(headers);
        self.request(app, "GET", target, &all)
    }

    /// The whole login; returns the callback's response.
    pub fn login(&mut self, luna: SocketAddr, rd: &str) -> RawResponse {
        let callback = self.start_login(luna, rd);
        self.get(luna, &callback)
    }
}

/// `http://host:port/path?query` → (address, `/path?query`).
pub fn split_url(url: &str) -> (SocketAddr, String) {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not an http URL: {url}"));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    (authority.parse().unwrap(), if path.is_empty() { "/".into() } else { path.to_string() })
}

pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
