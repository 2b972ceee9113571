//! Luna as the OAuth 2.1 authorization server of its MCP endpoint (SPEC §7), with GitHub
//! (through Luna's own login) as the identity.
//!
//! A client registers (RFC 7591, or by a Client ID Metadata Document URL), sends the user
//! to `/api/authorize` (PKCE S256, exact redirect URI), the user logs in with GitHub if
//! needed and approves on Luna's consent page; the client swaps the code for a one-hour
//! EdDSA access token (audience `<site>/api/mcp`) and a rotating refresh token.
//!
//! - [`store`]: clients, grants, codes and refresh tokens in the database (hashes only).
//! - [`tokens`]: access tokens, issued and verified.
//! - [`redirect_uri`]: registration and matching rules.
//! - [`cimd`]: metadata documents, fetched behind SSRF guards.
//! - [`rate`]: per-address limits on register, authorize and token.
//!
//! The HTTP side is `api/oauth.rs`; `/api/mcp` checks tokens through [`OAuth::check_bearer`].

pub mod cimd;
pub mod flow;
pub mod rate;
pub mod redirect_uri;
pub mod store;
pub mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::allow_list::Role;
use crate::auth::Auth;
use crate::auth::sessions::SessionUser;
use crate::db::DbError;
pub use store::{Client, Grant, OAuthStore, Redeemed};
pub use tokens::{AccessClaims, AccessTokens, MCP_SCOPE, TokenProblem};

/// Longest client name kept.
const MAX_CLIENT_NAME: usize = 200;
/// A consent page must be answered within this long.
const CONSENT_SECONDS: u64 = 600;
/// Pending consents kept at most (each is a few hundred bytes).
const MAX_PENDING: usize = 1000;
/// How long `/api/mcp` trusts that a grant is still live before asking the database again.
/// A grant found dead stays dead (revocation is final), so that answer is kept.
const GRANT_CACHE: Duration = Duration::from_secs(5);
/// Grants whose liveness is remembered at most; beyond this the memory starts over.
const GRANT_CACHE_CAPACITY: usize = 10_000;

/// An authorization request waiting for the user's decision on the consent page.
#[derive(Debug, Clone)]
pub struct PendingConsent {
    pub csrf: String,
    pub request: ConsentRequest,
    created: Instant,
}

/// What the user is asked to approve.
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    pub user: SessionUser,
    pub client: Client,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub scope: String,
}

pub struct OAuth {
    pub store: OAuthStore,
    /// The admission rule every grant is held to, at every use.
    auth: Arc<Auth>,
    pub tokens: AccessTokens,
    pub limits: rate::OAuthLimits,
    pub documents: cimd::MetadataDocuments,
    pending: Mutex<HashMap<String, PendingConsent>>,
    /// Grant id → (its user's role if it is live, `None` if not; when that was learnt).
    grant_liveness: Mutex<HashMap<String, (Option<Role>, Instant)>>,
}

/// Who a valid bearer speaks for at `/api/mcp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum McpPrincipal {
    /// `MCP_AUTH_TOKEN`, the socket, or a loopback client of an open local Luna.
    Owner,
    /// An access token from Luna's authorization server: a user (by GitHub id, which a
    /// rename does not change) through one client, with the user's role now.
    User { user_id: String, login: String, client_id: String, role: Role },
}

impl OAuth {
    pub fn new(store: OAuthStore, tokens: AccessTokens, auth: Arc<Auth>) -> Self {
        Self {
            store,
            auth,
            tokens,
            limits: rate::OAuthLimits::default(),
            documents: cimd::MetadataDocuments::default(),
            pending: Mutex::new(HashMap::new()),
            grant_liveness: Mutex::new(HashMap::new()),
        }
    }

    /// The authorization server's issuer: the site root.
    pub fn issuer(&self) -> &str {
        self.tokens.issuer()
    }

    /// A registered client, or the one a metadata document URL describes. Asked before
    /// anyone logged in, so a database lookup waits for a public turn (a document fetch,
    /// which can take seconds, holds none).
    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, String> {
        if cimd::is_metadata_url(client_id) {
            return self.documents.client(client_id).await.map(Some);
        }
        let Some(_turn) = self.limits.authorize.database_turn().await else {
            return Err("Luna is busy; try again in a moment".into());
        };
        self.store.client(client_id).await.map_err(|error| error.to_string())
    }

    /// Keeps a consent for the user's decision; returns its id.
    pub fn hold_consent(&self, request: ConsentRequest) -> String {
        let id = crate::auth::random_token();
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.retain(|_, held| held.created.elapsed() < Duration::from_secs(CONSENT_SECONDS));
        if pending.len() >= MAX_PENDING {
            // Oldest first would be fairer; a flood that fills this is rate-limited anyway.
            pending.clear();
        }
        let held = PendingConsent { csrf: crate::auth::random_token(), request, created: Instant::now() };
        pending.insert(id.clone(), held);
        id
    }

    pub fn pending_consent(&self, id: &str) -> Option<PendingConsent> {
        let pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.get(id).filter(|held| held.created.elapsed() < Duration::from_secs(CONSENT_SECONDS)).cloned()
    }

    /// Takes a consent out (a decision is made once).
    pub fn take_consent(&self, id: &str) -> Option<PendingConsent> {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.remove(id).filter(|held| held.created.elapsed() < Duration::from_secs(CONSENT_SECONDS))
    }

    /// Decides a bearer presented at `/api/mcp` that is not `MCP_AUTH_TOKEN`.
    pub async fn check_bearer(&self, token: &str) -> Result<McpPrincipal, BearerProblem> {
        let claims = self.tokens.verify(token).map_err(BearerProblem::Token)?;
        let Some(role) = self.live_grant_role(&claims.gid).await? else {
            return Err(BearerProblem::Token(TokenProblem::Invalid("the grant was revoked".into())));
        };
        Ok(McpPrincipal::User { user_id: claims.sub, login: claims.login, client_id: claims.client_id, role })
    }

    /// The role of a live grant's user (`None`: not live), from memory when it can be: a
    /// live answer for a few seconds, a dead one for good (so replaying a revoked token
    /// costs no database query). The role is the user's now, never the one at approval: a
    /// demoted admin's clients are a member's on their next request.
    async fn live_grant_role(&self, grant_id: &str) -> Result<Option<Role>, BearerProblem> {
        let remembered = self
            .grant_liveness
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(grant_id)
            .filter(|(role, at)| role.is_none() || at.elapsed() < GRANT_CACHE)
            .map(|(role, _)| *role);
        if let Some(role) = remembered {
            return Ok(role);
        }
        let grant = self.admitted_grant(grant_id).await.map_err(BearerProblem::Database)?;
        let role = grant.map(|grant| self.auth.role_of(&grant.user()));
        self.remember_liveness(grant_id, role);
        Ok(role)
    }

    /// The grant, if it is live and its user is still admitted; a grant whose user is not
    /// (the allow-list changed, GitHub login was turned on or off, or the organization
    /// membership it rests on is older than a session may be) is revoked here.
    pub async fn admitted_grant(&self, grant_id: &str) -> Result<Option<Grant>, DbError> {
        let Some(grant) = self.store.active_grant(grant_id).await? else { return Ok(None) };
        if self.admits(&grant) {
            return Ok(Some(grant));
        }
        tracing::warn!(login = %grant.login, client_id = %grant.client_id, "revoking the grant of a user no longer allowed");
        self.revoke_grant(grant_id).await?;
        Ok(None)
    }

    /// The admission rule for a grant. Organization membership is only learnt at login, so a
    /// grant that rests on it lasts as long as a session may (`auth.session_max_days`); then
    /// the client must be approved again, after a fresh login.
    fn admits(&self, grant: &Grant) -> bool {
        let user = grant.user();
        let membership_age = crate::clock::unix_now() as i64 - grant.created_at;
        let rests_on_membership = !user.orgs.is_empty() && !self.auth.names(&user);
        self.auth.admits(&user)
            && !(rests_on_membership && membership_age > self.auth.sessions.max_age().as_secs() as i64)
    }

    /// Revokes every grant whose user the current rule does not admit (run at start, so a
    /// client of someone taken off the allow-list is disconnected, used or not).
    pub async fn revoke_unadmitted_grants(&self) -> Result<usize, DbError> {
        let mut revoked = 0;
        for grant in self.store.unrevoked_grants().await? {
            if !self.admits(&grant) && self.revoke_grant(&grant.id).await? {
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// Revokes a grant (a connected client) and forgets that it was live.
    pub async fn revoke_grant(&self, grant_id: &str) -> Result<bool, DbError> {
        let revoked = self.store.revoke_grant(grant_id).await?;
        self.remember_liveness(grant_id, None);
        Ok(revoked)
    }

    fn remember_liveness(&self, grant_id: &str, role: Option<Role>) {
        let mut liveness = self.grant_liveness.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if liveness.len() >= GRANT_CACHE_CAPACITY {
            liveness.clear();
        }
        liveness.insert(grant_id.to_string(), (role, Instant::now()));
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BearerProblem {
    #[error(transparent)]
    Token(TokenProblem),
    #[error("cannot check the grant: {0}")]
    Database(DbError),
}

/// A client's own name as Luna keeps and shows it: without control or bidirectional
/// formatting characters (which could make it read as another name), at most
/// `MAX_CLIENT_NAME` characters; blank is no name.
pub fn client_name(claimed: Option<String>) -> Option<String> {
    let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let name: String = claimed?.chars().filter(|c| !c.is_control() && !bidi(*c)).take(MAX_CLIENT_NAME).collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// PKCE S256: `BASE64URL(SHA256(verifier)) == challenge`, with a verifier of legal shape.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte));
    shaped && base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_needs_the_right_verifier_of_the_right_shape() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", challenge));
        assert!(!pkce_matches("short", "short"));
    }

    #[test]
    fn client_names_lose_what_could_disguise_them() {
        assert_eq!(client_name(Some("Claude".into())).as_deref(), Some("Claude"));
        assert_eq!(client_name(Some("  ".into())), None);
        assert_eq!(client_name(None), None);
        assert_eq!(client_name(Some("Evil\u{202e}edualC".into())).as_deref(), Some("EviledualC"));
        assert_eq!(client_name(Some("a\nb\u{7}".into())).as_deref(), Some("ab"));
        assert_eq!(client_name(Some("x".repeat(500))).map(|name| name.len()), Some(200));
    }
}
