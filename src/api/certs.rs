//! `/api/supervisor/certs`: which certificate the HTTPS listener serves, and renewal on demand.

use axum::Json;
use axum::extract::State;
use utoipa_axum::routes;

use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{CertsDocument, Luna, Operation};

pub fn routes() -> Documented {
    Documented::new().routes(Operation::View, routes!(certs)).routes(Operation::RenewCertificates, routes!(renew))
}

/// The served certificate, its issuer and renewal (none in local mode).
#[utoipa::path(get, path = "/certs", operation_id = "show_certificates", tag = "certificates", responses((status = 200, body = CertsDocument)))]
async fn certs(State(luna): State<Luna>) -> Json<CertsDocument> {
    Json(luna.certificates())
}

/// Issues a new certificate now and answers once it is served (or why not).
#[utoipa::path(post, path = "/certs/renew", operation_id = "renew_certificate", tag = "certificates", responses((status = 200, body = CertsDocument), ApiErrors))]
async fn renew(State(luna): State<Luna>) -> Result<Json<CertsDocument>, ApiError> {
    Ok(Json(luna.renew_certificate().await?))
}
