//! The API's one error type: every failure becomes JSON `{"error", "detail"}` with a
//! status that says who is at fault.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::app::AppError;
use crate::supervisor::SupervisorError;

/// The body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A code: `not_found`, `bad_request`, `forbidden`, `conflict`, `unavailable`,
    /// `bad_gateway`, `supervisor_unavailable`.
    pub error: String,
    /// What went wrong, for people.
    pub detail: String,
    /// With `bad_request` for a form: every problem, each `field: problem`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// The error answers a control operation may give, for the OpenAPI document.
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum ApiErrors {
    /// A parameter or body is not valid.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// The caller is a member and the operation needs an admin.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such extension, process, service, session or client.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The request conflicts with the current state.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// A server Luna depends on failed (the ACME CA, a registry).
    #[response(status = 502)]
    BadGateway(ErrorBody),
    /// Luna cannot answer right now (a supervisor is busy, Docker is not reachable).
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// No user is logged in.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// Bad values of a form: every problem, each naming its field.
    #[error("invalid configuration: {}", .0.join("; "))]
    InvalidFields(Vec<String>),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Conflict(String),
    /// The client does not accept the only representation there is.
    #[error("{0}")]
    NotAcceptable(String),
    /// A server Luna depends on (the ACME CA) failed.
    #[error("{0}")]
    BadGateway(String),
    #[error(transparent)]
    Supervisor(#[from] SupervisorError),
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Invalid(detail) => ApiError::BadRequest(detail),
            AppError::NotFound(detail) => ApiError::NotFound(detail),
            AppError::Forbidden(detail) => ApiError::Forbidden(detail),
            AppError::Conflict(detail) => ApiError::Conflict(detail),
            AppError::Unavailable(detail) => ApiError::Unavailable(detail),
            AppError::Upstream(detail) => ApiError::BadGateway(detail),
            AppError::Supervisor(error) => ApiError::Supervisor(error),
        }
    }
}

impl From<crate::packages::PackageError> for ApiError {
    fn from(error: crate::packages::PackageError) -> Self {
        use crate::packages::PackageError;
        match error {
            PackageError::Invalid(detail) | PackageError::Rejected(detail) => ApiError::BadRequest(detail),
            PackageError::NotFound(detail) => ApiError::NotFound(detail),
            PackageError::Conflict(detail) => ApiError::Conflict(detail),
            PackageError::Upstream(detail) => ApiError::BadGateway(detail),
            PackageError::Io(detail) => ApiError::Unavailable(detail),
            PackageError::Supervisor(error) => ApiError::Supervisor(error),
        }
    }
}

impl ApiError {
    /// The JSON body and status of this error, for an error event of a stream.
    pub fn event_body(self) -> serde_json::Value {
        let status = self.status_and_code().0.as_u16();
        let detail = self.to_string();
        serde_json::json!({ "status": status, "detail": detail })
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) | ApiError::Supervisor(SupervisorError::NotFound(_)) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            ApiError::BadRequest(_) | ApiError::InvalidFields(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::NotAcceptable(_) => (StatusCode::NOT_ACCEPTABLE, "not_acceptable"),
            ApiError::BadGateway(_) => (StatusCode::BAD_GATEWAY, "bad_gateway"),
            ApiError::Supervisor(SupervisorError::Conflict(_)) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Supervisor(SupervisorError::Unavailable(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "supervisor_unavailable")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let detail = self.to_string();
        let problems = match self {
            ApiError::InvalidFields(problems) => problems,
            _ => Vec::new(),
        };
        (status, Json(ErrorBody { error: code.to_string(), detail, problems })).into_response()
    }
}
