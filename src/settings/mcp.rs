//! `[mcp]`: the MCP endpoint's limits and its static bearer (SPEC §7).

use std::time::Duration;

use serde::Deserialize;

use super::{Origin, SettingsError};

/// Longest allowed `mcp.tool_timeout_ms`: a call that needs longer should be a job.
const MAX_TOOL_TIMEOUT_MS: u64 = 600_000;
/// Largest allowed `mcp.max_result_bytes`.
const MAX_RESULT_BYTES: usize = 64 * 1024 * 1024;

/// (`MCP_AUTH_TOKEN` is a key of `.env`, read live: [`crate::app::Luna::mcp_token`].)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpSettings {
    /// A tool call not answered in this long is cancelled and reported as an error result.
    pub tool_timeout: Duration,
    /// A tool result larger than this (serialized JSON) is replaced by an error result.
    pub max_result_bytes: usize,
}

impl Default for McpSettings {
    fn default() -> Self {
        Self { tool_timeout: Duration::from_secs(30), max_result_bytes: 1024 * 1024 }
    }
}

/// The `[mcp]` table of `luna.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct McpSection {
    pub tool_timeout_ms: Option<u64>,
    pub max_result_bytes: Option<usize>,
}

impl McpSection {
    pub fn validate(self, origin: &Origin) -> Result<McpSettings, SettingsError> {
        let defaults = McpSettings::default();
        let tool_timeout = match self.tool_timeout_ms {
            None => defaults.tool_timeout,
            Some(ms) if (1..=MAX_TOOL_TIMEOUT_MS).contains(&ms) => Duration::from_millis(ms),
            Some(ms) => {
                let reason = format!("{ms} is out of range 1..={MAX_TOOL_TIMEOUT_MS}");
                return Err(SettingsError::new("mcp.tool_timeout_ms", origin.clone(), reason));
            }
        };
        let max_result_bytes = match self.max_result_bytes {
            None => defaults.max_result_bytes,
            Some(bytes) if (1024..=MAX_RESULT_BYTES).contains(&bytes) => bytes,
            Some(bytes) => {
                let reason = format!("{bytes} is out of range 1024..={MAX_RESULT_BYTES}");
                return Err(SettingsError::new("mcp.max_result_bytes", origin.clone(), reason));
            }
        };
        Ok(McpSettings { tool_timeout, max_result_bytes })
    }
}
