//! `/api/supervisor/tools`: every tool Luna knows, with its flags, and the state of each
//! extension's tool host (an import error's traceback shows here).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::ApiError;
use crate::app::Luna;
use crate::app::ToolsReport;
use crate::supervisor::ToolFlagsUpdate;
use crate::tools::ToolFlags;

pub fn routes() -> Router<Luna> {
    Router::new().route("/tools", get(list)).route("/tools/{name}", post(update))
}

async fn list(State(state): State<Luna>) -> Result<Json<ToolsReport>, ApiError> {
    Ok(Json(state.tools_report().await?))
}

async fn update(
    State(state): State<Luna>,
    Path(name): Path<String>,
    body: Result<Json<ToolFlagsUpdate>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ToolFlags>, ApiError> {
    let Json(update) =
        body.map_err(|rejection| ApiError::BadRequest(format!("request body: {}", rejection.body_text())))?;
    Ok(Json(state.supervisor.set_tool_flags(&name, update).await?))
}
