//! Luna's cookies, encrypted and authenticated with one key (`cookie::PrivateJar`):
//!
//! - the session cookie carries only the opaque session id;
//! - the login cookie carries the OAuth `state`, the PKCE verifier and `rd` for the ten
//!   minutes a login may take, bound to the browser that started it.
//!
//! Both are `HttpOnly` and `SameSite=Lax`; under HTTPS they are `Secure` and the session
//! cookie takes the `__Host-` prefix (no `Domain`, path `/`), so no subdomain can set it.

use std::path::Path;
use std::time::Duration;

use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize};

use crate::state_file::write_atomic;

const LOGIN_COOKIE: &str = "luna_login";
/// How long a started login may take.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct CookieKeys {
    key: Key,
    secure: bool,
}

/// What the login cookie remembers between `/auth/login` and `/auth/callback`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoginState {
    pub state: String,
    pub verifier: String,
    pub rd: String,
}

impl CookieKeys {
    /// Reads the key from `path`, creating it (64 random bytes, mode 0600) the first time.
    pub fn load_or_create(path: &Path, secure: bool) -> std::io::Result<Self> {
        let key = match std::fs::read(path) {
            Ok(bytes) if bytes.len() >= 64 => Key::try_from(bytes.as_slice()).map_err(std::io::Error::other)?,
            Ok(_) => return Err(std::io::Error::other(format!("{} is shorter than 64 bytes", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Key::generate();
                write_atomic(path, key.master(), 0o600)?;
                key
            }
            Err(error) => return Err(error),
        };
        Ok(Self { key, secure })
    }

    pub fn session_cookie_name(&self) -> &'static str {
        if self.secure { "__Host-luna_session" } else { "luna_session" }
    }

    /// True for the names of Luna's own cookies, which never go to other upstreams.
    pub fn is_luna_cookie(&self, name: &str) -> bool {
        name == self.session_cookie_name() || name == LOGIN_COOKIE
    }

    /// The session id in a request's `Cookie` header, if one decrypts. Reads the same
    /// cookie as [`Self::raw_session`] (the first of that name), so the gateway and the API
    /// never disagree about which session a request carries.
    pub fn read_session(&self, cookie_header: Option<&str>) -> Option<String> {
        self.decrypt_session(self.raw_session(cookie_header)?)
    }

    /// Decrypts one raw session cookie value (from [`Self::raw_session`]).
    pub fn decrypt_session(&self, raw: &str) -> Option<String> {
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(self.session_cookie_name(), raw.to_string()));
        jar.private(&self.key).get(self.session_cookie_name()).map(|cookie| cookie.value().to_string())
    }

    /// The session cookie's value exactly as sent (still encrypted): a cache key that
    /// needs no decryption.
    pub fn raw_session<'a>(&self, cookie_header: Option<&'a str>) -> Option<&'a str> {
        let name = self.session_cookie_name();
        cookie_header?.split(';').find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
    }

    /// `Set-Cookie` value that stores `session_id` for `max_age`.
    pub fn session_cookie(&self, session_id: &str, max_age: Duration) -> String {
        let cookie = self.base(self.session_cookie_name(), session_id.to_string(), "/").max_age(seconds(max_age));
        self.encrypt(cookie.build())
    }

    pub fn clear_session_cookie(&self) -> String {
        self.removal(self.session_cookie_name(), "/")
    }

    pub fn login_cookie(&self, state: &LoginState) -> String {
        let value = serde_json::to_string(state).unwrap_or_default();
        let cookie = self.base(LOGIN_COOKIE, value, "/auth").max_age(seconds(LOGIN_TIMEOUT));
        self.encrypt(cookie.build())
    }

    pub fn read_login(&self, cookie_header: Option<&str>) -> Option<LoginState> {
        serde_json::from_str(&self.read(cookie_header, LOGIN_COOKIE)?).ok()
    }

    pub fn clear_login_cookie(&self) -> String {
        self.removal(LOGIN_COOKIE, "/auth")
    }

    fn base(&self, name: &'static str, value: String, path: &'static str) -> cookie::CookieBuilder<'static> {
        Cookie::build((name, value)).http_only(true).same_site(SameSite::Lax).secure(self.secure).path(path)
    }

    fn encrypt(&self, cookie: Cookie<'static>) -> String {
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key).add(cookie);
        jar.delta().next().map(|cookie| cookie.to_string()).unwrap_or_default()
    }

    fn removal(&self, name: &'static str, path: &'static str) -> String {
        let cookie = self.base(name, String::new(), path).max_age(cookie::time::Duration::ZERO).build();
        cookie.to_string()
    }

    fn read(&self, cookie_header: Option<&str>, name: &str) -> Option<String> {
        let mut jar = CookieJar::new();
        for cookie in Cookie::split_parse(cookie_header?).flatten() {
            if cookie.name() == name {
                jar.add_original(cookie.into_owned());
            }
        }
        jar.private(&self.key).get(name).map(|cookie| cookie.value().to_string())
    }
}

fn seconds(duration: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(duration.as_secs() as i64)
}

/// `header` without Luna's own cookies; `None` if nothing is left.
pub fn without_luna_cookies(header: &str, keys: &CookieKeys) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| !keys.is_luna_cookie(pair.split('=').next().unwrap_or("").trim()))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secure: bool) -> (tempfile::TempDir, CookieKeys) {
        let dir = tempfile::tempdir().unwrap();
        let keys = CookieKeys::load_or_create(&dir.path().join("cookie.key"), secure).unwrap();
        (dir, keys)
    }

    fn as_request_header(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_string()
    }

    #[test]
    fn session_round_trip_and_tampering() {
        let (_dir, keys) = keys(false);
        let set_cookie = keys.session_cookie("abc", Duration::from_secs(60));
        assert!(set_cookie.starts_with("luna_session="));
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
        assert!(!set_cookie.contains("abc"), "the id is encrypted: {set_cookie}");
        assert!(!set_cookie.contains("Secure"));

        let header = format!("other=1; {}", as_request_header(&set_cookie));
        assert_eq!(keys.read_session(Some(&header)).as_deref(), Some("abc"));

        let mut tampered = as_request_header(&set_cookie);
        tampered.insert(tampered.len() - 2, 'A');
        assert_eq!(keys.read_session(Some(&tampered)), None);
        assert_eq!(keys.read_session(Some("luna_session=abc")), None, "plain values are not accepted");
    }

    #[test]
    fn https_cookies_are_secure_and_host_prefixed() {
        let (_dir, keys) = keys(true);
        let set_cookie = keys.session_cookie("abc", Duration::from_secs(60));
        assert!(set_cookie.starts_with("__Host-luna_session="));
        assert!(set_cookie.contains("Secure") && set_cookie.contains("Path=/"));
        assert!(!set_cookie.contains("Domain"));
    }

    #[test]
    fn the_key_persists_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookie.key");
        let first = CookieKeys::load_or_create(&path, false).unwrap();
        let cookie = as_request_header(&first.session_cookie("abc", Duration::from_secs(60)));
        let second = CookieKeys::load_or_create(&path, false).unwrap();
        assert_eq!(second.read_session(Some(&cookie)).as_deref(), Some("abc"));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap().len(), 64);
    }

    #[test]
    fn luna_cookies_are_removed_for_upstreams() {
        let (_dir, keys) = keys(false);
        assert_eq!(without_luna_cookies("a=1; luna_session=x; luna_login=y; b=2", &keys).as_deref(), Some("a=1; b=2"));
        assert_eq!(without_luna_cookies("luna_session=x", &keys), None);
    }
}
