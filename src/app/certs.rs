//! The HTTPS certificate: which one is served, renewal on demand, its status line.

use serde::{Deserialize, Serialize};

use super::{AppError, Luna};
use crate::supervisor::{ComponentStatus, Health};
use crate::tls::{CertificateReport, RenewError, Source, utc_minute};

/// The document `luna certs` prints; `https` is `None` in local mode.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertsDocument {
    pub mode: String,
    pub https: Option<CertificateReport>,
}

impl Luna {
    pub(super) fn certificate_report(&self) -> Option<CertificateReport> {
        self.certificates.as_ref().map(|certificates| certificates.report())
    }

    pub fn certificates(&self) -> CertsDocument {
        CertsDocument { mode: self.deployment_mode.as_str().to_string(), https: self.certificate_report() }
    }

    /// Issues a new certificate now and answers once it is served (or why not).
    pub async fn renew_certificate(&self) -> Result<CertsDocument, AppError> {
        let Some(certificates) = &self.certificates else {
            return Err(AppError::Conflict("local mode serves plain HTTP; there is no certificate".into()));
        };
        match certificates.renew_now().await {
            Ok(()) => Ok(self.certificates()),
            Err(error @ RenewError::NotAcme) => Err(AppError::Conflict(error.to_string())),
            Err(error @ RenewError::NotRunning) => Err(AppError::Unavailable(error.to_string())),
            Err(RenewError::Failed(reason)) => Err(AppError::Upstream(format!("the renewal failed: {reason}"))),
        }
    }
}

/// The `https` line of `luna status`.
pub(super) fn component(report: &CertificateReport) -> ComponentStatus {
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
    ComponentStatus { name: "https".into(), status: Health::unless_troubled(degraded), detail }
}
