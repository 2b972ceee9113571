//! `luna doctor`: the checks of what usually goes wrong on a server, each with one line of
//! advice. The same checks run inside a running Luna (`GET /api/supervisor/doctor`, which the
//! CLI and the Hub's dashboard show) and, when Luna is not running, in the CLI itself, which
//! then says so: one code path either way.
//!
//! - [`host`]: the listeners' ports, free disk space, the home's file modes;
//! - [`network`]: the domain's DNS, the GitHub OAuth app, the clock;
//! - [`running`]: what only a running Luna knows: the served certificate, extensions, Docker.

mod host;
mod network;
mod running;

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::home::LunaHome;
use crate::settings::{
    CertificateSource, DeploymentMode, ExternalServicesSettings, GithubApp, Settings, SettingsError,
};

pub use running::Running;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    /// Works, but something needs attention.
    Warn,
    /// Broken: the advice says how to fix it.
    Fail,
}

impl CheckStatus {
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Ok => "✓",
            Self::Warn => "⚠",
            Self::Fail => "✗",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Check {
    /// Stable name: `luna`, `settings`, `port_http`, `port_https`, `dns`, `github`,
    /// `allow_list`, `certificate`, `docker`, `disk`, `clock`, `files`, `extensions`.
    pub name: String,
    pub status: CheckStatus,
    /// What was found.
    pub summary: String,
    /// How to fix it; set unless the status is `ok`.
    pub advice: Option<String>,
}

impl Check {
    fn ok(name: &str, summary: impl Into<String>) -> Self {
        Self { name: name.to_string(), status: CheckStatus::Ok, summary: summary.into(), advice: None }
    }

    fn warn(name: &str, summary: impl Into<String>, advice: impl Into<String>) -> Self {
        Self { name: name.to_string(), status: CheckStatus::Warn, summary: summary.into(), advice: Some(advice.into()) }
    }

    fn fail(name: &str, summary: impl Into<String>, advice: impl Into<String>) -> Self {
        Self { name: name.to_string(), status: CheckStatus::Fail, summary: summary.into(), advice: Some(advice.into()) }
    }
}

/// `GET /api/supervisor/doctor`; `luna doctor --json` prints its `checks`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoctorReport {
    /// No check failed.
    pub healthy: bool,
    pub checks: Vec<Check>,
}

impl DoctorReport {
    fn new(checks: Vec<Check>) -> Self {
        Self { healthy: checks.iter().all(|check| check.status != CheckStatus::Fail), checks }
    }

    /// The report as people read it: one line per check, advice indented below.
    pub fn render(&self) -> String {
        let width = self.checks.iter().map(|check| check.name.len()).max().unwrap_or(0);
        let mut text = String::new();
        for check in &self.checks {
            text.push_str(&format!("{} {:<width$}  {}\n", check.status.symbol(), check.name, check.summary));
            if let Some(advice) = &check.advice {
                text.push_str(&format!("  {:<width$}  → {advice}\n", ""));
            }
        }
        text
    }
}

/// What the checks need from the settings Luna runs (or would run) with.
pub struct Doctor {
    home: LunaHome,
    mode: DeploymentMode,
    http_listen: SocketAddr,
    https_listen: Option<SocketAddr>,
    /// The HTTPS host: a DNS name, or an address in `lan` mode.
    host: Option<String>,
    public_url: String,
    github: Option<GithubApp>,
    allow_list: crate::allow_list::AllowList,
    acme_directory: Option<String>,
    external_services: ExternalServicesSettings,
}

impl Doctor {
    pub fn new(settings: &Settings) -> Self {
        let https = settings.https.as_ref();
        Self {
            home: settings.home.clone(),
            mode: settings.deployment_mode,
            http_listen: settings.http_listen,
            https_listen: https.map(|https| https.listen),
            host: https.map(|https| https.host.clone()),
            public_url: settings.public_url.clone(),
            github: settings.auth.github.clone(),
            allow_list: settings.auth.allow_list.clone(),
            acme_directory: https.and_then(|https| match &https.certificate {
                CertificateSource::Acme(acme) => Some(acme.directory_url.clone()),
                CertificateSource::SelfSigned => None,
            }),
            external_services: settings.external_services.clone(),
        }
    }

    /// Every check. `running` is `None` when no Luna answers on this home's socket.
    pub async fn run(&self, running: Option<&Running>) -> DoctorReport {
        let (dns, github, clock, docker) = tokio::join!(
            network::dns(self),
            network::github(self),
            network::clock(self),
            running::docker(&self.external_services),
        );
        let mut checks = vec![running::luna(running, &self.home.api_socket())];
        checks.extend(host::ports(self, running));
        checks.extend(dns);
        checks.push(github);
        checks.push(allow_list(self));
        checks.extend(running.and_then(running::certificate));
        checks.push(docker);
        checks.push(host::disk(&self.home));
        checks.extend(clock);
        checks.push(host::files(&self.home));
        checks.extend(running.map(running::extensions));
        DoctorReport::new(checks)
    }

    /// What can still be checked when the settings do not load: the settings error itself,
    /// and the home's disk and files.
    pub fn without_settings(home: Option<&LunaHome>, error: &SettingsError) -> DoctorReport {
        let mut checks = vec![Check::fail(
            "settings",
            error.to_string(),
            format!("fix `{}` ({}), then start Luna again", error.key, error.origin),
        )];
        if let Some(home) = home {
            checks.push(host::disk(home));
            checks.push(host::files(home));
        }
        DoctorReport::new(checks)
    }
}

/// Settings refuse a GitHub login that admits nobody, so only its absence is worth a word.
fn allow_list(doctor: &Doctor) -> Check {
    const ID: &str = "allow_list";
    match &doctor.github {
        None => Check::warn(
            ID,
            "no GitHub login: everyone on this machine may use Luna (local mode only)",
            "to require a login, put GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET in .env and set auth.allowed_users",
        ),
        Some(_) => Check::ok(ID, format!("{} may log in", doctor.allow_list.describe())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_healthy_unless_a_check_failed_and_advice_is_indented_under_its_check() {
        let report = DoctorReport::new(vec![
            Check::ok("luna", "running"),
            Check::warn("disk", "1.5 GiB free", "free some space"),
        ]);
        assert!(report.healthy);
        assert_eq!(report.render(), "✓ luna  running\n⚠ disk  1.5 GiB free\n        → free some space\n");
        let report = DoctorReport::new(vec![Check::fail("github", "wrong secret", "copy it again")]);
        assert!(!report.healthy);
    }
}
