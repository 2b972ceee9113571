//! The tool registry: every tool Luna can offer, as one immutable snapshot.
//!
//! Tool hosts (one per extension, see [`host`]) report the tools they serve; the
//! extensions supervisor reports the flags from `tool_configs`. Each report rebuilds the
//! whole [`ToolCatalog`] and swaps it in: readers (`tools/list`, `tools/call`, the API)
//! load the current snapshot without locks and never see a half-built one. When the set
//! of tools visible over MCP changes, the `visible` version ticks and every MCP session
//! sends `notifications/tools/list_changed`.
//!
//! Names are unique across extensions: when two extensions offer the same name, the
//! extension first in alphabetical order keeps it and the other's tool is listed with
//! the collision as its problem, never served.

pub mod admin;
pub mod host;
pub mod launch;
pub mod offers;
pub mod progress;
pub mod relay;
mod schema;
pub mod subscriptions;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, ContentBlock, JsonObject, ResultType, ServerResult, Tool,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient, ServiceError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::settings::McpSettings;

/// The extension name shown for Luna's own admin tools.
pub const LUNA_TOOLS: &str = "luna";

/// A tool's switches from `tool_configs` / `tools/tool_config.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolFlags {
    /// Offered at `/api/mcp`. Off unless configured: exposure is opt-in.
    pub enabled_in_mcp: bool,
    /// Agents may run it without asking.
    pub passthrough: bool,
}

/// One tool in the catalog.
#[derive(Clone)]
pub struct CatalogTool {
    pub extension: String,
    pub definition: Tool,
    pub flags: ToolFlags,
    /// Why the tool cannot be called (a name collision, an unusable schema).
    pub problem: Option<String>,
    target: Target,
    validator: Option<Arc<jsonschema::Validator>>,
}

#[derive(Clone)]
enum Target {
    Host(Peer<RoleClient>),
    Admin,
}

impl CatalogTool {
    /// Offered at `/api/mcp`: enabled and callable.
    pub fn in_mcp(&self) -> bool {
        self.flags.enabled_in_mcp && self.problem.is_none()
    }

    /// `None` if `arguments` fit the tool's input schema, else the error result that says
    /// what is wrong (the model reading it can correct the call).
    pub fn check_arguments(&self, arguments: &JsonObject) -> Option<CallToolResult> {
        let problems = self.validator.as_ref().and_then(|validator| schema::check(validator, arguments))?;
        Some(error_result(format!("invalid arguments for {}: {problems}", self.definition.name)))
    }

    /// One of Luna's built-in admin tools (see [`admin`]).
    pub fn is_admin(&self) -> bool {
        matches!(self.target, Target::Admin)
    }
}

/// The immutable snapshot readers load.
#[derive(Clone, Default)]
pub struct ToolCatalog {
    pub tools: BTreeMap<String, CatalogTool>,
    /// Resources, resource templates and prompts ([`offers`]).
    pub offers: offers::OfferCatalog,
}

impl ToolCatalog {
    /// The tools offered at `/api/mcp`, by name.
    pub fn mcp_tools(&self) -> impl Iterator<Item = &CatalogTool> {
        self.tools.values().filter(|tool| tool.in_mcp())
    }
}

/// What a tool host reported last.
struct HostTools {
    /// The connection that reported them ([`host::Connection::id`]).
    connection: u64,
    tools: Vec<Tool>,
    offers: offers::HostOffers,
    peer: Peer<RoleClient>,
}

#[derive(Default)]
struct Inputs {
    hosts: BTreeMap<String, HostTools>,
    flags: BTreeMap<String, ToolFlags>,
    offer_flags: offers::OfferFlags,
    admin_tools: Vec<Tool>,
}

/// The shared handle: cheap to clone.
#[derive(Clone)]
pub struct ToolRegistry {
    inner: Arc<RegistryInner>,
}

struct RegistryInner {
    inputs: Mutex<Inputs>,
    catalog: ArcSwap<ToolCatalog>,
    /// Ticks whenever the MCP-visible tool set changes.
    visible: watch::Sender<u64>,
    /// Tick whenever the MCP-visible resources (and templates), or prompts, change.
    resources_visible: watch::Sender<u64>,
    prompts_visible: watch::Sender<u64>,
    settings: McpSettings,
    /// The calls in flight that want the host's progress reports.
    progress: progress::ProgressRoutes,
    /// Which client each host's requests and log messages are for.
    relay: relay::Relay,
    /// Which sessions want to hear about which resources.
    subscriptions: subscriptions::Subscriptions,
}

/// Why a call did not reach a tool.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
}

impl ToolRegistry {
    pub fn new(settings: McpSettings) -> Self {
        let inputs = Inputs { admin_tools: admin::definitions(), ..Inputs::default() };
        let registry = Self {
            inner: Arc::new(RegistryInner {
                inputs: Mutex::new(inputs),
                catalog: ArcSwap::from_pointee(ToolCatalog::default()),
                visible: watch::Sender::new(0),
                resources_visible: watch::Sender::new(0),
                prompts_visible: watch::Sender::new(0),
                settings,
                progress: progress::ProgressRoutes::default(),
                relay: relay::Relay::default(),
                subscriptions: subscriptions::Subscriptions::default(),
            }),
        };
        registry.rebuild(|_| {});
        registry
    }

    pub fn settings(&self) -> &McpSettings {
        &self.inner.settings
    }

    /// Where tool hosts' progress reports are routed to their calls.
    pub fn progress_routes(&self) -> progress::ProgressRoutes {
        self.inner.progress.clone()
    }

    /// Which client each host's requests and log messages are for.
    pub fn relay(&self) -> &relay::Relay {
        &self.inner.relay
    }

    /// Which sessions want to hear about which resources.
    pub fn subscriptions(&self) -> &subscriptions::Subscriptions {
        &self.inner.subscriptions
    }

    /// The current snapshot.
    pub fn catalog(&self) -> Arc<ToolCatalog> {
        self.inner.catalog.load_full()
    }

    /// Ticks on every change of the MCP-visible tool set.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.visible.subscribe()
    }

    /// Ticks on every change of the MCP-visible resources and resource templates.
    pub fn subscribe_resources(&self) -> watch::Receiver<u64> {
        self.inner.resources_visible.subscribe()
    }

    /// Ticks on every change of the MCP-visible prompts.
    pub fn subscribe_prompts(&self) -> watch::Receiver<u64> {
        self.inner.prompts_visible.subscribe()
    }

    /// A tool host is ready (or re-listed what it offers).
    pub fn host_ready(
        &self,
        extension: &str,
        connection: u64,
        tools: Vec<Tool>,
        offers: offers::HostOffers,
        peer: Peer<RoleClient>,
    ) {
        self.rebuild(|inputs| {
            inputs.hosts.insert(extension.to_string(), HostTools { connection, tools, offers, peer });
        });
    }

    /// What each extension's tool host tells a model about its tools (MCP's `instructions`;
    /// a Python extension's `SYSTEM_PROMPT`s), by extension.
    pub fn instructions(&self) -> Vec<(String, String)> {
        let inputs = self.inner.inputs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        inputs
            .hosts
            .iter()
            .filter_map(|(extension, host)| {
                let text = host.peer.peer_info()?.instructions.clone()?;
                (!text.trim().is_empty()).then(|| (extension.clone(), text))
            })
            .collect()
    }

    /// An MCP `ping` to `extension`'s tool host, answered within `limit`: its liveness check.
    pub async fn ping(&self, extension: &str, limit: Duration) -> Result<(), String> {
        let peer = {
            let inputs = self.inner.inputs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            inputs.hosts.get(extension).map(|host| host.peer.clone())
        };
        let peer = peer.ok_or_else(|| "the tool host has no MCP connection".to_string())?;
        let ping = rmcp::model::PingRequest { method: Default::default(), extensions: Default::default() };
        match tokio::time::timeout(limit, peer.send_request(rmcp::model::ClientRequest::PingRequest(ping))).await {
            // A server that answers `ping` with an error (some do not implement it) answered:
            // it is alive, which is all this asks.
            Ok(Ok(_) | Err(rmcp::ServiceError::McpError(_))) => Ok(()),
            Ok(Err(error)) => Err(format!("MCP ping failed: {error}")),
            Err(_) => Err(format!("no answer to an MCP ping within {limit:?}")),
        }
    }

    /// A tool host's connection ended: its tools are gone until it is ready again. A
    /// report about an older connection (a newer one already replaced it) changes nothing.
    pub fn host_gone(&self, extension: &str, connection: u64) {
        self.rebuild(|inputs| {
            if inputs.hosts.get(extension).is_some_and(|host| host.connection == connection) {
                inputs.hosts.remove(extension);
            }
        });
    }

    /// The flags of every configured tool; replaces the previous set.
    pub fn set_flags(&self, flags: BTreeMap<String, ToolFlags>) {
        self.rebuild(|inputs| inputs.flags = flags);
    }

    /// Which resources and prompts are switched on or off; replaces the previous set.
    pub fn set_offer_flags(&self, flags: offers::OfferFlags) {
        self.rebuild(|inputs| inputs.offer_flags = flags);
    }

    fn rebuild(&self, change: impl FnOnce(&mut Inputs)) {
        let mut inputs = self.inner.inputs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut inputs);
        let before = self.inner.catalog.load();
        let catalog = build_catalog(&inputs, &before);
        let tools_changed = visible_signature(&before) != visible_signature(&catalog);
        let resources_changed = before.offers.resources_signature() != catalog.offers.resources_signature();
        let prompts_changed = before.offers.prompts_signature() != catalog.offers.prompts_signature();
        self.inner.catalog.store(Arc::new(catalog));
        drop(inputs);
        let tick = |version: &mut u64| *version += 1;
        if tools_changed {
            self.inner.visible.send_modify(tick);
        }
        if resources_changed {
            self.inner.resources_visible.send_modify(tick);
        }
        if prompts_changed {
            self.inner.prompts_visible.send_modify(tick);
        }
    }

    /// Validates `arguments` and calls the tool on its host, with the configured timeout
    /// and result cap. Every failure of the tool itself is an `isError` result; only a
    /// tool that is not offered at all is an error.
    /// The host's progress reports, requests and log messages for the call go back through
    /// `backchannel`.
    pub async fn call_host_tool(
        &self,
        tool: &CatalogTool,
        arguments: Option<JsonObject>,
        backchannel: relay::Backchannel,
    ) -> Result<CallToolResult, CallError> {
        let Target::Host(peer) = &tool.target else {
            return Err(CallError::UnknownTool(tool.definition.name.to_string()));
        };
        let arguments = arguments.unwrap_or_default();
        if let Some(invalid) = tool.check_arguments(&arguments) {
            return Ok(invalid);
        }
        let timeout = self.inner.settings.tool_timeout;
        let params = CallToolRequestParams::new(tool.definition.name.clone()).with_arguments(arguments);
        let request = ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(params));
        let _in_flight = self.inner.relay.enter(&tool.extension, backchannel.client);
        let progress = backchannel.progress;
        let sent = peer.send_request_with_option(request, PeerRequestOptions::with_timeout(timeout)).await;
        let answer = match sent {
            Ok(handle) => {
                // The host's progress for this call's token goes to the caller until it ends.
                let route = progress.map(|sink| self.inner.progress.open(&handle.progress_token.0, sink));
                // A caller that goes away (a client disconnects) drops this future: the host
                // is told, so it can stop the call.
                let cancel_on_drop = CancelOnDrop::new(peer.clone(), handle.id.clone());
                let answer = handle.await_response().await;
                cancel_on_drop.disarm();
                // The call's progress route and its place in the relay stay until the host's
                // last notifications are delivered.
                notifications_delivered().await;
                drop(route);
                answer
            }
            Err(error) => Err(error),
        };
        let result = match answer {
            Ok(ServerResult::CallToolResult(result)) => result,
            Ok(_) => {
                return Ok(error_result(format!("the tool host of `{}` sent an unexpected answer", tool.extension)));
            }
            Err(ServiceError::Timeout { .. }) => {
                return Ok(error_result(format!(
                    "{} did not answer within {} (mcp.tool_timeout_ms); the call was cancelled",
                    tool.definition.name,
                    describe(timeout)
                )));
            }
            Err(ServiceError::McpError(error)) => {
                return Ok(error_result(format!("{}: {}", tool.definition.name, error.message)));
            }
            Err(error) => {
                return Ok(error_result(format!(
                    "the tool host of `{}` failed during the call: {error}",
                    tool.extension
                )));
            }
        };
        Ok(self.capped(result))
    }

    /// Replaces a result larger than `mcp.max_result_bytes` with an error saying so.
    pub fn capped(&self, mut result: CallToolResult) -> CallToolResult {
        // A host speaking an older protocol leaves `resultType` out; 2026-07-28 clients
        // require it (rmcp drops it again for older clients).
        result.result_type = Some(ResultType::COMPLETE);
        let limit = self.inner.settings.max_result_bytes;
        let size = serde_json::to_vec(&result).map_or(usize::MAX, |bytes| bytes.len());
        if size > limit {
            return error_result(format!(
                "the result is {size} bytes, over the limit of {limit} bytes (mcp.max_result_bytes)"
            ));
        }
        result
    }
}

/// Returns once the notifications a host sent before its answer are delivered: rmcp hands each
/// to a task of its own, spawned as it reads it, so the last ones, read before the answer, may
/// still be waiting to run; a few yields let them.
pub async fn notifications_delivered() {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
}

/// Sends `notifications/cancelled` for `request` unless disarmed (the answer came): a caller
/// that goes away (its client disconnected or cancelled) drops it, and the host can stop.
pub struct CancelOnDrop {
    peer: Peer<RoleClient>,
    request: Option<rmcp::model::RequestId>,
}

impl CancelOnDrop {
    pub fn new(peer: Peer<RoleClient>, request: rmcp::model::RequestId) -> Self {
        Self { peer, request: Some(request) }
    }

    pub fn disarm(mut self) {
        self.request = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(request) = self.request.take() else { return };
        let peer = self.peer.clone();
        let reason = Some("the caller went away".to_string());
        tokio::spawn(async move {
            let _ = peer.notify_cancelled(rmcp::model::CancelledNotificationParam::new(Some(request), reason)).await;
        });
    }
}

fn describe(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// A tool result with `isError: true` and `message` as its text.
pub fn error_result(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// What an MCP client sees of the catalog; a change means `list_changed`.
fn visible_signature(catalog: &ToolCatalog) -> Vec<(&str, &Tool)> {
    catalog.mcp_tools().map(|tool| (tool.definition.name.as_ref(), &tool.definition)).collect()
}

/// The catalog for `inputs`. Validators of tools whose schema did not change are taken
/// from `previous`: a flag change or one host's re-listing compiles nothing else.
fn build_catalog(inputs: &Inputs, previous: &ToolCatalog) -> ToolCatalog {
    let mut tools: BTreeMap<String, CatalogTool> = BTreeMap::new();
    let admin = inputs.admin_tools.iter().map(|tool| (LUNA_TOOLS, tool, Target::Admin));
    // `hosts` is a BTreeMap: extensions come in name order, so the same one always wins.
    let hosted = inputs.hosts.iter().flat_map(|(extension, host)| {
        host.tools.iter().map(|tool| (extension.as_str(), tool, Target::Host(host.peer.clone())))
    });
    for (extension, definition, target) in admin.chain(hosted) {
        let name = definition.name.to_string();
        let flags = inputs.flags.get(&name).copied().unwrap_or_default();
        let compiled_before = [name.clone(), format!("{extension}/{name}")]
            .iter()
            .filter_map(|key| previous.tools.get(key))
            .find(|old| old.extension == extension && old.definition.input_schema == definition.input_schema)
            .and_then(|old| old.validator.clone());
        let (validator, mut problem) = match compiled_before {
            Some(validator) => (Some(validator), None),
            None => match schema::compile(&definition.input_schema) {
                Ok(validator) => (Some(Arc::new(validator)), None),
                Err(error) => (None, Some(format!("its input schema is not usable: {error}"))),
            },
        };
        // A collision keeps the tool listed (with its problem) under a key of its own.
        let key = match tools.get(&name) {
            Some(owner) => {
                problem = Some(format!("the name is already taken by extension `{}`", owner.extension));
                format!("{extension}/{name}")
            }
            None => name,
        };
        let tool = CatalogTool {
            extension: extension.into(),
            definition: definition.clone(),
            flags,
            problem,
            target,
            validator,
        };
        tools.insert(key, tool);
    }
    let hosts = inputs.hosts.iter().map(|(extension, host)| (extension.as_str(), &host.offers, &host.peer));
    ToolCatalog { tools, offers: offers::OfferCatalog::build(hosts, &inputs.offer_flags) }
}
