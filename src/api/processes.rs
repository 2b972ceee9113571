//! `/api/supervisor/extensions*` and `/api/supervisor/services*`: extensions and the
//! processes they run. The CLI's `luna ext` and `luna service` call exactly these.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, ApiState};
use crate::supervisor::{Action, ExtensionSummary, ProcessRecord};
use crate::sys::PortOwner;

/// Most lines one logs request returns.
pub const MAX_TAIL_LINES: usize = 1000;
const DEFAULT_TAIL_LINES: usize = 100;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/extensions", get(list_extensions))
        .route("/extensions/{name}/enable", post(enable))
        .route("/extensions/{name}/disable", post(disable))
        .route("/services/{key}/start", post(start))
        .route("/services/{key}/stop", post(stop))
        .route("/services/{key}/restart", post(restart))
        .route("/services/{key}/logs", get(logs))
        .route("/services/{key}/troubleshoot", get(troubleshoot))
}

async fn list_extensions(State(state): State<ApiState>) -> Result<Json<Vec<ExtensionSummary>>, ApiError> {
    Ok(Json(state.supervisor.extensions().await?))
}

async fn enable(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Json<ExtensionSummary>, ApiError> {
    Ok(Json(state.supervisor.set_enabled(&name, true).await?))
}

async fn disable(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Json<ExtensionSummary>, ApiError> {
    Ok(Json(state.supervisor.set_enabled(&name, false).await?))
}

async fn start(State(state): State<ApiState>, Path(key): Path<String>) -> Result<Json<ProcessRecord>, ApiError> {
    Ok(Json(state.supervisor.control(&key, Action::Start).await?))
}

async fn stop(State(state): State<ApiState>, Path(key): Path<String>) -> Result<Json<ProcessRecord>, ApiError> {
    Ok(Json(state.supervisor.control(&key, Action::Stop).await?))
}

pub(crate) async fn restart(
    State(state): State<ApiState>,
    Path(key): Path<String>,
) -> Result<Json<ProcessRecord>, ApiError> {
    Ok(Json(state.supervisor.control(&key, Action::Restart).await?))
}

#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    /// Lines of history (default 100, at most 1000).
    tail: Option<usize>,
    /// Keep the response open and stream new lines as server-sent events.
    #[serde(default)]
    follow: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LogTail {
    pub key: String,
    pub log_file: String,
    pub lines: Vec<String>,
}

async fn logs(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    let tail = query.tail.unwrap_or(DEFAULT_TAIL_LINES);
    if tail > MAX_TAIL_LINES {
        return Err(ApiError::BadRequest(format!("tail must be at most {MAX_TAIL_LINES}")));
    }
    let (record, sink) = state.supervisor.inspect(&key).await?;
    if !query.follow {
        return Ok(Json(LogTail { key, log_file: record.log_file, lines: sink.tail(tail) }).into_response());
    }
    // Subscribe before reading the tail so no line falls between the two.
    let follower = sink.follow();
    let history = sink.tail(tail);
    let live = futures_util::stream::unfold(follower, |mut follower| async move {
        let line = match follower.recv().await {
            Ok(line) => line,
            Err(RecvError::Lagged(skipped)) => format!("[luna: {skipped} lines skipped, the follower was too slow]"),
            Err(RecvError::Closed) => return None,
        };
        Some((line, follower))
    });
    let events =
        futures_util::stream::iter(history).chain(live).map(|line| Ok::<_, Infallible>(Event::default().data(line)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// One composite answer to "why is this not working?".
#[derive(Debug, Serialize, Deserialize)]
pub struct Troubleshooting {
    pub key: String,
    pub record: ProcessRecord,
    /// Who listens on the process's port right now (the process itself, a stranger, nobody).
    pub port_owner: Option<PortOwner>,
    pub log_tail: Vec<String>,
}

async fn troubleshoot(
    State(state): State<ApiState>,
    Path(key): Path<String>,
) -> Result<Json<Troubleshooting>, ApiError> {
    let (record, sink) = state.supervisor.inspect(&key).await?;
    let port_owner = match record.port {
        // Scanning /proc is blocking file I/O.
        Some(port) => tokio::task::spawn_blocking(move || crate::sys::port_owner(port)).await.ok().flatten(),
        None => None,
    };
    Ok(Json(Troubleshooting { key, port_owner, log_tail: sink.tail(50), record }))
}
