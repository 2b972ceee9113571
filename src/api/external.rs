//! `/api/external-services/*`: the Infrastructure page, `luna infra` and the admin tools all
//! call these, which call [`crate::external::ExternalServices`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::routes;

use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{Caller, Luna, Operation};
use crate::external::{Available, Details, ExternalError, InstallEvent, InstallUpdate, InstalledView, Uninstalled};

pub fn routes() -> Documented {
    Documented::new()
        .routes(Operation::View, routes!(available))
        .routes(Operation::View, routes!(installed))
        .routes(Operation::ManageExternalServices, routes!(upload))
        .routes(Operation::View, routes!(details))
        .routes(Operation::ManageExternalServices, routes!(install))
        .routes(Operation::ManageExternalServices, routes!(uninstall))
        .routes(Operation::ManageExternalServices, routes!(start))
        .routes(Operation::ManageExternalServices, routes!(stop))
        .routes(Operation::ManageExternalServices, routes!(restart))
        .routes(Operation::ManageExternalServices, routes!(enable))
        .routes(Operation::ManageExternalServices, routes!(disable))
        .routes(Operation::View, routes!(status))
        .routes(Operation::ReadLogs, routes!(logs))
}

impl From<ExternalError> for ApiError {
    fn from(error: ExternalError) -> Self {
        let detail = error.to_string();
        match error {
            ExternalError::NotFound(_) | ExternalError::NotInstalled(_) => ApiError::NotFound(detail),
            ExternalError::Invalid(problems) => ApiError::InvalidFields(problems),
            ExternalError::Conflict(_) => ApiError::Conflict(detail),
            ExternalError::DockerUnavailable(_) => ApiError::Unavailable(detail),
            ExternalError::Failed(_) => ApiError::BadGateway(detail),
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Reveal {
    /// Show secret form values and exports in clear.
    #[serde(default)]
    reveal: bool,
}

/// Every service definition Luna knows, and whether it is installed.
#[utoipa::path(get, path = "/available", operation_id = "list_available_services", tag = "external services", responses((status = 200, body = Vec<Available>)))]
async fn available(State(state): State<Luna>) -> Json<Vec<Available>> {
    Json(state.external_services.available())
}

/// The installed services (secret values masked unless `reveal`).
#[utoipa::path(get, path = "/installed", operation_id = "list_installed_services", tag = "external services", params(Reveal),
    responses((status = 200, body = BTreeMap<String, InstalledView>)))]
async fn installed(
    State(state): State<Luna>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<Reveal>,
) -> Result<Json<BTreeMap<String, InstalledView>>, ApiError> {
    caller.authorize_reveal(query.reveal)?;
    Ok(Json(state.external_services.installed(query.reveal)))
}

/// A service: its definition, install form and, when installed, its state.
#[utoipa::path(get, path = "/{name}", operation_id = "service_details", tag = "external services",
    params(("name" = String, Path, description = "the service's name"), Reveal),
    responses((status = 200, body = Details), ApiErrors))]
async fn details(
    State(state): State<Luna>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(query): Query<Reveal>,
) -> Result<Json<Details>, ApiError> {
    caller.authorize_reveal(query.reveal)?;
    Ok(Json(state.external_services.details(&name, query.reveal)?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct InstallBody {
    #[serde(default)]
    config: serde_json::Map<String, Value>,
}

/// Installs a service from its form values: pulls the image, creates and starts the
/// container, waits until healthy. JSON when the caller waits for the end; server-sent events
/// (`step`, `pull`, then `installed` or `error`) when it asks for `text/event-stream`.
#[utoipa::path(post, path = "/{name}/install", operation_id = "install_service", tag = "external services",
    params(("name" = String, Path, description = "the service's name")),
    request_body(content = Option<InstallBody>),
    responses(
        (status = 201, description = "installed and healthy",
            content((InstalledView = "application/json"), (InstallEvent = "text/event-stream"))),
        ApiErrors))]
async fn install(
    State(state): State<Luna>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Option<Json<InstallBody>>,
) -> Result<Response, ApiError> {
    let config = body.map(|Json(body)| body.config).unwrap_or_default();
    if !super::sse::wants_events(&headers) {
        let view = state.external_services.install(&name, &config, |_| {}).await?;
        return Ok((StatusCode::CREATED, Json(view)).into_response());
    }
    let updates = state.external_services.install_in_background(name, config);
    let events = super::sse::updates(updates).map(|update| Ok::<_, Infallible>(install_event(update)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// One install update as a server-sent event: `step`, `pull`, then `installed` or `error`.
fn install_event(update: InstallUpdate) -> Event {
    match update {
        InstallUpdate::Progress(event) => {
            let kind = match &event {
                InstallEvent::Step { .. } => "step",
                InstallEvent::Pull(_) => "pull",
            };
            Event::default().event(kind).data(serde_json::to_string(&event).unwrap_or_default())
        }
        InstallUpdate::Done(Ok(view)) => {
            Event::default().event("installed").data(serde_json::to_string(&view).unwrap_or_default())
        }
        InstallUpdate::Done(Err(error)) => {
            let detail = error.to_string();
            let problems = match &error {
                ExternalError::Invalid(problems) => problems.clone(),
                _ => Vec::new(),
            };
            let status = ApiError::from(error).into_response().status();
            let body = serde_json::json!({ "status": status.as_u16(), "detail": detail, "problems": problems });
            Event::default().event("error").data(body.to_string())
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UninstallBody {
    /// Also delete the data volumes (listed in the service's details).
    #[serde(default)]
    remove_data: bool,
}

/// Removes the container (and with `remove_data` its data volumes); says what went and stayed.
#[utoipa::path(post, path = "/{name}/uninstall", operation_id = "uninstall_service", tag = "external services",
    params(("name" = String, Path, description = "the service's name")),
    request_body(content = Option<UninstallBody>),
    responses((status = 200, body = Uninstalled), ApiErrors))]
async fn uninstall(
    State(state): State<Luna>,
    Path(name): Path<String>,
    body: Option<Json<UninstallBody>>,
) -> Result<Json<Uninstalled>, ApiError> {
    let remove_data = body.is_some_and(|Json(body)| body.remove_data);
    Ok(Json(state.external_services.uninstall(&name, remove_data).await?))
}

/// Starts the container and waits for its health verdict.
#[utoipa::path(post, path = "/{name}/start", operation_id = "start_service", tag = "external services",
    params(("name" = String, Path, description = "the service's name")),
    responses((status = 200, body = InstalledView), ApiErrors))]
async fn start(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<InstalledView>, ApiError> {
    Ok(Json(state.external_services.start(&name).await?))
}

/// Stops the container.
#[utoipa::path(post, path = "/{name}/stop", operation_id = "stop_service", tag = "external services",
    params(("name" = String, Path, description = "the service's name")),
    responses((status = 200, body = InstalledView), ApiErrors))]
async fn stop(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<InstalledView>, ApiError> {
    Ok(Json(state.external_services.stop(&name).await?))
}

/// Restarts the container and waits for its health verdict.
#[utoipa::path(post, path = "/{name}/restart", operation_id = "restart_service", tag = "external services",
    params(("name" = String, Path, description = "the service's name")),
    responses((status = 200, body = InstalledView), ApiErrors))]
async fn restart(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<InstalledView>, ApiError> {
    Ok(Json(state.external_services.restart(&name).await?))
}

/// Starts the container with Docker from now on (restart policy `unless-stopped`).
#[utoipa::path(post, path = "/{name}/enable", operation_id = "enable_service", tag = "external services",
    params(("name" = String, Path, description = "the service's name")),
    responses((status = 200, body = InstalledView), ApiErrors))]
async fn enable(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<InstalledView>, ApiError> {
    Ok(Json(state.external_services.set_enabled(&name, true).await?))
}

/// Leaves the container stopped when Docker starts (restart policy `no`).
#[utoipa::path(post, path = "/{name}/disable", operation_id = "disable_service", tag = "external services",
    params(("name" = String, Path, description = "the service's name")),
    responses((status = 200, body = InstalledView), ApiErrors))]
async fn disable(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<InstalledView>, ApiError> {
    Ok(Json(state.external_services.set_enabled(&name, false).await?))
}

/// A service's health, checked now.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct ServiceStatus {
    status: crate::external::registry::Status,
    status_detail: Option<String>,
    enabled: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    last_health_check: Option<time::OffsetDateTime>,
}

/// Checks the service's health now, then answers its status.
#[utoipa::path(get, path = "/{name}/status", operation_id = "service_status", tag = "external services",
    params(("name" = String, Path, description = "the service's name")),
    responses((status = 200, body = ServiceStatus), ApiErrors))]
async fn status(State(state): State<Luna>, Path(name): Path<String>) -> Result<Json<ServiceStatus>, ApiError> {
    state.external_services.check(&name).await;
    let view = state.external_services.details(&name, false)?.installed.ok_or(ExternalError::NotInstalled(name))?;
    Ok(Json(ServiceStatus {
        status: view.status,
        status_detail: view.status_detail,
        enabled: view.enabled,
        last_health_check: view.last_health_check,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

/// The container's last log lines; with `follow`, then every new line as an event.
#[utoipa::path(get, path = "/{name}/logs", operation_id = "service_logs", tag = "external services",
    params(("name" = String, Path, description = "the service's name"), LogsQuery),
    responses(
        (status = 200, description = "the lines (JSON), or with `follow` one event per line",
            content((ServiceLogs = "application/json"), (String = "text/event-stream"))),
        ApiErrors))]
async fn logs(
    State(state): State<Luna>,
    Path(name): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    let lines = state.external_services.logs(&name, query.lines).await?;
    if !query.follow {
        return Ok(Json(ServiceLogs { name, lines }).into_response());
    }
    let live = state.external_services.follow(&name).await?;
    let events =
        futures_util::stream::iter(lines).chain(live).map(|line| Ok::<_, Infallible>(Event::default().data(line)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// A service's last log lines.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct ServiceLogs {
    name: String,
    lines: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UploadBody {
    name: String,
    service: Value,
    form: Option<Value>,
}

/// Adds a service definition (`service.json` and its optional `config-form.json`), checked
/// as at discovery; written only if usable.
#[utoipa::path(post, path = "/upload", operation_id = "upload_service_definition", tag = "external services", request_body = UploadBody,
    responses((status = 201, body = Available), ApiErrors))]
async fn upload(
    State(state): State<Luna>,
    Json(body): Json<UploadBody>,
) -> Result<(StatusCode, Json<Available>), ApiError> {
    let available = state.external_services.upload(&body.name, &body.service, body.form.as_ref())?;
    Ok((StatusCode::CREATED, Json(available)))
}
