//! `GET /api/supervisor/audit`: the audit log, newest first, with filters and paging; `after`
//! follows it (`luna audit --follow`, the Hub's Activity page).

use axum::Json;
use axum::extract::{Query, State};
use utoipa_axum::routes;

use super::openapi::Documented;
use super::{ApiError, ApiErrors};
use crate::app::{Luna, Operation};
use crate::audit::{AuditEntry, AuditQuery};

pub fn routes() -> Documented {
    Documented::new().routes(Operation::ReadAudit, routes!(list_audit))
}

/// Entries of the audit log: newest first (`before` pages back), or oldest first after `after`.
#[utoipa::path(get, path = "/audit", operation_id = "list_audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), ApiErrors))]
async fn list_audit(
    State(luna): State<Luna>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let entries = luna.audit.list(query).await.map_err(|error| ApiError::Unavailable(error.to_string()))?;
    Ok(Json(entries))
}
