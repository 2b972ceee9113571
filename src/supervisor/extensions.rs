//! `Extensions`: discovers extensions, keeps `master_config.json` and `state.json`, and
//! runs one `Extension` actor (with its `Process` actors) per enabled extension.
//!
//! Start-up: stop processes a crashed previous run left behind → discover `extensions/*`
//! → add new ones to `master_config` → config sync → assign ports → publish tool flags to
//! the tool registry → start enabled extensions → publish their routes to `Core`.
//! Enabling or disabling later repeats the relevant steps live. Every change of a process
//! is mirrored into `state.json`.

mod specs;
mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::child_env::ChildEnv;
use super::core::CoreMsg;
use super::extension::{Extension as ExtensionActor, ExtensionMsg};
use super::process::logs::LogSink;
use super::process::{Action, Process, ProcessArgs, ProcessMsg, ProcessRecord, Status};
use super::state::{ServicesState, StateWriter, stop_survivors};
use super::{ComponentStatus, PortMap, SupervisorError};
use crate::extensions::{Extension, discover};
use crate::home::LunaHome;
use crate::master_config::{MasterConfig, OfferConfig};
use crate::settings::SupervisorSettings;
use crate::sys::{GroupSignal, signal_group};
use crate::tools::offers::OfferFlags;
use crate::tools::{ToolFlags, ToolRegistry};
pub use summary::ExtensionSummary;

pub struct Extensions;

pub struct ExtensionsArgs {
    pub home: LunaHome,
    pub settings: Arc<SupervisorSettings>,
    pub master: MasterConfig,
    pub env: ChildEnv,
    pub core: ActorRef<CoreMsg>,
    pub gateway_port: u16,
    pub tools: ToolRegistry,
    pub events: crate::events::Events,
}

/// What an offer switch is about: a prompt (by name) or a resource or resource template (by
/// URI or URI template).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    Prompt,
    Resource,
}

impl std::fmt::Display for OfferKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OfferKind::Prompt => "prompt",
            OfferKind::Resource => "resource",
        })
    }
}

/// A change to one tool's flags; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolFlagsUpdate {
    pub enabled_in_mcp: Option<bool>,
    pub passthrough: Option<bool>,
}

pub enum ExtensionsMsg {
    Components(RpcReplyPort<Vec<ComponentStatus>>),
    Services(RpcReplyPort<ServicesState>),
    Ports(RpcReplyPort<PortMap>),
    List(RpcReplyPort<Vec<ExtensionSummary>>),
    SetEnabled {
        name: String,
        enabled: bool,
        reply: RpcReplyPort<Result<ExtensionSummary, SupervisorError>>,
    },
    Control {
        key: String,
        action: Action,
        reply: RpcReplyPort<Result<ProcessRecord, SupervisorError>>,
    },
    /// The process's record and its log sink, for logs and troubleshooting.
    Inspect {
        key: String,
        reply: RpcReplyPort<Result<(ProcessRecord, LogSink), SupervisorError>>,
    },
    /// Switches a prompt or resource on or off (`prompt_configs` / `resource_configs`).
    SetOfferEnabled {
        kind: OfferKind,
        key: String,
        enabled: bool,
        reply: RpcReplyPort<Result<(), SupervisorError>>,
    },
    /// Stores a tool's flags in `tool_configs` (and the extension's `tool_config.json`).
    SetToolFlags {
        name: String,
        update: ToolFlagsUpdate,
        reply: RpcReplyPort<Result<ToolFlags, SupervisorError>>,
    },
    /// Stops an extension for an install or update and holds it stopped.
    Park {
        name: String,
        reply: RpcReplyPort<Result<(), SupervisorError>>,
    },
    /// Reads a (new or replaced) extension folder and starts it if enabled.
    Load {
        name: String,
        reply: RpcReplyPort<Result<ExtensionSummary, SupervisorError>>,
    },
    /// Forgets a parked extension whose folder was removed.
    Forget {
        name: String,
        reply: RpcReplyPort<Result<(), SupervisorError>>,
    },
    /// Takes a drafted `master_config`'s settings (extension configs, tool flags, `luna`);
    /// replies with the extensions whose config changed. Starts and stops nothing.
    SetDraft {
        draft: Box<MasterConfig>,
        reply: RpcReplyPort<Vec<String>>,
    },
    /// Stops every process (reverse start order); replies when all have exited.
    Shutdown(RpcReplyPort<()>),
    // --- reports ---
    ProcessChanged(String, ActorId, Box<ProcessRecord>),
    ExtensionStopped(String),
}

/// One enabled extension's actors, processes in start order.
struct RunningExtension {
    actor: ActorRef<ExtensionMsg>,
    processes: Vec<(String, ActorRef<ProcessMsg>)>,
}

pub struct ExtensionsState {
    home: LunaHome,
    settings: Arc<SupervisorSettings>,
    master: MasterConfig,
    env: ChildEnv,
    core: ActorRef<CoreMsg>,
    gateway_port: u16,
    tools: ToolRegistry,
    discovered: BTreeMap<String, Extension>,
    running: BTreeMap<String, RunningExtension>,
    /// Extensions whose processes are being stopped; they cannot be enabled meanwhile.
    stopping: BTreeSet<String>,
    /// Extensions being installed, updated or removed: held stopped until loaded again.
    parked: BTreeSet<String>,
    /// Per process key; kept across disable/enable so the tail survives.
    logs: BTreeMap<String, LogSink>,
    services: ServicesState,
    /// Writes `services` to `state.json`; `None` once the supervisor stopped.
    state_writer: Option<StateWriter>,
    /// Told of every change the Hub shows (process states, enabled extensions, tool flags).
    events: crate::events::Events,
}

impl Actor for Extensions {
    type Msg = ExtensionsMsg;
    type State = ExtensionsState;
    type Arguments = ExtensionsArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ExtensionsMsg>,
        args: ExtensionsArgs,
    ) -> Result<ExtensionsState, ActorProcessingErr> {
        let stopped = stop_survivors(&args.home.state_file(), args.settings.stop_timeout).await;
        if !stopped.is_empty() {
            tracing::warn!(processes = ?stopped, "stopped processes left behind by a previous luna");
        }
        std::fs::create_dir_all(args.home.logs_dir())?;
        crate::packages::Packages::clear_staging(&args.home);
        let host_script = args.home.tool_host_script();
        if let Some(dir) = host_script.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::state_file::write_atomic(&host_script, crate::tools::launch::PYTHON_TOOL_HOST.as_bytes(), 0o600)?;
        let state_writer = StateWriter::start(args.home.state_file());
        let mut state = ExtensionsState {
            discovered: discover(&args.home.extensions_dir()).into_iter().map(|ext| (ext.name.clone(), ext)).collect(),
            home: args.home,
            settings: args.settings,
            master: args.master,
            env: args.env,
            core: args.core,
            gateway_port: args.gateway_port,
            tools: args.tools,
            running: BTreeMap::new(),
            stopping: BTreeSet::new(),
            parked: BTreeSet::new(),
            logs: BTreeMap::new(),
            services: ServicesState::default(),
            state_writer: Some(state_writer),
            events: args.events,
        };
        state.adopt_discovered();
        state.publish_tool_flags();
        for extension in state.discovered.values() {
            if let Err(problem) = &extension.manifest {
                tracing::warn!(extension = %extension.name, %problem, "extension is misconfigured");
                state.services.services.extend(specs::misconfigured_records(extension, &problem.to_string()));
            }
        }
        let enabled: Vec<String> = state
            .discovered
            .keys()
            .filter(|name| state.master.extensions.get(*name).is_some_and(|entry| entry.enabled))
            .cloned()
            .collect();
        for name in enabled {
            state.start_extension(&myself, &name).await?;
        }
        state.write_state();
        state.publish_routes();
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<ExtensionsMsg>,
        message: ExtensionsMsg,
        state: &mut ExtensionsState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ExtensionsMsg::Components(reply) => {
                let count = |status: Status| state.services.services.values().filter(|r| r.status == status).count();
                let total = state.services.services.len();
                let running = count(Status::Running);
                let troubled = count(Status::Failed) + count(Status::Misconfigured) + count(Status::Unhealthy);
                let _ = reply.send(vec![ComponentStatus {
                    name: "extensions".into(),
                    status: super::Health::unless_troubled(troubled > 0),
                    detail: format!(
                        "{} enabled, {running}/{total} processes running, {troubled} need attention",
                        state.running.len()
                    ),
                }]);
            }
            ExtensionsMsg::Services(reply) => {
                let _ = reply.send(state.services.clone());
            }
            ExtensionsMsg::Ports(reply) => {
                let _ = reply.send(state.port_map());
            }
            ExtensionsMsg::List(reply) => {
                let _ = reply.send(state.summaries());
            }
            ExtensionsMsg::SetEnabled { name, enabled, reply } => {
                let result = state.set_enabled(&myself, &name, enabled, reply).await;
                if let Err((error, reply)) = result {
                    let _ = reply.send(Err(error));
                }
            }
            ExtensionsMsg::Control { key, action, reply } => match state.process_actor(&key) {
                Ok(actor) => {
                    // The process answers once the action took effect; this handler does not wait.
                    let timeout = state.settings.stop_timeout * 2 + Duration::from_secs(5);
                    tokio::spawn(async move {
                        let answer = actor
                            .call(|port| ProcessMsg::Control(action, port), Some(timeout))
                            .await
                            .map_err(|error| SupervisorError::Unavailable(error.to_string()))
                            .and_then(|result| match result {
                                ractor::rpc::CallResult::Success(record) => Ok(record),
                                _ => Err(SupervisorError::Unavailable(format!("{key} did not answer in time"))),
                            });
                        let _ = reply.send(answer);
                    });
                }
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            },
            ExtensionsMsg::Inspect { key, reply } => {
                let found = match (state.services.services.get(&key), state.logs.get(&key)) {
                    (Some(record), Some(logs)) => Ok((record.clone(), logs.clone())),
                    _ => Err(SupervisorError::NotFound(format!("no process named `{key}`"))),
                };
                let _ = reply.send(found);
            }
            ExtensionsMsg::SetToolFlags { name, update, reply } => {
                let _ = reply.send(state.set_tool_flags(&name, update));
            }
            ExtensionsMsg::SetOfferEnabled { kind, key, enabled, reply } => {
                let _ = reply.send(state.set_offer_enabled(kind, &key, enabled));
            }
            ExtensionsMsg::Park { name, reply } => {
                if state.stopping.contains(&name) {
                    let _ = reply.send(Err(still_stopping(&name)));
                    return Ok(());
                }
                state.parked.insert(name.clone());
                match state.stop_extension(&myself, &name) {
                    Some(stop) => {
                        state.publish_routes();
                        tokio::spawn(async move {
                            stop.await;
                            let _ = reply.send(Ok(()));
                        });
                    }
                    None => {
                        let _ = reply.send(Ok(()));
                    }
                }
            }
            ExtensionsMsg::Load { name, reply } => {
                let _ = reply.send(state.load(&myself, &name).await);
            }
            ExtensionsMsg::Forget { name, reply } => {
                let _ = reply.send(state.forget(&name));
            }
            ExtensionsMsg::SetDraft { draft, reply } => {
                let _ = reply.send(state.set_draft(*draft));
            }
            ExtensionsMsg::Shutdown(reply) => {
                let groups: Vec<i32> = state.services.services.values().filter_map(|record| record.pgid).collect();
                let names: Vec<String> = state.running.keys().rev().cloned().collect();
                let mut stops = Vec::new();
                for name in names {
                    if let Some(stop) = state.stop_extension(&myself, &name) {
                        stops.push(stop);
                    }
                }
                let limit = state.settings.stop_timeout + Duration::from_millis(500);
                tokio::spawn(async move {
                    if tokio::time::timeout(limit, futures_util::future::join_all(stops)).await.is_err() {
                        // Luna is about to exit: nothing may outlive it.
                        tracing::warn!("processes did not stop in time; killing their process groups");
                        for pgid in groups {
                            signal_group(pgid, GroupSignal::Kill);
                        }
                    }
                    let _ = reply.send(());
                });
            }
            ExtensionsMsg::ProcessChanged(key, from, record) => {
                let current = state.running.get(&record.extension).is_some_and(|running| {
                    running.processes.iter().any(|(k, actor)| *k == key && actor.get_id() == from)
                });
                if current {
                    state.services.services.insert(key, *record);
                    state.write_state();
                }
            }
            ExtensionsMsg::ExtensionStopped(name) => {
                state.stopping.remove(&name);
                if !state.running.contains_key(&name) {
                    state.services.services.retain(|_, record| record.extension != name);
                    state.write_state();
                }
            }
        }
        Ok(())
    }

    /// An `Extension` actor stopping is normal (disable); one failing is a bug in Luna and
    /// is logged. Either way this supervisor keeps running (ractor's default would stop it).
    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<ExtensionsMsg>,
        event: ractor::SupervisionEvent,
        _state: &mut ExtensionsState,
    ) -> Result<(), ActorProcessingErr> {
        if let ractor::SupervisionEvent::ActorFailed(who, error) = event {
            tracing::error!(actor = ?who.get_id(), %error, "extension actor failed");
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<ExtensionsMsg>,
        state: &mut ExtensionsState,
    ) -> Result<(), ActorProcessingErr> {
        myself.stop_children_and_wait(None, None).await;
        if let Some(writer) = state.state_writer.take() {
            writer.finish().await;
        }
        Ok(())
    }
}

impl ExtensionsState {
    /// Adds newly found extensions to `master_config`, syncs configs, assigns ports.
    fn adopt_discovered(&mut self) {
        let before = self.master.clone();
        let today = crate::extensions::today_version();
        for extension in self.discovered.values() {
            if extension.manifest.is_err() {
                continue;
            }
            let entry = self.master.extensions.entry(extension.name.clone()).or_default();
            if let Some(provenance) = crate::packages::Provenance::read(&extension.dir) {
                entry.source = provenance.source;
                entry.reference = provenance.reference;
                entry.commit = provenance.commit;
            }
            if let Err(problem) = crate::extensions::sync_extension(extension, entry, &self.master.tool_configs, &today)
            {
                tracing::warn!(extension = %extension.name, %problem, "config sync failed");
            }
        }
        specs::assign_ports(&mut self.master.port_assignments, &self.settings, self.discovered.values());
        if self.master != before {
            self.save_master();
        }
    }

    fn save_master(&self) {
        if let Err(error) = self.master.save(&self.home.master_config_file()) {
            tracing::error!(%error, "cannot write master_config.json; the change holds until luna restarts");
        }
        self.events.publish(crate::events::Topic::Extensions);
    }

    fn write_state(&self) {
        if let Some(writer) = &self.state_writer {
            writer.write(&self.services);
        }
        self.events.publish(crate::events::Topic::Extensions);
    }

    fn port_map(&self) -> PortMap {
        let assignments = &self.master.port_assignments;
        PortMap {
            core: BTreeMap::from([("gateway".to_string(), self.gateway_port)]),
            extensions: assignments.extensions.clone(),
            services: assignments.services.clone(),
        }
    }

    /// Spawns the actors of an enabled extension. Processes that cannot run are recorded as
    /// `misconfigured` and the rest start.
    async fn start_extension(
        &mut self,
        myself: &ActorRef<ExtensionsMsg>,
        name: &str,
    ) -> Result<(), ActorProcessingErr> {
        let Some(extension) = self.discovered.get(name) else { return Ok(()) };
        let ports_json = serde_json::to_string(&self.port_map())?;
        let tool_host_script = self.home.tool_host_script();
        let context = specs::PlanContext {
            assignments: &self.master.port_assignments,
            env: &self.env,
            ports_json: &ports_json,
            tool_host_script: &tool_host_script,
        };
        let plan = specs::plan(extension, &context);
        for (key, record) in plan.misconfigured {
            self.services.services.insert(key, record);
        }
        if plan.specs.is_empty() {
            return Ok(());
        }
        let (actor, _) = Actor::spawn_linked(None, ExtensionActor, name.to_string(), myself.get_cell()).await?;
        let mut processes = Vec::new();
        for spec in plan.specs {
            let key = spec.key.clone();
            let logs = self
                .logs
                .entry(key.clone())
                .or_insert_with(|| {
                    let file = self.home.logs_dir().join(super::process::log_file_name(name, &spec.kind));
                    let settings = &self.settings;
                    LogSink::new(file, settings.log_max_bytes, settings.log_backups, settings.log_tail_lines)
                })
                .clone();
            let args = ProcessArgs {
                spec,
                settings: self.settings.clone(),
                logs,
                reporter: {
                    let extensions = myself.clone();
                    Arc::new(move |key: &str, from, record| {
                        let _ = extensions.cast(ExtensionsMsg::ProcessChanged(key.to_string(), from, Box::new(record)));
                    })
                },
                tools: self.tools.clone(),
            };
            let (process, _) = Actor::spawn_linked(None, Process, args, actor.get_cell()).await?;
            processes.push((key, process));
        }
        self.running.insert(name.to_string(), RunningExtension { actor, processes });
        Ok(())
    }

    /// Takes an extension out of `running` and returns a future that stops its processes
    /// (SIGTERM in reverse start order, then waits for all) and then its actor.
    fn stop_extension(
        &mut self,
        myself: &ActorRef<ExtensionsMsg>,
        name: &str,
    ) -> Option<impl Future<Output = ()> + Send + 'static> {
        // Records stay in `state.json` until the processes are gone: if Luna dies meanwhile,
        // the next start still knows what to clean up.
        let running = self.running.remove(name)?;
        self.stopping.insert(name.to_string());
        let limit = self.settings.stop_timeout + Duration::from_secs(2);
        let notify = myself.clone();
        let name = name.to_string();
        Some(async move {
            let stops = running
                .processes
                .iter()
                .rev()
                .map(|(_, process)| process.call(ProcessMsg::Shutdown, Some(limit)))
                .collect::<Vec<_>>();
            futures_util::future::join_all(stops).await;
            running.actor.stop_and_wait(None, Some(Duration::from_secs(2))).await.ok();
            let _ = notify.cast(ExtensionsMsg::ExtensionStopped(name));
        })
    }

    async fn set_enabled(
        &mut self,
        myself: &ActorRef<ExtensionsMsg>,
        name: &str,
        enabled: bool,
        reply: RpcReplyPort<Result<ExtensionSummary, SupervisorError>>,
    ) -> Result<(), (SupervisorError, RpcReplyPort<Result<ExtensionSummary, SupervisorError>>)> {
        let Some(extension) = self.discovered.get(name) else {
            return Err((SupervisorError::NotFound(format!("no extension named `{name}`")), reply));
        };
        if let Err(problem) = &extension.manifest {
            return Err((SupervisorError::Conflict(format!("`{name}` is misconfigured: {problem}")), reply));
        }
        if self.parked.contains(name) {
            let message = format!("`{name}` is being installed, updated or removed; try again in a moment");
            return Err((SupervisorError::Conflict(message), reply));
        }
        if enabled && self.stopping.contains(name) {
            return Err((still_stopping(name), reply));
        }
        let entry = self.master.extensions.entry(name.to_string()).or_default();
        if entry.enabled != enabled {
            entry.enabled = enabled;
            let entry = entry.clone();
            self.save_master();
            if let Err(problem) = crate::extensions::sync_extension(
                extension,
                &entry,
                &self.master.tool_configs,
                &crate::extensions::today_version(),
            ) {
                tracing::warn!(extension = %name, %problem, "config sync failed");
            }
        }
        if enabled && !self.running.contains_key(name) {
            if let Err(error) = self.start_extension(myself, name).await {
                return Err((SupervisorError::Unavailable(error.to_string()), reply));
            }
            self.write_state();
            self.publish_routes();
            let _ = reply.send(Ok(self.summary(name)));
        } else if !enabled && let Some(stop) = self.stop_extension(myself, name) {
            self.publish_routes();
            let summary = self.summary(name);
            tokio::spawn(async move {
                stop.await;
                let _ = reply.send(Ok(summary));
            });
        } else {
            let _ = reply.send(Ok(self.summary(name)));
        }
        Ok(())
    }

    /// Re-reads `extensions/<name>` after an install or update and runs it if enabled.
    async fn load(
        &mut self,
        myself: &ActorRef<ExtensionsMsg>,
        name: &str,
    ) -> Result<ExtensionSummary, SupervisorError> {
        if self.running.contains_key(name) || self.stopping.contains(name) {
            return Err(SupervisorError::Conflict(format!("`{name}` is running; it must be stopped first")));
        }
        self.parked.remove(name);
        let dir = self.home.extensions_dir().join(name);
        if !dir.is_dir() {
            return Err(SupervisorError::NotFound(format!("no extension folder `{name}`")));
        }
        let extension = crate::extensions::read_extension(name.to_string(), &dir);
        self.services.services.retain(|_, record| record.extension != name);
        if let Err(problem) = &extension.manifest {
            self.services.services.extend(specs::misconfigured_records(&extension, &problem.to_string()));
        }
        self.discovered.insert(name.to_string(), extension);
        self.adopt_discovered();
        self.publish_tool_flags();
        let enabled = self.master.extensions.get(name).is_some_and(|entry| entry.enabled);
        if enabled && self.discovered[name].manifest.is_ok() {
            self.start_extension(myself, name)
                .await
                .map_err(|error| SupervisorError::Unavailable(error.to_string()))?;
        }
        self.write_state();
        self.publish_routes();
        Ok(self.summary(name))
    }

    fn set_draft(&mut self, draft: MasterConfig) -> Vec<String> {
        let mut changed = Vec::new();
        for (name, wanted) in draft.extensions {
            if !self.discovered.contains_key(&name) {
                continue;
            }
            let entry = self.master.extensions.entry(name.clone()).or_default();
            if entry.config != wanted.config {
                entry.config = wanted.config;
                changed.push(name);
            }
        }
        self.master.tool_configs = draft.tool_configs;
        self.master.prompt_configs = draft.prompt_configs;
        self.master.resource_configs = draft.resource_configs;
        if !draft.luna.is_empty() {
            self.master.luna = draft.luna;
        }
        self.adopt_discovered();
        self.save_master();
        self.publish_tool_flags();
        changed
    }

    /// Forgets a parked extension whose folder is gone.
    fn forget(&mut self, name: &str) -> Result<(), SupervisorError> {
        if self.running.contains_key(name) {
            return Err(SupervisorError::Conflict(format!("`{name}` is running; it must be stopped first")));
        }
        self.parked.remove(name);
        let Some(extension) = self.discovered.remove(name) else {
            return Err(SupervisorError::NotFound(format!("no extension named `{name}`")));
        };
        for tool in extension.tool_names.iter().flatten() {
            self.master.tool_configs.remove(tool);
        }
        self.master.extensions.remove(name);
        let assignments = &mut self.master.port_assignments;
        assignments.extensions.remove(name);
        let prefix = format!("{name}.");
        assignments.services.retain(|key, _| !key.starts_with(&prefix));
        self.logs.retain(|key, _| {
            !(key.starts_with(&prefix) || *key == extension.ui_key() || *key == extension.tools_key())
        });
        self.services.services.retain(|_, record| record.extension != name);
        self.save_master();
        self.publish_tool_flags();
        self.write_state();
        self.publish_routes();
        Ok(())
    }

    fn process_actor(&self, key: &str) -> Result<ActorRef<ProcessMsg>, SupervisorError> {
        self.running
            .values()
            .flat_map(|running| running.processes.iter())
            .find(|(candidate, _)| candidate == key)
            .map(|(_, actor)| actor.clone())
            .ok_or_else(|| match self.services.services.get(key) {
                Some(record) if record.status == Status::Misconfigured => SupervisorError::Conflict(format!(
                    "`{key}` is misconfigured: {}",
                    record.error.as_deref().unwrap_or("see its record")
                )),
                _ => SupervisorError::NotFound(format!("no running extension has a process named `{key}`")),
            })
    }

    /// Each tool's flags: its extension's `tools/tool_config.json`, overridden by
    /// `master_config.tool_configs`; a tool in neither is off.
    fn effective_tool_flags(&self) -> BTreeMap<String, ToolFlags> {
        let mut flags = BTreeMap::new();
        for extension in self.discovered.values() {
            let path = extension.dir.join("tools").join("tool_config.json");
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let Ok(serde_json::Value::Object(tools)) = serde_json::from_str(&text) else { continue };
            for (name, settings) in tools {
                if let serde_json::Value::Object(settings) = settings {
                    flags.insert(name, flags_from(&settings, ToolFlags::default()));
                }
            }
        }
        for (name, settings) in &self.master.tool_configs {
            let base = flags.get(name).copied().unwrap_or_default();
            flags.insert(name.clone(), flags_from(settings, base));
        }
        flags
    }

    fn publish_tool_flags(&self) {
        self.tools.set_flags(self.effective_tool_flags());
        let switches = |configs: &BTreeMap<String, OfferConfig>| {
            configs.iter().map(|(key, config)| (key.clone(), config.enabled_in_mcp)).collect()
        };
        let prompts = switches(&self.master.prompt_configs);
        let resources = switches(&self.master.resource_configs);
        self.tools.set_offer_flags(OfferFlags { prompts, resources });
    }

    fn set_offer_enabled(&mut self, kind: OfferKind, key: &str, enabled: bool) -> Result<(), SupervisorError> {
        let offers = &self.tools.catalog().offers;
        let known = match kind {
            OfferKind::Prompt => offers.prompts.contains_key(key),
            OfferKind::Resource => offers.resources.contains_key(key) || offers.templates.contains_key(key),
        };
        if !known {
            return Err(SupervisorError::NotFound(format!("no running extension offers the {kind} `{key}`")));
        }
        let configs = match kind {
            OfferKind::Prompt => &mut self.master.prompt_configs,
            OfferKind::Resource => &mut self.master.resource_configs,
        };
        configs.insert(key.to_string(), OfferConfig { enabled_in_mcp: enabled });
        self.save_master();
        self.publish_tool_flags();
        Ok(())
    }

    fn set_tool_flags(&mut self, name: &str, update: ToolFlagsUpdate) -> Result<ToolFlags, SupervisorError> {
        let listed_by =
            |extension: &&Extension| extension.tool_names.as_ref().is_ok_and(|names| names.iter().any(|n| n == name));
        let known = self.discovered.values().any(|extension| listed_by(&extension))
            || self.tools.catalog().tools.values().any(|tool| tool.definition.name == name);
        if !known {
            return Err(SupervisorError::NotFound(format!("no tool named `{name}`")));
        }
        let settings = self.master.tool_configs.entry(name.to_string()).or_default();
        if let Some(enabled) = update.enabled_in_mcp {
            settings.insert("enabled_in_mcp".into(), enabled.into());
        }
        if let Some(passthrough) = update.passthrough {
            settings.insert("passthrough".into(), passthrough.into());
        }
        self.save_master();
        let today = crate::extensions::today_version();
        for extension in self.discovered.values().filter(|extension| listed_by(extension)) {
            if let Some(entry) = self.master.extensions.get(&extension.name)
                && let Err(problem) =
                    crate::extensions::sync_extension(extension, entry, &self.master.tool_configs, &today)
            {
                tracing::warn!(extension = %extension.name, %problem, "config sync failed");
            }
        }
        let flags = self.effective_tool_flags();
        let updated = flags.get(name).copied().unwrap_or_default();
        self.tools.set_flags(flags);
        Ok(updated)
    }

    fn publish_routes(&self) {
        let routes = self
            .running
            .keys()
            .filter_map(|name| self.discovered.get(name))
            .flat_map(|extension| specs::routes(extension, &self.master.port_assignments))
            .collect();
        let _ = self.core.cast(CoreMsg::ExtensionRoutes(routes));
    }

    fn summaries(&self) -> Vec<ExtensionSummary> {
        self.discovered.keys().map(|name| self.summary(name)).collect()
    }

    fn summary(&self, name: &str) -> ExtensionSummary {
        summary::summarize(
            &self.discovered[name],
            &self.master,
            &self.services,
            &self.env.secrets(),
            self.running.contains_key(name),
        )
    }
}

fn still_stopping(name: &str) -> SupervisorError {
    SupervisorError::Conflict(format!("`{name}` is still stopping; try again in a moment"))
}

/// `enabled_in_mcp` and `passthrough` from a tool's settings object; a missing or
/// non-boolean value keeps `base`.
fn flags_from(settings: &serde_json::Map<String, serde_json::Value>, base: ToolFlags) -> ToolFlags {
    let flag = |key: &str, default: bool| settings.get(key).and_then(serde_json::Value::as_bool).unwrap_or(default);
    ToolFlags {
        enabled_in_mcp: flag("enabled_in_mcp", base.enabled_in_mcp),
        passthrough: flag("passthrough", base.passthrough),
    }
}
