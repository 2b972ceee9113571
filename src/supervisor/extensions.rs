//! `Extensions`: the supervisor of extension processes.
//!
//! It owns `state.json` and the extension part of `LUNA_PORTS`. Discovery and the
//! per-extension actors attach here; until then it manages no children and says so.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::{ComponentStatus, PortMap, ServicesState};
use crate::home::LunaHome;
use crate::state_file::write_json_atomic;

pub struct Extensions;

pub enum ExtensionsMsg {
    Components(RpcReplyPort<Vec<ComponentStatus>>),
    Services(RpcReplyPort<ServicesState>),
    Ports(RpcReplyPort<PortMap>),
}

pub struct ExtensionsState {
    services: ServicesState,
    ports: PortMap,
}

impl Actor for Extensions {
    type Msg = ExtensionsMsg;
    type State = ExtensionsState;
    type Arguments = LunaHome;

    async fn pre_start(
        &self,
        _myself: ActorRef<ExtensionsMsg>,
        home: LunaHome,
    ) -> Result<ExtensionsState, ActorProcessingErr> {
        // state.json describes this run only: it is rewritten at every start.
        let services = ServicesState::default();
        write_json_atomic(&home.state_file(), &services)?;
        Ok(ExtensionsState { services, ports: PortMap::default() })
    }

    async fn handle(
        &self,
        _myself: ActorRef<ExtensionsMsg>,
        message: ExtensionsMsg,
        state: &mut ExtensionsState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ExtensionsMsg::Components(reply) => {
                let _ = reply.send(vec![ComponentStatus {
                    name: "extensions".into(),
                    status: "running".into(),
                    detail: format!("{} processes", state.services.services.len()),
                }]);
            }
            ExtensionsMsg::Services(reply) => {
                let _ = reply.send(state.services.clone());
            }
            ExtensionsMsg::Ports(reply) => {
                let _ = reply.send(state.ports.clone());
            }
        }
        Ok(())
    }
}
