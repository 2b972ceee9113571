//! `LunaRoot`: starts the three supervisors, fans status calls out to them.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::core::{Core, CoreMsg};
use super::extensions::{Extensions, ExtensionsMsg};
use super::external_services::{ExternalServices, ExternalServicesMsg};
use super::{CALL_TIMEOUT, ComponentStatus, PortMap, ServicesState, TreeArgs};

pub struct LunaRoot;

pub enum RootMsg {
    /// Every component's status, core first.
    Components(RpcReplyPort<Vec<ComponentStatus>>),
    /// The `state.json` view of managed children.
    Services(RpcReplyPort<ServicesState>),
    /// The `LUNA_PORTS` map.
    Ports(RpcReplyPort<PortMap>),
}

pub struct RootState {
    core: ActorRef<CoreMsg>,
    extensions: ActorRef<ExtensionsMsg>,
    external_services: ActorRef<ExternalServicesMsg>,
}

impl Actor for LunaRoot {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = TreeArgs;

    async fn pre_start(&self, myself: ActorRef<RootMsg>, args: TreeArgs) -> Result<RootState, ActorProcessingErr> {
        let cell = myself.get_cell();
        let (core, _) = Actor::spawn_linked(Some("luna.core".into()), Core, args.core(), cell.clone()).await?;
        let (extensions, _) =
            Actor::spawn_linked(Some("luna.extensions".into()), Extensions, args.home.clone(), cell.clone()).await?;
        let (external_services, _) =
            Actor::spawn_linked(Some("luna.external_services".into()), ExternalServices, (), cell).await?;
        Ok(RootState { core, extensions, external_services })
    }

    async fn handle(
        &self,
        _myself: ActorRef<RootMsg>,
        message: RootMsg,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        // Answers are gathered in a task: the root keeps serving while a child is busy.
        let core = state.core.clone();
        let extensions = state.extensions.clone();
        let external_services = state.external_services.clone();
        let timeout = CALL_TIMEOUT.as_millis() as u64;
        match message {
            RootMsg::Components(reply) => {
                tokio::spawn(async move {
                    let mut all = Vec::new();
                    collect("core", ractor::call_t!(core, CoreMsg::Components, timeout), &mut all);
                    collect("extensions", ractor::call_t!(extensions, ExtensionsMsg::Components, timeout), &mut all);
                    collect(
                        "external_services",
                        ractor::call_t!(external_services, ExternalServicesMsg::Components, timeout),
                        &mut all,
                    );
                    let _ = reply.send(all);
                });
            }
            RootMsg::Services(reply) => {
                tokio::spawn(async move {
                    if let Ok(services) = ractor::call_t!(extensions, ExtensionsMsg::Services, timeout) {
                        let _ = reply.send(services);
                    }
                });
            }
            RootMsg::Ports(reply) => {
                tokio::spawn(async move {
                    let core_ports = ractor::call_t!(core, CoreMsg::Ports, timeout);
                    let managed = ractor::call_t!(extensions, ExtensionsMsg::Ports, timeout);
                    if let (Ok(core_ports), Ok(mut ports)) = (core_ports, managed) {
                        ports.core = core_ports;
                        let _ = reply.send(ports);
                    }
                });
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RootMsg>,
        event: SupervisionEvent,
        _state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            // A supervisor only fails on a bug; without it Luna would run half-blind, so the
            // tree stops and the failure is logged loudly.
            SupervisionEvent::ActorFailed(who, error) => {
                tracing::error!(actor = ?who.get_name(), %error, "supervisor failed; stopping the actor tree");
                myself.stop(Some("a supervisor failed".into()));
            }
            SupervisionEvent::ActorTerminated(who, _, reason) => {
                tracing::debug!(actor = ?who.get_name(), ?reason, "supervisor stopped");
            }
            _ => {}
        }
        Ok(())
    }
}

/// Adds a supervisor's components, or one line saying it did not answer.
fn collect<E: std::fmt::Display>(name: &str, answer: Result<Vec<ComponentStatus>, E>, all: &mut Vec<ComponentStatus>) {
    match answer {
        Ok(components) => all.extend(components),
        Err(error) => all.push(ComponentStatus {
            name: name.to_string(),
            status: "unresponsive".into(),
            detail: error.to_string(),
        }),
    }
}
