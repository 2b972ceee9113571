//! Who may use `/api/mcp`, decided before the MCP layer sees the request.
//!
//! - `Authorization: Bearer <MCP_AUTH_TOKEN>` is accepted in every mode.
//! - A bearer that is not valid is refused with 401 in every mode: a client that sends a
//!   wrong token has a configuration problem it must hear about.
//! - Without a bearer: the owner on the API socket (no `X-Forwarded-For`: the request did
//!   not come through the gateway, and the socket is the owner's alone) is let in, and so
//!   is a loopback client while Luna runs open (local mode without GitHub login).
//!   Anyone else gets 401.
//!
//! The gateway replaces any client-sent `X-Forwarded-For`, so its value is the real peer.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::api::ApiState;

pub async fn require_access(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    match decide(&state, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

enum Refusal {
    /// No credentials where they are needed (RFC 6750: no error code).
    Missing,
    /// Credentials were sent and are not valid.
    Invalid,
}

fn decide(state: &ApiState, headers: &HeaderMap) -> Result<(), Refusal> {
    match bearer(headers) {
        Some(token) => match state.tools.settings().auth_token.as_deref() {
            Some(expected) if same_secret(token, expected) => Ok(()),
            _ => Err(Refusal::Invalid),
        },
        None => {
            let forwarded_for = headers.get("x-forwarded-for").and_then(|value| value.to_str().ok());
            match forwarded_for {
                None => Ok(()),
                Some(peer) if state.auth.is_open() && is_loopback(peer) => Ok(()),
                Some(_) => Err(Refusal::Missing),
            }
        }
    }
}

/// The token of an `Authorization: Bearer` header; any other scheme counts as none.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares digests, so the time taken says nothing about how much of the token matched.
fn same_secret(given: &str, expected: &str) -> bool {
    Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
}

fn is_loopback(peer: &str) -> bool {
    peer.trim().parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (challenge, body) = match self {
            Refusal::Missing => (
                r#"Bearer realm="luna""#,
                serde_json::json!({"error": "unauthorized", "detail": "send Authorization: Bearer <MCP_AUTH_TOKEN> (see `luna token`)"}),
            ),
            Refusal::Invalid => (
                r#"Bearer realm="luna", error="invalid_token", error_description="the bearer token is not valid""#,
                serde_json::json!({"error": "invalid_token", "detail": "the bearer token is not valid"}),
            ),
        };
        let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bearer_scheme_carries_a_token() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
    }

    #[test]
    fn loopback_peers() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("::1"));
        assert!(!is_loopback("192.168.1.2"));
        assert!(!is_loopback("127.0.0.1, 10.0.0.1"));
    }
}
