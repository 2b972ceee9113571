//! Calling a tool of the catalog, for every front-end that does (`/api/mcp`, the Agent API):
//! one place for what is offered where, the caller's permission, argument checks, the call
//! with its timeout and result cap, metrics and the audit record.

use std::time::{Duration, Instant};

use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use serde::Serialize;

use super::{Caller, Luna, Operation};
use crate::audit::{Outcome, Record};
use crate::metrics::ToolOutcome;
use crate::supervisor::Action;
use crate::tools::relay::Backchannel;
use crate::tools::{CallError, CatalogTool, admin, error_result};

/// Where a tool is called from; each offers its own part of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `/api/mcp`: the tools switched on for MCP (`enabled_in_mcp`), Luna's admin tools included.
    Mcp,
    /// The Agent API: every callable extension tool, whether or not MCP offers it (the
    /// reference's "only available to internal Luna agents"); not Luna's admin tools.
    Agent,
}

impl Surface {
    pub fn offers(self, tool: &CatalogTool) -> bool {
        match self {
            Surface::Mcp => tool.in_mcp(),
            Surface::Agent => tool.problem.is_none() && !tool.is_admin(),
        }
    }
}

/// Why a call did not reach the tool (a tool that fails is an `isError` result instead).
#[derive(Debug, thiserror::Error)]
pub enum ToolCallError {
    #[error("unknown tool: {0}")]
    Unknown(String),
    #[error("{0}")]
    Refused(String),
}

/// What calling `tool` is: Luna's admin tools need an admin, every other tool a member.
pub fn operation_of(tool: &CatalogTool) -> Operation {
    if tool.is_admin() { Operation::UseAdminTools } else { Operation::UseTools }
}

impl Luna {
    /// Calls tool `name` of `surface` for `caller` (`client`: the OAuth client or agent it
    /// acts through, for the audit log); what the host sends back during the call goes
    /// through `backchannel`.
    pub async fn call_tool(
        &self,
        surface: Surface,
        caller: &Caller,
        client: Option<&str>,
        name: &str,
        arguments: Option<JsonObject>,
        backchannel: Backchannel,
    ) -> Result<CallToolResult, ToolCallError> {
        let catalog = self.tools.catalog();
        let Some(tool) = catalog.tools.get(name).filter(|tool| surface.offers(tool)) else {
            return Err(ToolCallError::Unknown(name.to_string()));
        };
        let started = Instant::now();
        let recorded_arguments = self
            .audit
            .settings
            .tool_arguments
            .then(|| serde_json::to_string(arguments.as_ref().unwrap_or(&Default::default())).unwrap_or_default());
        let audit = |outcome: Outcome, took: Duration| {
            let mut record = Record::new(caller.principal(), "tool_call", outcome);
            record.client = client;
            record.target = Some(name);
            record.detail = recorded_arguments.clone();
            record.duration = Some(took);
            self.audit.record(record);
        };
        if let Err(refusal) = caller.authorize(operation_of(tool)) {
            self.metrics.tool_call(name, ToolOutcome::Refused, started.elapsed());
            audit(Outcome::Refused, started.elapsed());
            return Err(ToolCallError::Refused(format!("{name}: {refusal}")));
        }
        let result = if tool.is_admin() {
            let arguments = arguments.unwrap_or_default();
            match tool.check_arguments(&arguments) {
                Some(invalid) => invalid,
                None => self.tools.capped(self.call_admin_tool(name, arguments).await),
            }
        } else {
            match self.tools.call_host_tool(tool, arguments, backchannel).await {
                Ok(result) => result,
                Err(CallError::UnknownTool(name)) => return Err(ToolCallError::Unknown(name)),
            }
        };
        let failed = result.is_error == Some(true);
        let outcome = if failed { ToolOutcome::Error } else { ToolOutcome::Ok };
        self.metrics.tool_call(name, outcome, started.elapsed());
        audit(if failed { Outcome::Failed } else { Outcome::Ok }, started.elapsed());
        Ok(result)
    }

    /// Luna's admin tools: each calls the operation the CLI and the Hub reach through the
    /// API, so a client can do exactly what they can, no more, with the same checks and errors.
    async fn call_admin_tool(&self, name: &str, arguments: JsonObject) -> CallToolResult {
        match name {
            admin::LIST_SERVICES => answer(self.supervisor.services().await),
            admin::RESTART_SERVICE => match arguments.get("name").and_then(serde_json::Value::as_str) {
                Some(key) => answer(self.supervisor.control(key, Action::Restart).await),
                None => error_result("`name` must be a process key such as hello.api".into()),
            },
            // Secrets stay masked: the tool has no `reveal`.
            admin::EXTERNAL_SERVICES_STATUS => {
                answer(Ok::<_, std::convert::Infallible>(self.external_services.installed(false)))
            }
            other => error_result(format!("unknown admin tool: {other}")),
        }
    }
}

fn answer<T: Serialize, E: std::fmt::Display>(result: Result<T, E>) -> CallToolResult {
    match result.map(|value| serde_json::to_string_pretty(&value)) {
        Ok(Ok(text)) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Ok(Err(error)) => error_result(error.to_string()),
        Err(error) => error_result(error.to_string()),
    }
}
