//! `/auth/*` (login with GitHub, callback, me, logout), `/.well-known/jwks.json`, and
//! `/api/supervisor/sessions*` (list and revoke sessions).
//!
//! These handlers read Luna's cookies themselves: `/auth` is a public route, so the gateway
//! has made no decision about the caller.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiError, ApiState};
use crate::auth::Verdict;
use crate::auth::cookies::LoginState;
use crate::auth::redirect::safe_redirect;
use crate::auth::sessions::{SessionInfo, hash_id};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/me", get(me))
        .route("/auth/logout", get(logout_page).post(logout))
        .route("/auth/logged-out", get(logged_out))
        .route("/.well-known/jwks.json", get(jwks))
}

pub fn session_routes() -> Router<ApiState> {
    Router::new().route("/sessions", get(list_sessions)).route("/sessions/{id}/revoke", post(revoke_session))
}

#[derive(Deserialize)]
struct LoginQuery {
    rd: Option<String>,
}

async fn login(State(state): State<ApiState>, Query(query): Query<LoginQuery>) -> Response {
    let rd = safe_redirect(query.rd.as_deref());
    let Some(github) = &state.auth.github else {
        // Open local mode: there is nothing to log into.
        return Redirect::to(&rd).into_response();
    };
    let authorization = github.authorize();
    let cookie = state.auth.cookies.login_cookie(&LoginState {
        state: authorization.state,
        verifier: authorization.verifier,
        rd,
    });
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, authorization.url),
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(State(state): State<ApiState>, Query(query): Query<CallbackQuery>, headers: HeaderMap) -> Response {
    let auth = &state.auth;
    let Some(github) = &auth.github else {
        return text_page(StatusCode::NOT_FOUND, "No login here", "GitHub login is not configured on this Luna.");
    };
    let cookie_header = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    let clear_login = auth.cookies.clear_login_cookie();
    let failed = |status: StatusCode, message: String| {
        (AppendHeaders([(header::SET_COOKIE, clear_login.clone())]), text_page(status, "Login failed", &message))
            .into_response()
    };

    let Some(started) = auth.cookies.read_login(cookie_header) else {
        return failed(
            StatusCode::BAD_REQUEST,
            "This login expired or was started in another browser. Start again.".into(),
        );
    };
    // The state first: until it checks out, nothing in the query came from GitHub.
    let same_state = query.state.as_deref().is_some_and(|given| crate::auth::constant_time_eq(given, &started.state));
    if !same_state {
        return failed(
            StatusCode::BAD_REQUEST,
            "The login could not be verified (state mismatch). Start again.".into(),
        );
    }
    if let Some(error) = query.error {
        let detail = query.error_description.unwrap_or(error);
        return failed(StatusCode::FORBIDDEN, format!("GitHub did not log you in: {detail}"));
    }
    let Some(code) = query.code else {
        return failed(StatusCode::BAD_REQUEST, "GitHub sent no authorization code.".into());
    };

    let token = match github.exchange(&code, &started.verifier).await {
        Ok(token) => token,
        Err(error) => return failed(StatusCode::BAD_GATEWAY, error.to_string()),
    };
    let mut user = match github.user(&token).await {
        Ok(user) => user,
        Err(error) => return failed(StatusCode::BAD_GATEWAY, error.to_string()),
    };
    if auth.checks_orgs() {
        match github.orgs(&token).await {
            Ok(orgs) => user.orgs = auth.admitting_orgs(&orgs),
            // Named users get in without their organizations; nobody else does.
            Err(error) if auth.names(&user) => {
                tracing::warn!(login = %user.login, %error, "organization check failed; admitted by name");
            }
            Err(error) => {
                tracing::warn!(login = %user.login, %error, "organization check failed; login denied");
                return failed(
                    StatusCode::FORBIDDEN,
                    format!("Luna could not check your organization membership, so it cannot let you in: {error}"),
                );
            }
        }
    }
    if !auth.admits(&user) {
        tracing::warn!(login = %user.login, id = user.id, "login refused: not on the allow-list");
        return failed(
            StatusCode::FORBIDDEN,
            format!("GitHub user @{} is not allowed on this Luna. Ask its owner to add you.", user.login),
        );
    }

    // A new session id at every login; the browser's previous session (if any) ends.
    if let Some(previous) = auth.cookies.read_session(cookie_header)
        && let Err(error) = auth.sessions.delete(&previous).await
    {
        tracing::warn!(%error, "could not end the previous session");
    }
    let user_agent = headers.get(header::USER_AGENT).and_then(|value| value.to_str().ok()).map(str::to_string);
    let ip = headers.get("x-forwarded-for").and_then(|value| value.to_str().ok()).map(str::to_string);
    let session = match auth.sessions.create(&user, user_agent, ip).await {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(%error, "cannot store the session");
            return failed(StatusCode::SERVICE_UNAVAILABLE, "Luna cannot store sessions right now.".into());
        }
    };
    tracing::info!(login = %user.login, id = user.id, "logged in");
    let session_cookie = auth.cookies.session_cookie(&session.id, auth.sessions.max_age());
    (
        StatusCode::FOUND,
        AppendHeaders([
            (header::LOCATION, started.rd),
            (header::SET_COOKIE, session_cookie),
            (header::SET_COOKIE, clear_login),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ]),
    )
        .into_response()
}

async fn me(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let auth = &state.auth;
    if auth.is_open() {
        return Json(serde_json::json!({
            "open_access": true,
            "login": null,
            "detail": "local mode without GitHub login: every request from this machine is allowed",
        }))
        .into_response();
    }
    let cookie_header = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    match auth.check(cookie_header).await {
        Verdict::Allowed(Some(user)) => Json(serde_json::json!({
            "open_access": false,
            "login": user.login,
            "id": user.id,
            "name": user.name,
            "avatar_url": user.avatar_url,
        }))
        .into_response(),
        Verdict::Allowed(None) | Verdict::Unauthenticated => unauthenticated(),
        Verdict::Unavailable => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "error": "auth_unavailable" }))).into_response()
        }
    }
}

fn unauthenticated() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "error": "unauthenticated", "detail": "log in first: /auth/login" })),
    )
        .into_response()
}

/// `GET /auth/logout`: a button, because logging out must be a POST (a link on another
/// site must not be able to do it).
async fn logout_page() -> Response {
    let body = "<form method=\"post\" action=\"/auth/logout\"><button>Log out of Luna</button></form>";
    page(StatusCode::OK, "Log out", body)
}

async fn logout(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let auth = &state.auth;
    let cookie_header = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    if let Some(id) = auth.cookies.read_session(cookie_header)
        && let Err(error) = auth.sessions.delete(&id).await
    {
        tracing::error!(%error, "cannot delete the session");
        return (StatusCode::SERVICE_UNAVAILABLE, "cannot log out right now\n").into_response();
    }
    (
        StatusCode::SEE_OTHER,
        AppendHeaders([
            (header::LOCATION, "/auth/logged-out".to_string()),
            (header::SET_COOKIE, auth.cookies.clear_session_cookie()),
        ]),
    )
        .into_response()
}

async fn logged_out() -> Response {
    page(StatusCode::OK, "Logged out", "You are logged out of Luna. <a href=\"/auth/login\">Log in again</a>")
}

async fn jwks(State(state): State<ApiState>) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.auth.identity.jwks())).into_response()
}

/// Who is asking for sessions: a user through the gateway, or the owner on the socket.
fn caller(headers: &HeaderMap) -> Option<String> {
    headers.get("x-luna-user").and_then(|value| value.to_str().ok()).map(str::to_string)
}

async fn list_sessions(State(state): State<ApiState>, headers: HeaderMap) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let auth = &state.auth;
    let mut sessions =
        auth.sessions.list(caller(&headers)).await.map_err(|error| ApiError::Unavailable(error.to_string()))?;
    let cookie_header = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    if let Some(current) = auth.cookies.read_session(cookie_header).map(|id| hash_id(&id)) {
        for session in &mut sessions {
            session.current = session.id == current;
        }
    }
    Ok(Json(sessions))
}

async fn revoke_session(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let sessions = &state.auth.sessions;
    let unavailable = |error: crate::db::DbError| ApiError::Unavailable(error.to_string());
    // A user may end only their own sessions; the owner (on the socket) any.
    let visible = sessions.list(caller(&headers)).await.map_err(unavailable)?;
    if !visible.iter().any(|session| session.id == id) {
        return Err(ApiError::NotFound(format!("no session {id}")));
    }
    sessions.revoke(&id).await.map_err(unavailable)?;
    Ok(Json(serde_json::json!({ "revoked": id })))
}

/// A page whose message may contain text from outside (GitHub, the query string).
fn text_page(status: StatusCode, title: &str, text: &str) -> Response {
    let escaped = crate::html::escape(text);
    page(status, title, &format!("{escaped} <a href=\"/auth/login\">Log in</a>"))
}

/// `body_html` must be Luna's own markup, never text from a request.
fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Luna</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto\">\
         <h1>{title}</h1><p>{body_html}</p></body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store"), (header::X_FRAME_OPTIONS, "DENY")], Html(html)).into_response()
}
