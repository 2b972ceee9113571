//! Who may use Luna: GitHub login, sessions, and the decision the gateway makes for every
//! request to a protected route.
//!
//! ```text
//! browser ─► /auth/login?rd=/x ─► GitHub authorize (state + PKCE S256, login cookie)
//!         ◄─ /auth/callback?code&state ◄─┘
//!            code → token → /user (+ /user/orgs) → allow-list (id + login, orgs)
//!            → new session row (new id every login) → session cookie → 302 rd
//! every protected request: session cookie → SessionStore (cached) → allowed / 302 / 401
//! ```
//!
//! Without a GitHub OAuth app (local mode only) access is open: the gateway listens on
//! loopback and lets every request in, and `/auth/me` says so.

pub mod cookies;
mod github;
pub mod identity;
pub mod redirect;
pub mod sessions;

use std::sync::Arc;

use cookies::CookieKeys;
pub use github::{Github, GithubError};
use identity::IdentitySigner;
use sessions::{SessionStore, SessionUser};

use crate::db::Database;
use crate::home::LunaHome;
use crate::settings::Settings;

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
    allowed_users: Vec<String>,
    allowed_orgs: Vec<String>,
}

impl Auth {
    pub fn new(settings: &Settings, home: &LunaHome, db: Database) -> Result<Arc<Self>, String> {
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
            sessions: SessionStore::new(db, settings.auth.session_idle, settings.auth.session_max),
            identity,
            github,
            allowed_users: settings.auth.allowed_users.clone(),
            allowed_orgs: settings.auth.allowed_orgs.clone(),
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
        let Some(raw) = self.cookies.raw_session(cookie_header) else { return Verdict::Unauthenticated };
        if let Some(user) = self.sessions.cached(raw) {
            return Verdict::Allowed(Some(user));
        }
        // The value that is cached is the value that was decrypted, never another cookie.
        let Some(session_id) = self.cookies.decrypt_session(raw) else { return Verdict::Unauthenticated };
        match self.sessions.lookup(&session_id).await {
            // The allow-list may have shrunk since the login: a user it no longer names (and
            // no organization could admit) is out.
            Ok(Some(user)) if self.allowed_orgs.is_empty() && !self.names(&user) => {
                if let Err(error) = self.sessions.delete(&session_id).await {
                    tracing::warn!(%error, "could not end a session of a user no longer allowed");
                }
                Verdict::Unauthenticated
            }
            Ok(Some(user)) => {
                let user = Arc::new(user);
                self.sessions.remember(raw.to_string(), &session_id, Arc::clone(&user));
                Verdict::Allowed(Some(user))
            }
            Ok(None) => Verdict::Unauthenticated,
            Err(error) => {
                tracing::error!(%error, "session lookup failed; refusing the request");
                Verdict::Unavailable
            }
        }
    }

    /// The allow-list decision for a GitHub user and the organizations they belong to.
    pub fn is_allowed(&self, user: &SessionUser, orgs: &[String]) -> bool {
        self.names(user)
            || orgs.iter().any(|org| self.allowed_orgs.iter().any(|allowed| allowed.eq_ignore_ascii_case(org)))
    }

    /// Whether `auth.allowed_users` names the user: by login (case-insensitive), or by
    /// GitHub's numeric id, which survives a rename (a freed login can be taken by someone else).
    fn names(&self, user: &SessionUser) -> bool {
        self.allowed_users.iter().any(|allowed| {
            allowed.eq_ignore_ascii_case(&user.login) || allowed.parse::<i64>().is_ok_and(|id| id == user.id)
        })
    }

    /// Whether the login needs `/user/orgs` (only when the user list alone does not decide).
    pub fn needs_orgs(&self, user: &SessionUser) -> bool {
        !self.allowed_orgs.is_empty() && !self.names(user)
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
