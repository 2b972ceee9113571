//! `/auth/*` (login with GitHub, callback, me, logout), `/.well-known/jwks.json`, and
//! `/api/supervisor/sessions*` (list and revoke sessions).
//!
//! These handlers read Luna's cookies themselves: `/auth` is a public route, so the gateway
//! has made no decision about the caller.

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use utoipa_axum::routes;

use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{Caller, Luna, Operation};
use crate::audit::{Outcome, Record};
use crate::auth::cookies::LoginState;
use crate::auth::login::{GithubAnswer, LoginError, LoginOrigin};
use crate::auth::redirect::safe_redirect;
use crate::auth::sessions::SessionInfo;
use crate::auth::{Verdict, app_login};

pub fn routes() -> Router<Luna> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/me", get(me))
        .route("/auth/app", get(app_hop))
        .route("/auth/logout", get(logout_page).post(logout))
        .route("/auth/logged-out", get(logged_out))
        .route("/.well-known/jwks.json", get(jwks))
}

pub fn session_routes() -> Documented {
    Documented::new()
        .routes(Operation::ManageOwnAccess, routes!(list_sessions))
        .routes(Operation::ManageOwnAccess, routes!(revoke_session))
}

/// What was revoked.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Revoked {
    pub revoked: String,
}

#[derive(Deserialize)]
struct LoginQuery {
    rd: Option<String>,
}

async fn login(State(state): State<Luna>, Query(query): Query<LoginQuery>) -> Response {
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

async fn callback(State(state): State<Luna>, Query(answer): Query<GithubAnswer>, headers: HeaderMap) -> Response {
    let auth = &state.auth;
    let cookie_header = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    let header = |name: header::HeaderName| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_string);
    let origin = LoginOrigin {
        user_agent: header(header::USER_AGENT),
        ip: headers.get("x-forwarded-for").and_then(|value| value.to_str().ok()).map(str::to_string),
        previous_session: auth.cookies.read_session(cookie_header),
    };
    let clear_login = auth.cookies.clear_login_cookie();
    let login = auth.finish_login(auth.cookies.read_login(cookie_header), answer, origin).await;
    record_login(&state, &login);
    match login {
        Ok(logged_in) => {
            let session_cookie = auth.cookies.session_cookie(&logged_in.session.id, auth.sessions.max_age());
            (
                StatusCode::FOUND,
                AppendHeaders([
                    (header::LOCATION, logged_in.return_to),
                    (header::SET_COOKIE, session_cookie),
                    (header::SET_COOKIE, clear_login),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ]),
            )
                .into_response()
        }
        Err(LoginError::NotConfigured) => {
            text_page(StatusCode::NOT_FOUND, "No login here", &LoginError::NotConfigured.to_string())
        }
        Err(error) => {
            let status = match error {
                LoginError::Refused(_) | LoginError::OrganizationsUnknown(_) | LoginError::NotAllowed(_) => {
                    StatusCode::FORBIDDEN
                }
                LoginError::Github(_) => StatusCode::BAD_GATEWAY,
                LoginError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            let page = text_page(status, "Login failed", &error.to_string());
            (AppendHeaders([(header::SET_COOKIE, clear_login)]), page).into_response()
        }
    }
}

/// Every login and every refused login, in the audit log.
fn record_login(luna: &Luna, login: &Result<crate::auth::login::LoggedIn, LoginError>) {
    let (principal, outcome, detail) = match login {
        Ok(logged_in) => (format!("@{}", logged_in.user.login), Outcome::Ok, None),
        Err(LoginError::NotAllowed(login)) => {
            (format!("@{login}"), Outcome::Refused, Some("not on the allow-list".into()))
        }
        Err(error @ (LoginError::Refused(_) | LoginError::OrganizationsUnknown(_))) => {
            ("unknown".into(), Outcome::Refused, Some(error.to_string()))
        }
        Err(error) => ("unknown".into(), Outcome::Failed, Some(error.to_string())),
    };
    let mut record = Record::new(principal, "login", outcome);
    record.detail = detail;
    luna.audit.record(record);
}

async fn me(State(state): State<Luna>, headers: HeaderMap) -> Response {
    let auth = &state.auth;
    if auth.is_open() {
        return Json(serde_json::json!({
            "open_access": true,
            "login": null,
            "role": "admin",
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
            "role": auth.role_of(&user),
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

#[derive(Deserialize)]
struct AppHop {
    app: String,
    state: String,
    rd: Option<String>,
}

/// The Hub's half of the login hop to an app origin ([`crate::auth::app_login`]): the Hub
/// session (after a login if there is none) becomes a one-time code for that app's origin.
async fn app_hop(
    State(luna): State<Luna>,
    OriginalUri(uri): OriginalUri,
    Query(hop): Query<AppHop>,
    headers: HeaderMap,
) -> Response {
    let app = hop.app.to_ascii_lowercase();
    let origin = luna.site.app_origin(&app).filter(|_| app_login::is_app_name(&app));
    let Some(origin) = origin.filter(|_| (16..=128).contains(&hop.state.len())) else {
        return text_page(StatusCode::BAD_REQUEST, "No such app", "This link names no app of this Luna.");
    };
    let rd = safe_redirect(hop.rd.as_deref());
    let encode = |text: &str| -> String { oauth2::url::form_urlencoded::byte_serialize(text.as_bytes()).collect() };
    let auth = &luna.auth;
    let cookie_header = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    let session_id = match auth.check(cookie_header).await {
        // Open local mode: the app origin lets everyone local in without a session.
        Verdict::Allowed(None) => return Redirect::to(&format!("{origin}{rd}")).into_response(),
        Verdict::Allowed(Some(_)) => auth.cookies.read_session(cookie_header),
        Verdict::Unauthenticated => None,
        Verdict::Unavailable => {
            return text_page(StatusCode::SERVICE_UNAVAILABLE, "Try again", "Sessions cannot be checked right now.");
        }
    };
    let Some(session_id) = session_id else {
        let back = uri.path_and_query().map_or("/", |target| target.as_str());
        return Redirect::to(&format!("/auth/login?rd={}", encode(back))).into_response();
    };
    let code = auth.app_codes.issue(&app, &session_id, &hop.state);
    let location = format!("{origin}{}?code={}&rd={}", app_login::CALLBACK_PATH, encode(&code), encode(&rd));
    (StatusCode::FOUND, [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".into())]).into_response()
}

/// `GET /auth/logout`: a button, because logging out must be a POST (a link on another
/// site must not be able to do it).
async fn logout_page() -> Response {
    let body = "<form method=\"post\" action=\"/auth/logout\"><button>Log out of Luna</button></form>";
    page(StatusCode::OK, "Log out", body)
}

async fn logout(State(state): State<Luna>, headers: HeaderMap) -> Response {
    let auth = &state.auth;
    let cookie_header = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    if let Some(id) = auth.cookies.read_session(cookie_header) {
        let user = auth.sessions.lookup(&id).await.ok().flatten();
        if let Err(error) = auth.sessions.delete(&id).await {
            tracing::error!(%error, "cannot delete the session");
            return (StatusCode::SERVICE_UNAVAILABLE, "cannot log out right now\n").into_response();
        }
        if let Some(user) = user {
            state.audit.record(Record::new(format!("@{}", user.login), "logout", Outcome::Ok));
        }
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

async fn jwks(State(state): State<Luna>) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.auth.identity.jwks())).into_response()
}

/// Live sessions: a member's own, or (an admin, the owner) everyone's; `current` marks the
/// caller's.
#[utoipa::path(get, path = "/sessions", tag = "sessions", responses((status = 200, body = Vec<SessionInfo>), ApiErrors))]
async fn list_sessions(
    State(luna): State<Luna>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let cookie_header = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    let sessions = luna.auth.sessions_of(caller.access_scope().map(str::to_string), cookie_header).await;
    Ok(Json(sessions.map_err(|error| ApiError::Unavailable(error.to_string()))?))
}

/// Ends a session (by the id `GET /sessions` lists): a member's own, or any for an admin.
#[utoipa::path(post, path = "/sessions/{id}/revoke", tag = "sessions",
    params(("id" = String, Path, description = "a session's id as listed")),
    responses((status = 200, body = Revoked), ApiErrors))]
async fn revoke_session(
    State(luna): State<Luna>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let ended = luna.auth.end_session(&id, caller.access_scope().map(str::to_string)).await;
    match ended.map_err(|error| ApiError::Unavailable(error.to_string()))? {
        true => Ok(Json(Revoked { revoked: id })),
        false => Err(ApiError::NotFound(format!("no session {id}"))),
    }
}

/// A page whose message may contain text from outside (GitHub, the query string).
fn text_page(status: StatusCode, title: &str, text: &str) -> Response {
    let escaped = crate::html::escape(text);
    page(status, title, &format!("{escaped} <a href=\"/auth/login\">Log in</a>"))
}

/// `body_html` must be Luna's own markup, never text from a request.
fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Luna</title>\
         <link rel=\"icon\" href=\"data:,\"></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto\">\
         <h1>{title}</h1><p>{body_html}</p></body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store"), (header::X_FRAME_OPTIONS, "DENY")], Html(html)).into_response()
}
