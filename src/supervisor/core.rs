//! `Core`: the in-process core services (gateway, core API) and the route table.
//!
//! The gateway is a pingora service and the API an axum server; both run on pingora's
//! runtimes. This actor owns what they share: it builds the route table from the core
//! routes plus whatever the extensions publish, and swaps it whole into the gateway's
//! `ArcSwap` on every change.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::{ComponentStatus, TreeArgs};
use crate::gateway::routes::{GatewayEndpoint, Route, RouteHandle, RouteTable, Upstream};
use crate::home::LunaHome;
use crate::tools::{LUNA_TOOLS, ToolRegistry};

pub struct Core;

pub struct CoreArgs {
    pub http_listen: SocketAddr,
    pub api_socket: PathBuf,
    pub routes: RouteHandle,
    pub core_routes: Vec<Route>,
    pub tools: ToolRegistry,
}

/// What `Core` keeps: its arguments and the routes others published.
pub struct CoreState {
    args: CoreArgs,
    extension_routes: Vec<Route>,
    external_service_routes: Vec<Route>,
}

impl CoreState {
    /// The whole table, swapped into the gateway at once.
    fn publish(&self) {
        let routes = self.args.core_routes.iter().chain(&self.extension_routes).chain(&self.external_service_routes);
        self.args.routes.store(Arc::new(RouteTable::new(routes.cloned())));
    }
}

impl TreeArgs {
    pub(super) fn core(&self) -> CoreArgs {
        CoreArgs {
            http_listen: self.http_listen,
            api_socket: self.home.api_socket(),
            routes: self.routes.clone(),
            core_routes: core_routes(&self.home),
            tools: self.tools.clone(),
        }
    }
}

pub enum CoreMsg {
    Components(RpcReplyPort<Vec<ComponentStatus>>),
    /// The complete set of extension routes; replaces the previous set.
    ExtensionRoutes(Vec<Route>),
    /// The complete set of external-service UI routes; replaces the previous set.
    ExternalServiceRoutes(Vec<Route>),
}

/// The routes every Luna serves, whatever is installed.
pub fn core_routes(home: &LunaHome) -> Vec<Route> {
    let api = || Upstream::CoreApi(home.api_socket());
    vec![
        Route::new("/healthz", "healthz", Upstream::Gateway(GatewayEndpoint::Healthz)).public(),
        Route::new("/auth", "auth", api()).public(),
        Route::new("/.well-known/jwks.json", "jwks", api()).public(),
        // Luna's OAuth authorization server for MCP clients: they authenticate on their own.
        Route::new("/.well-known/oauth-authorization-server", "oauth-metadata", api()).public(),
        Route::new("/.well-known/oauth-protected-resource", "oauth-metadata", api()).public(),
        Route::new("/.well-known/openid-configuration", "oauth-metadata", api()).public(),
        Route::new("/api/authorize", "oauth", api()).public(),
        Route::new("/api/token", "oauth", api()).public(),
        Route::new("/api/register", "oauth", api()).public(),
        Route::new("/api/revoke", "oauth", api()).public(),
        // `/api/mcp` checks its own bearer (it must answer MCP clients with 401, not a login page).
        Route::new("/api/mcp", "mcp", api()).public(),
        // The Agent API: OpenAI clients send its key; the Hub's pages have the session.
        Route::new("/api/agent", "agent", api()).session_or_bearer(),
        // `/metrics` checks its own bearer (a scraper has no session) or the session.
        Route::new("/metrics", "metrics", api()).public(),
        Route::new("/api/supervisor", "core-api", api()),
        Route::new("/api/external-services", "external-services-api", api()),
        Route::new("/", "hub", api()),
    ]
}

/// The `mcp` line of `luna status`: what `/api/mcp` offers right now.
fn tools_status(tools: &ToolRegistry) -> ComponentStatus {
    let catalog = tools.catalog();
    let offered = catalog.mcp_tools().count();
    let hosted: std::collections::BTreeSet<&str> = catalog
        .tools
        .values()
        .map(|tool| tool.extension.as_str())
        .filter(|extension| *extension != LUNA_TOOLS)
        .collect();
    let problems = catalog.tools.values().filter(|tool| tool.problem.is_some()).count();
    ComponentStatus {
        name: "mcp".into(),
        status: super::Health::unless_troubled(problems > 0),
        detail: format!(
            "/api/mcp offers {offered} of {} tools from {} extensions{}",
            catalog.tools.len(),
            hosted.len(),
            if problems > 0 { format!(", {problems} with problems (luna tools list)") } else { String::new() }
        ),
    }
}

impl Actor for Core {
    type Msg = CoreMsg;
    type State = CoreState;
    type Arguments = CoreArgs;

    async fn pre_start(&self, _myself: ActorRef<CoreMsg>, args: CoreArgs) -> Result<CoreState, ActorProcessingErr> {
        Ok(CoreState { args, extension_routes: Vec::new(), external_service_routes: Vec::new() })
    }

    async fn handle(
        &self,
        _myself: ActorRef<CoreMsg>,
        message: CoreMsg,
        state: &mut CoreState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CoreMsg::Components(reply) => {
                let state = &state.args;
                let n_routes = state.routes.load().routes().count();
                let _ = reply.send(vec![
                    ComponentStatus {
                        name: "gateway".into(),
                        status: super::Health::Running,
                        detail: format!("http://{} ({n_routes} routes)", state.http_listen),
                    },
                    ComponentStatus {
                        name: "core_api".into(),
                        status: super::Health::Running,
                        detail: state.api_socket.display().to_string(),
                    },
                    tools_status(&state.tools),
                ]);
            }
            CoreMsg::ExtensionRoutes(routes) => {
                state.extension_routes = routes;
                state.publish();
            }
            CoreMsg::ExternalServiceRoutes(routes) => {
                state.external_service_routes = routes;
                state.publish();
            }
        }
        Ok(())
    }
}
