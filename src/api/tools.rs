//! `/api/supervisor/tools`: every tool Luna knows, with its flags, and the state of each
//! extension's tool host (an import error's traceback shows here).

use axum::Json;
use axum::extract::{Path, State};
use utoipa_axum::routes;

use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{Luna, ToolsReport};
use crate::supervisor::ToolFlagsUpdate;
use crate::tools::ToolFlags;

pub fn routes() -> Documented {
    Documented::new().routes(routes!(list)).routes(routes!(update))
}

/// Every tool with its flags and problems, and every tool host's process.
#[utoipa::path(get, path = "/tools", tag = "tools", responses((status = 200, body = ToolsReport), ApiErrors))]
async fn list(State(luna): State<Luna>) -> Result<Json<ToolsReport>, ApiError> {
    Ok(Json(luna.tools_report().await?))
}

/// Changes a tool's flags (`enabled_in_mcp`, `passthrough`); MCP clients are told at once.
#[utoipa::path(post, path = "/tools/{name}", tag = "tools",
    params(("name" = String, Path, description = "the tool's name")),
    request_body = ToolFlagsUpdate,
    responses((status = 200, body = ToolFlags), ApiErrors))]
async fn update(
    State(luna): State<Luna>,
    Path(name): Path<String>,
    body: Result<Json<ToolFlagsUpdate>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ToolFlags>, ApiError> {
    let Json(update) =
        body.map_err(|rejection| ApiError::BadRequest(format!("request body: {}", rejection.body_text())))?;
    Ok(Json(luna.supervisor.set_tool_flags(&name, update).await?))
}
