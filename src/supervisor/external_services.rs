//! `ExternalServicesSupervisor`: the supervisor of Docker-backed services. One `DockerService` actor per
//! installed service checks its health every `external_services.health_interval_secs`; the
//! supervisor follows the installed set (install, uninstall) and publishes the
//! `/ext_service/<name>/` routes to `Core`. Operations themselves run in
//! [`crate::external::ExternalServices`], the handle the API calls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::core::CoreMsg;
use super::{ComponentStatus, Health};
use crate::external::ExternalServices;
use crate::external::definition::UiMode;
use crate::external::spec::ui_prefix;
use crate::gateway::routes::{Route, Upstream};

pub struct ExternalServicesSupervisor;

pub enum ExternalServicesMsg {
    Components(RpcReplyPort<Vec<ComponentStatus>>),
    /// The installed set changed: start and stop `DockerService` actors, republish routes.
    Sync,
}

pub struct ExternalServicesArgs {
    pub handle: Arc<ExternalServices>,
    pub core: ActorRef<CoreMsg>,
}

pub struct ExternalServicesState {
    args: ExternalServicesArgs,
    children: BTreeMap<String, ActorRef<DockerServiceMsg>>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Actor for ExternalServicesSupervisor {
    type Msg = ExternalServicesMsg;
    type State = ExternalServicesState;
    type Arguments = ExternalServicesArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ExternalServicesMsg>,
        args: ExternalServicesArgs,
    ) -> Result<ExternalServicesState, ActorProcessingErr> {
        // Reconcile with Docker in the background (the engine may be slow or absent), then
        // follow the installed set.
        let handle = args.handle.clone();
        let actor = myself.clone();
        let watcher = tokio::spawn(async move {
            let mut changes = handle.changes();
            handle.reconcile().await;
            let _ = actor.cast(ExternalServicesMsg::Sync);
            while changes.changed().await.is_ok() {
                if actor.cast(ExternalServicesMsg::Sync).is_err() {
                    break;
                }
            }
        });
        publish_routes(&args);
        Ok(ExternalServicesState { args, children: BTreeMap::new(), watcher })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ExternalServicesMsg>,
        state: &mut ExternalServicesState,
    ) -> Result<(), ActorProcessingErr> {
        state.watcher.abort();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<ExternalServicesMsg>,
        message: ExternalServicesMsg,
        state: &mut ExternalServicesState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ExternalServicesMsg::Components(reply) => {
                let handle = state.args.handle.clone();
                tokio::spawn(async move {
                    let summary = handle.summary().await;
                    let _ = reply.send(vec![ComponentStatus {
                        name: "external_services".into(),
                        status: if summary.docker_connected {
                            Health::unless_troubled(summary.needs_attention)
                        } else {
                            Health::Unavailable
                        },
                        detail: summary.detail,
                    }]);
                });
            }
            ExternalServicesMsg::Sync => {
                let installed = state.args.handle.installed_names();
                let gone: Vec<String> =
                    state.children.keys().filter(|name| !installed.contains(name)).cloned().collect();
                for name in gone {
                    if let Some(child) = state.children.remove(&name) {
                        child.stop(Some("uninstalled".into()));
                    }
                }
                for name in installed {
                    if state.children.contains_key(&name) {
                        continue;
                    }
                    let args = DockerServiceArgs {
                        name: name.clone(),
                        handle: state.args.handle.clone(),
                        interval: state.args.handle.settings().health_interval,
                    };
                    let actor_name = format!("luna.external.{name}");
                    let (child, _) =
                        Actor::spawn_linked(Some(actor_name), DockerService, args, myself.get_cell()).await?;
                    state.children.insert(name, child);
                }
                publish_routes(&state.args);
            }
        }
        Ok(())
    }
}

/// `/ext_service/<name>` → the service's UI port on loopback, also on its own origin. `port`
/// mode strips the prefix (the app thinks it lives at `/`); `subpath` apps were told their
/// base path and get it whole.
fn publish_routes(args: &ExternalServicesArgs) {
    let routes = args
        .handle
        .ui_routes()
        .into_iter()
        .map(|(name, port, mode)| {
            let upstream = Upstream::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
            let route = Route::new(&ui_prefix(&name), &format!("ext_service:{name}"), upstream).with_trailing_slash();
            // On its own origin a `port` app lives at the root; a `subpath` app, told its base
            // path, under that path there.
            if mode == UiMode::Port { route.stripping_prefix().app_ui(&name) } else { route.app_path(&name) }
        })
        .collect();
    let _ = args.core.cast(CoreMsg::ExternalServiceRoutes(routes));
}

/// One installed service: a health check every interval, run in a task so the actor never
/// waits on Docker.
pub struct DockerService;

pub enum DockerServiceMsg {
    Check,
    Checked,
}

pub struct DockerServiceArgs {
    name: String,
    handle: Arc<ExternalServices>,
    interval: Duration,
}

pub struct DockerServiceState {
    args: DockerServiceArgs,
    checking: bool,
}

impl Actor for DockerService {
    type Msg = DockerServiceMsg;
    type State = DockerServiceState;
    type Arguments = DockerServiceArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<DockerServiceMsg>,
        args: DockerServiceArgs,
    ) -> Result<DockerServiceState, ActorProcessingErr> {
        myself.send_interval(args.interval, || DockerServiceMsg::Check);
        Ok(DockerServiceState { args, checking: false })
    }

    async fn handle(
        &self,
        myself: ActorRef<DockerServiceMsg>,
        message: DockerServiceMsg,
        state: &mut DockerServiceState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            DockerServiceMsg::Check if !state.checking => {
                state.checking = true;
                let handle = state.args.handle.clone();
                let name = state.args.name.clone();
                tokio::spawn(async move {
                    handle.check(&name).await;
                    let _ = myself.cast(DockerServiceMsg::Checked);
                });
            }
            DockerServiceMsg::Check => {}
            DockerServiceMsg::Checked => state.checking = false,
        }
        Ok(())
    }
}
