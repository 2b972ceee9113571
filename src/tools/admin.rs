//! Luna's built-in admin tools: what they are called and what they take.
//!
//! They are off until enabled in `tool_configs` like any other tool; running them is the
//! MCP layer's job (`mcp/admin.rs`), which calls the application layer as the CLI and Hub do.

use rmcp::model::Tool;

pub const LIST_SERVICES: &str = "LUNA_GET_services";
pub const RESTART_SERVICE: &str = "LUNA_ACTION_restart_service";
pub const EXTERNAL_SERVICES_STATUS: &str = "LUNA_GET_external_services_status";

pub fn definitions() -> Vec<Tool> {
    vec![
        tool(
            LIST_SERVICES,
            "List every process Luna manages (extension UIs, services, tool hosts) with its status, port, \
             restarts and last error.",
            serde_json::json!({"type": "object", "properties": {}}),
        ),
        tool(
            RESTART_SERVICE,
            "Restart one managed process by its key, as `LUNA_GET_services` lists it (for example `hello.api` \
             or `hello_ui`). Answers with the process's record after the restart.",
            serde_json::json!({
                "type": "object",
                "properties": {"name": {"type": "string", "description": "the process key"}},
                "required": ["name"]
            }),
        ),
        tool(
            EXTERNAL_SERVICES_STATUS,
            "Luna's installed external (Docker) services: status, auto-start, ports, web UI path and connection values (secrets masked).",
            serde_json::json!({"type": "object", "properties": {}}),
        ),
    ]
}

fn tool(name: &'static str, description: &'static str, schema: serde_json::Value) -> Tool {
    let serde_json::Value::Object(schema) = schema else { unreachable!("admin tool schemas are objects") };
    Tool::new(name, description, std::sync::Arc::new(schema))
}
