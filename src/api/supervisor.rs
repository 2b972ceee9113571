//! `/api/supervisor/*`: health, status, managed services, ports, shutdown.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState};
use crate::supervisor::{ComponentStatus, PortMap, ServicesState};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/services", get(services))
        .route("/ports", get(ports))
        .route("/shutdown", post(shutdown))
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "healthy" }))
}

/// The `luna status` document.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusReport {
    pub version: String,
    pub pid: u32,
    pub deployment_mode: String,
    pub started_at_unix: u64,
    pub uptime_seconds: u64,
    pub components: Vec<ComponentStatus>,
    /// The HTTPS listener's certificate; `None` in local mode.
    pub https: Option<crate::tls::CertificateReport>,
}

pub(crate) async fn status(State(state): State<ApiState>) -> Result<Json<StatusReport>, ApiError> {
    let mut components = state.supervisor.components().await?;
    let https = super::certs::report(&state);
    components.extend(https.as_ref().map(super::certs::component));
    Ok(Json(StatusReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        deployment_mode: state.deployment_mode.as_str().to_string(),
        started_at_unix: state.started_at.duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs()),
        uptime_seconds: state.started.elapsed().as_secs(),
        components,
        https,
    }))
}

pub(crate) async fn services(State(state): State<ApiState>) -> Result<Json<ServicesState>, ApiError> {
    Ok(Json(state.supervisor.services().await?))
}

async fn ports(State(state): State<ApiState>) -> Result<Json<PortMap>, ApiError> {
    Ok(Json(state.supervisor.ports().await?))
}

async fn shutdown(State(state): State<ApiState>) -> (StatusCode, Json<serde_json::Value>) {
    state.shutdown.request();
    (StatusCode::ACCEPTED, Json(serde_json::json!({ "status": "shutting_down" })))
}
