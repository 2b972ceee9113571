//! Luna's side of one tool host: an MCP client over the child's stdin and stdout.
//!
//! The `Process` actor spawns the child like any other (process group, environment, logs
//! from stderr) and hands its pipes here. [`connect`] runs the MCP handshake and lists the
//! tools, resources, resource templates and prompts the server advertises; the task it starts
//! then keeps the connection, re-lists them whenever the host says a list changed, and takes
//! them out of the registry when the connection ends.
//!
//! Luna declares sampling and elicitation to the host: it relays those requests to the client
//! whose call caused them ([`relay`](super::relay)).
// rmcp marks sampling and logging deprecated (SEP-2577); 2025-11-25 servers use both.
#![allow(deprecated)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams,
    ElicitResult, Implementation, LoggingMessageNotificationParam, ProgressNotificationParam, ProtocolVersion,
    ResourceUpdatedNotificationParam, SubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient, RunningService, ServiceError, ServiceExt};
use rmcp::{ClientHandler, ErrorData, Peer};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::mpsc;

use super::ToolRegistry;
use super::offers::HostOffers;
use super::progress::Progress;
use super::relay::{Attributing, Attribution};

/// Tells the host task that the server announced a changed list, and hands what the host
/// sends during calls to the clients they belong to.
struct ToolHostClient {
    info: ClientConfig,
    extension: String,
    changed: mpsc::Sender<()>,
    registry: ToolRegistry,
}

impl ToolHostClient {
    fn relist(&self) {
        // A full channel already holds a pending re-list.
        let _ = self.changed.try_send(());
    }
}

impl ClientHandler for ToolHostClient {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.relist();
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.relist();
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.relist();
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        // Only a resource this host serves: a host cannot speak for another's URIs.
        let serves = self
            .registry
            .catalog()
            .offers
            .reader_of(&params.uri)
            .is_some_and(|(extension, _)| extension == self.extension);
        if serves {
            self.registry.subscriptions().updated(params).await;
        }
    }

    async fn on_progress(&self, params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        let progress = Progress { progress: params.progress, total: params.total, message: params.message };
        self.registry.progress_routes().deliver(&params.progress_token.0, progress);
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        context: NotificationContext<RoleClient>,
    ) {
        let attribution = context.extensions.get::<Attribution>();
        self.registry.relay().log_message(&self.extension, params, attribution).await;
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        let attribution = context.extensions.get::<Attribution>();
        self.registry.relay().create_message(&self.extension, params, attribution, context.ct.clone()).await
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let attribution = context.extensions.get::<Attribution>();
        self.registry.relay().elicit(&self.extension, params, attribution, context.ct.clone()).await
    }

    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }
}

/// Everything `peer` lists: tools always, the rest when its server advertises them.
async fn list_everything(peer: &Peer<RoleClient>) -> Result<(Vec<rmcp::model::Tool>, HostOffers), String> {
    let failed = |what: &'static str| move |error: ServiceError| format!("{what} failed: {error}");
    let tools = peer.list_all_tools().await.map_err(failed("tools/list"))?;
    let capabilities = peer.peer_info().map(|info| info.capabilities.clone()).unwrap_or_default();
    let mut offers = HostOffers::default();
    if capabilities.resources.is_some() {
        offers.resources = peer.list_all_resources().await.map_err(failed("resources/list"))?;
        // A server may offer resources without templates; it answers -32601 then.
        offers.templates = match peer.list_all_resource_templates().await {
            Ok(templates) => templates,
            Err(ServiceError::McpError(_)) => Vec::new(),
            Err(error) => return Err(failed("resources/templates/list")(error)),
        };
    }
    if capabilities.prompts.is_some() {
        offers.prompts = peer.list_all_prompts().await.map_err(failed("prompts/list"))?;
    }
    Ok((tools, offers))
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
    let capabilities = ClientCapabilities::builder().enable_sampling().enable_elicitation().build();
    let mut info = ClientConfig::new(capabilities, Implementation::new("luna", env!("CARGO_PKG_VERSION")));
    info.protocol_version = ProtocolVersion::V_2025_11_25;
    let client = ToolHostClient { info, extension: extension.clone(), changed, registry: registry.clone() };
    let (stdout, stdin) = pipes;
    let transport = Attributing {
        inner: rmcp::transport::async_rw::AsyncRwTransport::new_client(stdout, stdin),
        relay: registry.relay().clone(),
        extension: extension.clone(),
    };
    let handshake = async {
        let running: RunningService<RoleClient, ToolHostClient> =
            client.serve(transport).await.map_err(|error| format!("MCP handshake failed: {error}"))?;
        let listed = list_everything(running.peer()).await?;
        Ok::<_, String>((running, listed))
    };
    let (running, (tools, offers)) = tokio::time::timeout(limit, handshake)
        .await
        .map_err(|_| format!("no MCP handshake within {}s", limit.as_secs()))??;

    let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    let tool_count = tools.len();
    let peer: Peer<RoleClient> = running.peer().clone();
    registry.host_ready(&extension, id, tools, offers, peer.clone());
    resubscribe(&registry, &extension, &peer).await;
    tokio::spawn(async move {
        let relists = async {
            while changes.recv().await.is_some() {
                match list_everything(&peer).await {
                    Ok((tools, offers)) => registry.host_ready(&extension, id, tools, offers, peer.clone()),
                    Err(error) => tracing::warn!(%extension, %error, "listing after list_changed failed"),
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

/// A restarted host knows nothing of the subscriptions its predecessor had: Luna renews those
/// of the URIs it serves.
async fn resubscribe(registry: &ToolRegistry, extension: &str, peer: &Peer<RoleClient>) {
    let catalog = registry.catalog();
    for uri in registry.subscriptions().uris() {
        if catalog.offers.reader_of(&uri).is_some_and(|(owner, _)| owner == extension)
            && let Err(error) = peer.subscribe(SubscribeRequestParams::new(uri.clone())).await
        {
            tracing::warn!(%extension, %uri, %error, "resources/subscribe failed");
        }
    }
}
