//! The OAuth endpoints MCP clients use (SPEC §7), as HTTP: metadata, `/api/register`,
//! `/api/authorize` (with Luna's pages), `/api/token`, `/api/revoke`; and the
//! connected-clients API behind the Hub and `luna clients`. The decisions are
//! [`crate::oauth::flow`]'s; this module turns requests into its calls and its answers and
//! errors into RFC 6749 / RFC 7591 JSON (with CORS and `no-store`), redirects and pages.

mod pages;

use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use reqwest::Url;
use serde::Deserialize;

use super::auth::Revoked;
use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{Caller, Luna, Operation};
use crate::audit::{Outcome, Record};
use crate::auth::Verdict;
use crate::auth::sessions::SessionUser;
use crate::metrics::OAuthEvent;
use crate::oauth::flow::{
    AuthorizeError, AuthorizeRequest, DecideError, Decision, ProtocolError, Registration, TokenRequest,
};
use crate::oauth::rate::address_key;
use crate::oauth::{Grant, MCP_SCOPE};

/// Largest request body the public endpoints read (a registration, a token request).
const MAX_BODY_BYTES: usize = 8 * 1024;

/// Public routes (the gateway lets them through; they authenticate on their own).
pub fn routes() -> Router<Luna> {
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
pub fn supervisor_routes() -> Documented {
    Documented::new()
        .routes(Operation::ManageOwnAccess, utoipa_axum::routes!(list_grants))
        .routes(Operation::ManageOwnAccess, utoipa_axum::routes!(revoke_grant))
}

/// The address a request came from, as limits count it: the gateway's `X-Forwarded-For`
/// (an IPv6 address by its /64), or the socket.
fn client_address(headers: &HeaderMap) -> String {
    address_key(headers.get("x-forwarded-for").and_then(|value| value.to_str().ok()).unwrap_or("socket"))
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

/// A protocol error as RFC 6749 §5.2 says: its code, description and status.
fn protocol_error(error: ProtocolError) -> Response {
    let status = match &error {
        ProtocolError::SlowDown { .. } => StatusCode::TOO_MANY_REQUESTS,
        ProtocolError::TemporarilyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ProtocolError::ServerError(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response =
        json_no_store(status, serde_json::json!({ "error": error.code(), "error_description": error.to_string() }));
    let retry_after = match &error {
        ProtocolError::SlowDown { retry_after, .. } => Some(retry_after.as_secs().max(1)),
        ProtocolError::TemporarilyUnavailable(_) => Some(1),
        _ => None,
    };
    if let Some(value) = retry_after.and_then(|seconds| HeaderValue::from_str(&seconds.to_string()).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// --- metadata ------------------------------------------------------------------------

async fn protected_resource_metadata(State(state): State<Luna>) -> Response {
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

async fn authorization_server_metadata(State(state): State<Luna>) -> Response {
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

async fn register(
    State(state): State<Luna>,
    headers: HeaderMap,
    body: Result<Json<Registration>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let registration = match body {
        Ok(Json(registration)) => registration,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let description = format!("the client metadata is larger than {MAX_BODY_BYTES} bytes");
            let mut response = protocol_error(ProtocolError::InvalidClientMetadata(description));
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return response;
        }
        Err(_) => {
            let description = "the body must be a JSON client metadata document".to_string();
            return protocol_error(ProtocolError::InvalidClientMetadata(description));
        }
    };
    let registered = match state.oauth.register(registration, &client_address(&headers)).await {
        Ok(registered) => registered,
        Err(error) => {
            state.metrics.oauth(OAuthEvent::Refusal);
            return protocol_error(error);
        }
    };
    state.metrics.oauth(OAuthEvent::Registration);
    // RFC 7591 §3.2.1: the registered metadata; a field that was not registered is left out
    // (clients validate the answer, and `null` is not a string).
    let mut document = serde_json::json!({
        "client_id": registered.client.client_id,
        "client_id_issued_at": registered.issued_at,
        "redirect_uris": registered.client.redirect_uris,
        "grant_types": registered.grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": registered.scope,
    });
    if let Some(name) = registered.client.client_name {
        document["client_name"] = name.into();
    }
    json_no_store(StatusCode::CREATED, document)
}

// --- authorization -------------------------------------------------------------------

async fn authorize(
    State(state): State<Luna>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(request): Query<AuthorizeRequest>,
) -> Response {
    let oauth = &state.oauth;
    let checked = match oauth.check_client(&request, &client_address(&headers)).await {
        Ok(checked) => checked,
        Err(error) => return authorize_error(error),
    };
    // Nothing goes back to the client before a Luna user is logged in.
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
            return redirect(&login);
        }
        Verdict::Unavailable => {
            return pages::problem(StatusCode::SERVICE_UNAVAILABLE, "Luna cannot check logins right now.");
        }
    };
    let consent_id = match oauth.request_consent(checked, &request, user).await {
        Ok(consent_id) => consent_id,
        Err(error) => return authorize_error(error),
    };
    match oauth.pending_consent(&consent_id) {
        Some(consent) => pages::consent(&consent_id, &consent, oauth.tokens.audience()),
        None => pages::problem(
            StatusCode::BAD_REQUEST,
            "This sign-in request has expired; start again from the application.",
        ),
    }
}

fn authorize_error(error: AuthorizeError) -> Response {
    match error {
        AuthorizeError::Shown(message) => pages::problem(StatusCode::BAD_REQUEST, &message),
        AuthorizeError::Unavailable(message) => pages::problem(StatusCode::SERVICE_UNAVAILABLE, &message),
        AuthorizeError::TooMany(wait) => {
            let mut response =
                pages::problem(StatusCode::TOO_MANY_REQUESTS, "Too many sign-in requests; try again soon.");
            if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        AuthorizeError::ToClient(url) => redirect(url.as_str()),
    }
}

#[derive(Deserialize)]
struct DecisionForm {
    consent: String,
    csrf: String,
    decision: String,
}

async fn decide(State(state): State<Luna>, headers: HeaderMap, Form(form): Form<DecisionForm>) -> Response {
    // A form on another site cannot answer for the user (the consent id and CSRF token
    // are unguessable, and browsers say where a form came from).
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site.eq_ignore_ascii_case("cross-site")) {
        return pages::problem(StatusCode::FORBIDDEN, "The decision came from another site.");
    }
    if state.oauth.pending_consent(&form.consent).is_none() {
        return pages::problem(StatusCode::BAD_REQUEST, &DecideError::Answered.to_string());
    }
    let user = match state.auth.check(header("cookie")).await {
        Verdict::Allowed(Some(user)) => (*user).clone(),
        Verdict::Allowed(None) => SessionUser::local_owner(),
        _ => return pages::problem(StatusCode::FORBIDDEN, "You are not logged in to Luna any more."),
    };
    let approve = form.decision == "approve";
    let client_id = state.oauth.pending_consent(&form.consent).map(|held| held.request.client.client_id.clone());
    let decided = state.oauth.decide(&form.consent, &form.csrf, &user, approve).await;
    if decided.is_ok() {
        let principal = if user.is_local_owner() { "owner".to_string() } else { format!("@{}", user.login) };
        let mut record = Record::new(principal, if approve { "approve_client" } else { "deny_client" }, Outcome::Ok);
        record.target = client_id.as_deref();
        state.audit.record(record);
    }
    match decided {
        Ok(Decision::ToClient(url)) => {
            if approve {
                state.metrics.oauth(OAuthEvent::Grant);
            }
            redirect(url.as_str())
        }
        Ok(Decision::DeniedUntrusted { url, host }) => pages::denied(url.as_str(), &host),
        Err(error) => {
            let status = match error {
                DecideError::Answered => StatusCode::BAD_REQUEST,
                DecideError::NotYours => StatusCode::FORBIDDEN,
                DecideError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            };
            pages::problem(status, &error.to_string())
        }
    }
}

// --- tokens --------------------------------------------------------------------------

async fn token(
    State(state): State<Luna>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(request)) = form else {
        return protocol_error(ProtocolError::InvalidRequest("send an application/x-www-form-urlencoded body".into()));
    };
    let refresh = request.grant_type.as_deref() == Some("refresh_token");
    let answer = state.oauth.token(request, &client_address(&headers)).await;
    state.metrics.oauth(match (&answer, refresh) {
        (Err(_), _) => OAuthEvent::Refusal,
        (Ok(_), true) => OAuthEvent::Refresh,
        (Ok(_), false) => OAuthEvent::TokenIssued,
    });
    match answer {
        Ok(tokens) => json_no_store(
            StatusCode::OK,
            serde_json::json!({
                "access_token": tokens.access_token,
                "token_type": "Bearer",
                "expires_in": tokens.expires_in,
                "refresh_token": tokens.refresh_token,
                "scope": tokens.scope,
            }),
        ),
        Err(error) => protocol_error(error),
    }
}

#[derive(Deserialize)]
struct RevokeRequest {
    token: Option<String>,
    client_id: Option<String>,
}

/// RFC 7009: 200 whether the token was known or not.
async fn revoke(
    State(state): State<Luna>,
    headers: HeaderMap,
    form: Result<Form<RevokeRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some((token, client_id)) = form.ok().and_then(|Form(request)| request.token.zip(request.client_id)) else {
        return protocol_error(ProtocolError::InvalidRequest("token and client_id are required".into()));
    };
    match state.oauth.revoke_token(&token, &client_id, &client_address(&headers)).await {
        Ok(()) => json_no_store(StatusCode::OK, serde_json::json!({})),
        Err(error) => protocol_error(error),
    }
}

// --- connected clients -----------------------------------------------------------------

/// Connected MCP clients: a member's own, or everyone's for an admin.
#[utoipa::path(get, path = "/oauth/clients", tag = "mcp clients", responses((status = 200, body = Vec<Grant>), ApiErrors))]
async fn list_grants(
    State(state): State<Luna>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<Grant>>, ApiError> {
    let grants = state.oauth.connected_clients(caller.access_scope()).await;
    Ok(Json(grants.map_err(|error| ApiError::Unavailable(error.to_string()))?))
}

/// Disconnects a client: its grant and every token issued under it end.
#[utoipa::path(post, path = "/oauth/clients/{id}/revoke", tag = "mcp clients",
    params(("id" = String, Path, description = "the grant's id as listed")),
    responses((status = 200, body = Revoked), ApiErrors))]
async fn revoke_grant(
    State(state): State<Luna>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let disconnected = state.oauth.disconnect(&id, caller.access_scope()).await;
    match disconnected.map_err(|error| ApiError::Unavailable(error.to_string()))? {
        true => Ok(Json(Revoked { revoked: id })),
        false => Err(ApiError::NotFound(format!("no connected client {id}"))),
    }
}
