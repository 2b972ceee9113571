//! `GET /metrics`: Prometheus's scrape, for a scraper with `LUNA_METRICS_TOKEN` as its bearer,
//! for anyone logged in, and for the owner on the socket; never public.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::caller::through_gateway;
use crate::app::Luna;
use crate::auth::Verdict;

pub async fn metrics(State(luna): State<Luna>, headers: HeaderMap) -> Response {
    if !may_scrape(&luna, &headers).await {
        let body = "send Authorization: Bearer <LUNA_METRICS_TOKEN> (luna token --metrics), or log in\n";
        let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], luna.metrics_text().await).into_response()
}

async fn may_scrape(luna: &Luna, headers: &HeaderMap) -> bool {
    if !through_gateway(headers) {
        return true;
    }
    if let Some(token) = crate::mcp::access::bearer(headers) {
        let secrets = luna.secrets.current();
        let expected = secrets.get(METRICS_TOKEN).filter(|expected| !expected.is_empty());
        return expected.is_some_and(|expected| crate::auth::constant_time_eq(token, expected));
    }
    let cookie_header = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    matches!(luna.auth.check(cookie_header).await, Verdict::Allowed(_))
}

/// The `.env` key of the scraper's bearer token (Luna's own: never given to extensions).
pub const METRICS_TOKEN: &str = "LUNA_METRICS_TOKEN";
