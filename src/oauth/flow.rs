//! The authorization server's protocol decisions, one method per endpoint, free of HTTP:
//! `api/oauth.rs` turns requests into these calls, and their answers and typed errors into
//! RFC 6749 / RFC 7591 JSON, redirects and Luna's pages.
//!
//! - [`OAuth::register`]: RFC 7591 dynamic registration, with per-address caps.
//! - [`OAuth::check_client`] then [`OAuth::request_consent`]: `/api/authorize`. The client and
//!   its redirect URI are checked first; problems with them are never sent to the client.
//!   Then (after the caller made sure a Luna user is logged in) the rest of the request; its
//!   problems go back to the client only if this user approved and connected it before
//!   (RFC 9700 §4.11.2), otherwise they are shown too.
//! - [`OAuth::decide`]: the user's answer on the consent page.
//! - [`OAuth::token`]: `authorization_code` and `refresh_token` grants.
//! - [`OAuth::revoke_token`]: RFC 7009.
//!
//! Every unauthenticated call passes its per-address limit and waits for a database turn
//! first ([`rate`](super::rate)); `from` is the caller's address as limits count it.

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::{Client, ConsentRequest, Grant, MCP_SCOPE, OAuth, Redeemed, pkce_matches, redirect_uri};
use crate::auth::sessions::SessionUser;
use crate::db::DbError;

/// Longest `state` echoed back to a client.
const MAX_STATE_LENGTH: usize = 1024;
/// Most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 10;
/// Registrations not yet used for a grant, kept at most from one address (an IPv6 /64;
/// beyond it, refused) and in all (beyond it, the oldest is forgotten): each costs storage
/// until the daily clean-up, and nobody has logged in to pay for it.
const MAX_UNUSED_CLIENTS_PER_ADDRESS: i64 = 20;
const MAX_UNUSED_CLIENTS: i64 = 2000;
/// How long a client whose address registered too much is asked to wait.
const REGISTRATION_BACKOFF: Duration = Duration::from_secs(3600);

/// An error the protocol names (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 6750): what goes back as
/// `{"error": code, "error_description": description}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidClientMetadata(String),
    #[error("{0}")]
    InvalidRedirectUri(String),
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    InvalidTarget(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// Too many requests: come back after `retry_after`.
    #[error("{description}")]
    SlowDown { description: String, retry_after: Duration },
    #[error("{0}")]
    TemporarilyUnavailable(String),
    #[error("{0}")]
    ServerError(String),
}

impl ProtocolError {
    /// The `error` code on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidTarget(_) => "invalid_target",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::SlowDown { .. } => "slow_down",
            Self::TemporarilyUnavailable(_) => "temporarily_unavailable",
            Self::ServerError(_) => "server_error",
        }
    }

    fn unavailable(what: &str, error: DbError) -> Self {
        tracing::error!(%error, "{what}: database error");
        Self::TemporarilyUnavailable("try again shortly".into())
    }
}

// --- registration (RFC 7591) ---------------------------------------------------------

/// A client's registration request (its metadata document).
#[derive(Debug, Default, Deserialize)]
pub struct Registration {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// What was registered (RFC 7591 §3.2.1).
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client: Client,
    pub issued_at: u64,
    pub grant_types: Vec<String>,
    pub scope: String,
}

// --- authorization -------------------------------------------------------------------

/// The parameters of `/api/authorize`.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

/// A client whose redirect URI checked out for this request.
pub struct CheckedClient {
    pub client: Client,
    pub redirect_uri: String,
    pub state: Option<String>,
}

/// Why an authorization request stops.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// A problem to show on Luna's page; nothing goes to the client.
    #[error("{0}")]
    Shown(String),
    /// Luna cannot answer right now (shown too).
    #[error("{0}")]
    Unavailable(String),
    /// Too many requests from this address: come back after the wait.
    #[error("too many sign-in requests")]
    TooMany(Duration),
    /// An error for a client this user trusts: it goes back to the client at this URL.
    #[error("back to the client")]
    ToClient(Url),
}

/// What the user's answer on the consent page leads to.
pub enum Decision {
    /// Back to the client: with a code, or with `access_denied` for a client the user
    /// approved before.
    ToClient(Url),
    /// Denied a client the user never approved: Luna's page, with the way back as a link.
    DeniedUntrusted { url: Url, host: String },
}

/// Why a consent answer was not taken.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("This sign-in request has expired or was already answered.")]
    Answered,
    /// A wrong CSRF token or another user: refused without using the consent up.
    #[error("This decision does not belong to this sign-in request.")]
    NotYours,
    #[error("Luna cannot store the approval right now; try again.")]
    Unavailable,
}

// --- tokens --------------------------------------------------------------------------

/// The parameters of `/api/token`.
#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub resource: Option<String>,
}

/// A token response (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub scope: String,
}

impl OAuth {
    /// Passes `endpoint`'s limit for `from` and waits for a database turn.
    async fn admit(
        &self,
        endpoint: &super::rate::EndpointLimits,
        from: &str,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, ProtocolError> {
        endpoint.rate.check(from).map_err(|retry_after| ProtocolError::SlowDown {
            description: "too many requests; try again later".into(),
            retry_after,
        })?;
        endpoint
            .database_turn()
            .await
            .ok_or_else(|| ProtocolError::TemporarilyUnavailable("Luna is busy; try again shortly".into()))
    }

    /// Registers a public client (RFC 7591).
    pub async fn register(&self, registration: Registration, from: &str) -> Result<RegisteredClient, ProtocolError> {
        let _turn = self.admit(&self.limits.register, from).await?;
        if registration.redirect_uris.is_empty() || registration.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(ProtocolError::InvalidRedirectUri(format!(
                "redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs"
            )));
        }
        for uri in &registration.redirect_uris {
            redirect_uri::check_registrable(uri).map_err(ProtocolError::InvalidRedirectUri)?;
        }
        let grant_types =
            registration.grant_types.unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
        if let Some(unsupported) =
            grant_types.iter().find(|grant| !matches!(grant.as_str(), "authorization_code" | "refresh_token"))
        {
            return Err(ProtocolError::InvalidClientMetadata(format!("grant type `{unsupported}` is not supported")));
        }
        if registration.response_types.as_ref().is_some_and(|types| types.iter().any(|kind| kind != "code")) {
            return Err(ProtocolError::InvalidClientMetadata("only the `code` response type is supported".into()));
        }
        let unused = self
            .store
            .unused_registrations(from)
            .await
            .map_err(|error| ProtocolError::unavailable("counting client registrations", error))?;
        if unused.from_address >= MAX_UNUSED_CLIENTS_PER_ADDRESS {
            tracing::warn!(from = %from, "client registrations refused: too many unused from one address");
            return Err(ProtocolError::SlowDown {
                description: "too many registrations from your address have not been used yet; try again tomorrow"
                    .into(),
                retry_after: REGISTRATION_BACKOFF,
            });
        }
        // Full: the oldest unused registration makes room (refusing would let a flood from
        // many addresses stop every new client; a client whose registration went re-registers).
        if unused.total >= MAX_UNUSED_CLIENTS {
            tracing::warn!("too many unused client registrations: forgetting the oldest");
            if let Err(error) = self.store.forget_oldest_unused_client().await {
                tracing::error!(%error, "cannot forget a client registration");
            }
        }
        let client = Client {
            client_id: format!("luna-{}", crate::auth::random_token()),
            client_name: super::client_name(registration.client_name),
            redirect_uris: registration.redirect_uris,
        };
        self.store
            .register(&client, from)
            .await
            .map_err(|error| ProtocolError::unavailable("storing a client registration", error))?;
        tracing::info!(client_id = %client.client_id, name = ?client.client_name, "MCP client registered");
        Ok(RegisteredClient {
            client,
            issued_at: crate::clock::unix_now(),
            grant_types,
            scope: registration.scope.unwrap_or_else(|| MCP_SCOPE.to_string()),
        })
    }

    /// Step 1 of `/api/authorize`: the client and its redirect URI. Nothing about them is
    /// ever sent to the client (a redirect would hand an attacker's URI a response).
    pub async fn check_client(&self, request: &AuthorizeRequest, from: &str) -> Result<CheckedClient, AuthorizeError> {
        self.limits.authorize.rate.check(from).map_err(AuthorizeError::TooMany)?;
        let Some(client_id) = request.client_id.as_deref().filter(|id| !id.is_empty()) else {
            return Err(AuthorizeError::Shown("The request names no client_id.".into()));
        };
        let client = match self.client(client_id).await {
            Ok(Some(client)) => client,
            Ok(None) => return Err(AuthorizeError::Shown("This application is not registered with Luna.".into())),
            Err(problem) => return Err(AuthorizeError::Shown(format!("The application cannot be used: {problem}"))),
        };
        let Some(redirect) = request.redirect_uri.as_deref() else {
            return Err(AuthorizeError::Shown("The request names no redirect_uri.".into()));
        };
        if !redirect_uri::matches(&client.redirect_uris, redirect) {
            tracing::warn!(%client_id, redirect_uri = %redirect, "authorization with an unregistered redirect URI refused");
            return Err(AuthorizeError::Shown("The redirect URI is not one this application registered.".into()));
        }
        let state = request.state.as_deref().filter(|value| value.len() <= MAX_STATE_LENGTH);
        if request.state.is_some() && state.is_none() {
            return Err(AuthorizeError::Shown("The state parameter is too long.".into()));
        }
        Ok(CheckedClient { client, redirect_uri: redirect.to_string(), state: state.map(str::to_string) })
    }

    /// Step 2, once `user` is logged in: the rest of the request, then a consent held for
    /// the user's answer; returns its id.
    pub async fn request_consent(
        &self,
        checked: CheckedClient,
        request: &AuthorizeRequest,
        user: SessionUser,
    ) -> Result<String, AuthorizeError> {
        let trusted = self.store.has_live_grant(user.id, &checked.client.client_id).await.map_err(|error| {
            tracing::error!(%error, "cannot look up the user's grants");
            AuthorizeError::Unavailable("Luna cannot check this request right now.".into())
        })?;
        let refuse = |error: &str, description: &str| {
            let params = [("error", error), ("error_description", description)];
            match self.client_url(&checked.redirect_uri, checked.state.as_deref(), &params) {
                Some(url) if trusted => AuthorizeError::ToClient(url),
                _ => AuthorizeError::Shown(format!("The application sent an invalid request: {description}.")),
            }
        };
        if request.response_type.as_deref() != Some("code") {
            return Err(refuse("unsupported_response_type", "only response_type=code is supported"));
        }
        let Some(challenge) =
            request.code_challenge.as_deref().filter(|challenge| (43..=128).contains(&challenge.len()))
        else {
            return Err(refuse("invalid_request", "PKCE is required: send a code_challenge (S256)"));
        };
        if request.code_challenge_method.as_deref() != Some("S256") {
            return Err(refuse("invalid_request", "code_challenge_method must be S256"));
        }
        if let Some(resource) = &request.resource
            && resource.trim_end_matches('/') != self.tokens.audience()
        {
            return Err(refuse("invalid_target", "this server only issues tokens for its /api/mcp"));
        }
        let scope = request.scope.as_deref().map(str::trim).filter(|scope| !scope.is_empty()).unwrap_or(MCP_SCOPE);
        if scope.split(' ').any(|requested| requested != MCP_SCOPE) {
            return Err(refuse("invalid_scope", "the only scope is `mcp`"));
        }
        Ok(self.hold_consent(ConsentRequest {
            user,
            client: checked.client,
            redirect_uri: checked.redirect_uri,
            state: checked.state,
            code_challenge: challenge.to_string(),
            scope: scope.to_string(),
        }))
    }

    /// The user's answer to consent `consent_id`, carrying the page's `csrf` token.
    pub async fn decide(
        &self,
        consent_id: &str,
        csrf: &str,
        user: &SessionUser,
        approve: bool,
    ) -> Result<Decision, DecideError> {
        let consent = self.pending_consent(consent_id).ok_or(DecideError::Answered)?;
        if !crate::auth::constant_time_eq(csrf, &consent.csrf)
            || user.id != consent.request.user.id
            || user.login != consent.request.user.login
        {
            tracing::warn!(login = %user.login, "consent answered with a wrong CSRF token or by another user");
            return Err(DecideError::NotYours);
        }
        // A decision is made once: of two concurrent answers, only the first gets here.
        let consent = self.take_consent(consent_id).ok_or(DecideError::Answered)?;
        let request = consent.request;
        let to_client = |params: &[(&str, &str)]| {
            self.client_url(&request.redirect_uri, request.state.as_deref(), params).ok_or(DecideError::Answered)
        };
        if !approve {
            let url = to_client(&[("error", "access_denied"), ("error_description", "the user denied access")])?;
            let trusted = self.store.has_live_grant(user.id, &request.client.client_id).await.unwrap_or(false);
            if trusted {
                return Ok(Decision::ToClient(url));
            }
            return Ok(Decision::DeniedUntrusted { url, host: redirect_uri::display_host(&request.redirect_uri) });
        }
        let grant = Grant {
            id: crate::auth::random_token(),
            client_id: request.client.client_id.clone(),
            client_name: request.client.client_name.clone(),
            redirect_uri: request.redirect_uri.clone(),
            user_id: user.id,
            login: user.login.clone(),
            orgs: user.orgs.clone(),
            scope: request.scope.clone(),
            created_at: 0,
            last_used_at: 0,
        };
        let code = self.store.approve(&grant, &request.code_challenge).await.map_err(|error| {
            tracing::error!(%error, "cannot store an approval");
            DecideError::Unavailable
        })?;
        tracing::info!(login = %user.login, client_id = %grant.client_id, "MCP client approved");
        Ok(Decision::ToClient(to_client(&[("code", &code)])?))
    }

    /// The client's redirect URI with `params`, `state` and RFC 9207 `iss` added.
    pub fn client_url(&self, redirect_uri: &str, state: Option<&str>, params: &[(&str, &str)]) -> Option<Url> {
        let mut url = Url::parse(redirect_uri).ok()?;
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in params {
                query.append_pair(key, value);
            }
            if let Some(state) = state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", self.issuer());
        }
        Some(url)
    }

    /// `/api/token`: a code (with its PKCE verifier) or a refresh token for new tokens.
    /// Public clients only: the client names itself, and PKCE (codes) or rotation (refresh
    /// tokens) binds what it redeems.
    pub async fn token(&self, request: TokenRequest, from: &str) -> Result<Tokens, ProtocolError> {
        let _turn = self.admit(&self.limits.token, from).await?;
        let invalid_grant = |description: &str| ProtocolError::InvalidGrant(description.into());
        let unavailable = |error| ProtocolError::unavailable("token endpoint", error);
        let Some(client_id) = request.client_id.as_deref() else {
            return Err(ProtocolError::InvalidRequest("client_id is required".into()));
        };
        if let Some(resource) = &request.resource
            && resource.trim_end_matches('/') != self.tokens.audience()
        {
            return Err(ProtocolError::InvalidTarget("this server only issues tokens for its /api/mcp".into()));
        }
        let grant_id = match request.grant_type.as_deref() {
            Some("authorization_code") => {
                let (Some(code), Some(verifier), Some(redirect)) =
                    (request.code.as_deref(), request.code_verifier.as_deref(), request.redirect_uri.as_deref())
                else {
                    return Err(ProtocolError::InvalidRequest(
                        "code, code_verifier and redirect_uri are required".into(),
                    ));
                };
                let record = match self.store.redeem_code(code).await.map_err(unavailable)? {
                    Redeemed::Fresh(record) => record,
                    Redeemed::Replayed => {
                        tracing::warn!(%client_id, "an authorization code was used twice; its grant is revoked");
                        return Err(invalid_grant("the code was already used; everything issued with it is revoked"));
                    }
                    Redeemed::Unknown => return Err(invalid_grant("unknown code")),
                };
                if record.expires_at < crate::clock::unix_now() as i64 {
                    return Err(invalid_grant("the code has expired"));
                }
                if record.client_id != client_id || record.redirect_uri != redirect {
                    return Err(invalid_grant("the code was issued to another client or redirect URI"));
                }
                if !pkce_matches(verifier, &record.code_challenge) {
                    return Err(invalid_grant("the code_verifier does not match the code_challenge"));
                }
                record.grant_id
            }
            Some("refresh_token") => {
                let Some(refresh) = request.refresh_token.as_deref() else {
                    return Err(ProtocolError::InvalidRequest("refresh_token is required".into()));
                };
                match self.store.redeem_refresh_token(refresh).await.map_err(unavailable)? {
                    Redeemed::Fresh(record) => {
                        if record.client_id != client_id {
                            return Err(invalid_grant("the refresh token belongs to another client"));
                        }
                        if record.expires_at < crate::clock::unix_now() as i64 {
                            return Err(invalid_grant("the refresh token has expired"));
                        }
                        record.grant_id
                    }
                    Redeemed::Replayed => {
                        tracing::warn!(%client_id, "a rotated refresh token was replayed; its grant is revoked");
                        return Err(invalid_grant("the refresh token was already used; the grant is revoked"));
                    }
                    Redeemed::Unknown => return Err(invalid_grant("unknown refresh token")),
                }
            }
            _ => return Err(ProtocolError::UnsupportedGrantType("use authorization_code or refresh_token".into())),
        };
        // The user must still be admitted: the allow-list may have changed since the approval.
        let Some(grant) = self.admitted_grant(&grant_id).await.map_err(unavailable)? else {
            return Err(invalid_grant("the grant was revoked, or its user is no longer allowed on this Luna"));
        };
        let (access_token, expires_in) = self
            .tokens
            .issue(&grant.user_id.to_string(), &grant.login, &grant.client_id, &grant.scope, &grant.id)
            .map_err(|error| {
                tracing::error!(%error, "cannot sign an access token");
                ProtocolError::ServerError("cannot issue a token".into())
            })?;
        let refresh_token = self.store.issue_refresh_token(&grant.id, &grant.client_id).await.map_err(unavailable)?;
        Ok(Tokens { access_token, expires_in, refresh_token, scope: grant.scope })
    }

    /// RFC 7009: revokes the grant of an access or refresh token, if `client_id` is the
    /// client it was issued to (for anyone else the token is as good as unknown: no error).
    pub async fn revoke_token(&self, token: &str, client_id: &str, from: &str) -> Result<(), ProtocolError> {
        let _turn = self.admit(&self.limits.revoke, from).await?;
        let issued = match self.tokens.verify(token) {
            Ok(claims) => Some((claims.gid, claims.client_id)),
            Err(_) => self.store.grant_of_refresh_token(token).await.ok().flatten(),
        };
        if let Some((grant, _)) = issued.filter(|(_, owner)| owner == client_id) {
            self.revoke_grant(&grant).await.map_err(|error| ProtocolError::unavailable("revoking a grant", error))?;
        }
        Ok(())
    }

    /// Connected clients: every live grant, or only `login`'s when given.
    pub async fn connected_clients(&self, login: Option<&str>) -> Result<Vec<Grant>, DbError> {
        let grants = self.store.active_grants().await?;
        Ok(grants
            .into_iter()
            .filter(|grant| login.is_none_or(|login| login.eq_ignore_ascii_case(&grant.login)))
            .collect())
    }

    /// Disconnects a client `login` (or, for `None`, the owner) may see; false if there is none.
    pub async fn disconnect(&self, grant_id: &str, login: Option<&str>) -> Result<bool, DbError> {
        if !self.connected_clients(login).await?.iter().any(|grant| grant.id == grant_id) {
            return Ok(false);
        }
        self.revoke_grant(grant_id).await?;
        tracing::info!(grant = %grant_id, "MCP client disconnected");
        Ok(true)
    }
}
