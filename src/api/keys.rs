//! `/api/supervisor/keys*`: the Key Manager. `luna keys` and the Hub's Keys page call these.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa_axum::routes;

use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{KeyChange, KeysReport, Luna, Operation};

pub fn routes() -> Documented {
    Documented::new()
        .routes(Operation::ManageKeys, routes!(list_keys))
        .routes(Operation::ManageKeys, routes!(set_key, delete_key))
        .routes(Operation::ManageKeys, routes!(import_keys))
}

/// The owner's keys (masked) and the keys each extension requires.
#[utoipa::path(get, path = "/keys", operation_id = "list_keys", tag = "keys",
    responses((status = 200, body = KeysReport), ApiErrors))]
async fn list_keys(State(luna): State<Luna>) -> Result<Json<KeysReport>, ApiError> {
    Ok(Json(luna.keys().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct KeyValue {
    value: String,
}

/// Sets a key; processes started from now on get it. Names the running ones that need a
/// restart to see it.
#[utoipa::path(put, path = "/keys/{key}", operation_id = "set_key", tag = "keys",
    params(("key" = String, Path, description = "the key's name, e.g. OPENAI_API_KEY")),
    request_body = KeyValue,
    responses((status = 200, body = KeyChange), ApiErrors))]
async fn set_key(
    State(luna): State<Luna>,
    Path(key): Path<String>,
    Json(body): Json<KeyValue>,
) -> Result<Json<KeyChange>, ApiError> {
    Ok(Json(luna.set_key(&key, &body.value).await?))
}

/// Deletes a key.
#[utoipa::path(delete, path = "/keys/{key}", operation_id = "delete_key", tag = "keys",
    params(("key" = String, Path, description = "the key's name")),
    responses((status = 200, body = KeyChange), ApiErrors))]
async fn delete_key(State(luna): State<Luna>, Path(key): Path<String>) -> Result<Json<KeyChange>, ApiError> {
    Ok(Json(luna.delete_key(&key).await?))
}

/// Merges a `.env` file (the body): its keys override those set; all or nothing.
#[utoipa::path(post, path = "/keys/import", operation_id = "import_keys", tag = "keys",
    request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = KeyChange), ApiErrors))]
async fn import_keys(State(luna): State<Luna>, body: String) -> Result<Json<KeyChange>, ApiError> {
    Ok(Json(luna.import_keys(&body).await?))
}
