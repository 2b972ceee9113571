//! `/api/supervisor/tools`: every tool Luna knows, with its flags, and the state of each
//! extension's tool host (an import error's traceback shows here).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, ApiState};
use crate::supervisor::{ProcessRecord, ToolFlagsUpdate};
use crate::tools::ToolFlags;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/tools", get(list)).route("/tools/{name}", post(update))
}

#[derive(Debug, Serialize)]
pub struct ToolsReport {
    pub tools: Vec<ToolEntry>,
    /// Tool hosts by process key (`<extension>_tools`).
    pub hosts: std::collections::BTreeMap<String, ProcessRecord>,
}

#[derive(Debug, Serialize)]
pub struct ToolEntry {
    pub name: String,
    pub extension: String,
    pub description: Option<String>,
    pub input_schema: serde_json::Value,
    pub enabled_in_mcp: bool,
    pub passthrough: bool,
    /// Offered at `/api/mcp` right now.
    pub in_mcp: bool,
    /// Why the tool cannot be offered (a name collision, an unusable schema).
    pub problem: Option<String>,
}

async fn list(State(state): State<ApiState>) -> Result<Json<ToolsReport>, ApiError> {
    let catalog = state.tools.catalog();
    let tools = catalog
        .tools
        .values()
        .map(|tool| ToolEntry {
            name: tool.definition.name.to_string(),
            extension: tool.extension.clone(),
            description: tool.definition.description.as_ref().map(ToString::to_string),
            input_schema: serde_json::Value::Object((*tool.definition.input_schema).clone()),
            enabled_in_mcp: tool.flags.enabled_in_mcp,
            passthrough: tool.flags.passthrough,
            in_mcp: tool.in_mcp(),
            problem: tool.problem.clone(),
        })
        .collect();
    let hosts =
        state.supervisor.services().await?.services.into_iter().filter(|(_, record)| record.kind == "tools").collect();
    Ok(Json(ToolsReport { tools, hosts }))
}

async fn update(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    body: Result<Json<ToolFlagsUpdate>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ToolFlags>, ApiError> {
    let Json(update) =
        body.map_err(|rejection| ApiError::BadRequest(format!("request body: {}", rejection.body_text())))?;
    Ok(Json(state.supervisor.set_tool_flags(&name, update).await?))
}
