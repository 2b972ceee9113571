//! Running Luna's admin tools: each calls the application layer the CLI and the Hub reach
//! through the API, so an MCP client can do exactly what they can, no more, with the same
//! checks and errors.

use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use serde::Serialize;

use crate::app::Luna;
use crate::supervisor::Action;
use crate::tools::{admin, error_result};

pub async fn call(luna: &Luna, name: &str, arguments: JsonObject) -> CallToolResult {
    match name {
        admin::LIST_SERVICES => answer(luna.supervisor.services().await),
        admin::RESTART_SERVICE => match arguments.get("name").and_then(serde_json::Value::as_str) {
            Some(key) => answer(luna.supervisor.control(key, Action::Restart).await),
            None => error_result("`name` must be a process key such as hello.api".into()),
        },
        // Secrets stay masked: the tool has no `reveal`.
        admin::EXTERNAL_SERVICES_STATUS => {
            answer(Ok::<_, std::convert::Infallible>(luna.external_services.installed(false)))
        }
        other => error_result(format!("unknown admin tool: {other}")),
    }
}

fn answer<T: Serialize, E: std::fmt::Display>(result: Result<T, E>) -> CallToolResult {
    match result.map(|value| serde_json::to_string_pretty(&value)) {
        Ok(Ok(text)) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Ok(Err(error)) => error_result(error.to_string()),
        Err(error) => error_result(error.to_string()),
    }
}
