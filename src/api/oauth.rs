//! The OAuth endpoints MCP clients use (SPEC §7): metadata, `/api/register`,
//! `/api/authorize` (with Luna's consent page), `/api/token`, `/api/revoke`; and the
//! connected-clients API behind the Hub and `luna clients`.
//!
//! Errors about the client or its redirect URI are shown on Luna's page and never
//! redirected (a redirect would hand an attacker's URI a response). Once the client and
//! redirect URI are known good, errors go back to the client as the spec says, with `iss`.

use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reqwest::Url;
use serde::Deserialize;

use super::{ApiError, ApiState};
use crate::auth::Verdict;
use crate::auth::sessions::SessionUser;
use crate::html::escape;
use crate::oauth::rate::{EndpointLimits, OAuthLimits, address_key};
use crate::oauth::{Client, ConsentRequest, Grant, MCP_SCOPE, Redeemed, pkce_matches, redirect_uri};

/// Longest `state` echoed back to a client.
const MAX_STATE_LENGTH: usize = 1024;
/// Most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 10;
/// Largest request body the public endpoints read (a registration, a token request).
const MAX_BODY_BYTES: usize = 8 * 1024;
/// Registrations not yet used for a grant, kept at most from one address (an IPv6 /64;
/// beyond it, refused) and in all (beyond it, the oldest is forgotten): each costs storage
/// until the daily clean-up, and nobody has logged in to pay for it.
const MAX_UNUSED_CLIENTS_PER_ADDRESS: i64 = 20;
const MAX_UNUSED_CLIENTS: i64 = 2000;

/// Public routes (the gateway lets them through; they authenticate on their own).
pub fn routes() -> Router<ApiState> {
    let protected_resource = get(protected_resource_metadata).options(preflight);
    let authorization_server = get(authorization_server_metadata).options(preflight);
    Router::new()
        .route("/.well-known/oauth-protected-resource", protected_resource.clone())
        .route("/.well-known/oauth-protected-resource/api/mcp", protected_resource)
        .route("/.well-known/oauth-authorization-server", authorization_server.clone())
        .route("/.well-known/oauth-authorization-server/api/mcp", authorization_server.clone())
        .route("/.well-known/openid-configuration", authorization_server.clone())
        .route("/.well-known/openid-configuration/api/mcp", authorization_server.clone())
        .route("/api/mcp/.well-known/openid-configuration", authorization_server)
        .route("/api/register", post(register).options(preflight))
        .route("/api/authorize", get(authorize).post(decide))
        .route("/api/token", post(token).options(preflight))
        .route("/api/revoke", post(revoke).options(preflight))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// `/api/supervisor/oauth/*`: connected clients (grants), for the Hub and the CLI.
pub fn supervisor_routes() -> Router<ApiState> {
    Router::new().route("/oauth/clients", get(list_grants)).route("/oauth/clients/{id}/revoke", post(revoke_grant))
}

/// The address a request came from, as limits count it: the gateway's `X-Forwarded-For`
/// (an IPv6 address by its /64), or the socket.
fn client_address(headers: &HeaderMap) -> String {
    address_key(headers.get("x-forwarded-for").and_then(|value| value.to_str().ok()).unwrap_or("socket"))
}

/// What the unauthenticated endpoints that work on the database pass first: their
/// per-address limit, then a turn at the database shared by all of them (429 or 503
/// otherwise, never a wait in the pool).
async fn public_turn(
    oauth: &crate::oauth::OAuth,
    endpoint: impl FnOnce(&OAuthLimits) -> &EndpointLimits,
    headers: &HeaderMap,
) -> Result<tokio::sync::OwnedSemaphorePermit, Response> {
    let endpoint = endpoint(&oauth.limits);
    endpoint.rate.check(&client_address(headers)).map_err(too_many)?;
    endpoint.database_turn().await.ok_or_else(|| {
        let mut response =
            oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "Luna is busy; try again shortly");
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        response
    })
}

fn with_cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, mcp-protocol-version"),
    );
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    response
}

async fn preflight() -> Response {
    with_cors(StatusCode::NO_CONTENT.into_response())
}

fn json_no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    with_cors(response)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_no_store(status, serde_json::json!({ "error": error, "error_description": description }))
}

fn too_many(wait: std::time::Duration) -> Response {
    let mut response = oauth_error(StatusCode::TOO_MANY_REQUESTS, "slow_down", "too many requests; try again later");
    let seconds = wait.as_secs().max(1).to_string();
    if let Ok(value) = HeaderValue::from_str(&seconds) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

// --- metadata ------------------------------------------------------------------------

async fn protected_resource_metadata(State(state): State<ApiState>) -> Response {
    let oauth = &state.oauth;
    with_cors(
        Json(serde_json::json!({
            "resource": oauth.tokens.audience(),
            "authorization_servers": [oauth.issuer()],
            "scopes_supported": [MCP_SCOPE],
            "bearer_methods_supported": ["header"],
            "resource_name": "Luna",
        }))
        .into_response(),
    )
}

async fn authorization_server_metadata(State(state): State<ApiState>) -> Response {
    let issuer = state.oauth.issuer();
    with_cors(
        Json(serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/api/authorize"),
            "token_endpoint": format!("{issuer}/api/token"),
            "registration_endpoint": format!("{issuer}/api/register"),
            "revocation_endpoint": format!("{issuer}/api/revoke"),
            "scopes_supported": [MCP_SCOPE],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": true,
        }))
        .into_response(),
    )
}

// --- registration (RFC 7591) ---------------------------------------------------------

#[derive(Deserialize)]
struct Registration {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    scope: Option<String>,
}

async fn register(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Json<Registration>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let _turn = match public_turn(&state.oauth, |limits| &limits.register, &headers).await {
        Ok(turn) => turn,
        Err(refused) => return refused,
    };
    let invalid = |description: String| oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &description);
    let registration = match body {
        Ok(Json(registration)) => registration,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let description = format!("the client metadata is larger than {MAX_BODY_BYTES} bytes");
            return oauth_error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_client_metadata", &description);
        }
        Err(_) => return invalid("the body must be a JSON client metadata document".into()),
    };
    if registration.redirect_uris.is_empty() || registration.redirect_uris.len() > MAX_REDIRECT_URIS {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            &format!("redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs"),
        );
    }
    for uri in &registration.redirect_uris {
        if let Err(problem) = redirect_uri::check_registrable(uri) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri", &problem);
        }
    }
    let grant_types =
        registration.grant_types.unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
    if let Some(unsupported) =
        grant_types.iter().find(|grant| !matches!(grant.as_str(), "authorization_code" | "refresh_token"))
    {
        return invalid(format!("grant type `{unsupported}` is not supported"));
    }
    if registration.response_types.as_ref().is_some_and(|types| types.iter().any(|kind| kind != "code")) {
        return invalid("only the `code` response type is supported".into());
    }
    let from = client_address(&headers);
    match state.oauth.store.unused_registrations(&from).await {
        Ok((_, from_here)) if from_here >= MAX_UNUSED_CLIENTS_PER_ADDRESS => {
            tracing::warn!(from = %from, "client registrations refused: too many unused from one address");
            let mut response = oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                "too many registrations from your address have not been used yet; try again tomorrow",
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            return response;
        }
        // Full: the oldest unused registration makes room (refusing would let a flood from
        // many addresses stop every new client; a client whose registration went re-registers).
        Ok((total, _)) if total >= MAX_UNUSED_CLIENTS => {
            tracing::warn!("too many unused client registrations: forgetting the oldest");
            if let Err(error) = state.oauth.store.forget_oldest_unused_client().await {
                tracing::error!(%error, "cannot forget a client registration");
            }
        }
        Ok(_) => {}
        Err(error) => {
            tracing::error!(%error, "cannot count client registrations");
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "cannot register right now",
            );
        }
    }
    let client = Client {
        client_id: format!("luna-{}", crate::auth::random_token()),
        client_name: crate::oauth::client_name(registration.client_name),
        redirect_uris: registration.redirect_uris,
    };
    if let Err(error) = state.oauth.store.register(&client, &from).await {
        tracing::error!(%error, "cannot store a client registration");
        return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "cannot register right now");
    }
    tracing::info!(client_id = %client.client_id, name = ?client.client_name, "MCP client registered");
    // RFC 7591 §3.2.1: the registered metadata; a field that was not registered is left out
    // (clients validate the answer, and `null` is not a string).
    let mut registered = serde_json::json!({
        "client_id": client.client_id,
        "client_id_issued_at": crate::supervisor::unix_now(),
        "redirect_uris": client.redirect_uris,
        "grant_types": grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": registration.scope.unwrap_or_else(|| MCP_SCOPE.to_string()),
    });
    if let Some(name) = client.client_name {
        registered["client_name"] = name.into();
    }
    json_no_store(StatusCode::CREATED, registered)
}

// --- authorization -------------------------------------------------------------------

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
}

/// A page about a problem with the request itself: shown, never redirected.
fn problem_page(status: StatusCode, message: &str) -> Response {
    let body = format!("<p>{}</p><p>Nothing was sent back to the application.</p>", escape(message));
    luna_page(status, "This sign-in request cannot continue", &body)
}

/// Luna's own page markup around `body_html` (which must be Luna's own markup). Never
/// framed: a consent page inside another site's frame could be clickjacked.
fn luna_page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>{title} · Luna</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem\">\
         <h1>{title}</h1>{body_html}</body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // No `form-action`: Chromium and Safari apply it to the redirect that answers the form,
    // which goes to the client. The form is Luna's own markup and carries a CSRF token.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    );
    // Not `no-referrer`: with it, browsers send `Origin: null` on the form's POST, which the
    // gateway (rightly) treats as another site.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// The client's redirect URI with `params`, `state` and RFC 9207 `iss` added.
fn client_url(issuer: &str, redirect_uri: &str, state: Option<&str>, params: &[(&str, &str)]) -> Option<Url> {
    let mut url = Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in params {
            query.append_pair(key, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    Some(url)
}

/// A redirect back to the client (see [`client_url`]).
fn back_to_client(issuer: &str, redirect_uri: &str, state: Option<&str>, params: &[(&str, &str)]) -> Response {
    let Some(url) = client_url(issuer, redirect_uri, state, params) else {
        return problem_page(StatusCode::BAD_REQUEST, "The application's redirect URI is not valid.");
    };
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn authorize(
    State(state): State<ApiState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<AuthorizeQuery>,
) -> Response {
    let oauth = &state.oauth;
    if let Err(wait) = oauth.limits.authorize.rate.check(&client_address(&headers)) {
        return too_many(wait);
    }
    // 1. The client and its redirect URI: problems here are shown, never redirected.
    let Some(client_id) = query.client_id.as_deref().filter(|id| !id.is_empty()) else {
        return problem_page(StatusCode::BAD_REQUEST, "The request names no client_id.");
    };
    let client = match oauth.client(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return problem_page(StatusCode::BAD_REQUEST, "This application is not registered with Luna."),
        Err(problem) => {
            return problem_page(StatusCode::BAD_REQUEST, &format!("The application cannot be used: {problem}"));
        }
    };
    let Some(redirect) = query.redirect_uri.as_deref() else {
        return problem_page(StatusCode::BAD_REQUEST, "The request names no redirect_uri.");
    };
    if !redirect_uri::matches(&client.redirect_uris, redirect) {
        tracing::warn!(%client_id, redirect_uri = %redirect, "authorization with an unregistered redirect URI refused");
        return problem_page(StatusCode::BAD_REQUEST, "The redirect URI is not one this application registered.");
    }
    let client_state = query.state.as_deref().filter(|value| value.len() <= MAX_STATE_LENGTH);
    if query.state.is_some() && client_state.is_none() {
        return problem_page(StatusCode::BAD_REQUEST, "The state parameter is too long.");
    }

    // 2. Who is asking: nothing goes back to the client before a Luna user is logged in.
    let cookie_header = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    let user = match state.auth.check(cookie_header).await {
        Verdict::Allowed(Some(user)) => (*user).clone(),
        Verdict::Allowed(None) => SessionUser::local_owner(),
        Verdict::Unauthenticated => {
            // Back here after the login, with the same request.
            let here = format!("/api/authorize?{}", uri.query().unwrap_or_default());
            let login = Url::parse_with_params("http://luna/auth/login", &[("rd", here.as_str())])
                .map(|url| format!("/auth/login?{}", url.query().unwrap_or_default()))
                .unwrap_or_else(|_| "/auth/login".into());
            let mut response = StatusCode::FOUND.into_response();
            if let Ok(location) = HeaderValue::from_str(&login) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            return response;
        }
        Verdict::Unavailable => {
            return problem_page(StatusCode::SERVICE_UNAVAILABLE, "Luna cannot check logins right now.");
        }
    };

    // 3. The rest of the request. An error goes back to the client only if this user has
    // approved it before (RFC 9700 §4.11.2): otherwise anyone could register a client and
    // use Luna to send people to any address.
    let trusted = match oauth.store.has_live_grant(user.id, &client.client_id).await {
        Ok(trusted) => trusted,
        Err(error) => {
            tracing::error!(%error, "cannot look up the user's grants");
            return problem_page(StatusCode::SERVICE_UNAVAILABLE, "Luna cannot check this request right now.");
        }
    };
    let refuse = |error: &str, description: &str| {
        if trusted {
            back_to_client(
                oauth.issuer(),
                redirect,
                client_state,
                &[("error", error), ("error_description", description)],
            )
        } else {
            problem_page(StatusCode::BAD_REQUEST, &format!("The application sent an invalid request: {description}."))
        }
    };
    if query.response_type.as_deref() != Some("code") {
        return refuse("unsupported_response_type", "only response_type=code is supported");
    }
    let Some(challenge) = query.code_challenge.as_deref().filter(|challenge| (43..=128).contains(&challenge.len()))
    else {
        return refuse("invalid_request", "PKCE is required: send a code_challenge (S256)");
    };
    if query.code_challenge_method.as_deref() != Some("S256") {
        return refuse("invalid_request", "code_challenge_method must be S256");
    }
    if let Some(resource) = &query.resource
        && resource.trim_end_matches('/') != oauth.tokens.audience()
    {
        return refuse("invalid_target", "this server only issues tokens for its /api/mcp");
    }
    let scope = query.scope.as_deref().map(str::trim).filter(|scope| !scope.is_empty()).unwrap_or(MCP_SCOPE);
    if scope.split(' ').any(|requested| requested != MCP_SCOPE) {
        return refuse("invalid_scope", "the only scope is `mcp`");
    }

    // 4. Luna's consent page.
    let consent_id = oauth.hold_consent(ConsentRequest {
        user,
        client,
        redirect_uri: redirect.to_string(),
        state: client_state.map(str::to_string),
        code_challenge: challenge.to_string(),
        scope: scope.to_string(),
    });
    consent_page(&state, &consent_id)
}

fn consent_page(state: &ApiState, consent_id: &str) -> Response {
    let Some(consent) = state.oauth.pending_consent(consent_id) else {
        return problem_page(
            StatusCode::BAD_REQUEST,
            "This sign-in request has expired; start again from the application.",
        );
    };
    let destination = redirect_uri::display_host(&consent.request.redirect_uri);
    // A name is always in quotes, so no name can pass for Luna's words about a nameless one.
    let who = match &consent.request.client.client_name {
        Some(name) => format!("<strong>“{}”</strong>", escape(name)),
        None => format!("<strong>An application that gave no name</strong>, at {}", escape(&destination)),
    };
    let unverified = if crate::oauth::cimd::is_metadata_url(&consent.request.client.client_id) {
        format!(" (it describes itself at <code>{}</code>)", escape(&consent.request.client.client_id))
    } else if consent.request.client.client_name.is_some() {
        " (the name is the application's own claim; Luna cannot verify it)".to_string()
    } else {
        String::new()
    };
    let body = format!(
        "<p>{who}{unverified} wants to use the tools of this Luna as \
         <strong>@{login}</strong>.</p>\
         <ul><li>Access: <code>{scope}</code>: list and call the tools at <code>{resource}</code></li>\
         <li>If you allow it, you go to <strong>{destination}</strong></li></ul>\
         <form method=\"post\" action=\"/api/authorize\">\
         <input type=\"hidden\" name=\"consent\" value=\"{consent_id}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>\
         <p><small>You can disconnect it any time from the Hub or with <code>luna clients revoke</code>.</small></p>",
        login = escape(&consent.request.user.login),
        scope = escape(&consent.request.scope),
        resource = escape(state.oauth.tokens.audience()),
        destination = escape(&destination),
        consent_id = escape(consent_id),
        csrf = escape(&consent.csrf),
    );
    luna_page(StatusCode::OK, "Allow access to Luna?", &body)
}

#[derive(Deserialize)]
struct Decision {
    consent: String,
    csrf: String,
    decision: String,
}

async fn decide(State(state): State<ApiState>, headers: HeaderMap, Form(decision): Form<Decision>) -> Response {
    let oauth = &state.oauth;
    // A form on another site cannot answer for the user (the consent id and CSRF token
    // are unguessable, and browsers say where a form came from).
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site.eq_ignore_ascii_case("cross-site")) {
        return problem_page(StatusCode::FORBIDDEN, "The decision came from another site.");
    }
    let answered =
        || problem_page(StatusCode::BAD_REQUEST, "This sign-in request has expired or was already answered.");
    let Some(consent) = oauth.pending_consent(&decision.consent) else { return answered() };
    let cookie_header = header("cookie");
    let user = match state.auth.check(cookie_header).await {
        Verdict::Allowed(Some(user)) => (*user).clone(),
        Verdict::Allowed(None) => SessionUser::local_owner(),
        _ => return problem_page(StatusCode::FORBIDDEN, "You are not logged in to Luna any more."),
    };
    if !crate::auth::constant_time_eq(&decision.csrf, &consent.csrf)
        || user.id != consent.request.user.id
        || user.login != consent.request.user.login
    {
        // Refused without using the consent up: a forged answer cannot cancel the real one.
        tracing::warn!(login = %user.login, "consent answered with a wrong CSRF token or by another user");
        return problem_page(StatusCode::FORBIDDEN, "This decision does not belong to this sign-in request.");
    }
    // A decision is made once: of two concurrent answers, only the first gets here.
    if oauth.take_consent(&decision.consent).is_none() {
        return answered();
    }
    let state_param = consent.request.state.as_deref();
    if decision.decision != "approve" {
        return denied(&state, &consent.request, &user).await;
    }
    let grant = Grant {
        id: crate::auth::random_token(),
        client_id: consent.request.client.client_id.clone(),
        client_name: consent.request.client.client_name.clone(),
        redirect_uri: consent.request.redirect_uri.clone(),
        user_id: user.id,
        login: user.login.clone(),
        orgs: user.orgs.clone(),
        scope: consent.request.scope.clone(),
        created_at: 0,
        last_used_at: 0,
    };
    match oauth.store.approve(&grant, &consent.request.code_challenge).await {
        Ok(code) => {
            tracing::info!(login = %user.login, client_id = %grant.client_id, "MCP client approved");
            back_to_client(oauth.issuer(), &consent.request.redirect_uri, state_param, &[("code", &code)])
        }
        Err(error) => {
            tracing::error!(%error, "cannot store an approval");
            problem_page(StatusCode::SERVICE_UNAVAILABLE, "Luna cannot store the approval right now; try again.")
        }
    }
}

/// The user said no. A client they approved before is told at once; any other is not sent
/// to without the user's say (RFC 9700 §4.11.2): Luna's page offers the way back as a link.
async fn denied(state: &ApiState, request: &ConsentRequest, user: &SessionUser) -> Response {
    let oauth = &state.oauth;
    let params = [("error", "access_denied"), ("error_description", "the user denied access")];
    let trusted = oauth.store.has_live_grant(user.id, &request.client.client_id).await.unwrap_or(false);
    if trusted {
        return back_to_client(oauth.issuer(), &request.redirect_uri, request.state.as_deref(), &params);
    }
    let Some(url) = client_url(oauth.issuer(), &request.redirect_uri, request.state.as_deref(), &params) else {
        return problem_page(StatusCode::BAD_REQUEST, "The application's redirect URI is not valid.");
    };
    let body = format!(
        "<p>Nothing was shared with the application.</p>\
         <p><a href=\"{url}\">Tell it so at {host}</a>, or close this page.</p>",
        url = escape(url.as_str()),
        host = escape(&redirect_uri::display_host(&request.redirect_uri)),
    );
    luna_page(StatusCode::OK, "Access denied", &body)
}

// --- tokens --------------------------------------------------------------------------

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    resource: Option<String>,
}

async fn token(
    State(state): State<ApiState>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let oauth = &state.oauth;
    let _turn = match public_turn(oauth, |limits| &limits.token, &headers).await {
        Ok(turn) => turn,
        Err(refused) => return refused,
    };
    let Ok(Form(request)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send an application/x-www-form-urlencoded body",
        );
    };
    let invalid_grant = |description: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description);
    let unavailable = |error: crate::db::DbError| {
        tracing::error!(%error, "token endpoint: database error");
        oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again shortly")
    };
    // Public clients only: the client identifies itself by client_id, and PKCE (codes) or
    // rotation (refresh tokens) binds what it redeems.
    let Some(client_id) = request.client_id.as_deref() else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "client_id is required");
    };
    if let Some(resource) = &request.resource
        && resource.trim_end_matches('/') != oauth.tokens.audience()
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "this server only issues tokens for its /api/mcp",
        );
    }
    let grant_id = match request.grant_type.as_deref() {
        Some("authorization_code") => {
            let (Some(code), Some(verifier), Some(redirect)) =
                (request.code.as_deref(), request.code_verifier.as_deref(), request.redirect_uri.as_deref())
            else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code, code_verifier and redirect_uri are required",
                );
            };
            let record = match oauth.store.redeem_code(code).await {
                Ok(Redeemed::Fresh(record)) => record,
                Ok(Redeemed::Replayed) => {
                    tracing::warn!(%client_id, "an authorization code was used twice; its grant is revoked");
                    return invalid_grant("the code was already used; everything issued with it is revoked");
                }
                Ok(Redeemed::Unknown) => return invalid_grant("unknown code"),
                Err(error) => return unavailable(error),
            };
            if record.expires_at < crate::supervisor::unix_now() as i64 {
                return invalid_grant("the code has expired");
            }
            if record.client_id != client_id || record.redirect_uri != redirect {
                return invalid_grant("the code was issued to another client or redirect URI");
            }
            if !pkce_matches(verifier, &record.code_challenge) {
                return invalid_grant("the code_verifier does not match the code_challenge");
            }
            record.grant_id
        }
        Some("refresh_token") => {
            let Some(refresh) = request.refresh_token.as_deref() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is required");
            };
            match oauth.store.redeem_refresh_token(refresh).await {
                Ok(Redeemed::Fresh((grant_id, owner, expires_at))) => {
                    if owner != client_id {
                        return invalid_grant("the refresh token belongs to another client");
                    }
                    if expires_at < crate::supervisor::unix_now() as i64 {
                        return invalid_grant("the refresh token has expired");
                    }
                    grant_id
                }
                Ok(Redeemed::Replayed) => {
                    tracing::warn!(%client_id, "a rotated refresh token was replayed; its grant is revoked");
                    return invalid_grant("the refresh token was already used; the grant is revoked");
                }
                Ok(Redeemed::Unknown) => return invalid_grant("unknown refresh token"),
                Err(error) => return unavailable(error),
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "use authorization_code or refresh_token",
            );
        }
    };
    // The user must still be admitted: the allow-list may have changed since the approval.
    let grant = match oauth.admitted_grant(&grant_id).await {
        Ok(Some(grant)) => grant,
        Ok(None) => return invalid_grant("the grant was revoked, or its user is no longer allowed on this Luna"),
        Err(error) => return unavailable(error),
    };
    let access =
        oauth.tokens.issue(&grant.user_id.to_string(), &grant.login, &grant.client_id, &grant.scope, &grant.id);
    let (access_token, expires_in) = match access {
        Ok(issued) => issued,
        Err(error) => {
            tracing::error!(%error, "cannot sign an access token");
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "cannot issue a token");
        }
    };
    let refresh_token = match oauth.store.issue_refresh_token(&grant.id, &grant.client_id).await {
        Ok(token) => token,
        Err(error) => return unavailable(error),
    };
    json_no_store(
        StatusCode::OK,
        serde_json::json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "refresh_token": refresh_token,
            "scope": grant.scope,
        }),
    )
}

#[derive(Deserialize)]
struct RevokeRequest {
    token: Option<String>,
    client_id: Option<String>,
}

/// RFC 7009: 200 whether the token was known or not; only the client a token was issued to
/// can revoke it (for anyone else it is as good as unknown).
async fn revoke(
    State(state): State<ApiState>,
    headers: HeaderMap,
    form: Result<Form<RevokeRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let oauth = &state.oauth;
    let _turn = match public_turn(oauth, |limits| &limits.revoke, &headers).await {
        Ok(turn) => turn,
        Err(refused) => return refused,
    };
    let Some((token, client_id)) = form.ok().and_then(|Form(request)| request.token.zip(request.client_id)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token and client_id are required");
    };
    let issued = match oauth.tokens.verify(&token) {
        Ok(claims) => Some((claims.gid, claims.client_id)),
        Err(_) => oauth.store.grant_of_refresh_token(&token).await.ok().flatten(),
    };
    let grant = issued.filter(|(_, owner)| *owner == client_id).map(|(grant, _)| grant);
    if let Some(grant) = grant
        && let Err(error) = oauth.revoke_grant(&grant).await
    {
        tracing::error!(%error, "cannot revoke a grant");
        return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again shortly");
    }
    json_no_store(StatusCode::OK, serde_json::json!({}))
}

// --- connected clients -----------------------------------------------------------------

/// Who is asking: a user through the gateway sees their own clients, the owner on the
/// socket (or in open mode) all of them.
fn caller(headers: &HeaderMap) -> Option<String> {
    headers.get("x-luna-user").and_then(|value| value.to_str().ok()).map(str::to_string)
}

async fn list_grants(State(state): State<ApiState>, headers: HeaderMap) -> Result<Json<Vec<Grant>>, ApiError> {
    let grants = state.oauth.store.active_grants().await.map_err(|error| ApiError::Unavailable(error.to_string()))?;
    let caller = caller(&headers);
    Ok(Json(
        grants
            .into_iter()
            .filter(|grant| caller.as_deref().is_none_or(|login| login.eq_ignore_ascii_case(&grant.login)))
            .collect(),
    ))
}

async fn revoke_grant(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(visible) = list_grants(State(state.clone()), headers).await?;
    if !visible.iter().any(|grant| grant.id == id) {
        return Err(ApiError::NotFound(format!("no connected client {id}")));
    }
    state.oauth.revoke_grant(&id).await.map_err(|error| ApiError::Unavailable(error.to_string()))?;
    tracing::info!(grant = %id, "MCP client disconnected");
    Ok(Json(serde_json::json!({ "revoked": id })))
}
