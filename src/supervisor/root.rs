//! `LunaRoot`: starts the three supervisors and supervises them; requests go to them
//! directly, through the [`Supervisor`](super::Supervisor) handle.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::TreeArgs;
use super::child_env::ChildEnv;
use super::core::{Core, CoreMsg};
use super::extensions::{Extensions, ExtensionsArgs, ExtensionsMsg};
use super::external_services::{ExternalServicesArgs, ExternalServicesMsg, ExternalServicesSupervisor};

pub struct LunaRoot;

/// The supervisors the root started, which the [`Supervisor`](super::Supervisor) handle
/// talks to directly.
#[derive(Clone)]
pub struct Supervisors {
    pub core: ActorRef<CoreMsg>,
    pub extensions: ActorRef<ExtensionsMsg>,
    pub external_services: ActorRef<ExternalServicesMsg>,
}

pub enum RootMsg {
    /// The supervisors, for the handle (asked once, at start).
    Supervisors(RpcReplyPort<Supervisors>),
}

impl Actor for LunaRoot {
    type Msg = RootMsg;
    type State = Supervisors;
    type Arguments = TreeArgs;

    async fn pre_start(&self, myself: ActorRef<RootMsg>, args: TreeArgs) -> Result<Supervisors, ActorProcessingErr> {
        let cell = myself.get_cell();
        let (core, _) = Actor::spawn_linked(Some("luna.core".into()), Core, args.core(), cell.clone()).await?;
        let gateway_url = format!("http://{}", args.http_listen);
        let extensions_args = ExtensionsArgs {
            env: ChildEnv::new(args.secrets, args.home.root().to_path_buf(), gateway_url),
            home: args.home,
            settings: Arc::clone(&args.settings),
            master: args.master,
            core: core.clone(),
            gateway_port: args.http_listen.port(),
            tools: args.tools.clone(),
            events: args.events.clone(),
        };
        let (extensions, _) =
            Actor::spawn_linked(Some("luna.extensions".into()), Extensions, extensions_args, cell.clone()).await?;
        let external_args = ExternalServicesArgs { handle: args.external_services.clone(), core: core.clone() };
        let (external_services, _) =
            Actor::spawn_linked(Some("luna.external_services".into()), ExternalServicesSupervisor, external_args, cell)
                .await?;
        Ok(Supervisors { core, extensions, external_services })
    }

    async fn handle(
        &self,
        _myself: ActorRef<RootMsg>,
        message: RootMsg,
        state: &mut Supervisors,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RootMsg::Supervisors(reply) => {
                let _ = reply.send(state.clone());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RootMsg>,
        event: SupervisionEvent,
        _state: &mut Supervisors,
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
