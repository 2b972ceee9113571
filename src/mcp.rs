//! `/api/mcp`: the tools, resources, resource templates and prompts of every enabled
//! extension, served over MCP's streamable HTTP transport (rmcp), with completions, logging,
//! progress, sampling and elicitation passed through to and from their servers.
//!
//! One endpoint serves both protocol generations: a client that sends `initialize` gets
//! the session-based 2025-11-25 protocol (`Mcp-Session-Id`, a GET stream for
//! notifications); a client that sends per-request `_meta` (2026-07-28) is served
//! statelessly, and `server/discover` describes Luna. rmcp tells the two apart per request.
//!
//! The handler reads the [`ToolCatalog`](crate::tools::ToolCatalog) snapshot on every
//! `tools/list` and `tools/call`, so a change is visible to the next request, and a
//! reconnecting client that cached the old list gets the new one. Open sessions and
//! 2026-07-28 `subscriptions/listen` streams are also told with `notifications/*/list_changed`.
//! What a server sends during a call (log messages, sampling and elicitation requests) reaches
//! the session whose call it is ([`relay`](crate::tools::relay)).
//!
//! Who may call is decided before rmcp sees the request ([`access`]); a session belongs to
//! the principal that opened it and sessions are capped ([`sessions`]).
//!
//! ```text
//! request ─► access (bearer → principal) ─► sessions::gate (the session is the caller's)
//!         ─► rmcp StreamableHttpService (McpSessions) ─► LunaMcp
//! ```

// rmcp marks logging, sampling and `resources/subscribe` deprecated or legacy-only (SEP-2577,
// 2026-07-28); 2025-11-25 clients use them all.
#![allow(deprecated)]

pub mod access;
pub mod sessions;

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, ErrorCode, GetPromptRequestParams,
    GetPromptResponse, Implementation, InitializeResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, PromptListChangedNotification,
    ReadResourceRequestParams, ReadResourceResponse, ResourceListChangedNotification, ServerCapabilities,
    ServerNotification, SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, ToolListChangedNotification,
    UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, RoleServer, SubscriptionContext};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::app::{Caller, Luna, OfferError, Operation, Role, Surface, operation_of};
use crate::oauth::McpPrincipal;
use crate::tools::ToolRegistry;
use crate::tools::progress::{PROGRESS_BACKLOG, Progress, ProgressSink};
use crate::tools::relay::{Backchannel, ClientLink, ClientSession};

/// The MCP server behind `/api/mcp`; one value per session (or stateless request).
#[derive(Clone)]
pub struct LunaMcp {
    state: Luna,
    session: Arc<SessionState>,
}

/// What Luna keeps of one session; when it ends, its resource subscriptions end too.
struct SessionState {
    client: Arc<ClientSession>,
    luna: Luna,
    /// It subscribed to a resource once: there may be subscriptions to end.
    subscribed: std::sync::atomic::AtomicBool,
}

impl Drop for SessionState {
    fn drop(&mut self) {
        if !self.subscribed.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let (luna, session) = (self.luna.clone(), self.client.id());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { luna.mcp_session_ended(session).await });
        }
    }
}

impl LunaMcp {
    fn new(state: Luna) -> Self {
        let session =
            Arc::new(SessionState { client: Arc::default(), luna: state.clone(), subscribed: Default::default() });
        Self { state, session }
    }

    fn tools(&self) -> &ToolRegistry {
        &self.state.tools
    }

    /// Where what a host sends during this request goes back to.
    fn link(&self, context: &RequestContext<RoleServer>) -> ClientLink {
        // A 2026-07-28 request stands alone (so does its session): it opts in to log messages
        // with a level in its `_meta`, else gets none.
        if context.meta.protocol_version().is_some() {
            self.session.client.set_log_level(context.meta.log_level());
        }
        ClientLink {
            session: Arc::clone(&self.session.client),
            peer: context.peer.clone(),
            request: context.id.clone(),
        }
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
        move || Ok(LunaMcp::new(state.clone()))
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
        let capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_prompts()
            .enable_resources()
            .enable_tools()
            .enable_prompts_list_changed()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_tool_list_changed()
            .build();
        InitializeResult::new(capabilities)
            .with_server_info(Implementation::new("luna", env!("CARGO_PKG_VERSION")).with_title("Luna"))
            .with_instructions("Tools, resources and prompts of the extensions enabled on this Luna hub.")
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
        let backchannel = Backchannel { progress, client: Some(self.link(&context)) };
        let call = self.state.call_tool(Surface::Mcp, &caller, client, name, request.arguments, backchannel);
        let result = unless_cancelled(&context, call).await?;
        // The client gets every report before the result (after it, reports are ignored).
        if let Some(forwarded) = forwarded {
            let _ = tokio::time::timeout(PROGRESS_FLUSH_TIMEOUT, forwarded).await;
        }
        match result {
            Ok(result) => Ok(CallToolResponse::Complete(result)),
            Err(error) => Err(ErrorData::invalid_params(error.to_string(), None)),
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let offers = &self.tools().catalog().offers;
        let listed = may_use(&context).then(|| offers.resources.values().filter(|item| item.in_mcp()));
        Ok(ListResourcesResult::with_all_items(
            listed.into_iter().flatten().map(|item| item.definition.clone()).collect(),
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let offers = &self.tools().catalog().offers;
        let listed = may_use(&context).then(|| offers.templates.values().filter(|item| item.in_mcp()));
        let templates = listed.into_iter().flatten().map(|item| item.definition.clone()).collect();
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let caller = caller_of(&context);
        let read =
            unless_cancelled(&context, self.state.read_resource(&caller, Some(self.link(&context)), &request.uri))
                .await?;
        read.map(ReadResourceResponse::Complete).map_err(offer_error)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = caller_of(&context);
        let session = self.session.client.id();
        self.session.subscribed.store(true, std::sync::atomic::Ordering::Relaxed);
        let subscribed = self.state.subscribe_resource(&caller, session, context.peer.clone(), &request.uri).await;
        subscribed.map_err(offer_error)
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.state.unsubscribe_resource(self.session.client.id(), &request.uri).await;
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let offers = &self.tools().catalog().offers;
        let listed = may_use(&context).then(|| offers.prompts.values().filter(|item| item.in_mcp()));
        Ok(ListPromptsResult::with_all_items(
            listed.into_iter().flatten().map(|item| item.definition.clone()).collect(),
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let caller = caller_of(&context);
        let prompt =
            unless_cancelled(&context, self.state.get_prompt(&caller, Some(self.link(&context)), request)).await?;
        prompt.map(GetPromptResponse::Complete).map_err(offer_error)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let caller = caller_of(&context);
        self.state.complete(&caller, request).await.map_err(offer_error)
    }

    /// Log messages of this session's calls below `level` are no longer sent to it.
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session.client.set_log_level(Some(request.level));
        Ok(())
    }

    /// A 2025-11-25 session is told about changed lists on its GET stream until it closes.
    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let peer = context.peer;
        let mut changes = ListChanges::new(self.tools());
        tokio::spawn(async move {
            while let Some(notification) = changes.next().await {
                if peer.send_notification(notification).await.is_err() {
                    break;
                }
            }
        });
    }

    fn accepted_subscription_filter(&self, _requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        let filter = SubscriptionFilter::builder().tools_list_changed().prompts_list_changed().resources_list_changed();
        Some(filter.build())
    }

    /// A 2026-07-28 `subscriptions/listen` stream: one notification per changed list.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = ListChanges::new(self.tools());
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                notification = changes.next() => {
                    let Some(notification) = notification else { return Ok(()) };
                    // The sink leaves out what the client did not ask for.
                    if context.sink().send(notification).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// `work`, unless the client cancels its request first (`notifications/cancelled`): rmcp only
/// signals that, so dropping `work` here is what tells the host to stop.
async fn unless_cancelled<T>(
    context: &RequestContext<RoleServer>,
    work: impl std::future::Future<Output = T>,
) -> Result<T, ErrorData> {
    tokio::select! {
        done = work => Ok(done),
        () = context.ct.cancelled() => Err(ErrorData::invalid_request("the client cancelled the request", None)),
    }
}

/// Whether the caller may use what extensions offer (listing included).
fn may_use(context: &RequestContext<RoleServer>) -> bool {
    caller_of(context).may(Operation::UseTools)
}

/// An application error as MCP says it: an unknown resource is -32002 with its URI (rmcp makes
/// that -32602 for 2026-07-28, as that version says).
fn offer_error(error: OfferError) -> ErrorData {
    let message = error.to_string();
    match error {
        OfferError::UnknownResource(uri) => {
            ErrorData::new(ErrorCode::RESOURCE_NOT_FOUND, message, Some(serde_json::json!({ "uri": uri })))
        }
        OfferError::NotFound(message) => ErrorData::invalid_params(message, None),
        OfferError::Forbidden(message) | OfferError::Refused(message) => ErrorData::invalid_request(message, None),
        OfferError::Host(error) => error,
        OfferError::Failed(message) => ErrorData::internal_error(message, None),
    }
}

/// The catalog's list changes, as the notifications that announce them.
struct ListChanges {
    tools: watch::Receiver<u64>,
    resources: watch::Receiver<u64>,
    prompts: watch::Receiver<u64>,
}

impl ListChanges {
    fn new(registry: &ToolRegistry) -> Self {
        let unchanged = |mut receiver: watch::Receiver<u64>| {
            receiver.mark_unchanged();
            receiver
        };
        Self {
            tools: unchanged(registry.subscribe()),
            resources: unchanged(registry.subscribe_resources()),
            prompts: unchanged(registry.subscribe_prompts()),
        }
    }

    /// The next change; `None` once the registry is gone.
    async fn next(&mut self) -> Option<ServerNotification> {
        tokio::select! {
            changed = self.tools.changed() => changed.ok().map(|()| {
                ServerNotification::ToolListChangedNotification(ToolListChangedNotification::default())
            }),
            changed = self.resources.changed() => changed.ok().map(|()| {
                ServerNotification::ResourceListChangedNotification(ResourceListChangedNotification::default())
            }),
            changed = self.prompts.changed() => changed.ok().map(|()| {
                ServerNotification::PromptListChangedNotification(PromptListChangedNotification::default())
            }),
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
