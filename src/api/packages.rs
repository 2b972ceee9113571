//! `/api/supervisor/extensions/install|uploads|{name}/update|{name}`: installing, updating
//! and removing extensions. `luna ext install|update|remove` and the Hub call exactly these.
//!
//! An install or update runs to its end in its own task even if the caller goes away: it
//! must never stop half-way through a swap. JSON answers when it is done; with
//! `Accept: text/event-stream` the caller follows it (`step`, `output`, then `installed` or
//! `error`).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa_axum::routes;

use super::caller::through_gateway;
use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{Luna, Operation};
use crate::packages::{Applied, Installed, LIMITS, PackageError, Progress, QueueState, Source, UpdateQueue};

pub fn routes() -> Documented {
    Documented::new()
        .routes(Operation::ManageExtensions, routes!(install))
        .routes(Operation::ManageExtensions, routes!(upload))
        .routes(Operation::ManageExtensions, routes!(update))
        .routes(Operation::ManageExtensions, routes!(remove))
        // What is queued is for everyone to see; changing it is an admin's.
        .routes(Operation::View, routes!(get_queue))
        .routes(Operation::ManageExtensions, routes!(save_queue, delete_queue))
        .routes(Operation::ManageExtensions, routes!(apply_queue))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct InstallBody {
    /// `github:owner/repo[:path][@ref]`, `upload:<id>` (from `POST /extensions/uploads`), or
    /// `local:/folder` (only on Luna's own machine, through the API socket).
    source: String,
    /// The folder name to install under; by default the source's own name.
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    /// A new source; by default the one it was installed from (same ref, newest commit).
    #[serde(default)]
    source: Option<String>,
}

/// One update of a running install, as an event stream carries it (for the document).
#[allow(dead_code)]
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
enum PackageEvent {
    Progress(Progress),
    Installed(Box<Installed>),
    Applied(Applied),
}

/// Installs an extension: fetch, check, dependencies, start; answers once it runs.
#[utoipa::path(post, path = "/extensions/install", operation_id = "install_extension", tag = "extensions",
    request_body = InstallBody,
    responses(
        (status = 201, description = "installed and started",
            content((Installed = "application/json"), (PackageEvent = "text/event-stream"))),
        ApiErrors))]
async fn install(
    State(luna): State<Luna>,
    headers: HeaderMap,
    Json(body): Json<InstallBody>,
) -> Result<Response, ApiError> {
    if is_local(&body.source) && through_gateway(&headers) {
        return Err(ApiError::BadRequest(
            "a local folder can only be installed on Luna's machine (luna ext install ./folder)".into(),
        ));
    }
    let packages = luna.packages.clone();
    Ok(run(&headers, StatusCode::CREATED, "installed", move |progress| async move {
        packages.install(&body.source, body.name.as_deref(), &progress).await
    })
    .await)
}

/// Updates an installed extension to the newest commit of its source (or to a new source).
/// The old version keeps running until the new one is ready, and comes back if it fails.
#[utoipa::path(post, path = "/extensions/{name}/update", operation_id = "update_extension", tag = "extensions",
    params(("name" = String, Path, description = "the extension's folder name")),
    request_body(content = Option<UpdateBody>),
    responses(
        (status = 200, description = "updated and running",
            content((Installed = "application/json"), (PackageEvent = "text/event-stream"))),
        ApiErrors))]
async fn update(
    State(luna): State<Luna>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Option<Json<UpdateBody>>,
) -> Result<Response, ApiError> {
    let source = body.and_then(|Json(body)| body.source);
    if source.as_deref().is_some_and(is_local) && through_gateway(&headers) {
        return Err(ApiError::BadRequest("a local folder can only be installed on Luna's machine".into()));
    }
    let packages = luna.packages.clone();
    Ok(run(&headers, StatusCode::OK, "installed", move |progress| async move {
        packages.update(&name, source.as_deref(), &progress).await
    })
    .await)
}

#[derive(Serialize, utoipa::ToSchema)]
struct Removed {
    removed: String,
}

/// Stops an extension and deletes its folder, settings, ports and tool flags.
#[utoipa::path(delete, path = "/extensions/{name}", operation_id = "remove_extension", tag = "extensions",
    params(("name" = String, Path, description = "the extension's folder name")),
    responses((status = 200, body = Removed), ApiErrors))]
async fn remove(State(luna): State<Luna>, Path(name): Path<String>) -> Result<Json<Removed>, ApiError> {
    let packages = luna.packages.clone();
    let removing = name.clone();
    // Like an install, a removal finishes even if the caller goes away.
    let result = tokio::spawn(async move { packages.remove(&removing).await })
        .await
        .map_err(|error| ApiError::Unavailable(error.to_string()))?;
    result?;
    Ok(Json(Removed { removed: name }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Uploaded {
    /// The source to install from: `upload:<id>` (kept for an hour).
    source: String,
}

/// Keeps a zip of an extension (the body, `application/zip`) for `POST /extensions/install`.
#[utoipa::path(post, path = "/extensions/uploads", operation_id = "upload_extension", tag = "extensions",
    request_body(content = Vec<u8>, content_type = "application/zip"),
    responses((status = 201, body = Uploaded), ApiErrors))]
async fn upload(State(luna): State<Luna>, body: axum::body::Body) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let limit = LIMITS.archive_bytes as usize;
    let body = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::BadRequest(format!("the upload is larger than {} MiB (or was cut off)", limit >> 20)))?;
    let source = luna.packages.store_upload(&body)?;
    Ok((StatusCode::CREATED, Json(Uploaded { source })))
}

/// The saved update queue, and one set aside after failing three times (with its error).
#[utoipa::path(get, path = "/queue", operation_id = "get_queue", tag = "extensions",
    responses((status = 200, body = QueueState), ApiErrors))]
async fn get_queue(State(luna): State<Luna>) -> Result<Json<QueueState>, ApiError> {
    Ok(Json(luna.packages.queue()?))
}

/// Saves the Hub's draft: operations (`delete`, `install`, `update`) and the whole
/// `master_config` wanted afterwards. Every problem is named; nothing is saved then.
#[utoipa::path(put, path = "/queue", operation_id = "save_queue", tag = "extensions",
    request_body = UpdateQueue,
    responses((status = 200, body = UpdateQueue), ApiErrors))]
async fn save_queue(
    State(luna): State<Luna>,
    headers: HeaderMap,
    Json(queue): Json<UpdateQueue>,
) -> Result<Json<UpdateQueue>, ApiError> {
    let local = queue.operations.iter().filter_map(|operation| operation.source()).any(is_local);
    if local && through_gateway(&headers) {
        return Err(ApiError::BadRequest("a local folder can only be installed on Luna's machine".into()));
    }
    Ok(Json(luna.packages.save_queue(queue)?))
}

/// Deletes the saved queue.
#[utoipa::path(delete, path = "/queue", operation_id = "delete_queue", tag = "extensions",
    responses((status = 204, description = "deleted"), ApiErrors))]
async fn delete_queue(State(luna): State<Luna>) -> Result<StatusCode, ApiError> {
    luna.packages.delete_queue()?;
    Ok(StatusCode::NO_CONTENT)
}

/// Applies the saved queue inside the running Luna: only the extensions it touches stop and
/// start. JSON at the end, or events (`step`, `output`, then `applied` or `error`).
#[utoipa::path(post, path = "/queue/apply", operation_id = "apply_queue", tag = "extensions",
    responses(
        (status = 200, description = "applied; everything runs again",
            content((Applied = "application/json"), (PackageEvent = "text/event-stream"))),
        ApiErrors))]
async fn apply_queue(State(luna): State<Luna>, headers: HeaderMap) -> Response {
    let packages = luna.packages.clone();
    run(&headers, StatusCode::OK, "applied", move |progress| async move { packages.apply_queue(&progress).await }).await
}

fn is_local(source: &str) -> bool {
    matches!(Source::parse(source), Ok(Source::Local(_)))
}

enum Update<T> {
    Progress(Progress),
    Done(Box<Result<T, PackageError>>),
}

/// Runs `operation` in its own task; answers JSON at its end, or streams its progress.
/// `done` names the last event of a successful one.
pub(super) async fn run<T, F, Fut>(
    headers: &HeaderMap,
    success: StatusCode,
    done: &'static str,
    operation: F,
) -> Response
where
    T: Serialize + Send + 'static,
    F: FnOnce(Box<dyn Fn(Progress) + Send + Sync>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, PackageError>> + Send,
{
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Update<T>>();
    let progress_sender = sender.clone();
    let progress: Box<dyn Fn(Progress) + Send + Sync> = Box::new(move |update| {
        let _ = progress_sender.send(Update::Progress(update));
    });
    tokio::spawn(async move {
        let result = operation(progress).await;
        let _ = sender.send(Update::Done(Box::new(result)));
    });
    if !super::sse::wants_events(headers) {
        while let Some(update) = receiver.recv().await {
            if let Update::Done(result) = update {
                return match *result {
                    Ok(outcome) => (success, Json(outcome)).into_response(),
                    Err(error) => ApiError::from(error).into_response(),
                };
            }
        }
        return ApiError::Unavailable("the operation stopped".into()).into_response();
    }
    let events = super::sse::updates(receiver).map(move |update| {
        Ok::<_, Infallible>(match update {
            Update::Progress(progress) => {
                let kind = match &progress {
                    Progress::Step { .. } => "step",
                    Progress::Output { .. } => "output",
                };
                Event::default().event(kind).data(serde_json::to_string(&progress).unwrap_or_default())
            }
            Update::Done(result) => match *result {
                Ok(outcome) => Event::default().event(done).data(serde_json::to_string(&outcome).unwrap_or_default()),
                Err(error) => Event::default().event("error").data(ApiError::from(error).event_body().to_string()),
            },
        })
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}
