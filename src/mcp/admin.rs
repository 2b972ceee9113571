//! Running Luna's admin tools: each calls the API handler the CLI and the Hub use, so an
//! MCP client can do exactly what they can, no more, with the same checks and errors.

use axum::Json;
use axum::extract::{Path, Query, State};
use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use serde::Serialize;

use crate::api::{self, ApiError, ApiState};
use crate::tools::{admin, error_result};

pub async fn call(state: &ApiState, name: &str, arguments: JsonObject) -> CallToolResult {
    let state = State(state.clone());
    match name {
        admin::LIST_SERVICES => answer(api::supervisor::services(state).await),
        admin::RESTART_SERVICE => match arguments.get("name").and_then(serde_json::Value::as_str) {
            Some(key) => answer(api::processes::restart(state, Path(key.to_string())).await),
            None => error_result("`name` must be a process key such as hello.api".into()),
        },
        // Secrets stay masked: the tool has no `reveal`.
        admin::EXTERNAL_SERVICES_STATUS => answer(Ok(api::external::installed(state, Query(Default::default())).await)),
        other => error_result(format!("unknown admin tool: {other}")),
    }
}

fn answer<T: Serialize>(result: Result<Json<T>, ApiError>) -> CallToolResult {
    match result.map(|Json(value)| serde_json::to_string_pretty(&value)) {
        Ok(Ok(text)) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Ok(Err(error)) => error_result(error.to_string()),
        Err(error) => error_result(error.to_string()),
    }
}
