//! Who may use `/api/mcp`, decided before the MCP layer sees the request.
//!
//! - `Authorization: Bearer <MCP_AUTH_TOKEN>` is accepted in every mode, and so is an access
//!   token from Luna's own authorization server ([`crate::oauth`]) for this resource, with
//!   the `mcp` scope and a live grant. GitHub's tokens are not Luna's: they are refused.
//! - A bearer that is not valid is refused with 401 in every mode: a client that sends a
//!   wrong token has a configuration problem it must hear about. A valid token without the
//!   `mcp` scope gets 403 `insufficient_scope`.
//! - Without a bearer: the owner on the API socket (no `X-Forwarded-For`: the request did
//!   not come through the gateway, and the socket is the owner's alone) is let in, and so
//!   is a loopback client while Luna runs open (local mode without GitHub login).
//!   Anyone else gets 401.
//!
//! The gateway replaces any client-sent `X-Forwarded-For`, so its value is the real peer.
//! Every 401 names the protected-resource metadata (RFC 9728), which is how MCP clients
//! find Luna's authorization server.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::Luna;
use crate::oauth::{BearerProblem, McpPrincipal, TokenProblem};

/// Most of a refused request's body that is read (and dropped) so the connection can carry
/// the next request, and how long that may take. A longer or slower body is not read: the
/// answer closes the connection instead.
const MAX_DRAINED_BODY: usize = 64 * 1024;
const MAX_DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn require_access(State(state): State<Luna>, mut request: Request, next: Next) -> Response {
    match decide(&state, request.headers()).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(refusal) => refuse(request, refusal.response(&state)).await,
    }
}

/// Answers `request` with `response`, decided on its headers alone: a short body is read
/// and dropped, a long one (by `Content-Length`, or once past the bound) is never read and
/// the connection is closed after the answer.
pub async fn refuse(request: Request, mut response: Response) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let drained = match declared {
        Some(length) if length > MAX_DRAINED_BODY as u64 => false,
        _ => {
            let drain = axum::body::to_bytes(request.into_body(), MAX_DRAINED_BODY);
            matches!(tokio::time::timeout(MAX_DRAIN_TIME, drain).await, Ok(Ok(_)))
        }
    };
    if !drained {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

enum Refusal {
    /// No credentials where they are needed (RFC 6750: no error code).
    Missing,
    /// More than one `Authorization` header.
    Ambiguous,
    /// Credentials were sent and are not valid.
    Invalid,
    /// A valid token without the `mcp` scope.
    InsufficientScope,
    /// The grant store cannot be asked: fail closed.
    Unavailable,
}

async fn decide(state: &Luna, headers: &HeaderMap) -> Result<McpPrincipal, Refusal> {
    if headers.get_all(header::AUTHORIZATION).iter().nth(1).is_some() {
        return Err(Refusal::Ambiguous);
    }
    match bearer(headers) {
        Some(token) => {
            if state.is_mcp_token(token) {
                return Ok(McpPrincipal::Owner);
            }
            match state.oauth.check_bearer(token).await {
                Ok(principal) => Ok(principal),
                Err(BearerProblem::Token(TokenProblem::InsufficientScope)) => Err(Refusal::InsufficientScope),
                Err(BearerProblem::Token(TokenProblem::Invalid(_))) => Err(Refusal::Invalid),
                Err(BearerProblem::Database(error)) => {
                    tracing::error!(%error, "cannot check an MCP access token");
                    Err(Refusal::Unavailable)
                }
            }
        }
        None => {
            let forwarded_for = headers.get("x-forwarded-for").and_then(|value| value.to_str().ok());
            match forwarded_for {
                None => Ok(McpPrincipal::Owner),
                Some(peer) if state.auth.is_open() && is_loopback(peer) => Ok(McpPrincipal::Owner),
                Some(_) => Err(Refusal::Missing),
            }
        }
    }
}

/// The token of an `Authorization: Bearer` header; any other scheme counts as none.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn is_loopback(peer: &str) -> bool {
    peer.trim().parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Refusal {
    fn response(self, state: &Luna) -> Response {
        let metadata = format!("{}/.well-known/oauth-protected-resource/api/mcp", state.oauth.issuer());
        let (status, challenge, body) = match self {
            Refusal::Missing => (
                StatusCode::UNAUTHORIZED,
                format!(r#"Bearer resource_metadata="{metadata}""#),
                serde_json::json!({"error": "unauthorized", "detail": "log in (OAuth) or send Authorization: Bearer <MCP_AUTH_TOKEN>"}),
            ),
            Refusal::Invalid => (
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"Bearer resource_metadata="{metadata}", error="invalid_token", error_description="the bearer token is not valid""#
                ),
                serde_json::json!({"error": "invalid_token", "detail": "the bearer token is not valid"}),
            ),
            Refusal::Ambiguous => (
                StatusCode::BAD_REQUEST,
                format!(
                    r#"Bearer resource_metadata="{metadata}", error="invalid_request", error_description="send one Authorization header""#
                ),
                serde_json::json!({"error": "invalid_request", "detail": "send one Authorization header, not several"}),
            ),
            Refusal::InsufficientScope => (
                StatusCode::FORBIDDEN,
                format!(r#"Bearer resource_metadata="{metadata}", error="insufficient_scope", scope="mcp""#),
                serde_json::json!({"error": "insufficient_scope", "detail": "the token lacks the `mcp` scope"}),
            ),
            Refusal::Unavailable => {
                let body = serde_json::json!({"error": "unavailable", "detail": "Luna cannot check tokens right now"});
                return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
            }
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
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
