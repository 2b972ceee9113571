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

const SESSION_COOKIE: &str = "luna_session";
const LOGIN_COOKIE: &str = "luna_login";
/// An app origin's session (`luna_app-<app>`): the app's name and the Hub session it rests
/// on. Named per app: where apps have origins by port they share one host, and cookies
/// ignore ports, so one name would let each app's login overwrite another's.
const APP_COOKIE: &str = "luna_app";
/// An app origin's login hop in flight (`luna_app_state-<app>`): the `state` it is bound to.
const APP_STATE_COOKIE: &str = "luna_app_state";
/// How long a login hop may take (the Hub may have to log the user in first).
pub const APP_STATE_TIMEOUT: Duration = Duration::from_secs(600);
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
        if self.secure { "__Host-luna_session" } else { SESSION_COOKIE }
    }

    /// The session id in a request's `Cookie` header: the last session cookie that
    /// decrypts, as [`crate::auth::Auth::check`] picks it, so the gateway and the API never
    /// disagree about which session a request carries.
    pub fn read_session(&self, cookie_header: Option<&str>) -> Option<String> {
        self.raw_sessions(cookie_header).rev().find_map(|raw| self.decrypt_session(raw))
    }

    /// Decrypts one raw session cookie value (from [`Self::raw_session`]).
    pub fn decrypt_session(&self, raw: &str) -> Option<String> {
        self.decrypt(self.session_cookie_name(), raw)
    }

    /// The plain value of cookie `name` whose encrypted value is `raw` (the name is bound
    /// into the encryption: a value of one cookie never decrypts as another's).
    fn decrypt(&self, name: &str, raw: &str) -> Option<String> {
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(name.to_string(), raw.to_string()));
        jar.private(&self.key).get(name).map(|cookie| cookie.value().to_string())
    }

    /// Every session cookie's value exactly as sent (still encrypted: a cache key that needs
    /// no decryption), in the order sent. There can be several: a page on this origin can
    /// plant a same-named cookie with a longer path, which the browser sends first.
    pub fn raw_sessions<'a>(&self, cookie_header: Option<&'a str>) -> impl DoubleEndedIterator<Item = &'a str> {
        raw_values(cookie_header, self.session_cookie_name())
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

    fn app_cookie_name(&self, app: &str) -> String {
        format!("{}{APP_COOKIE}-{app}", self.prefix())
    }

    fn app_state_cookie_name(&self, app: &str) -> String {
        format!("{}{APP_STATE_COOKIE}-{app}", self.prefix())
    }

    fn prefix(&self) -> &'static str {
        if self.secure { "__Host-" } else { "" }
    }

    /// The session cookie of app `app`'s origin, resting on Hub session `session_id`.
    /// Host-only like every Luna cookie, so it is sent to that origin alone (and, where apps
    /// have origins by port, to the other ports of the host, which ignore it).
    pub fn app_session_cookie(&self, app: &str, session_id: &str, max_age: Duration) -> String {
        let value = format!("{app}\n{session_id}");
        let cookie = self.base(self.app_cookie_name(app), value, "/").max_age(seconds(max_age));
        self.encrypt(cookie.build())
    }

    /// The raw values of app `app`'s session cookies, in the order the request carries them.
    pub fn raw_app_sessions<'a>(
        &self,
        cookie_header: Option<&'a str>,
        app: &str,
    ) -> impl DoubleEndedIterator<Item = &'a str> + use<'a> {
        raw_values(cookie_header, self.app_cookie_name(app))
    }

    /// (app, Hub session id) of app `app`'s session cookie's raw value, if it decrypts.
    pub fn decrypt_app_session(&self, raw: &str, app: &str) -> Option<(String, String)> {
        let value = self.decrypt(&self.app_cookie_name(app), raw)?;
        let (app, session_id) = value.split_once('\n')?;
        Some((app.to_string(), session_id.to_string()))
    }

    pub fn app_state_cookie(&self, app: &str, state: &str) -> String {
        let name = self.app_state_cookie_name(app);
        let cookie = self.base(name, state.to_string(), "/").max_age(seconds(APP_STATE_TIMEOUT));
        self.encrypt(cookie.build())
    }

    pub fn read_app_state(&self, cookie_header: Option<&str>, app: &str) -> Option<String> {
        self.read(cookie_header, &self.app_state_cookie_name(app))
    }

    pub fn clear_app_state_cookie(&self, app: &str) -> String {
        self.removal(self.app_state_cookie_name(app), "/")
    }

    fn base(
        &self,
        name: impl Into<std::borrow::Cow<'static, str>>,
        value: String,
        path: &'static str,
    ) -> cookie::CookieBuilder<'static> {
        Cookie::build((name, value)).http_only(true).same_site(SameSite::Lax).secure(self.secure).path(path)
    }

    fn encrypt(&self, cookie: Cookie<'static>) -> String {
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key).add(cookie);
        jar.delta().next().map(|cookie| cookie.to_string()).unwrap_or_default()
    }

    fn removal(&self, name: impl Into<std::borrow::Cow<'static, str>>, path: &'static str) -> String {
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

/// The values of every cookie named `name` in a `Cookie` header, in the order sent.
fn raw_values<'a, N: AsRef<str> + 'a>(
    cookie_header: Option<&'a str>,
    name: N,
) -> impl DoubleEndedIterator<Item = &'a str> + use<'a, N> {
    cookie_header.unwrap_or_default().split(';').filter_map(move |pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name.as_ref()).then_some(value)
    })
}

fn seconds(duration: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(duration.as_secs() as i64)
}

/// True for a name Luna's cookies go by, in any case and with or without a `__Host-` or
/// `__Secure-` prefix: upstreams may neither read nor set anything that could pass for one.
pub fn is_luna_cookie(name: &str) -> bool {
    let name = name.trim();
    let bare = ["__Host-", "__Secure-"]
        .iter()
        .find_map(|prefix| {
            let head = name.get(..prefix.len())?;
            head.eq_ignore_ascii_case(prefix).then(|| &name[prefix.len()..])
        })
        .unwrap_or(name);
    // Every app's session and state cookie starts with `luna_app`.
    let app = bare.get(..APP_COOKIE.len()).is_some_and(|head| head.eq_ignore_ascii_case(APP_COOKIE));
    app || [SESSION_COOKIE, LOGIN_COOKIE].iter().any(|ours| bare.eq_ignore_ascii_case(ours))
}

/// Whether a `Set-Cookie` value, as raw bytes in whatever encoding an upstream sent, would
/// set one of Luna's cookies. The name is everything before the first `=` of the first
/// `;`-part, trimmed; a cookie without a name is sent by browsers as its bare value, so
/// `=luna_session=x` counts as `luna_session`.
pub fn sets_luna_cookie(set_cookie: &[u8]) -> bool {
    let pair = set_cookie.split(|byte| *byte == b';').next().unwrap_or_default();
    let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
        Some(at) => (&pair[..at], &pair[at + 1..]),
        None => (&pair[..0], pair),
    };
    let name = match name.trim_ascii() {
        b"" => value.split(|byte| *byte == b'=').next().unwrap_or_default(),
        name => name,
    };
    is_luna_cookie(&String::from_utf8_lossy(name))
}

/// The `name=value` pairs of a request's `Cookie` fields (several under HTTP/2), as raw
/// bytes: another site's cookie may hold bytes that are not ASCII, and that must neither hide
/// Luna's cookies nor be changed on its way to the app that set it.
pub fn cookie_pairs<'a>(fields: impl Iterator<Item = &'a [u8]>) -> Vec<&'a [u8]> {
    fields
        .flat_map(|field| field.split(|byte| *byte == b';'))
        .map(<[u8]>::trim_ascii)
        .filter(|pair| !pair.is_empty())
        .collect()
}

fn is_luna_pair(pair: &[u8]) -> bool {
    let name = pair.split(|byte| *byte == b'=').next().unwrap_or_default();
    is_luna_cookie(&String::from_utf8_lossy(name))
}

/// Luna's own cookies among `pairs`, as one `Cookie` value (theirs are ASCII; a pair that is
/// not is no cookie of Luna's).
pub fn luna_cookies(pairs: &[&[u8]]) -> Option<String> {
    let ours: Vec<&str> =
        pairs.iter().filter(|pair| is_luna_pair(pair)).filter_map(|pair| std::str::from_utf8(pair).ok()).collect();
    (!ours.is_empty()).then(|| ours.join("; "))
}

/// Every cookie but Luna's own, byte for byte, as one `Cookie` value; `None` if none is left.
pub fn without_luna_cookies(pairs: &[&[u8]]) -> Option<Vec<u8>> {
    let kept: Vec<&[u8]> = pairs.iter().copied().filter(|pair| !is_luna_pair(pair)).collect();
    (!kept.is_empty()).then(|| kept.join(&b"; "[..]))
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
    fn luna_cookies_go_to_luna_and_the_rest_to_upstreams_byte_for_byte() {
        let fields = [&b"a=1; luna_session=x;luna_login=y"[..], b"pref=caf\xc3\xa9; b=2"];
        let pairs = cookie_pairs(fields.into_iter());
        assert_eq!(luna_cookies(&pairs).as_deref(), Some("luna_session=x; luna_login=y"));
        assert_eq!(without_luna_cookies(&pairs).as_deref(), Some(&b"a=1; pref=caf\xc3\xa9; b=2"[..]));
        let only_ours = cookie_pairs([&b"luna_session=x; __Host-luna_session=y"[..]].into_iter());
        assert_eq!(without_luna_cookies(&only_ours), None);
    }

    #[test]
    fn set_cookie_names_are_read_from_the_raw_bytes() {
        for planted in [
            &b"luna_session=x; Path=/api"[..],
            b"luna_session=caf\xc3\xa9; Path=/api",
            b" Luna_Session =x",
            b"__Host-luna_session=x; Path=/; Secure",
            b"__secure-LUNA_LOGIN=x",
            b"=luna_session=x; Path=/api",
            b"luna_login",
        ] {
            assert!(sets_luna_cookie(planted), "{}", String::from_utf8_lossy(planted));
        }
        for kept in [&b"theme=light; Path=/ext"[..], b"luna_sessions=1", b"caf\xc3\xa9=1", b"=other"] {
            assert!(!sets_luna_cookie(kept), "{}", String::from_utf8_lossy(kept));
        }
    }

    #[test]
    fn the_session_is_the_last_session_cookie_that_decrypts() {
        let (_dir, keys) = keys(false);
        let own = as_request_header(&keys.session_cookie("mine", Duration::from_secs(60)));
        let planted = as_request_header(&keys.session_cookie("theirs", Duration::from_secs(60)));
        // A planted cookie with a longer path comes first; garbage never shadows the real one.
        assert_eq!(keys.read_session(Some(&format!("{planted}; {own}"))).as_deref(), Some("mine"));
        assert_eq!(keys.read_session(Some(&format!("luna_session=garbage; {own}"))).as_deref(), Some("mine"));
        assert_eq!(keys.read_session(Some(&format!("{own}; luna_session=garbage"))).as_deref(), Some("mine"));
    }
}
