//! `/api/supervisor/extensions*` and `/api/supervisor/services*`: extensions and the
//! processes they run. The CLI's `luna ext` and `luna service` call exactly these.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa_axum::routes;

use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{LogTail, Luna, Operation, Readme, Troubleshooting};
use crate::supervisor::{Action, ExtensionSummary, ProcessRecord};

const DEFAULT_TAIL_LINES: usize = 100;

pub fn routes() -> Documented {
    Documented::new()
        .routes(Operation::View, routes!(list_extensions))
        .routes(Operation::ControlProcesses, routes!(enable))
        .routes(Operation::ControlProcesses, routes!(disable))
        .routes(Operation::View, routes!(readme))
        .routes(Operation::ControlProcesses, routes!(start))
        .routes(Operation::ControlProcesses, routes!(stop))
        .routes(Operation::ControlProcesses, routes!(restart))
        .routes(Operation::ReadLogs, routes!(logs))
        .routes(Operation::ReadLogs, routes!(troubleshoot))
}

/// Every extension found on disk: enabled or not, its processes and tools.
#[utoipa::path(get, path = "/extensions", operation_id = "list_extensions", tag = "extensions",
    responses((status = 200, body = Vec<ExtensionSummary>), ApiErrors))]
async fn list_extensions(State(luna): State<Luna>) -> Result<Json<Vec<ExtensionSummary>>, ApiError> {
    Ok(Json(luna.supervisor.extensions().await?))
}

/// Enables an extension: its processes start and its routes appear (persisted).
#[utoipa::path(post, path = "/extensions/{name}/enable", operation_id = "enable_extension", tag = "extensions",
    params(("name" = String, Path, description = "the extension's folder name")),
    responses((status = 200, body = ExtensionSummary), ApiErrors))]
async fn enable(State(luna): State<Luna>, Path(name): Path<String>) -> Result<Json<ExtensionSummary>, ApiError> {
    Ok(Json(luna.supervisor.set_enabled(&name, true).await?))
}

/// Disables an extension: its processes stop and its routes go (persisted).
#[utoipa::path(post, path = "/extensions/{name}/disable", operation_id = "disable_extension", tag = "extensions",
    params(("name" = String, Path, description = "the extension's folder name")),
    responses((status = 200, body = ExtensionSummary), ApiErrors))]
async fn disable(State(luna): State<Luna>, Path(name): Path<String>) -> Result<Json<ExtensionSummary>, ApiError> {
    Ok(Json(luna.supervisor.set_enabled(&name, false).await?))
}

/// The extension's `readme.md` (Markdown; render it without raw HTML).
#[utoipa::path(get, path = "/extensions/{name}/readme", operation_id = "extension_readme", tag = "extensions",
    params(("name" = String, Path, description = "the extension's folder name")),
    responses((status = 200, body = Readme), ApiErrors))]
async fn readme(State(luna): State<Luna>, Path(name): Path<String>) -> Result<Json<Readme>, ApiError> {
    Ok(Json(luna.extension_readme(&name)?))
}

/// Starts a process (clears `failed`); answers once it was spawned.
#[utoipa::path(post, path = "/services/{key}/start", operation_id = "start_process", tag = "processes",
    params(("key" = String, Path, description = "a process key: `<ext>_ui`, `<ext>.<service>`, `<ext>_tools`")),
    responses((status = 200, body = ProcessRecord), ApiErrors))]
async fn start(State(luna): State<Luna>, Path(key): Path<String>) -> Result<Json<ProcessRecord>, ApiError> {
    Ok(Json(luna.supervisor.control(&key, Action::Start).await?))
}

/// Stops a process; answers once it exited.
#[utoipa::path(post, path = "/services/{key}/stop", operation_id = "stop_process", tag = "processes",
    params(("key" = String, Path, description = "a process key")),
    responses((status = 200, body = ProcessRecord), ApiErrors))]
async fn stop(State(luna): State<Luna>, Path(key): Path<String>) -> Result<Json<ProcessRecord>, ApiError> {
    Ok(Json(luna.supervisor.control(&key, Action::Stop).await?))
}

/// Stops a process and starts it again (clears `failed`).
#[utoipa::path(post, path = "/services/{key}/restart", operation_id = "restart_process", tag = "processes",
    params(("key" = String, Path, description = "a process key")),
    responses((status = 200, body = ProcessRecord), ApiErrors))]
async fn restart(State(luna): State<Luna>, Path(key): Path<String>) -> Result<Json<ProcessRecord>, ApiError> {
    Ok(Json(luna.supervisor.control(&key, Action::Restart).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LogsQuery {
    /// Lines of history (default 100, at most 1000).
    tail: Option<usize>,
    /// Keep the response open and stream new lines as server-sent events.
    #[serde(default)]
    follow: bool,
}

/// The last lines of a process's output; with `follow`, then every new line as an event.
#[utoipa::path(get, path = "/services/{key}/logs", operation_id = "process_logs", tag = "processes",
    params(("key" = String, Path, description = "a process key"), LogsQuery),
    responses(
        (status = 200, description = "the tail (JSON), or with `follow` one event per line",
            content((LogTail = "application/json"), (String = "text/event-stream"))),
        ApiErrors))]
async fn logs(
    State(luna): State<Luna>,
    Path(key): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    let lines = query.tail.unwrap_or(DEFAULT_TAIL_LINES);
    if !query.follow {
        return Ok(Json(luna.logs(&key, lines).await?).into_response());
    }
    let events = luna.follow_logs(&key, lines).await?.map(|line| Ok::<_, Infallible>(Event::default().data(line)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// One composite answer to "why is this not working?": status, last exit, last health
/// error, who holds its port, the log's tail.
#[utoipa::path(get, path = "/services/{key}/troubleshoot", operation_id = "troubleshoot_process", tag = "processes",
    params(("key" = String, Path, description = "a process key")),
    responses((status = 200, body = Troubleshooting), ApiErrors))]
async fn troubleshoot(State(luna): State<Luna>, Path(key): Path<String>) -> Result<Json<Troubleshooting>, ApiError> {
    Ok(Json(luna.troubleshoot(&key).await?))
}
