//! `[audit]`: how long the audit log keeps its entries, and whether MCP tool calls are
//! recorded with their arguments.

use serde::Deserialize;

use super::{Origin, SettingsError};

/// Longest retention accepted: ten years.
const MAX_RETENTION_DAYS: u64 = 3650;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// Entries older than this are deleted (hourly).
    pub retention_days: u64,
    /// Record each tool call's arguments too (they may hold what a user typed: off by default).
    pub tool_arguments: bool,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { retention_days: 90, tool_arguments: false }
    }
}

/// The `[audit]` table of `luna.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditSection {
    pub retention_days: Option<u64>,
    pub tool_arguments: Option<bool>,
}

impl AuditSection {
    pub fn validate(self, origin: &Origin) -> Result<AuditSettings, SettingsError> {
        let defaults = AuditSettings::default();
        let retention_days = match self.retention_days {
            None => defaults.retention_days,
            Some(days) if (1..=MAX_RETENTION_DAYS).contains(&days) => days,
            Some(days) => {
                let reason = format!("{days} is out of range 1..={MAX_RETENTION_DAYS}");
                return Err(SettingsError::new("audit.retention_days", origin.clone(), reason));
            }
        };
        Ok(AuditSettings { retention_days, tool_arguments: self.tool_arguments.unwrap_or(defaults.tool_arguments) })
    }
}
