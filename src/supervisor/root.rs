//! `LunaRoot`: starts the three supervisors and routes requests to them.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::child_env::ChildEnv;
use super::core::{Core, CoreMsg};
use super::extensions::{ExtensionSummary, Extensions, ExtensionsArgs, ExtensionsMsg, ToolFlagsUpdate};
use super::external_services::{ExternalServicesArgs, ExternalServicesMsg, ExternalServicesSupervisor};
use super::process::logs::LogSink;
use super::process::{Action, ProcessRecord};
use super::{CALL_TIMEOUT, ComponentStatus, PortMap, ServicesState, SupervisorError, TreeArgs};
use crate::tools::ToolFlags;

pub struct LunaRoot;

type Reply<T> = RpcReplyPort<Result<T, SupervisorError>>;

pub enum RootMsg {
    /// Every component's status, core first.
    Components(RpcReplyPort<Vec<ComponentStatus>>),
    /// The `state.json` view of managed processes.
    Services(RpcReplyPort<ServicesState>),
    /// The `LUNA_PORTS` map.
    Ports(RpcReplyPort<PortMap>),
    Extensions(RpcReplyPort<Vec<ExtensionSummary>>),
    SetEnabled {
        name: String,
        enabled: bool,
        reply: Reply<ExtensionSummary>,
    },
    Control {
        key: String,
        action: Action,
        reply: Reply<ProcessRecord>,
    },
    Inspect {
        key: String,
        reply: Reply<(ProcessRecord, LogSink)>,
    },
    SetToolFlags {
        name: String,
        update: ToolFlagsUpdate,
        reply: Reply<ToolFlags>,
    },
    /// Stops every managed process; part of Luna's shutdown.
    StopProcesses(RpcReplyPort<()>),
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
        let gateway_url = format!("http://{}", args.http_listen);
        let extensions_args = ExtensionsArgs {
            env: ChildEnv::new(args.secrets, args.home.root().to_path_buf(), gateway_url),
            home: args.home,
            settings: Arc::clone(&args.settings),
            master: args.master,
            core: core.clone(),
            gateway_port: args.http_listen.port(),
            tools: args.tools.clone(),
        };
        let (extensions, _) =
            Actor::spawn_linked(Some("luna.extensions".into()), Extensions, extensions_args, cell.clone()).await?;
        let external_args = ExternalServicesArgs { handle: args.external_services.clone(), core: core.clone() };
        let (external_services, _) =
            Actor::spawn_linked(Some("luna.external_services".into()), ExternalServicesSupervisor, external_args, cell)
                .await?;
        Ok(RootState { core, extensions, external_services })
    }

    async fn handle(
        &self,
        _myself: ActorRef<RootMsg>,
        message: RootMsg,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        let extensions = &state.extensions;
        match message {
            RootMsg::Components(reply) => {
                // Gathered in a task: the root keeps serving while a child is busy.
                let core = state.core.clone();
                let extensions = extensions.clone();
                let external_services = state.external_services.clone();
                tokio::spawn(async move {
                    let timeout = CALL_TIMEOUT.as_millis() as u64;
                    let mut all = Vec::new();
                    collect("core", ractor::call_t!(core, CoreMsg::Components, timeout), &mut all);
                    collect("extensions", ractor::call_t!(extensions, ExtensionsMsg::Components, timeout), &mut all);
                    let external = ractor::call_t!(external_services, ExternalServicesMsg::Components, timeout);
                    collect("external_services", external, &mut all);
                    let _ = reply.send(all);
                });
            }
            // The rest are forwarded: the extensions supervisor answers the caller directly.
            RootMsg::Services(reply) => extensions.cast(ExtensionsMsg::Services(reply))?,
            RootMsg::Ports(reply) => extensions.cast(ExtensionsMsg::Ports(reply))?,
            RootMsg::Extensions(reply) => extensions.cast(ExtensionsMsg::List(reply))?,
            RootMsg::SetEnabled { name, enabled, reply } => {
                extensions.cast(ExtensionsMsg::SetEnabled { name, enabled, reply })?
            }
            RootMsg::Control { key, action, reply } => {
                extensions.cast(ExtensionsMsg::Control { key, action, reply })?
            }
            RootMsg::Inspect { key, reply } => extensions.cast(ExtensionsMsg::Inspect { key, reply })?,
            RootMsg::SetToolFlags { name, update, reply } => {
                extensions.cast(ExtensionsMsg::SetToolFlags { name, update, reply })?
            }
            RootMsg::StopProcesses(reply) => extensions.cast(ExtensionsMsg::Shutdown(reply))?,
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
            status: super::Health::Unresponsive,
            detail: error.to_string(),
        }),
    }
}
