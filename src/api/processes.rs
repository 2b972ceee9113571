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
use serde::Deserialize;

use super::ApiError;
use crate::app::Luna;
use crate::app::Troubleshooting;
use crate::supervisor::{Action, ExtensionSummary, ProcessRecord};

const DEFAULT_TAIL_LINES: usize = 100;

pub fn routes() -> Router<Luna> {
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

async fn list_extensions(State(state): State<Luna>) -> Result<Json<Vec<ExtensionSummary>>, ApiError> {
    Ok(Json(state.supervisor.extensions().await?))
}

async fn enable(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<ExtensionSummary>, ApiError> {
    Ok(Json(state.supervisor.set_enabled(&name, true).await?))
}

async fn disable(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<ExtensionSummary>, ApiError> {
    Ok(Json(state.supervisor.set_enabled(&name, false).await?))
}

async fn start(State(state): State<Luna>, Path(key): Path<String>) -> Result<Json<ProcessRecord>, ApiError> {
    Ok(Json(state.supervisor.control(&key, Action::Start).await?))
}

async fn stop(State(state): State<Luna>, Path(key): Path<String>) -> Result<Json<ProcessRecord>, ApiError> {
    Ok(Json(state.supervisor.control(&key, Action::Stop).await?))
}

async fn restart(State(state): State<Luna>, Path(key): Path<String>) -> Result<Json<ProcessRecord>, ApiError> {
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

async fn logs(
    State(state): State<Luna>,
    Path(key): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    let lines = query.tail.unwrap_or(DEFAULT_TAIL_LINES);
    if !query.follow {
        return Ok(Json(state.logs(&key, lines).await?).into_response());
    }
    let events = state.follow_logs(&key, lines).await?.map(|line| Ok::<_, Infallible>(Event::default().data(line)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

async fn troubleshoot(State(state): State<Luna>, Path(key): Path<String>) -> Result<Json<Troubleshooting>, ApiError> {
    Ok(Json(state.troubleshoot(&key).await?))
}
