//! `/api/mcp`: the tools of every enabled extension, served over MCP's streamable HTTP
//! transport (rmcp).
//!
//! One endpoint serves both protocol generations: a client that sends `initialize` gets
//! the session-based 2025-11-25 protocol (`Mcp-Session-Id`, a GET stream for
//! notifications); a client that sends per-request `_meta` (2026-07-28) is served
//! statelessly, and `server/discover` describes Luna. rmcp tells the two apart per request.
//!
//! The handler reads the [`ToolCatalog`](crate::tools::ToolCatalog) snapshot on every
//! `tools/list` and `tools/call`, so a change is visible to the next request, and a
//! reconnecting client that cached the old list gets the new one. Open sessions and
//! 2026-07-28 `subscriptions/listen` streams are also told with
//! `notifications/tools/list_changed`.
//!
//! Who may call is decided before rmcp sees the request ([`access`]); a session belongs to
//! the principal that opened it and sessions are capped ([`sessions`]).
//!
//! ```text
//! request ─► access (bearer → principal) ─► sessions::gate (the session is the caller's)
//!         ─► rmcp StreamableHttpService (McpSessions) ─► LunaMcp
//! ```

pub mod access;
pub mod sessions;

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, InitializeResult, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerNotification, SubscriptionFilter, ToolListChangedNotification,
};
use rmcp::service::{NotificationContext, RequestContext, RoleServer, SubscriptionContext};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler};
use tokio_util::sync::CancellationToken;

use crate::app::{Caller, Luna, Role, Surface, operation_of};
use crate::oauth::McpPrincipal;
use crate::tools::ToolRegistry;
use crate::tools::progress::{PROGRESS_BACKLOG, Progress, ProgressSink};

/// The MCP server behind `/api/mcp`; one value per session (or stateless request).
#[derive(Clone)]
pub struct LunaMcp {
    state: Luna,
}

impl LunaMcp {
    fn tools(&self) -> &ToolRegistry {
        &self.state.tools
    }
}

/// The principal [`access`] put into this MCP request's HTTP request.
fn principal_of(context: &RequestContext<RoleServer>) -> Option<&McpPrincipal> {
    context.extensions.get::<http::request::Parts>().and_then(|parts| parts.extensions.get())
}

/// Who makes this MCP request. A request without a principal (never, through the router) is
/// a member's: fail closed.
fn caller_of(context: &RequestContext<RoleServer>) -> Caller {
    match principal_of(context) {
        Some(McpPrincipal::Owner) => Caller::Owner,
        Some(McpPrincipal::User { login, role, .. }) => Caller::User { login: login.clone(), role: *role },
        None => Caller::User { login: "unknown".into(), role: Role::Member },
    }
}

/// Everything under `/api/mcp`: the access check, the session gate and rmcp's service.
/// `hosts` and `origins` are the names of this Luna (the gateway's
/// [`Site`](crate::gateway::site::Site)); `shutdown` ends every session and stream when
/// Luna stops.
pub fn router(
    state: Luna,
    hosts: Vec<String>,
    origins: Vec<String>,
    shutdown: CancellationToken,
) -> axum::Router<Luna> {
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_cancellation_token(shutdown);
    let sessions = state.mcp_sessions.clone();
    let factory = {
        let state = state.clone();
        move || Ok(LunaMcp { state: state.clone() })
    };
    let service = StreamableHttpService::new(factory, Arc::clone(&sessions), config);
    axum::Router::new()
        .fallback_service(service)
        .layer(axum::middleware::map_response(session_ended_status))
        .layer(axum::middleware::from_fn_with_state(sessions, sessions::gate))
        .layer(axum::middleware::from_fn_with_state(state, access::require_access))
}

/// rmcp answers a session's `DELETE` with 202; the Python SDK accepts only 200 or 204 and
/// warns on every disconnect otherwise. 204 means the same to every client.
async fn session_ended_status(
    request_method: axum::http::Method,
    mut response: axum::response::Response,
) -> axum::response::Response {
    if request_method == axum::http::Method::DELETE && response.status() == axum::http::StatusCode::ACCEPTED {
        *response.status_mut() = axum::http::StatusCode::NO_CONTENT;
    }
    response
}

impl ServerHandler for LunaMcp {
    fn get_info(&self) -> InitializeResult {
        let capabilities = ServerCapabilities::builder().enable_tools().enable_tool_list_changed().build();
        InitializeResult::new(capabilities)
            .with_server_info(Implementation::new("luna", env!("CARGO_PKG_VERSION")).with_title("Luna"))
            .with_instructions("Tools of the extensions enabled on this Luna hub.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller_of(&context);
        let catalog = self.tools().catalog();
        let tools = catalog.mcp_tools().filter(|tool| caller.may(operation_of(tool)));
        Ok(ListToolsResult::with_all_items(tools.map(|tool| tool.definition.clone()).collect()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller_of(&context);
        let client = match principal_of(&context) {
            Some(McpPrincipal::User { client_id, .. }) => Some(client_id.as_str()),
            _ => None,
        };
        let name = request.name.as_ref();
        // rmcp moves a request's `_meta` into its context.
        let token = context.meta.get_progress_token().or_else(|| request.meta.as_ref()?.get_progress_token());
        let (progress, forwarded) = token.map(|token| forward_progress(context.peer.clone(), token)).unzip();
        let result = self.state.call_tool(Surface::Mcp, &caller, client, name, request.arguments, progress).await;
        // The client gets every report before the result (after it, reports are ignored).
        if let Some(forwarded) = forwarded {
            let _ = tokio::time::timeout(PROGRESS_FLUSH_TIMEOUT, forwarded).await;
        }
        match result {
            Ok(result) => Ok(CallToolResponse::Complete(result)),
            Err(error) => Err(ErrorData::invalid_params(error.to_string(), None)),
        }
    }

    /// A 2025-11-25 session is told about tool changes on its GET stream until it closes.
    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let mut changes = self.tools().subscribe();
        changes.mark_unchanged();
        let peer = context.peer;
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                if peer.notify_tool_list_changed().await.is_err() {
                    break;
                }
            }
        });
    }

    fn accepted_subscription_filter(&self, _requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(SubscriptionFilter::builder().tools_list_changed().build())
    }

    /// A 2026-07-28 `subscriptions/listen` stream: one notification per tool change.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.tools().subscribe();
        changes.mark_unchanged();
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let notification = ServerNotification::ToolListChangedNotification(ToolListChangedNotification::default());
                    if context.sink().send(notification).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// How long a call's result waits for its last progress reports to reach the client.
const PROGRESS_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// A sink whose reports reach the client as `notifications/progress` with the client's own
/// token, in order; the task ends when the call drops the sink and the reports are sent.
fn forward_progress(
    peer: rmcp::Peer<RoleServer>,
    token: rmcp::model::ProgressToken,
) -> (ProgressSink, tokio::task::JoinHandle<()>) {
    let (sink, mut reports) = tokio::sync::mpsc::channel::<Progress>(PROGRESS_BACKLOG);
    let forwarding = tokio::spawn(async move {
        // rmcp delivers a host's notifications on tasks of their own, so reports can come out
        // of order; MCP's progress only grows, and a report behind the last one sent says
        // nothing new: it is left out.
        let mut sent = f64::NEG_INFINITY;
        while let Some(report) = reports.recv().await {
            if report.progress <= sent {
                continue;
            }
            sent = report.progress;
            let mut notification = rmcp::model::ProgressNotificationParam::new(token.clone(), report.progress);
            notification.total = report.total;
            notification.message = report.message;
            if peer.notify_progress(notification).await.is_err() {
                break;
            }
        }
    });
    (sink, forwarding)
}
