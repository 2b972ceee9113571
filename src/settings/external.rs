//! `[docker]` and `[external_services]`: where the Docker engine is and how often installed
//! services are checked (SPEC §10, §14).

use std::time::Duration;

use serde::Deserialize;

use super::{Environment, Origin, SettingsError};

/// Longest allowed health-check interval.
const MAX_HEALTH_INTERVAL_SECS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalServicesSettings {
    /// `unix:///var/run/docker.sock` unless `docker.host` / `DOCKER_HOST` say otherwise.
    pub docker_host: String,
    /// Every installed service is checked this often.
    pub health_interval: Duration,
    /// Run `kind: "shell"` definitions (arbitrary shell commands as Luna's user). Off.
    pub allow_shell: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DockerSection {
    pub host: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExternalServicesSection {
    pub health_interval_secs: Option<u64>,
    pub allow_shell: Option<bool>,
}

pub(super) fn validate(
    docker: DockerSection,
    external: ExternalServicesSection,
    file: &Origin,
    env: &dyn Environment,
) -> Result<ExternalServicesSettings, SettingsError> {
    let (host, origin) =
        super::layer(("docker.host", docker.host, file), ("DOCKER_HOST", env), None, "unix:///var/run/docker.sock");
    if !host.starts_with("unix:///") {
        let reason = format!("`{host}`: only a local socket (unix:///path) is supported");
        return Err(SettingsError::new("docker.host", origin, reason));
    }
    let health_interval = match external.health_interval_secs {
        None => Duration::from_secs(30),
        Some(secs) if (1..=MAX_HEALTH_INTERVAL_SECS).contains(&secs) => Duration::from_secs(secs),
        Some(secs) => {
            let reason = format!("{secs} is out of range 1..={MAX_HEALTH_INTERVAL_SECS}");
            return Err(SettingsError::new("external_services.health_interval_secs", file.clone(), reason));
        }
    };
    Ok(ExternalServicesSettings {
        docker_host: host,
        health_interval,
        allow_shell: external.allow_shell.unwrap_or(false),
    })
}
