//! `/api/supervisor/tools`: every tool Luna knows, with its flags, the prompts and resources
//! of the tool hosts, and the state of each extension's tool host (an import error's traceback
//! shows here); `/api/supervisor/offers`: a prompt's or resource's switch;
//! `/api/supervisor/mcp`: how a client connects.

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use utoipa_axum::routes;

use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{Caller, Luna, McpAccess, OfferEntry, OfferSwitch, Operation, ToolsReport};
use crate::supervisor::ToolFlagsUpdate;
use crate::tools::ToolFlags;

pub fn routes() -> Documented {
    Documented::new()
        .routes(Operation::View, routes!(list))
        .routes(Operation::ConfigureTools, routes!(update))
        .routes(Operation::ConfigureTools, routes!(switch_offer))
        .routes(Operation::View, routes!(mcp_access))
        .routes(Operation::ManageKeys, routes!(regenerate_mcp_token))
}

/// Every tool with its flags and problems, and every tool host's process.
#[utoipa::path(get, path = "/tools", operation_id = "list_tools", tag = "tools", responses((status = 200, body = ToolsReport), ApiErrors))]
async fn list(State(luna): State<Luna>) -> Result<Json<ToolsReport>, ApiError> {
    Ok(Json(luna.tools_report().await?))
}

/// Changes a tool's flags (`enabled_in_mcp`, `passthrough`); MCP clients are told at once.
#[utoipa::path(post, path = "/tools/{name}", operation_id = "set_tool_flags", tag = "tools",
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

/// Switches a prompt, resource or resource template on or off for MCP (they are on until
/// switched off); MCP clients are told at once.
#[utoipa::path(post, path = "/offers", operation_id = "switch_offer", tag = "tools",
    request_body = OfferSwitch,
    responses((status = 200, body = OfferEntry), ApiErrors))]
async fn switch_offer(
    State(luna): State<Luna>,
    body: Result<Json<OfferSwitch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<OfferEntry>, ApiError> {
    let Json(switch) =
        body.map_err(|rejection| ApiError::BadRequest(format!("request body: {}", rejection.body_text())))?;
    Ok(Json(luna.switch_offer(switch).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RevealQuery {
    /// Show the token instead of `********`.
    #[serde(default)]
    reveal: bool,
}

/// The MCP endpoint and the local bearer token (masked unless `reveal`).
#[utoipa::path(get, path = "/mcp", tag = "tools", params(RevealQuery), responses((status = 200, body = McpAccess)))]
async fn mcp_access(
    State(luna): State<Luna>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<RevealQuery>,
) -> Result<Json<McpAccess>, ApiError> {
    caller.authorize_reveal(query.reveal)?;
    Ok(Json(luna.mcp_access(query.reveal)))
}

/// Replaces `MCP_AUTH_TOKEN` with a new one (answered, revealed); the old one stops working
/// at once, so every client using it must be given the new one.
#[utoipa::path(post, path = "/mcp/token", operation_id = "regenerate_mcp_token", tag = "tools",
    responses((status = 200, body = McpAccess), ApiErrors))]
async fn regenerate_mcp_token(State(luna): State<Luna>) -> Result<Json<McpAccess>, ApiError> {
    Ok(Json(luna.regenerate_mcp_token().await?))
}
