//! The core API: an axum router served on the Unix socket `.luna/run/api.sock`.
//!
//! The gateway proxies to it, and the CLI connects to the same socket, so every front-end
//! (CLI, Hub UI, MCP admin tools) goes through these handlers: one code path per behaviour.
//! [`app`] returns the router so tests can drive it with `oneshot`.

mod auth;
mod certs;
mod error;
pub(crate) mod external;
mod hub;
mod oauth;
pub(crate) mod processes;
pub(crate) mod supervisor;
mod tools;

use std::path::Path;
use std::time::{Instant, SystemTime};

use axum::Router;
use tokio::net::UnixListener;

use std::sync::Arc;

use crate::auth::Auth;
use crate::gateway::site::Site;
use crate::settings::DeploymentMode;
use crate::shutdown::DrainTrigger;
use crate::supervisor::Supervisor;
use crate::tools::ToolRegistry;

pub use certs::CertsDocument;
pub use error::ApiError;
pub use processes::{LogTail, MAX_TAIL_LINES, Troubleshooting};
pub use supervisor::StatusReport;

/// What handlers can reach. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct ApiState {
    pub supervisor: Supervisor,
    pub auth: Arc<Auth>,
    pub shutdown: DrainTrigger,
    pub deployment_mode: DeploymentMode,
    /// The HTTPS listener's certificates; `None` in local mode.
    pub certificates: Option<Arc<crate::tls::Certificates>>,
    pub started: Instant,
    pub started_at: SystemTime,
    pub tools: ToolRegistry,
    pub external_services: Arc<crate::external::ExternalServices>,
    /// The gateway's names, which MCP's Host/Origin checks use too.
    pub site: Site,
    /// Luna's OAuth authorization server for MCP clients.
    pub oauth: Arc<crate::oauth::OAuth>,
    /// Cancelled when Luna stops: ends MCP sessions and their streams.
    pub mcp_shutdown: tokio_util::sync::CancellationToken,
}

pub fn app(state: ApiState) -> Router {
    let mut hosts = state.site.hosts().to_vec();
    // The CLI and scripts on the socket name no real host.
    hosts.push("localhost".to_string());
    let mcp = crate::mcp::router(state.clone(), hosts, state.site.origins().to_vec(), state.mcp_shutdown.clone());
    Router::new()
        .nest(
            "/api/supervisor",
            supervisor::routes()
                .merge(processes::routes())
                .merge(auth::session_routes())
                .merge(tools::routes())
                .merge(certs::routes())
                .merge(oauth::supervisor_routes()),
        )
        .nest("/api/external-services", external::routes())
        .merge(oauth::routes())
        .nest("/api/mcp", mcp)
        .merge(auth::routes())
        .fallback(hub::fallback)
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then finishes open requests.
pub async fn serve(listener: UnixListener, app: Router, shutdown: impl Future<Output = ()> + Send + 'static) {
    if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::error!(%error, "core API server stopped");
    }
}

/// Binds the API socket with mode 0600, refusing to steal it from a running Luna.
pub fn bind_socket(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another luna is running with this home (its API socket {} answers)", path.display()),
            ));
        }
        // A socket left by a crashed Luna.
        std::fs::remove_file(path)?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    // The run directory is 0700, so nobody else could reach the socket before this.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}
