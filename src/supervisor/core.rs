//! `Core`: the in-process core services (gateway, core API) and the route table they use.
//!
//! The gateway is a pingora service and the API an axum server; both run on pingora's
//! runtimes. This actor owns what they publish (the route table) and reports their state.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::{ComponentStatus, TreeArgs};
use crate::gateway::routes::RouteHandle;

pub struct Core;

pub struct CoreArgs {
    pub http_listen: SocketAddr,
    pub api_socket: PathBuf,
    pub routes: RouteHandle,
}

impl TreeArgs {
    pub(super) fn core(&self) -> CoreArgs {
        CoreArgs { http_listen: self.http_listen, api_socket: self.home.api_socket(), routes: self.routes.clone() }
    }
}

pub enum CoreMsg {
    Components(RpcReplyPort<Vec<ComponentStatus>>),
    /// The `core` part of `LUNA_PORTS`.
    Ports(RpcReplyPort<BTreeMap<String, u16>>),
}

impl Actor for Core {
    type Msg = CoreMsg;
    type State = CoreArgs;
    type Arguments = CoreArgs;

    async fn pre_start(&self, _myself: ActorRef<CoreMsg>, args: CoreArgs) -> Result<CoreArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<CoreMsg>,
        message: CoreMsg,
        state: &mut CoreArgs,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CoreMsg::Components(reply) => {
                let n_routes = state.routes.load().routes().count();
                let _ = reply.send(vec![
                    ComponentStatus {
                        name: "gateway".into(),
                        status: "running".into(),
                        detail: format!("http://{} ({n_routes} routes)", state.http_listen),
                    },
                    ComponentStatus {
                        name: "core_api".into(),
                        status: "running".into(),
                        detail: state.api_socket.display().to_string(),
                    },
                ]);
            }
            CoreMsg::Ports(reply) => {
                let _ = reply.send(BTreeMap::from([("gateway".to_string(), state.http_listen.port())]));
            }
        }
        Ok(())
    }
}
