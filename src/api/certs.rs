//! `/api/supervisor/certs`: which certificate the HTTPS listener serves, and renewal on demand.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState};
use crate::supervisor::ComponentStatus;
use crate::tls::{CertificateReport, RenewError, Source, utc_minute};

pub fn routes() -> Router<ApiState> {
    Router::new().route("/certs", get(certs)).route("/certs/renew", post(renew))
}

/// The document `luna certs` prints; `https` is `None` in local mode.
#[derive(Debug, Serialize, Deserialize)]
pub struct CertsDocument {
    pub mode: String,
    pub https: Option<CertificateReport>,
}

pub(crate) fn report(state: &ApiState) -> Option<CertificateReport> {
    state.certificates.as_ref().map(|certificates| certificates.report())
}

async fn certs(State(state): State<ApiState>) -> Json<CertsDocument> {
    Json(CertsDocument { mode: state.deployment_mode.as_str().to_string(), https: report(&state) })
}

/// Issues a new certificate now and answers once it is served (or why not).
async fn renew(State(state): State<ApiState>) -> Result<Json<CertsDocument>, ApiError> {
    let Some(certificates) = &state.certificates else {
        return Err(ApiError::Conflict("local mode serves plain HTTP; there is no certificate".into()));
    };
    match certificates.renew_now().await {
        Ok(()) => Ok(certs(State(state)).await),
        Err(error @ RenewError::NotAcme) => Err(ApiError::Conflict(error.to_string())),
        Err(error @ RenewError::NotRunning) => Err(ApiError::Unavailable(error.to_string())),
        Err(RenewError::Failed(reason)) => Err(ApiError::BadGateway(format!("the renewal failed: {reason}"))),
    }
}

/// The `https` line of `luna status`.
pub(crate) fn component(report: &CertificateReport) -> ComponentStatus {
    let certificate = &report.certificate;
    let mut detail = format!(
        "{}: {} certificate, expires {}",
        report.host,
        match report.source {
            Source::Acme => "ACME",
            Source::SelfSigned => "self-signed",
        },
        utc_minute(certificate.not_after)
    );
    let mut degraded = report.problem.is_some();
    if let Some(acme) = &report.acme {
        if let Some(error) = &acme.last_error {
            degraded = true;
            detail.push_str(&format!("; last attempt failed: {error}"));
            if let Some(next) = acme.next_attempt_at {
                detail.push_str(&format!("; next attempt {}", utc_minute(next)));
            }
        } else if let Some(renew_at) = acme.renew_at {
            detail.push_str(&format!(", renews {}", utc_minute(renew_at)));
        }
    }
    ComponentStatus { name: "https".into(), status: if degraded { "degraded" } else { "running" }.into(), detail }
}
