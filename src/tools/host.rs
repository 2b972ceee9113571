//! Luna's side of one tool host: an MCP client over the child's stdin and stdout.
//!
//! The `Process` actor spawns the child like any other (process group, environment, logs
//! from stderr) and hands its pipes here. [`connect`] runs the MCP handshake and lists the
//! tools; the task it starts then keeps the connection, re-lists the tools whenever the
//! host says they changed, and takes them out of the registry when the connection ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProtocolVersion};
use rmcp::service::{NotificationContext, RoleClient, RunningService, ServiceExt};
use rmcp::{ClientHandler, Peer};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::mpsc;

use super::ToolRegistry;
use super::progress::{Progress, ProgressRoutes};

/// Tells the host task that the server announced `notifications/tools/list_changed`, and
/// hands its progress reports to the calls they belong to.
struct ToolHostClient {
    info: ClientConfig,
    changed: mpsc::Sender<()>,
    progress: ProgressRoutes,
}

impl ClientHandler for ToolHostClient {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        // A full channel already holds a pending re-list.
        let _ = self.changed.try_send(());
    }

    async fn on_progress(&self, params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        let progress = Progress { progress: params.progress, total: params.total, message: params.message };
        self.progress.deliver(&params.progress_token.0, progress);
    }

    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }
}

/// A connected tool host, as its `Process` actor keeps it.
pub struct Connection {
    /// Distinguishes this connection from a later one of the same extension.
    pub id: u64,
    pub tool_count: usize,
}

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// Handshake and first listing, bounded by `limit`. On success the tools are in the
/// registry and a task keeps the connection until the child closes its stdout.
pub async fn connect(
    registry: ToolRegistry,
    extension: String,
    pipes: (ChildStdout, ChildStdin),
    limit: Duration,
) -> Result<Connection, String> {
    let (changed, mut changes) = mpsc::channel(1);
    let mut info =
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("luna", env!("CARGO_PKG_VERSION")));
    info.protocol_version = ProtocolVersion::V_2025_11_25;
    let client = ToolHostClient { info, changed, progress: registry.progress_routes() };
    let handshake = async {
        let running: RunningService<RoleClient, ToolHostClient> =
            client.serve(pipes).await.map_err(|error| format!("MCP handshake failed: {error}"))?;
        let tools = running.peer().list_all_tools().await.map_err(|error| format!("tools/list failed: {error}"))?;
        Ok::<_, String>((running, tools))
    };
    let (running, tools) = tokio::time::timeout(limit, handshake)
        .await
        .map_err(|_| format!("no MCP handshake within {}s", limit.as_secs()))??;

    let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    let tool_count = tools.len();
    let peer: Peer<RoleClient> = running.peer().clone();
    registry.host_ready(&extension, id, tools, peer.clone());
    tokio::spawn(async move {
        let relists = async {
            while changes.recv().await.is_some() {
                match peer.list_all_tools().await {
                    Ok(tools) => registry.host_ready(&extension, id, tools, peer.clone()),
                    Err(error) => tracing::warn!(%extension, %error, "tools/list after list_changed failed"),
                }
            }
        };
        tokio::select! {
            _ = running.waiting() => {}
            () = relists => {}
        }
        registry.host_gone(&extension, id);
    });
    Ok(Connection { id, tool_count })
}
