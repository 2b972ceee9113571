//! How an MCP client reaches this Luna: the endpoint and the local bearer token.

use serde::Serialize;

use super::{AppError, Luna};

/// What the Hub's MCP page shows to connect a client.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct McpAccess {
    /// The streamable HTTP endpoint (`<public url>/api/mcp`).
    pub endpoint: String,
    /// `MCP_AUTH_TOKEN`, or `********` unless revealed.
    pub token: String,
    pub revealed: bool,
}

const MASK: &str = "********";

impl Luna {
    /// Where people reach this Luna: the origin of `server.public_url`.
    pub fn public_url(&self) -> String {
        self.site.origins().first().cloned().unwrap_or_default()
    }

    /// `MCP_AUTH_TOKEN` as `.env` holds it now.
    pub fn mcp_token(&self) -> Option<String> {
        self.secrets.current().get("MCP_AUTH_TOKEN").filter(|token| !token.is_empty()).map(str::to_string)
    }

    /// Whether `token` is the current `MCP_AUTH_TOKEN` (constant time; nothing copied: every
    /// MCP request asks).
    pub fn is_mcp_token(&self, token: &str) -> bool {
        let secrets = self.secrets.current();
        secrets
            .get("MCP_AUTH_TOKEN")
            .is_some_and(|expected| !expected.is_empty() && crate::auth::constant_time_eq(token, expected))
    }

    /// Replaces `MCP_AUTH_TOKEN`: the old one stops working at once. Answers the new one.
    pub async fn regenerate_mcp_token(&self) -> Result<McpAccess, AppError> {
        let token = crate::auth::random_token();
        self.write_env(&[("MCP_AUTH_TOKEN", Some(&token))]).await?;
        tracing::info!("MCP_AUTH_TOKEN regenerated");
        Ok(self.mcp_access(true))
    }

    pub fn mcp_access(&self, reveal: bool) -> McpAccess {
        let token = self.mcp_token().unwrap_or_default();
        McpAccess {
            endpoint: format!("{}/api/mcp", self.public_url()),
            token: if reveal { token } else { MASK.to_string() },
            revealed: reveal,
        }
    }
}
