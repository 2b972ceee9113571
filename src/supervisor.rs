//! The actor tree (ractor) that owns everything Luna manages.
//!
//! ```text
//! LunaRoot
//! ├── Core               gateway listener, core API socket, route table owner
//! ├── Extensions         attachment point: one Extension(<name>) per extension, each with
//! │                      Process(ui), Process(service:<svc>) and a ToolHost (issue: extensions)
//! └── ExternalServices   attachment point: one DockerService(<name>) per installed service
//! ```
//!
//! Every supervisor answers a `Status` call, which is how the core API (and so the CLI and
//! the Hub) sees the tree. A handler never waits on anything slow: work that waits (a
//! process, Docker, a health probe) runs in a spawned task that reports back by message.
//!
//! **Architecture Invariant:** the gateway never calls into the actor tree on the request
//! path; it only reads the route table snapshot the tree publishes.

mod core;
mod extensions;
mod external_services;
mod root;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use ractor::{ActorRef, RpcReplyPort};
use serde::Serialize;

use crate::gateway::routes::RouteHandle;
use crate::home::LunaHome;

pub use root::RootMsg;

/// How long an API call waits for an actor's answer before it reports the actor as stuck.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What the tree needs to start.
pub struct TreeArgs {
    pub home: LunaHome,
    pub http_listen: SocketAddr,
    pub routes: RouteHandle,
}

/// One line of `luna status`: a component and what it is doing.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ComponentStatus {
    pub name: String,
    pub status: String,
    pub detail: String,
}

/// One managed child as mirrored in `state.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ServiceRecord {
    pub status: String,
    pub pid: Option<u32>,
    pub port: Option<u16>,
}

/// The `state.json` document.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ServicesState {
    pub services: BTreeMap<String, ServiceRecord>,
}

/// The `LUNA_PORTS` document every child receives.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PortMap {
    pub core: BTreeMap<String, u16>,
    pub extensions: BTreeMap<String, u16>,
    pub services: BTreeMap<String, Option<u16>>,
}

/// The handle the rest of Luna holds on the tree.
#[derive(Clone)]
pub struct Supervisor {
    root: ActorRef<RootMsg>,
}

#[derive(Debug, thiserror::Error)]
#[error("the supervisor did not answer: {0}")]
pub struct SupervisorUnavailable(String);

impl Supervisor {
    /// Spawns the whole tree; returns once every supervisor has started.
    pub async fn start(args: TreeArgs) -> anyhow::Result<(Self, tokio::task::JoinHandle<()>)> {
        let (root, join) = ractor::Actor::spawn(Some("luna".to_string()), root::LunaRoot, args).await?;
        Ok((Self { root }, join))
    }

    pub async fn components(&self) -> Result<Vec<ComponentStatus>, SupervisorUnavailable> {
        self.call(RootMsg::Components).await
    }

    pub async fn services(&self) -> Result<ServicesState, SupervisorUnavailable> {
        self.call(RootMsg::Services).await
    }

    pub async fn ports(&self) -> Result<PortMap, SupervisorUnavailable> {
        self.call(RootMsg::Ports).await
    }

    /// Stops the tree, children first; bounded by `timeout`.
    pub async fn stop(&self, timeout: Duration) {
        if let Err(error) = self.root.stop_and_wait(Some("luna is shutting down".into()), Some(timeout)).await {
            tracing::warn!(%error, "actor tree did not stop in time");
        }
    }

    async fn call<T: Send + 'static>(
        &self,
        message: impl FnOnce(RpcReplyPort<T>) -> RootMsg,
    ) -> Result<T, SupervisorUnavailable> {
        match self.root.call(message, Some(CALL_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(value)) => Ok(value),
            Ok(ractor::rpc::CallResult::Timeout) => Err(SupervisorUnavailable("timed out".into())),
            Ok(ractor::rpc::CallResult::SenderError) => Err(SupervisorUnavailable("no reply".into())),
            Err(error) => Err(SupervisorUnavailable(error.to_string())),
        }
    }
}
