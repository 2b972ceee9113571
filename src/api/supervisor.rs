//! `/api/supervisor/*`: health, status, managed services, ports, shutdown.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::routes;

use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{Luna, Operation, StatusReport};
use crate::doctor::DoctorReport;
use crate::supervisor::{PortMap, ServicesState};

pub fn routes() -> Documented {
    Documented::new()
        .routes(Operation::View, routes!(health))
        .routes(Operation::View, routes!(status))
        .routes(Operation::View, routes!(services))
        .routes(Operation::View, routes!(ports))
        .routes(Operation::ReadLogs, routes!(doctor))
        .routes(Operation::Shutdown, routes!(shutdown))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// Always `healthy`: the core API answers.
    status: &'static str,
}

/// Whether the core API answers.
#[utoipa::path(get, path = "/health", tag = "status", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "healthy" })
}

/// Every component's status, what `luna status` prints.
#[utoipa::path(get, path = "/status", tag = "status", responses((status = 200, body = StatusReport), ApiErrors))]
async fn status(State(luna): State<Luna>) -> Result<Json<StatusReport>, ApiError> {
    Ok(Json(luna.status().await?))
}

/// `luna doctor`: what usually goes wrong on a server, checked now, each with advice.
#[utoipa::path(get, path = "/doctor", tag = "status", responses((status = 200, body = DoctorReport), ApiErrors))]
async fn doctor(State(luna): State<Luna>) -> Result<Json<DoctorReport>, ApiError> {
    Ok(Json(luna.doctor().await?))
}

/// Every managed process, as `state.json` holds it.
#[utoipa::path(get, path = "/services", tag = "processes", responses((status = 200, body = ServicesState), ApiErrors))]
async fn services(State(luna): State<Luna>) -> Result<Json<ServicesState>, ApiError> {
    Ok(Json(luna.supervisor.services().await?))
}

/// The `LUNA_PORTS` map every child receives.
#[utoipa::path(get, path = "/ports", tag = "processes", responses((status = 200, body = PortMap), ApiErrors))]
async fn ports(State(luna): State<Luna>) -> Result<Json<PortMap>, ApiError> {
    Ok(Json(luna.supervisor.ports().await?))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ShuttingDown {
    /// `shutting_down`.
    status: &'static str,
}

/// Stops Luna (its processes first); answers before it goes.
#[utoipa::path(post, path = "/shutdown", tag = "status", responses((status = 202, body = ShuttingDown)))]
async fn shutdown(State(luna): State<Luna>) -> (StatusCode, Json<ShuttingDown>) {
    luna.shutdown.request();
    (StatusCode::ACCEPTED, Json(ShuttingDown { status: "shutting_down" }))
}
