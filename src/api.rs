//! The core API: an axum router served on the Unix socket `.luna/run/api.sock`.
//!
//! The gateway proxies to it, and the CLI connects to the same socket. Handlers only
//! translate between HTTP and the application layer ([`crate::app::Luna`]), which the MCP
//! admin tools call too: one code path per behaviour. [`app`] returns the router so tests
//! can drive it with `oneshot`.

mod agent;
mod audit;
mod auth;
mod caller;
mod certs;
mod error;
mod events;
mod external;
mod hub;
mod keys;
mod metrics;
mod oauth;
pub mod openapi;
mod packages;
mod processes;
mod sse;
mod store;
mod supervisor;
mod tools;

use std::path::Path;

use axum::Router;
use axum::http::header;
use tokio::net::UnixListener;

use crate::app::Luna;
pub use error::{ApiError, ApiErrors, ErrorBody};
pub use metrics::METRICS_TOKEN;

pub fn app(state: Luna) -> Router {
    let mut hosts = state.site.hosts().to_vec();
    // The CLI and scripts on the socket name no real host.
    hosts.push("localhost".to_string());
    let mcp = crate::mcp::router(state.clone(), hosts, state.site.origins().to_vec(), state.mcp_shutdown.clone());
    let (control, document) = control_routes().split();
    let (agent, _) = agent::routes().split();
    let document = with_agent(document);
    // Serialised once: the document never changes while Luna runs.
    let document = bytes::Bytes::from(document.to_json().expect("the OpenAPI document serialises"));
    let openapi_json = move || async move { ([(header::CONTENT_TYPE, "application/json")], document) };
    let control = control.layer(axum::middleware::from_fn_with_state(state.clone(), caller::identify));
    let agent = agent
        .layer(axum::middleware::from_fn_with_state(state.clone(), agent::identify))
        .layer(axum::extract::DefaultBodyLimit::max(agent::MAX_BODY_BYTES));
    Router::new()
        .merge(control)
        .merge(agent)
        .route("/api/openapi.json", axum::routing::get(openapi_json))
        .route("/metrics", axum::routing::get(metrics::metrics))
        .merge(oauth::routes())
        .nest("/api/mcp", mcp)
        .merge(auth::routes())
        .fallback(hub::fallback)
        .with_state(state)
}

/// The control API (`/api/supervisor/*`, `/api/external-services/*`), every route with its
/// operation in the OpenAPI document.
pub fn control_routes() -> openapi::Documented {
    openapi::Documented::new()
        .nest(
            "/api/supervisor",
            supervisor::routes()
                .merge(events::routes())
                .merge(processes::routes())
                .merge(packages::routes())
                .merge(keys::routes())
                .merge(auth::session_routes())
                .merge(tools::routes())
                .merge(certs::routes())
                .merge(oauth::supervisor_routes())
                .merge(audit::routes()),
        )
        .nest("/api/external-services", external::routes())
        .nest("/api/addons", store::routes())
}

/// `document` (the control API's) with the Agent API's operations.
fn with_agent(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    document.merge(agent::routes().split().1);
    document
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

#[cfg(test)]
mod tests {
    /// The Hub's client is generated from `hub_ui/openapi.json` (`npm run api`); this keeps
    /// that file equal to the document Luna serves. `LUNA_UPDATE_OPENAPI=1` rewrites it.
    #[test]
    fn the_hub_builds_against_the_document_luna_serves() {
        let document = super::with_agent(super::control_routes().split().1);
        let current = document.to_pretty_json().unwrap() + "\n";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hub_ui/openapi.json");
        if std::env::var_os("LUNA_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &current).unwrap();
        }
        // Every reference resolves (a type the document names is described in it).
        let value: serde_json::Value = serde_json::from_str(&current).unwrap();
        let schemas = value["components"]["schemas"].as_object().unwrap();
        for reference in current.match_indices("\"#/components/schemas/").map(|(at, _)| &current[at + 22..]) {
            let name = &reference[..reference.find('"').unwrap()];
            assert!(schemas.contains_key(name), "the document refers to {name}, which it does not describe");
        }
        // Operation ids are unique (generated clients name their functions after them).
        let mut operation_ids: Vec<&str> = value["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| {
                item.as_object().unwrap().values().map(|operation| operation["operationId"].as_str().unwrap())
            })
            .collect();
        let count = operation_ids.len();
        operation_ids.sort_unstable();
        operation_ids.dedup();
        assert_eq!(operation_ids.len(), count, "two operations share an operationId");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == current,
            "hub_ui/openapi.json is not the document Luna serves: run `LUNA_UPDATE_OPENAPI=1 cargo test --lib api::tests` \
             and then `npm run api` in hub_ui/"
        );
    }
}
