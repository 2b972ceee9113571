//! `/api/external-services/*`: the Infrastructure page, `luna infra` and the admin tools all
//! call these, which call [`crate::external::ExternalServices`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;

use super::ApiError;
use crate::app::Luna;
use crate::external::{Available, Details, ExternalError, InstallEvent, InstalledView, Uninstalled};

pub fn routes() -> Router<Luna> {
    Router::new()
        .route("/available", get(available))
        .route("/installed", get(installed))
        .route("/upload", post(upload))
        .route("/{name}", get(details))
        .route("/{name}/install", post(install))
        .route("/{name}/uninstall", post(uninstall))
        .route("/{name}/start", post(start))
        .route("/{name}/stop", post(stop))
        .route("/{name}/restart", post(restart))
        .route("/{name}/enable", post(enable))
        .route("/{name}/disable", post(disable))
        .route("/{name}/status", get(status))
        .route("/{name}/logs", get(logs))
}

impl From<ExternalError> for ApiError {
    fn from(error: ExternalError) -> Self {
        let detail = error.to_string();
        match error {
            ExternalError::NotFound(_) | ExternalError::NotInstalled(_) => ApiError::NotFound(detail),
            ExternalError::Invalid(_) => ApiError::BadRequest(detail),
            ExternalError::Conflict(_) => ApiError::Conflict(detail),
            ExternalError::DockerUnavailable(_) => ApiError::Unavailable(detail),
            ExternalError::Failed(_) => ApiError::BadGateway(detail),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reveal {
    /// Show secret form values and exports in clear.
    #[serde(default)]
    reveal: bool,
}

async fn available(State(state): State<Luna>) -> Json<Vec<Available>> {
    Json(state.external_services.available())
}

async fn installed(State(state): State<Luna>, Query(query): Query<Reveal>) -> Json<BTreeMap<String, InstalledView>> {
    Json(state.external_services.installed(query.reveal))
}

async fn details(
    State(state): State<Luna>,
    Path(name): Path<String>,
    Query(query): Query<Reveal>,
) -> Result<Json<Details>, ApiError> {
    Ok(Json(state.external_services.details(&name, query.reveal)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallBody {
    #[serde(default)]
    config: serde_json::Map<String, Value>,
}

/// JSON when the caller waits for the end; server-sent events (`step`, `pull`, then
/// `installed` or `error`) when it asks for `text/event-stream`.
async fn install(
    State(state): State<Luna>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Option<Json<InstallBody>>,
) -> Result<Response, ApiError> {
    let config = body.map(|Json(body)| body.config).unwrap_or_default();
    let wants_events = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if !wants_events {
        let view = state.external_services.install(&name, &config, |_| {}).await?;
        return Ok((StatusCode::CREATED, Json(view)).into_response());
    }
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let services = state.external_services.clone();
    // The install finishes even if the caller goes away.
    tokio::spawn(async move {
        let progress = sender.clone();
        let outcome = services
            .install(&name, &config, move |event| {
                let kind = match &event {
                    InstallEvent::Step { .. } => "step",
                    InstallEvent::Pull(_) => "pull",
                };
                let _ =
                    progress.send(Event::default().event(kind).data(serde_json::to_string(&event).unwrap_or_default()));
            })
            .await;
        let last = match outcome {
            Ok(view) => Event::default().event("installed").data(serde_json::to_string(&view).unwrap_or_default()),
            Err(error) => {
                let detail = error.to_string();
                let status = ApiError::from(error).into_response().status();
                let body = serde_json::json!({ "status": status.as_u16(), "detail": detail });
                Event::default().event("error").data(body.to_string())
            }
        };
        let _ = sender.send(last);
    });
    let events = tokio_stream(receiver).map(Ok::<_, Infallible>);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

fn tokio_stream<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::poll_fn(move |context| receiver.poll_recv(context))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UninstallBody {
    /// Also delete the data volumes (listed in the service's details).
    #[serde(default)]
    remove_data: bool,
}

async fn uninstall(
    State(state): State<Luna>,
    Path(name): Path<String>,
    body: Option<Json<UninstallBody>>,
) -> Result<Json<Uninstalled>, ApiError> {
    let remove_data = body.is_some_and(|Json(body)| body.remove_data);
    Ok(Json(state.external_services.uninstall(&name, remove_data).await?))
}

async fn start(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<InstalledView>, ApiError> {
    Ok(Json(state.external_services.start(&name).await?))
}

async fn stop(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<InstalledView>, ApiError> {
    Ok(Json(state.external_services.stop(&name).await?))
}

async fn restart(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<InstalledView>, ApiError> {
    Ok(Json(state.external_services.restart(&name).await?))
}

async fn enable(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<InstalledView>, ApiError> {
    Ok(Json(state.external_services.set_enabled(&name, true).await?))
}

async fn disable(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<InstalledView>, ApiError> {
    Ok(Json(state.external_services.set_enabled(&name, false).await?))
}

/// A fresh check, then the recorded status.
async fn status(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    state.external_services.check(&name).await;
    let view = state.external_services.details(&name, false)?.installed.ok_or(ExternalError::NotInstalled(name))?;
    Ok(Json(serde_json::json!({
        "status": view.status,
        "status_detail": view.status_detail,
        "enabled": view.enabled,
        "last_health_check": view.last_health_check.and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok()),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsQuery {
    #[serde(default = "default_lines")]
    lines: usize,
    /// Keep the response open and stream new lines as server-sent events.
    #[serde(default)]
    follow: bool,
}

fn default_lines() -> usize {
    100
}

async fn logs(
    State(state): State<Luna>,
    Path(name): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    let lines = state.external_services.logs(&name, query.lines).await?;
    if !query.follow {
        return Ok(Json(serde_json::json!({ "name": name, "lines": lines })).into_response());
    }
    let live = state.external_services.follow(&name).await?;
    let events =
        futures_util::stream::iter(lines).chain(live).map(|line| Ok::<_, Infallible>(Event::default().data(line)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadBody {
    name: String,
    service: Value,
    form: Option<Value>,
}

async fn upload(
    State(state): State<Luna>,
    Json(body): Json<UploadBody>,
) -> Result<(StatusCode, Json<Available>), ApiError> {
    let available = state.external_services.upload(&body.name, &body.service, body.form.as_ref())?;
    Ok((StatusCode::CREATED, Json(available)))
}
