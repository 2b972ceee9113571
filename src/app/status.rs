//! What `luna status`, the Hub's status table and the status API show.

use serde::{Deserialize, Serialize};

use super::{AppError, Luna};
use crate::supervisor::ComponentStatus;

/// The `luna status` document.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusReport {
    pub version: String,
    pub pid: u32,
    pub deployment_mode: String,
    /// Where people reach this Luna (`server.public_url`).
    pub public_url: String,
    pub started_at_unix: u64,
    pub uptime_seconds: u64,
    pub components: Vec<ComponentStatus>,
    /// The HTTPS listener's certificate; `None` in local mode.
    pub https: Option<crate::tls::CertificateReport>,
}

impl Luna {
    /// Every component's status (the actor tree's, and the HTTPS certificate's).
    pub async fn status(&self) -> Result<StatusReport, AppError> {
        let mut components = self.supervisor.components().await?;
        let https = self.certificate_report();
        components.extend(https.as_ref().map(super::certs::component));
        Ok(StatusReport {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            deployment_mode: self.deployment_mode.as_str().to_string(),
            public_url: self.public_url(),
            started_at_unix: self.started_at.duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs()),
            uptime_seconds: self.started.elapsed().as_secs(),
            components,
            https,
        })
    }
}
