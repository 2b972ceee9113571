//! Who may use Luna: GitHub login, sessions, and the decision the gateway makes for every
//! request to a protected route.
//!
//! ```text
//! browser ─► /auth/login?rd=/x ─► GitHub authorize (state + PKCE S256, login cookie)
//!         ◄─ /auth/callback?code&state ◄─┘
//!            code → token → /user (+ /user/orgs) → allow-list (ids or logins, orgs)
//!            → new session row (new id every login) → session cookie → 302 rd
//! every protected request: session cookie → SessionStore (cached) → allowed / 302 / 401
//! ```
//!
//! Without a GitHub OAuth app (local mode only) access is open: the gateway listens on
//! loopback and lets every request in, and `/auth/me` says so.

pub mod app_login;
pub mod cookies;
pub mod github;
pub mod identity;
pub mod login;
pub mod redirect;
pub mod sessions;

use std::sync::Arc;

use crate::allow_list::{Account, AllowList, Role};
use cookies::CookieKeys;
pub use github::{Github, GithubError};
use identity::IdentitySigner;
use sessions::{SessionStore, SessionUser};

use crate::db::Database;
use crate::home::LunaHome;
use crate::settings::Settings;

/// Session cookies of one request that are looked at, at most (a browser sends one; a page
/// can plant a few more).
const MAX_SESSION_COOKIES: usize = 4;

/// The gateway's verdict on one request to a protected route.
pub enum Verdict {
    /// Let it through; `Some` names the logged-in user, `None` in open (local) mode.
    Allowed(Option<Arc<SessionUser>>),
    Unauthenticated,
    /// The session store could not answer: fail closed.
    Unavailable,
}

pub struct Auth {
    pub cookies: CookieKeys,
    pub sessions: SessionStore,
    pub identity: IdentitySigner,
    /// `None`: open access (local mode without a GitHub app).
    pub github: Option<Github>,
    /// Login hops to app origins in flight.
    pub app_codes: app_login::AppCodes,
    allow_list: AllowList,
}

impl Auth {
    pub fn new(
        settings: &Settings,
        home: &LunaHome,
        db: Database,
        events: crate::events::Events,
    ) -> Result<Arc<Self>, String> {
        let secure = settings.public_url.starts_with("https://");
        let cookies = CookieKeys::load_or_create(&home.cookie_key_file(), secure)
            .map_err(|error| format!("{}: {error}", home.cookie_key_file().display()))?;
        let identity = IdentitySigner::load_or_create(&home.identity_key_file(), &settings.public_url)
            .map_err(|error| format!("{}: {error}", home.identity_key_file().display()))?;
        let github = match &settings.auth.github {
            Some(app) => Some(Github::new(app, &format!("{}/auth/callback", settings.public_url))?),
            None => None,
        };
        Ok(Arc::new(Self {
            cookies,
            sessions: SessionStore::new(db, settings.auth.session_idle, settings.auth.session_max, events),
            identity,
            github,
            app_codes: app_login::AppCodes::default(),
            allow_list: settings.auth.allow_list.clone(),
        }))
    }

    pub fn is_open(&self) -> bool {
        self.github.is_none()
    }

    /// Decides a request to a protected route from its `Cookie` header.
    pub async fn check(&self, cookie_header: Option<&str>) -> Verdict {
        if self.is_open() {
            return Verdict::Allowed(None);
        }
        // Every session cookie the request carries, the last first: Luna's own has path `/`,
        // so the browser sends it after any same-named cookie planted with a longer path.
        for raw in self.cookies.raw_sessions(cookie_header).rev().take(MAX_SESSION_COOKIES) {
            if let Some(user) = self.sessions.cached(raw) {
                return Verdict::Allowed(Some(user));
            }
            if self.sessions.is_dead(raw) {
                continue;
            }
            // The value that is cached is the value that was decrypted, never another cookie.
            let Some(session_id) = self.cookies.decrypt_session(raw) else { continue };
            if let Some(verdict) = self.session_verdict(raw, &session_id).await {
                return verdict;
            }
        }
        Verdict::Unauthenticated
    }

    /// Decides a request on app `app`'s origin from its app session cookie, which rests on a
    /// Hub session: the same session, seen from there.
    pub async fn check_app(&self, cookie_header: Option<&str>, app: &str) -> Verdict {
        if self.is_open() {
            return Verdict::Allowed(None);
        }
        for raw in self.cookies.raw_app_sessions(cookie_header, app).rev().take(MAX_SESSION_COOKIES) {
            // Cached per app too: a cookie value of one app is nothing on another's origin.
            let key = format!("{app}\n{raw}");
            if let Some(user) = self.sessions.cached(&key) {
                return Verdict::Allowed(Some(user));
            }
            if self.sessions.is_dead(&key) {
                continue;
            }
            let Some((cookie_app, session_id)) = self.cookies.decrypt_app_session(raw, app) else { continue };
            if cookie_app != app {
                continue;
            }
            if let Some(verdict) = self.session_verdict(&key, &session_id).await {
                return verdict;
            }
        }
        Verdict::Unauthenticated
    }

    /// The verdict on session `session_id`, reached through cookie `key` (remembered under
    /// it); `None` if there is no such session for an admitted user.
    async fn session_verdict(&self, key: &str, session_id: &str) -> Option<Verdict> {
        match self.sessions.lookup(session_id).await {
            // The allow-list may have changed since the login.
            Ok(Some(user)) if !self.admits(&user) => {
                if let Err(error) = self.sessions.delete(session_id).await {
                    tracing::warn!(%error, "could not end a session of a user no longer allowed");
                }
                self.sessions.remember_dead(key);
                None
            }
            Ok(Some(user)) => {
                let user = Arc::new(user);
                self.sessions.remember(key.to_string(), session_id, Arc::clone(&user));
                Some(Verdict::Allowed(Some(user)))
            }
            Ok(None) => {
                self.sessions.remember_dead(key);
                None
            }
            Err(error) => {
                tracing::error!(%error, "session lookup failed; refusing the request");
                Some(Verdict::Unavailable)
            }
        }
    }

    /// Redeems a login hop's code on app `app`'s origin, in the browser holding `state`:
    /// the Hub session it rests on, if that is still live and admitted.
    pub async fn redeem_app_code(
        &self,
        code: &str,
        app: &str,
        state: &str,
    ) -> Result<Option<String>, crate::db::DbError> {
        let Some(session_id) = self.app_codes.redeem(code, app, state) else { return Ok(None) };
        let user = self.sessions.lookup(&session_id).await?;
        Ok(user.filter(|user| self.admits(user)).map(|_| session_id))
    }

    /// The admission rule, for sessions and OAuth grants alike: an open Luna admits only its
    /// local owner; with GitHub login, the allow-list decides and the local owner is nobody.
    pub fn admits(&self, user: &SessionUser) -> bool {
        if user.is_local_owner() {
            return self.is_open();
        }
        !self.is_open() && self.allow_list.admits(&user.account(), &user.orgs)
    }

    /// What an admitted user may do: the local owner is always an admin; with GitHub login,
    /// `auth.admins` decides ([`AllowList::role`]). Asked on every use, never stored, so a
    /// changed `auth.admins` applies to existing sessions and grants at the next start.
    pub fn role_of(&self, user: &SessionUser) -> Role {
        if user.is_local_owner() { Role::Admin } else { self.allow_list.role(&user.account()) }
    }

    /// Whether a login must read the user's organizations from GitHub.
    pub fn checks_orgs(&self) -> bool {
        self.allow_list.has_orgs()
    }

    /// Whether the allow-list names the user itself (organizations aside).
    pub fn names(&self, user: &SessionUser) -> bool {
        self.allow_list.names(&user.account())
    }

    /// The organizations among `orgs` that admit their members.
    pub fn admitting_orgs(&self, orgs: &[Account]) -> Vec<Account> {
        self.allow_list.admitting(orgs)
    }

    /// Live sessions, newest first: `login`'s, or everyone's for `None` (the owner); the one
    /// `cookie_header` carries is marked `current`.
    pub async fn sessions_of(
        &self,
        login: Option<String>,
        cookie_header: Option<&str>,
    ) -> Result<Vec<sessions::SessionInfo>, crate::db::DbError> {
        let mut listed = self.sessions.list(login).await?;
        if let Some(current) = self.cookies.read_session(cookie_header).map(|id| sessions::hash_id(&id)) {
            for session in &mut listed {
                session.current = session.id == current;
            }
        }
        Ok(listed)
    }

    /// Ends session `id` (its stored hash) if `login` may see it (`None`: the owner, any);
    /// false if there is no such session for them.
    pub async fn end_session(&self, id: &str, login: Option<String>) -> Result<bool, crate::db::DbError> {
        if !self.sessions.list(login).await?.iter().any(|session| session.id == id) {
            return Ok(false);
        }
        self.sessions.revoke(id).await
    }

    /// Ends the sessions of users the current rule no longer admits (run at start).
    pub async fn end_unadmitted_sessions(&self) -> Result<usize, crate::db::DbError> {
        self.sessions.end_unless(|user| self.admits(user)).await
    }
}

/// 32 random bytes, URL-safe base64: for generated bearer tokens.
pub fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares two secrets without an early exit, so timing says nothing about where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
