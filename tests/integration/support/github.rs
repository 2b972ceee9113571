//! A stand-in for GitHub's OAuth and REST API on loopback, with GitHub's quirks:
//! token errors come back with HTTP 200 and an `error` field, `/user/orgs` is paginated
//! with `Link` headers, and a token without `read:org` gets 403 from `/user/orgs`.
//! It checks what real GitHub checks: client credentials, the redirect URI, single-use
//! codes and the PKCE S256 verifier.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "Iv1.test-client";
pub const CLIENT_SECRET: &str = "test-client-secret";

#[derive(Clone, Debug)]
pub struct GithubUser {
    pub id: i64,
    pub login: String,
    pub orgs: Vec<String>,
}

/// What the next person to log in is, and how GitHub behaves.
pub struct Behaviour {
    pub user: GithubUser,
    /// Scopes GitHub grants (a user can untick `read:org`).
    pub grant_read_org: bool,
    /// `/user/orgs` answers 500.
    pub orgs_fail: bool,
    /// The OAuth app's registered "Authorization callback URL"; `None` accepts any.
    pub callback_url: Option<String>,
}

struct Grant {
    user: GithubUser,
    challenge: String,
    redirect_uri: String,
    read_org: bool,
    used: bool,
}

#[derive(Default)]
struct Inner {
    behaviour: Option<Behaviour>,
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, (GithubUser, bool)>,
    counter: u64,
    /// Every token request's outcome, for assertions.
    token_requests: Vec<&'static str>,
}

#[derive(Clone)]
pub struct StandInGithub {
    pub address: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl StandInGithub {
    pub fn start(user: GithubUser) -> Self {
        Self::start_with(user, Router::new())
    }

    /// Also answers `more` (the repository API of `github_repos.rs`), as GitHub's one API host.
    pub fn start_with(user: GithubUser, more: Router) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            behaviour: Some(Behaviour { user, grant_read_org: true, orgs_fail: false, callback_url: None }),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/api/user", get(get_user))
            .route("/api/user/emails", get(emails))
            .route("/api/user/orgs", get(orgs))
            .with_state(inner.clone())
            .merge(more);
        let listener = super::runtime().block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        super::runtime().spawn(async move { axum::serve(listener, app).await });
        Self { address, inner }
    }

    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        let mut inner = self.inner.lock().unwrap();
        change(inner.behaviour.as_mut().unwrap());
    }

    /// Token requests that logged someone in (the doctor's probes and refusals are not).
    pub fn logins(&self) -> usize {
        self.token_requests().iter().filter(|outcome| **outcome == "ok").count()
    }

    pub fn token_requests(&self) -> Vec<&'static str> {
        self.inner.lock().unwrap().token_requests.clone()
    }

    /// `luna.toml` lines pointing Luna at this stand-in.
    pub fn config(&self, allowed: &str) -> String {
        format!(
            "[auth]\n{allowed}\n[auth.github]\nauthorize_url = \"http://{0}/login/oauth/authorize\"\n\
             token_url = \"http://{0}/login/oauth/access_token\"\napi_url = \"http://{0}/api\"\n",
            self.address
        )
    }

    pub fn env_file() -> String {
        format!("GITHUB_CLIENT_ID={CLIENT_ID}\nGITHUB_CLIENT_SECRET={CLIENT_SECRET}\n")
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize(State(inner): State<Arc<Mutex<Inner>>>, Query(query): Query<AuthorizeQuery>) -> Response {
    if query.client_id != CLIENT_ID {
        return (StatusCode::NOT_FOUND, "unknown client").into_response();
    }
    let (Some(challenge), Some("S256")) = (query.code_challenge, query.code_challenge_method.as_deref()) else {
        return (StatusCode::BAD_REQUEST, "PKCE S256 expected").into_response();
    };
    assert!(query.scope.split(' ').any(|scope| scope == "read:org"), "Luna asks for read:org: {}", query.scope);
    let mut inner = inner.lock().unwrap();
    inner.counter += 1;
    let code = format!("code{}", inner.counter);
    let behaviour = inner.behaviour.as_ref().unwrap();
    let grant = Grant {
        user: behaviour.user.clone(),
        challenge,
        redirect_uri: query.redirect_uri.clone(),
        read_org: behaviour.grant_read_org,
        used: false,
    };
    inner.grants.insert(code.clone(), grant);
    let location = format!("{}?code={code}&state={}", query.redirect_uri, query.state);
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: String,
    client_secret: Option<String>,
    code: String,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

/// GitHub answers token errors with HTTP 200.
/// GitHub's rule for OAuth apps: the redirect URI has the callback URL's scheme, host and port,
/// and its path is the callback's path or below it.
fn within_callback(registered: &str, redirect_uri: &str) -> bool {
    let (Ok(registered), Ok(redirect)) = (url::Url::parse(registered), url::Url::parse(redirect_uri)) else {
        return false;
    };
    let base = registered.path().trim_end_matches('/');
    registered.origin() == redirect.origin()
        && (redirect.path() == registered.path() || redirect.path().starts_with(&format!("{base}/")))
}

fn token_error(error: &str, description: &str) -> Response {
    Json(serde_json::json!({ "error": error, "error_description": description })).into_response()
}

async fn access_token(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    assert!(
        headers.get(header::ACCEPT).is_some_and(|accept| accept.to_str().unwrap().contains("application/json")),
        "without Accept: application/json GitHub answers form-encoded"
    );
    let mut inner = inner.lock().unwrap();
    if form.client_id != CLIENT_ID || form.client_secret.as_deref() != Some(CLIENT_SECRET) {
        inner.token_requests.push("bad_client");
        return token_error("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.");
    }
    // The redirect URI is checked against the app's registration before the code is looked at.
    let registered = inner.behaviour.as_ref().and_then(|behaviour| behaviour.callback_url.clone());
    if let (Some(registered), Some(redirect_uri)) = (registered, form.redirect_uri.as_deref())
        && !within_callback(&registered, redirect_uri)
    {
        inner.token_requests.push("unregistered_redirect");
        return token_error(
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
        );
    }
    let Some(grant) = inner.grants.get_mut(&form.code) else {
        inner.token_requests.push("unknown_code");
        return token_error("bad_verification_code", "The code passed is incorrect or expired.");
    };
    if grant.used {
        inner.token_requests.push("reused_code");
        return token_error("bad_verification_code", "The code passed is incorrect or expired.");
    }
    grant.used = true;
    if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        inner.token_requests.push("redirect_mismatch");
        return token_error("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL.");
    }
    let expected = form
        .code_verifier
        .as_deref()
        .map(|verifier| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())));
    if expected.as_deref() != Some(grant.challenge.as_str()) {
        inner.token_requests.push("bad_verifier");
        return token_error("invalid_grant", "The code_verifier does not match the code_challenge.");
    }
    let (user, read_org) = (grant.user.clone(), grant.read_org);
    inner.counter += 1;
    let token = format!("gho_token{}", inner.counter);
    inner.tokens.insert(token.clone(), (user, read_org));
    inner.token_requests.push("ok");
    let scope = if read_org { "read:org,read:user,user:email" } else { "read:user,user:email" };
    Json(serde_json::json!({ "access_token": token, "token_type": "bearer", "scope": scope })).into_response()
}

fn bearer(inner: &Inner, headers: &HeaderMap) -> Option<(GithubUser, bool)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("token "))?;
    inner.tokens.get(token).cloned()
}

fn bad_credentials() -> Response {
    (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "message": "Bad credentials" }))).into_response()
}

async fn get_user(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    assert!(headers.get(header::USER_AGENT).is_some(), "GitHub rejects API calls without a User-Agent");
    let inner = inner.lock().unwrap();
    let Some((user, _)) = bearer(&inner, &headers) else { return bad_credentials() };
    Json(serde_json::json!({
        "id": user.id,
        "login": user.login,
        "name": format!("{} Lovelace", user.login),
        "avatar_url": format!("https://avatars.example/{}", user.id),
    }))
    .into_response()
}

async fn emails(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let inner = inner.lock().unwrap();
    let Some((user, _)) = bearer(&inner, &headers) else { return bad_credentials() };
    Json(serde_json::json!([{ "email": format!("{}@example.com", user.login), "primary": true, "verified": true }]))
        .into_response()
}

/// A stable id per organization name, as GitHub keeps one per organization.
pub fn org_id(login: &str) -> i64 {
    login.bytes().fold(1_000_i64, |id, byte| (id * 31 + i64::from(byte.to_ascii_lowercase())) % 1_000_000_007)
}

#[derive(Deserialize)]
struct Page {
    per_page: Option<usize>,
    page: Option<usize>,
}

async fn orgs(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, Query(page): Query<Page>) -> Response {
    let inner = inner.lock().unwrap();
    let Some((user, read_org)) = bearer(&inner, &headers) else { return bad_credentials() };
    if inner.behaviour.as_ref().unwrap().orgs_fail {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({ "message": "Server Error" })))
            .into_response();
    }
    if !read_org {
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "message": "Resource not accessible by integration" })),
        )
            .into_response();
    }
    // GitHub caps per_page at 100; small pages make pagination show in tests.
    let per_page = page.per_page.unwrap_or(30).clamp(1, 100).min(2);
    let number = page.page.unwrap_or(1).max(1);
    let items: Vec<_> = user
        .orgs
        .iter()
        .skip((number - 1) * per_page)
        .take(per_page)
        .map(|login| serde_json::json!({ "login": login, "id": org_id(login) }))
        .collect();
    let mut response = Json(items).into_response();
    if number * per_page < user.orgs.len() {
        let host = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or("127.0.0.1");
        let next = format!("<http://{host}/api/user/orgs?per_page={per_page}&page={}>; rel=\"next\"", number + 1);
        response.headers_mut().insert(header::LINK, next.parse().unwrap());
    }
    response
}
