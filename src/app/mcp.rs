//! How an MCP client reaches this Luna: the endpoint and the local bearer token.

use serde::Serialize;

use super::Luna;

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

    pub fn mcp_access(&self, reveal: bool) -> McpAccess {
        let token = self.tools.settings().auth_token.clone().unwrap_or_default();
        McpAccess {
            endpoint: format!("{}/api/mcp", self.public_url()),
            token: if reveal { token } else { MASK.to_string() },
            revealed: reveal,
        }
    }
}
