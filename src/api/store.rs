//! `/api/addons/*`: the Addon Store. `luna store search|show|install` and the Hub's Store page
//! call exactly these; the decisions are the application layer's ([`crate::app`]).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa_axum::routes;

use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{AddonDetail, Dependencies, Luna, Operation, StoreInstalled, StoreListing};
use crate::packages::Progress;
use crate::store::StoreQuery;

pub fn routes() -> Documented {
    Documented::new()
        .routes(Operation::View, routes!(search))
        .routes(Operation::View, routes!(whole_registry))
        .routes(Operation::View, routes!(show))
        .routes(Operation::View, routes!(dependencies))
        .routes(Operation::ManageExtensions, routes!(install))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Refresh {
    /// Fetch every registry now, even one fetched in the last five minutes.
    #[serde(default)]
    refresh: bool,
}

/// The catalog, searched, filtered and sorted; with each registry's state and the entries
/// left out (and why).
#[utoipa::path(get, path = "", operation_id = "search_store", tag = "store",
    params(StoreQuery, Refresh), responses((status = 200, body = StoreListing), ApiErrors))]
async fn search(
    State(luna): State<Luna>,
    Query(query): Query<StoreQuery>,
    Query(refresh): Query<Refresh>,
) -> Result<Json<StoreListing>, ApiError> {
    Ok(Json(luna.store_search(&query, refresh.refresh).await?))
}

/// The whole catalog, unfiltered, by name (the reference's `GET /api/addons/registry`).
#[utoipa::path(get, path = "/registry", operation_id = "store_registry", tag = "store",
    params(Refresh), responses((status = 200, body = StoreListing), ApiErrors))]
async fn whole_registry(
    State(luna): State<Luna>,
    Query(refresh): Query<Refresh>,
) -> Result<Json<StoreListing>, ApiError> {
    Ok(Json(luna.store_search(&StoreQuery::default(), refresh.refresh).await?))
}

/// What addon `id` works with: installed (`satisfied`) or not (`missing`). Never required.
#[utoipa::path(get, path = "/{id}/dependencies", operation_id = "addon_dependencies", tag = "store",
    params(("id" = String, Path, description = "the addon's id")),
    responses((status = 200, body = Dependencies), ApiErrors))]
async fn dependencies(State(luna): State<Luna>, Path(id): Path<String>) -> Result<Json<Dependencies>, ApiError> {
    Ok(Json(luna.store_dependencies(&id).await?))
}

/// One addon, with its dependencies (installed or not) and its source.
#[utoipa::path(get, path = "/{id}", operation_id = "show_addon", tag = "store",
    params(("id" = String, Path, description = "the addon's id")),
    responses((status = 200, body = AddonDetail), ApiErrors))]
async fn show(State(luna): State<Luna>, Path(id): Path<String>) -> Result<Json<AddonDetail>, ApiError> {
    Ok(Json(luna.store_addon(&id).await?))
}

/// One update of a store install, as its event stream carries it (for the document).
#[allow(dead_code)]
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
enum StoreEvent {
    Progress(Progress),
    Installed(StoreInstalled),
}

/// Installs an addon: an extension like `POST /api/supervisor/extensions/install` (its pinned
/// source, its archive's SHA-256 checked); a service's definition into the catalog of
/// external services, whose form installs it next. Dependencies are never required.
#[utoipa::path(post, path = "/{id}/install", operation_id = "install_addon", tag = "store",
    params(("id" = String, Path, description = "the addon's id")),
    responses(
        (status = 201, description = "installed (an extension), or ready for its form (a service)",
            content((StoreInstalled = "application/json"), (StoreEvent = "text/event-stream"))),
        ApiErrors))]
async fn install(State(luna): State<Luna>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    super::packages::run(&headers, StatusCode::CREATED, "installed", move |progress| async move {
        luna.store_install(&id, &progress).await
    })
    .await
}
