//! MCP sessions of the 2025-11-25 protocol: who opened each one, and how many there may be.
//!
//! rmcp's [`LocalSessionManager`] runs the sessions; [`McpSessions`] wraps it with what Luna
//! needs and rmcp does not do:
//!
//! - A session belongs to the principal whose `initialize` opened it ([`McpSessions::adopt`],
//!   called with the response that carries the new `Mcp-Session-Id`). Every later request
//!   naming the session — POST, the GET notification stream (with or without
//!   `Last-Event-ID`), DELETE — must come from that principal ([`McpSessions::admits`]), or it
//!   is answered 404, exactly like a session that does not exist: a leaked id reveals nothing.
//! - Sessions are capped per principal and in all; when a new session passes its owner's cap,
//!   their session idle longest is closed; past the total cap, the one idle longest of
//!   whoever holds the most.
//! - A session whose worker ended (idle timeout, DELETE, shutdown) leaves the table and
//!   rmcp's own map, which otherwise keeps a dead handle per idled-out session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::Stream;
use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::streamable_http_server::session::ServerSseMessage;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, SessionTransport,
};
use rmcp::transport::streamable_http_server::{SessionId, SessionManager};

use crate::oauth::McpPrincipal;

/// Open sessions one principal may hold; the one idle longest is closed beyond this.
pub const MAX_SESSIONS_PER_PRINCIPAL: usize = 32;
/// Open sessions in all.
pub const MAX_SESSIONS: usize = 512;

/// The session manager behind `/api/mcp`.
#[derive(Default)]
pub struct McpSessions {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    local: LocalSessionManager,
    table: Mutex<HashMap<SessionId, Record>>,
}

struct Record {
    /// `None` until the `initialize` response went out.
    owner: Option<McpPrincipal>,
    last_used: Instant,
}

impl McpSessions {
    /// Open sessions (for `/metrics`).
    pub fn count(&self) -> usize {
        self.shared.lock().len()
    }

    /// Whether `caller` may use session `id` (it exists and they opened it); notes the use.
    pub fn admits(&self, id: &str, caller: &McpPrincipal) -> bool {
        let mut table = self.shared.lock();
        match table.get_mut(id) {
            Some(record) if record.owner.as_ref() == Some(caller) => {
                record.last_used = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// Gives the session `id` that `owner`'s `initialize` just opened to them, then closes
    /// the sessions idle longest beyond the caps.
    pub async fn adopt(&self, id: &str, owner: McpPrincipal) {
        let surplus = {
            let mut table = self.shared.lock();
            let Some(record) = table.get_mut(id) else { return };
            record.owner = Some(owner.clone());
            record.last_used = Instant::now();
            let mut surplus = Vec::new();
            while let Some(victim) = over_a_cap(&table, id, &owner) {
                table.remove(&victim);
                surplus.push(victim);
            }
            surplus
        };
        for key in surplus {
            tracing::info!(session = %key, "closing the MCP session idle longest (too many sessions)");
            if let Err(error) = self.shared.local.close_session(&key).await {
                tracing::debug!(%error, "closing an MCP session");
            }
        }
    }

    /// Open sessions, adopted or not.
    pub fn len(&self) -> usize {
        self.shared.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The session to close because of `owner`'s new session `new`, if a cap is passed: beyond
/// their own cap, their session idle longest; beyond the total, the session idle longest of
/// whoever holds the most (so nobody's many sessions push out another's few).
fn over_a_cap(table: &HashMap<SessionId, Record>, new: &str, owner: &McpPrincipal) -> Option<SessionId> {
    let idle_longest = |of: &Option<McpPrincipal>| {
        table
            .iter()
            .filter(|(key, record)| key.as_ref() != new && record.owner == *of)
            .min_by_key(|(_, record)| record.last_used)
            .map(|(key, _)| key.clone())
    };
    let owner = Some(owner.clone());
    if table.values().filter(|record| record.owner == owner).count() > MAX_SESSIONS_PER_PRINCIPAL {
        return idle_longest(&owner);
    }
    if table.len() <= MAX_SESSIONS {
        return None;
    }
    let mut held: HashMap<&Option<McpPrincipal>, usize> = HashMap::new();
    for (_, record) in table.iter().filter(|(key, _)| key.as_ref() != new) {
        *held.entry(&record.owner).or_default() += 1;
    }
    let most = held.into_iter().max_by_key(|(_, count)| *count).map(|(principal, _)| principal.clone())?;
    idle_longest(&most)
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Record>> {
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A session's transport; dropped when rmcp's service for the session ends, for whatever
/// reason, which is when the session leaves the table and rmcp's map.
pub struct TrackedTransport {
    inner: SessionTransport,
    id: SessionId,
    shared: Arc<Shared>,
}

impl Drop for TrackedTransport {
    fn drop(&mut self) {
        self.shared.lock().remove(&self.id);
        let (shared, id) = (Arc::clone(&self.shared), self.id.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = shared.local.close_session(&id).await;
            });
        }
    }
}

impl Transport<RoleServer> for TrackedTransport {
    type Error = <SessionTransport as Transport<RoleServer>>::Error;

    fn send(
        &mut self,
        item: rmcp::service::TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    fn receive(&mut self) -> impl Future<Output = Option<rmcp::service::RxJsonRpcMessage<RoleServer>>> + Send {
        self.inner.receive()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

impl SessionManager for McpSessions {
    type Error = LocalSessionManagerError;
    type Transport = TrackedTransport;

    async fn create_session(&self) -> Result<(SessionId, TrackedTransport), Self::Error> {
        let (id, inner) = self.shared.local.create_session().await?;
        self.shared.lock().insert(id.clone(), Record { owner: None, last_used: Instant::now() });
        Ok((id.clone(), TrackedTransport { inner, id, shared: Arc::clone(&self.shared) }))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.shared.local.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.shared.lock().contains_key(id))
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.shared.lock().remove(id);
        self.shared.local.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.shared.local.create_stream(id, message).await
    }

    async fn accept_message(&self, id: &SessionId, message: ClientJsonRpcMessage) -> Result<(), Self::Error> {
        self.shared.local.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.shared.local.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.shared.local.resume(id, last_event_id).await
    }
}

/// The middleware in front of rmcp: a request naming a session must come from whoever
/// opened it (404 otherwise, as for a session that does not exist), and a new session goes
/// to whoever opened it.
pub async fn gate(
    axum::extract::State(sessions): axum::extract::State<Arc<McpSessions>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(caller) = request.extensions().get::<McpPrincipal>().cloned() else {
        // `access::require_access` runs first and always names the caller.
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let named = request.headers().get("mcp-session-id").and_then(|value| value.to_str().ok()).map(str::to_string);
    if let Some(id) = &named
        && !sessions.admits(id, &caller)
    {
        let not_found = (axum::http::StatusCode::NOT_FOUND, "Not Found: Session not found").into_response();
        return super::access::refuse(request, not_found).await;
    }
    let response = next.run(request).await;
    if named.is_none()
        && let Some(id) = response.headers().get("mcp-session-id").and_then(|value| value.to_str().ok())
    {
        sessions.adopt(id, caller).await;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn user(n: u32) -> Option<McpPrincipal> {
        Some(McpPrincipal::User {
            user_id: n.to_string(),
            login: format!("user{n}"),
            client_id: "c".into(),
            role: crate::allow_list::Role::Member,
        })
    }

    /// A table with `count` sessions of `owner`, idle from oldest (first) to newest.
    fn add(table: &mut HashMap<SessionId, Record>, owner: Option<McpPrincipal>, count: usize, start: Instant) {
        for n in 0..count {
            let key: SessionId = format!("{owner:?}-{n}").into();
            table.insert(key, Record { owner: owner.clone(), last_used: start + Duration::from_millis(n as u64) });
        }
    }

    #[test]
    fn beyond_their_own_cap_a_principal_loses_their_session_idle_longest() {
        let start = Instant::now();
        let mut table = HashMap::new();
        add(&mut table, user(1), MAX_SESSIONS_PER_PRINCIPAL + 1, start);
        add(&mut table, user(2), 1, start - Duration::from_secs(60));
        let newest: SessionId = format!("{:?}-{MAX_SESSIONS_PER_PRINCIPAL}", user(1)).into();
        let victim = over_a_cap(&table, &newest, &user(1).unwrap());
        assert_eq!(victim, Some(format!("{:?}-0", user(1)).into()), "not user 2's, though older");
    }

    #[test]
    fn beyond_the_total_the_one_who_holds_most_gives_way() {
        let start = Instant::now();
        let mut table = HashMap::new();
        // User 1 holds many (not over their own cap), everyone else one each, older.
        add(&mut table, user(1), MAX_SESSIONS_PER_PRINCIPAL, start);
        for n in 2..(MAX_SESSIONS as u32 - MAX_SESSIONS_PER_PRINCIPAL as u32 + 3) {
            add(&mut table, user(n), 1, start - Duration::from_secs(60));
        }
        assert!(table.len() > MAX_SESSIONS);
        let newcomer: SessionId = format!("{:?}-0", user(2)).into();
        let victim = over_a_cap(&table, &newcomer, &user(2).unwrap());
        assert_eq!(victim, Some(format!("{:?}-0", user(1)).into()));
    }
}
