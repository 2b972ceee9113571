//! Extension processes and tools, as people look at them: a log's tail, one composite
//! answer to "why is this not working?", and every tool with its flags.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::{AppError, Luna};
use crate::supervisor::ProcessRecord;
use crate::supervisor::process::Role;
use crate::supervisor::process::logs::LogSink;
use crate::sys::PortOwner;

/// Most lines one logs request returns.
pub const MAX_TAIL_LINES: usize = 1000;
/// Lines of log in a troubleshooting answer.
const TROUBLESHOOTING_LINES: usize = 50;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogTail {
    pub key: String,
    pub log_file: String,
    pub lines: Vec<String>,
}

/// One composite answer to "why is this not working?".
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Troubleshooting {
    pub key: String,
    pub record: ProcessRecord,
    /// Who listens on the process's port right now (the process itself, a stranger, nobody).
    pub port_owner: Option<PortOwner>,
    pub log_tail: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ToolsReport {
    pub tools: Vec<ToolEntry>,
    /// The prompts, resources and resource templates of the tool hosts.
    pub offers: Vec<super::offers::OfferEntry>,
    /// Tool hosts by process key (`<extension>_tools`).
    pub hosts: std::collections::BTreeMap<String, ProcessRecord>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
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

impl Luna {
    /// The last `lines` lines of process `key`'s output.
    pub async fn logs(&self, key: &str, lines: usize) -> Result<LogTail, AppError> {
        let (record, sink) = self.log_sink(key, lines).await?;
        Ok(LogTail { key: key.to_string(), log_file: record.log_file, lines: sink.tail(lines) })
    }

    /// The last `lines` lines of process `key`'s output, then every new line as it comes; a
    /// follower too slow to keep up is told how many lines it missed.
    pub async fn follow_logs(
        &self,
        key: &str,
        lines: usize,
    ) -> Result<impl futures_util::Stream<Item = String> + Send + 'static, AppError> {
        let (_, sink) = self.log_sink(key, lines).await?;
        // Subscribe before reading the tail so no line falls between the two.
        let follower = sink.follow();
        let history = sink.tail(lines);
        let live = futures_util::stream::unfold(follower, |mut follower| async move {
            let line = match follower.recv().await {
                Ok(line) => line,
                Err(RecvError::Lagged(skipped)) => {
                    format!("[luna: {skipped} lines skipped, the follower was too slow]")
                }
                Err(RecvError::Closed) => return None,
            };
            Some((line, follower))
        });
        Ok(futures_util::StreamExt::chain(futures_util::stream::iter(history), live))
    }

    async fn log_sink(&self, key: &str, lines: usize) -> Result<(ProcessRecord, LogSink), AppError> {
        if lines > MAX_TAIL_LINES {
            return Err(AppError::Invalid(format!("tail must be at most {MAX_TAIL_LINES}")));
        }
        Ok(self.supervisor.inspect(key).await?)
    }

    pub async fn troubleshoot(&self, key: &str) -> Result<Troubleshooting, AppError> {
        let (record, sink) = self.supervisor.inspect(key).await?;
        let port_owner = match record.port {
            // Scanning /proc is blocking file I/O.
            Some(port) => tokio::task::spawn_blocking(move || crate::sys::port_owner(port)).await.ok().flatten(),
            None => None,
        };
        Ok(Troubleshooting { key: key.to_string(), port_owner, log_tail: sink.tail(TROUBLESHOOTING_LINES), record })
    }

    /// Every tool Luna knows with its flags, and the state of each extension's tool host (an
    /// import error's traceback shows there).
    pub async fn tools_report(&self) -> Result<ToolsReport, AppError> {
        let catalog = self.tools.catalog();
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
        let services = self.supervisor.services().await?.services;
        let hosts = services.into_iter().filter(|(_, record)| record.kind == Role::Tools).collect();
        let offers = super::offers::offer_entries(&catalog.offers);
        Ok(ToolsReport { tools, offers, hosts })
    }
}
