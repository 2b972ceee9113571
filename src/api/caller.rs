//! Who calls the control API, and the role check every control route goes through.
//!
//! The gateway strips every `X-Luna-*` header a client sends and sets `X-Luna-User` and
//! `X-Luna-Role` itself for a logged-in user; the socket is the owner's alone (0600). So:
//! a request with `X-Luna-User` comes from that user; one without, on the socket or through
//! an open local Luna, from the owner. [`identify`] puts the [`Caller`] into the request;
//! [`authorize`], layered on each route by [`super::openapi::Documented`], checks it against
//! the route's [`Operation`] (one check: [`Caller::authorize`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::app::{Caller, Luna, Operation, Role};
use crate::audit::{Audit, Outcome, Record};

/// Who is calling; `None` for a request through the gateway of a Luna with GitHub login
/// that names no user (the gateway lets none of those reach a control route).
pub(super) fn caller_of(luna: &Luna, headers: &HeaderMap) -> Option<Caller> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(login) = header("x-luna-user") {
        // A user without a role the gateway vouches for is a member: fail closed.
        let role = header("x-luna-role").and_then(Role::parse).unwrap_or(Role::Member);
        return Some(Caller::User { login: login.to_string(), role });
    }
    (!through_gateway(headers) || luna.auth.is_open()).then_some(Caller::Owner)
}

/// The gateway marks every request it forwards; the CLI on the socket does not pass it.
pub fn through_gateway(headers: &HeaderMap) -> bool {
    headers.contains_key("x-forwarded-proto")
}

/// Middleware over the control routes: the caller, as an extension, or 401.
pub async fn identify(State(luna): State<Luna>, mut request: Request, next: Next) -> Response {
    match caller_of(&luna, request.headers()) {
        Some(caller) => {
            request.extensions_mut().insert(caller);
            request.extensions_mut().insert(luna.audit.clone());
            next.run(request).await
        }
        None => ApiError::Unauthenticated("log in first: /auth/login".into()).into_response(),
    }
}

/// Middleware of one route: its operation's role, or 403. What changes Luna (anything but a
/// GET) and what reveals a secret is recorded in the audit log under the route's
/// `operationId` (from `operation_ids`, by method), with its path parameter as the target.
pub async fn authorize(
    operation: Operation,
    operation_ids: Arc<HashMap<Method, String>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(caller) = request.extensions().get::<Caller>() else {
        return ApiError::Unauthenticated("the caller is unknown".into()).into_response();
    };
    let allowed = caller.authorize(operation);
    let reveals = request.uri().query().is_some_and(|query| query.split('&').any(|pair| pair == "reveal=true"));
    let audit = request.extensions().get::<Arc<Audit>>().cloned();
    let Some(audit) = audit.filter(|_| request.method() != Method::GET || reveals) else {
        // A plain read: nothing to record.
        return answer(allowed, request, next).await;
    };
    let principal = caller.principal();
    let action = operation_ids.get(request.method()).cloned().unwrap_or_default();
    let (mut parts, body) = request.into_parts();
    let target = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| params.iter().next().map(|(_, value)| value.to_string()));
    let started = std::time::Instant::now();
    let response = answer(allowed, Request::from_parts(parts, body), next).await;
    let status = response.status();
    let outcome = match status.as_u16() {
        200..=399 => Outcome::Ok,
        401 | 403 => Outcome::Refused,
        _ => Outcome::Failed,
    };
    let action = if reveals { format!("{action}.reveal") } else { action };
    let mut record = Record::new(principal, &action, outcome);
    record.target = target.as_deref();
    record.detail = (outcome != Outcome::Ok).then(|| format!("HTTP {}", status.as_u16()));
    record.duration = Some(started.elapsed());
    audit.record(record);
    response
}

async fn answer(allowed: Result<(), crate::app::AppError>, request: Request, next: Next) -> Response {
    match allowed {
        Ok(()) => next.run(request).await,
        Err(refusal) => ApiError::from(refusal).into_response(),
    }
}
