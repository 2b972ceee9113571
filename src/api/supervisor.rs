//! `/api/supervisor/*`: health, status, managed services, ports, shutdown.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::ApiError;
use crate::app::Luna;
use crate::app::StatusReport;
use crate::supervisor::{PortMap, ServicesState};

pub fn routes() -> Router<Luna> {
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

async fn status(State(luna): State<Luna>) -> Result<Json<StatusReport>, ApiError> {
    Ok(Json(luna.status().await?))
}

async fn services(State(state): State<Luna>) -> Result<Json<ServicesState>, ApiError> {
    Ok(Json(state.supervisor.services().await?))
}

async fn ports(State(state): State<Luna>) -> Result<Json<PortMap>, ApiError> {
    Ok(Json(state.supervisor.ports().await?))
}

async fn shutdown(State(state): State<Luna>) -> (StatusCode, Json<serde_json::Value>) {
    state.shutdown.request();
    (StatusCode::ACCEPTED, Json(serde_json::json!({ "status": "shutting_down" })))
}
