//! The Hub UI: assets embedded in the binary, with SPA fallback to `index.html`.
//!
//! `/api/*` paths that no handler claimed get a JSON 404, never the SPA page: clients of an
//! API must not mistake HTML for an answer.

use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;

const INDEX_HTML: &str = include_str!("../../hub_ui/index.html");

pub async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    // API, login and metadata paths never fall back to the page: they are answered by their
    // handlers or not at all (and `/auth` and `/.well-known` are public routes).
    let reserved = ["/api", "/auth", "/.well-known"];
    if reserved
        .iter()
        .any(|prefix| path == *prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')))
    {
        return ApiError::NotFound(format!("nothing at {path}")).into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        INDEX_HTML,
    )
        .into_response()
}
