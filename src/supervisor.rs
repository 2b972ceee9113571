//! The actor tree (ractor) that owns everything Luna manages.
//!
//! ```text
//! LunaRoot
//! ├── Core               gateway + API status; owns the route table
//! ├── Extensions         master_config.json, state.json, config sync, ports
//! │   └── Extension(<name>)
//! │       ├── Process(<name>_tools)       tool host: MCP over stdio (feeds the ToolRegistry)
//! │       ├── Process(<name>_ui)          ui/start.sh <port>
//! │       └── Process(<name>.<service>)   services/<service>/start.sh [port]
//! └── ExternalServicesSupervisor   one DockerService(<name>) per installed service: health checks
//! ```
//!
//! Every supervisor answers a status call, which is how the core API (and so the CLI and
//! the Hub) sees the tree. A handler never waits on anything slow: work that waits (a
//! process, a health probe, a stop) runs in a spawned task that reports back by message.
//!
//! **Architecture Invariant:** the gateway never calls into the actor tree on the request
//! path; it only reads the route table snapshot the tree publishes.

pub mod child_env;
mod core;
mod extension;
mod extensions;
mod external_services;
pub mod process;
mod root;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};

use crate::env_file::SharedSecrets;
use crate::gateway::routes::RouteHandle;
use crate::home::LunaHome;
use crate::master_config::MasterConfig;
use crate::settings::SupervisorSettings;
use crate::tools::{ToolFlags, ToolRegistry};
use core::CoreMsg;
pub use core::core_routes;
use extensions::ExtensionsMsg;
pub use extensions::{ExtensionSummary, OfferKind, ToolFlagsUpdate};
use external_services::ExternalServicesMsg;
use process::logs::LogSink;
pub use process::{Action, ProcessRecord, Status};
use root::{RootMsg, Supervisors};
pub use state::ServicesState;

/// How long an API call waits for a supervisor's answer before reporting it stuck.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Manual actions wait for a process to stop (up to its stop timeout) and start again.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// What the tree needs to start.
pub struct TreeArgs {
    pub home: LunaHome,
    pub http_listen: SocketAddr,
    pub routes: RouteHandle,
    pub settings: Arc<SupervisorSettings>,
    pub master: MasterConfig,
    pub secrets: SharedSecrets,
    pub tools: ToolRegistry,
    pub external_services: Arc<crate::external::ExternalServices>,
    pub events: crate::events::Events,
}

/// One line of `luna status`: a component and how it is doing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ComponentStatus {
    pub name: String,
    pub status: Health,
    pub detail: String,
}

/// How a component is doing.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Running,
    /// Working, with something that needs attention (the detail says what).
    Degraded,
    /// Its supervisor did not answer in time.
    Unresponsive,
    /// It cannot do its work: what it needs is not there (Docker not reachable).
    Unavailable,
}

impl Health {
    /// `Degraded` if anything needs attention, else `Running`.
    pub fn unless_troubled(troubled: bool) -> Self {
        if troubled { Self::Degraded } else { Self::Running }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Degraded => "degraded",
            Self::Unresponsive => "unresponsive",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The `LUNA_PORTS` document every child receives.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PortMap {
    pub core: BTreeMap<String, u16>,
    pub extensions: BTreeMap<String, u16>,
    pub services: BTreeMap<String, Option<u16>>,
}

/// Why a request to the tree failed; the API maps each kind to a status code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SupervisorError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the supervisor did not answer: {0}")]
    Unavailable(String),
}

/// The handle the rest of Luna holds on the tree: it talks to the supervisor that does the
/// work (the root only supervises).
#[derive(Clone)]
pub struct Supervisor {
    root: ActorRef<RootMsg>,
    supervisors: Supervisors,
}

impl Supervisor {
    /// Spawns the whole tree; returns once every supervisor has started.
    pub async fn start(args: TreeArgs) -> anyhow::Result<Self> {
        let (root, _) = ractor::Actor::spawn(Some("luna".to_string()), root::LunaRoot, args).await?;
        let supervisors = ractor::call_t!(root, RootMsg::Supervisors, CALL_TIMEOUT.as_millis() as u64)?;
        Ok(Self { root, supervisors })
    }

    /// Every component's status, core first; a supervisor that does not answer is one line
    /// saying so.
    pub async fn components(&self) -> Result<Vec<ComponentStatus>, SupervisorError> {
        let Supervisors { core, extensions, external_services } = &self.supervisors;
        let (core, extensions, external) = tokio::join!(
            call(core, CoreMsg::Components, CALL_TIMEOUT),
            call(extensions, ExtensionsMsg::Components, CALL_TIMEOUT),
            call(external_services, ExternalServicesMsg::Components, CALL_TIMEOUT),
        );
        let mut all = Vec::new();
        for (name, answer) in [("core", core), ("extensions", extensions), ("external_services", external)] {
            match answer {
                Ok(components) => all.extend(components),
                Err(error) => all.push(ComponentStatus {
                    name: name.into(),
                    status: Health::Unresponsive,
                    detail: error.to_string(),
                }),
            }
        }
        Ok(all)
    }

    pub async fn services(&self) -> Result<ServicesState, SupervisorError> {
        call(&self.supervisors.extensions, ExtensionsMsg::Services, CALL_TIMEOUT).await
    }

    pub async fn ports(&self) -> Result<PortMap, SupervisorError> {
        call(&self.supervisors.extensions, ExtensionsMsg::Ports, CALL_TIMEOUT).await
    }

    pub async fn extensions(&self) -> Result<Vec<ExtensionSummary>, SupervisorError> {
        call(&self.supervisors.extensions, ExtensionsMsg::List, CALL_TIMEOUT).await
    }

    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<ExtensionSummary, SupervisorError> {
        let name = name.to_string();
        let message = |reply| ExtensionsMsg::SetEnabled { name, enabled, reply };
        call(&self.supervisors.extensions, message, CONTROL_TIMEOUT).await?
    }

    pub async fn control(&self, key: &str, action: Action) -> Result<ProcessRecord, SupervisorError> {
        let key = key.to_string();
        call(&self.supervisors.extensions, |reply| ExtensionsMsg::Control { key, action, reply }, CONTROL_TIMEOUT)
            .await?
    }

    /// A process's record and its log sink (tail and follow).
    pub async fn inspect(&self, key: &str) -> Result<(ProcessRecord, LogSink), SupervisorError> {
        let key = key.to_string();
        call(&self.supervisors.extensions, |reply| ExtensionsMsg::Inspect { key, reply }, CALL_TIMEOUT).await?
    }

    /// Stores a tool's flags (`tool_configs`); the tool registry follows at once.
    pub async fn set_tool_flags(&self, name: &str, update: ToolFlagsUpdate) -> Result<ToolFlags, SupervisorError> {
        let name = name.to_string();
        let message = |reply| ExtensionsMsg::SetToolFlags { name, update, reply };
        call(&self.supervisors.extensions, message, CALL_TIMEOUT).await?
    }

    /// Switches a prompt or resource on or off for MCP (`prompt_configs` / `resource_configs`).
    pub async fn set_offer_enabled(&self, kind: OfferKind, key: &str, enabled: bool) -> Result<(), SupervisorError> {
        let key = key.to_string();
        let message = |reply| ExtensionsMsg::SetOfferEnabled { kind, key, enabled, reply };
        call(&self.supervisors.extensions, message, CALL_TIMEOUT).await?
    }

    /// Stops an extension's processes for an install, update or removal, and keeps it from
    /// being enabled or started until [`Self::load_extension`] or [`Self::forget_extension`].
    pub async fn park_extension(&self, name: &str) -> Result<(), SupervisorError> {
        let name = name.to_string();
        call(&self.supervisors.extensions, |reply| ExtensionsMsg::Park { name, reply }, CONTROL_TIMEOUT).await?
    }

    /// Reads `extensions/<name>` again (new or replaced), adopts it into `master_config` and
    /// starts it if it is enabled.
    pub async fn load_extension(&self, name: &str) -> Result<ExtensionSummary, SupervisorError> {
        let name = name.to_string();
        call(&self.supervisors.extensions, |reply| ExtensionsMsg::Load { name, reply }, CONTROL_TIMEOUT).await?
    }

    /// Drops a parked extension whose folder is gone: its entry, ports, tool flags and records.
    pub async fn forget_extension(&self, name: &str) -> Result<(), SupervisorError> {
        let name = name.to_string();
        call(&self.supervisors.extensions, |reply| ExtensionsMsg::Forget { name, reply }, CALL_TIMEOUT).await?
    }

    /// Takes a drafted `master_config`'s settings; names the extensions whose config changed.
    pub async fn set_draft(&self, draft: MasterConfig) -> Result<Vec<String>, SupervisorError> {
        let draft = Box::new(draft);
        call(&self.supervisors.extensions, |reply| ExtensionsMsg::SetDraft { draft, reply }, CALL_TIMEOUT).await
    }

    /// Stops every managed process, then the tree; bounded by `timeout`.
    pub async fn stop(&self, timeout: Duration) {
        let stopped = call(&self.supervisors.extensions, ExtensionsMsg::Shutdown, timeout).await;
        if let Err(error) = stopped {
            tracing::warn!(%error, "processes did not all stop in time");
        }
        self.root.stop_children_and_wait(None, Some(Duration::from_secs(1))).await;
        if let Err(error) = self.root.stop_and_wait(None, Some(Duration::from_secs(1))).await {
            tracing::warn!(%error, "actor tree did not stop in time");
        }
    }
}

/// Asks `actor` and waits at most `timeout` for the answer.
async fn call<M: ractor::Message, T: Send + 'static>(
    actor: &ActorRef<M>,
    message: impl FnOnce(RpcReplyPort<T>) -> M,
    timeout: Duration,
) -> Result<T, SupervisorError> {
    match actor.call(message, Some(timeout)).await {
        Ok(ractor::rpc::CallResult::Success(value)) => Ok(value),
        Ok(ractor::rpc::CallResult::Timeout) => Err(SupervisorError::Unavailable("timed out".into())),
        Ok(ractor::rpc::CallResult::SenderError) => Err(SupervisorError::Unavailable("no reply".into())),
        Err(error) => Err(SupervisorError::Unavailable(error.to_string())),
    }
}
