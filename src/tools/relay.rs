//! What a host sends back while it serves a call: `sampling/createMessage`,
//! `elicitation/create` and `notifications/message`.
//!
//! MCP over stdio does not say which call these are for, and one host serves every client.
//! Luna relays them to the client whose call is in flight on that host, but only while every
//! call in flight there comes from that one MCP session: with no call in flight, or calls of
//! several sessions, it cannot tell whose it is, so a request is refused with an error the host
//! can read and a log message goes to Luna's log only. A session never sees what another's call
//! caused.
//!
//! Whose it is is decided when Luna reads the message from the host's stdout
//! ([`Attributing`]), not when its handler runs: rmcp runs handlers on tasks of their own, and
//! by then the call may have ended, or another session's begun.
//!
//! The relayed request rides the stream of the client's own call (SEP-2260's originating
//! request), so a client reads it where it waits for the result. A client that did not declare
//! sampling or elicitation gets no such request: the host gets an error at once.
// rmcp marks sampling and logging deprecated (SEP-2577); 2025-11-25 clients use both.
#![allow(deprecated)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CancelledNotificationParam, ClientCapabilities, CreateMessageRequest, CreateMessageRequestParams,
    CreateMessageResult, ElicitRequest, ElicitRequestParams, ElicitResult, ErrorCode, GetExtensions, LoggingLevel,
    LoggingMessageNotificationParam, RequestId, ServerRequest,
};
use rmcp::model::{JsonRpcMessage, ServerNotification};
use rmcp::service::{
    OriginatingRequestId, Peer, RoleClient, RoleServer, RxJsonRpcMessage, ServiceError, TxJsonRpcMessage,
};
use rmcp::transport::Transport;
use rmcp::{ErrorData, model::ClientResult};
use tokio_util::sync::CancellationToken;

use super::progress::ProgressSink;

/// An MCP session at `/api/mcp` (or one stateless request), as the relay knows it.
pub struct ClientSession {
    id: u64,
    /// The lowest level of log messages it wants ([`level_rank`]); all until it sets one.
    log_level: AtomicU8,
}

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

impl Default for ClientSession {
    fn default() -> Self {
        Self { id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed), log_level: AtomicU8::new(0) }
    }
}

impl ClientSession {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// `logging/setLevel`, or a 2026-07-28 request's `_meta` level: messages below `level`
    /// are not relayed to this session; with no level at all, none are.
    pub fn set_log_level(&self, level: Option<LoggingLevel>) {
        self.log_level.store(level.map_or(SILENT, level_rank), Ordering::Relaxed);
    }

    fn wants(&self, level: LoggingLevel) -> bool {
        level_rank(level) >= self.log_level.load(Ordering::Relaxed)
    }
}

/// Above every level: nothing is relayed.
const SILENT: u8 = u8::MAX;

/// RFC 5424's order, `debug` lowest.
fn level_rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// The client a call comes from: where the host's requests and messages during it may go.
#[derive(Clone)]
pub struct ClientLink {
    pub session: Arc<ClientSession>,
    pub peer: Peer<RoleServer>,
    /// The client's request the call answers; relayed requests ride its stream.
    pub request: RequestId,
}

/// What goes back to the caller while a call runs.
#[derive(Default)]
pub struct Backchannel {
    pub progress: Option<ProgressSink>,
    pub client: Option<ClientLink>,
}

/// The calls in flight on one host: a ticket each, and the client it came from.
type OnHost = Vec<(u64, Option<ClientLink>)>;

/// The calls in flight on each host, with the client each came from.
#[derive(Clone, Default)]
pub struct Relay {
    inner: Arc<Mutex<HashMap<String, OnHost>>>,
}

/// A call in flight on a host; dropping it (the call ended) takes it out.
pub struct InFlight {
    relay: Relay,
    extension: String,
    ticket: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut calls = self.relay.lock();
        if let Some(on_host) = calls.get_mut(&self.extension) {
            on_host.retain(|(ticket, _)| *ticket != self.ticket);
            if on_host.is_empty() {
                calls.remove(&self.extension);
            }
        }
    }
}

static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

impl Relay {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, OnHost>> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A call from `client` (none: the Agent API, which answers no requests) is in flight on
    /// `extension`'s host until the guard drops.
    pub fn enter(&self, extension: &str, client: Option<ClientLink>) -> InFlight {
        let ticket = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
        self.lock().entry(extension.to_string()).or_default().push((ticket, client));
        InFlight { relay: self.clone(), extension: extension.to_string(), ticket }
    }

    /// The client every call in flight on `extension`'s host comes from (its latest call), or
    /// why there is none.
    fn sole_client(&self, extension: &str) -> Attribution {
        let calls = self.lock();
        let on_host = calls.get(extension).map(Vec::as_slice).unwrap_or_default();
        let Some((_, last)) = on_host.last() else {
            return Err("no call of an MCP client is in flight on this server");
        };
        let last = last.as_ref().ok_or("the call in flight comes from an agent, which cannot answer requests")?;
        let same = |link: &Option<ClientLink>| link.as_ref().is_some_and(|link| link.session.id == last.session.id);
        if !on_host.iter().all(|(_, link)| same(link)) {
            return Err("calls of several clients are in flight on this server: Luna cannot tell whose this is");
        }
        Ok(last.clone())
    }

    /// A host's `notifications/message`: to the session whose call it came during if it wants
    /// that level, else to Luna's log.
    pub async fn log_message(
        &self,
        extension: &str,
        message: LoggingMessageNotificationParam,
        attribution: Option<&Attribution>,
    ) {
        match self.attributed(extension, attribution) {
            Ok(client) => {
                if client.session.wants(message.level) {
                    let _ = client.peer.notify_logging_message(message).await;
                }
            }
            Err(_) => {
                tracing::info!(%extension, level = ?message.level, data = %message.data, "log message from the MCP server");
            }
        }
    }

    /// A host's `sampling/createMessage`, answered by the client whose call caused it.
    pub async fn create_message(
        &self,
        extension: &str,
        params: CreateMessageRequestParams,
        attribution: Option<&Attribution>,
        cancelled: CancellationToken,
    ) -> Result<CreateMessageResult, ErrorData> {
        let request = ServerRequest::CreateMessageRequest(CreateMessageRequest::new(params));
        let declared = |capabilities: &ClientCapabilities| capabilities.sampling.is_some();
        match self.ask(extension, attribution, ("sampling", declared), request, cancelled).await? {
            ClientResult::CreateMessageResult(result) => Ok(*result),
            _ => Err(ErrorData::internal_error("the client answered sampling with something else", None)),
        }
    }

    /// A host's `elicitation/create`, answered by the user of the client whose call caused it.
    pub async fn elicit(
        &self,
        extension: &str,
        params: ElicitRequestParams,
        attribution: Option<&Attribution>,
        cancelled: CancellationToken,
    ) -> Result<ElicitResult, ErrorData> {
        let request = ServerRequest::ElicitRequest(ElicitRequest::new(params));
        let declared = |capabilities: &ClientCapabilities| capabilities.elicitation.is_some();
        match self.ask(extension, attribution, ("elicitation", declared), request, cancelled).await? {
            ClientResult::ElicitResult(result) => Ok(result),
            _ => Err(ErrorData::internal_error("the client answered elicitation with something else", None)),
        }
    }

    /// Sends a host's `request` to the client it is attributed to, if that client declared
    /// `capability` (its name, and how to tell from the client's capabilities).
    async fn ask(
        &self,
        extension: &str,
        attribution: Option<&Attribution>,
        (capability, declared): (&str, fn(&ClientCapabilities) -> bool),
        request: ServerRequest,
        cancelled: CancellationToken,
    ) -> Result<ClientResult, ErrorData> {
        let client = self.attributed(extension, attribution).map_err(refused)?;
        if !client.peer.peer_info().is_some_and(|info| declared(&info.capabilities)) {
            return Err(unsupported(capability));
        }
        forward(&client, request, cancelled).await
    }

    /// The attribution made when the message was read, or one made now.
    fn attributed(&self, extension: &str, attribution: Option<&Attribution>) -> Attribution {
        attribution.cloned().unwrap_or_else(|| self.sole_client(extension))
    }
}

/// Whose a host's message is: the client it goes to, or why it goes to none.
pub type Attribution = Result<ClientLink, &'static str>;

/// A host's transport that attributes each log message and request it reads from the host,
/// while the call it came during is still in flight, and puts the [`Attribution`] into the
/// message's extensions (rmcp hands those to the handler).
pub struct Attributing<T> {
    pub inner: T,
    pub relay: Relay,
    pub extension: String,
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Attributing<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let mut message = self.inner.receive().await?;
        if let Some(extensions) = needs_client(&mut message) {
            extensions.insert(self.relay.sole_client(&self.extension));
        }
        Some(message)
    }

    fn close(&mut self) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// The extensions of a message that goes to a client: a log message, a sampling or an
/// elicitation request.
fn needs_client(message: &mut RxJsonRpcMessage<RoleClient>) -> Option<&mut rmcp::model::Extensions> {
    match message {
        JsonRpcMessage::Notification(notification) => match &notification.notification {
            ServerNotification::LoggingMessageNotification(_) => Some(notification.notification.extensions_mut()),
            _ => None,
        },
        JsonRpcMessage::Request(request) => match &request.request {
            ServerRequest::CreateMessageRequest(_) | ServerRequest::ElicitRequest(_) => {
                Some(request.request.extensions_mut())
            }
            _ => None,
        },
        _ => None,
    }
}

/// Sends `request` to `client` on its call's stream; the host giving up cancels it.
async fn forward(
    client: &ClientLink,
    mut request: ServerRequest,
    cancelled: CancellationToken,
) -> Result<ClientResult, ErrorData> {
    request.extensions_mut().insert(OriginatingRequestId(client.request.clone()));
    let handle = client.peer.send_request_with_option(request, Default::default()).await.map_err(unreachable)?;
    let id = handle.id.clone();
    tokio::select! {
        answer = handle.await_response() => answer.map_err(|error| match error {
            ServiceError::McpError(error) => error,
            other => unreachable(other),
        }),
        () = cancelled.cancelled() => {
            // The client is told too: it can stop asking its user or its model.
            let reason = Some("the MCP server cancelled its request".to_string());
            let _ = client.peer.notify_cancelled(CancelledNotificationParam::new(Some(id), reason)).await;
            Err(ErrorData::internal_error("the request was cancelled", None))
        }
    }
}

fn refused(why: &'static str) -> ErrorData {
    ErrorData::invalid_request(why, None)
}

/// As if the client did not implement the method: it said so when it connected.
fn unsupported(capability: &str) -> ErrorData {
    ErrorData::new(
        ErrorCode::METHOD_NOT_FOUND,
        format!("the MCP client that made this call does not support {capability}"),
        None,
    )
}

fn unreachable(error: ServiceError) -> ErrorData {
    ErrorData::internal_error(format!("the MCP client could not be asked: {error}"), None)
}
