//! `/api/supervisor/certs`: which certificate the HTTPS listener serves, and renewal on demand.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::ApiError;
use crate::app::{CertsDocument, Luna};

pub fn routes() -> Router<Luna> {
    Router::new().route("/certs", get(certs)).route("/certs/renew", post(renew))
}

async fn certs(State(luna): State<Luna>) -> Json<CertsDocument> {
    Json(luna.certificates())
}

/// Issues a new certificate now and answers once it is served (or why not).
async fn renew(State(luna): State<Luna>) -> Result<Json<CertsDocument>, ApiError> {
    Ok(Json(luna.renew_certificate().await?))
}
