//! Checks of a running Luna: that it runs, the certificate it serves, its extensions; and the
//! Docker engine its external services need.

use std::time::Duration;

use time::OffsetDateTime;

use super::Check;
use crate::app::StatusReport;
use crate::settings::ExternalServicesSettings;
use crate::supervisor::{ExtensionSummary, ServicesState, Status};
use crate::tls::{AcmeState, CertificateReport, Source};

/// A certificate closer to its end than this is an emergency, whatever renews it.
const CERTIFICATE_FAIL_BEFORE: Duration = Duration::from_secs(7 * 24 * 3600);
const DOCKER_TIMEOUT: Duration = Duration::from_secs(5);

/// What the running Luna reports of itself.
pub struct Running {
    pub status: StatusReport,
    pub extensions: Vec<ExtensionSummary>,
    pub services: ServicesState,
}

pub fn luna(running: Option<&Running>, socket: &std::path::Path) -> Check {
    const ID: &str = "luna";
    match running {
        Some(Running { status, .. }) => Check::ok(
            ID,
            format!(
                "running: luna {}, pid {}, {} mode, {}",
                status.version, status.pid, status.deployment_mode, status.public_url
            ),
        ),
        None => Check::fail(
            ID,
            format!("not running (nothing answers on {})", socket.display()),
            "start it: `sudo systemctl start luna` where the installer set it up, else `luna serve`; \
             why it stopped: `journalctl -u luna -n 50`",
        ),
    }
}

/// The certificate the HTTPS listener serves; `None` in local mode.
pub fn certificate(running: &Running) -> Option<Check> {
    let report = running.status.https.as_ref()?;
    Some(judge_certificate(report, OffsetDateTime::now_utc()))
}

fn judge_certificate(report: &CertificateReport, now: OffsetDateTime) -> Check {
    const ID: &str = "certificate";
    let facts = &report.certificate;
    let left = facts.not_after - now;
    let until = format!("valid until {}", facts.not_after.date());
    let acme = report.acme.as_ref();
    let last_error =
        acme.and_then(|acme| acme.last_error.as_deref()).map(|error| format!("; last ACME error: {error}"));
    let last_error = last_error.unwrap_or_default();
    let retry = "`luna certs renew` retries now; port 80 must be reachable from the internet for the CA";
    match (report.source, acme) {
        (Source::SelfSigned, None) => {
            Check::ok(ID, format!("self-signed for {} (lan mode: each browser asks once), {until}", report.host))
        }
        (Source::SelfSigned, Some(acme)) if acme.state == AcmeState::Failing => Check::fail(
            ID,
            format!("serving a self-signed certificate: the CA has not issued one for {}{last_error}", report.host),
            retry,
        ),
        (Source::SelfSigned, Some(_)) => Check::warn(
            ID,
            format!("serving a self-signed certificate while the first one for {} is ordered{last_error}", report.host),
            "wait a minute and check again; browsers warn until then",
        ),
        (Source::Acme, _) if left <= time::Duration::ZERO => Check::fail(
            ID,
            format!("the certificate for {} expired on {}{last_error}", report.host, facts.not_after.date()),
            retry,
        ),
        (Source::Acme, _) if left < CERTIFICATE_FAIL_BEFORE => Check::fail(
            ID,
            format!("the certificate for {} expires in {}{last_error}", report.host, human(left)),
            retry,
        ),
        (Source::Acme, Some(acme)) if acme.state == AcmeState::Failing => {
            Check::warn(ID, format!("issued by {}, {until}, but its renewal fails{last_error}", facts.issuer), retry)
        }
        (Source::Acme, _) => Check::ok(ID, format!("issued by {} for {}, {until}", facts.issuer, report.host)),
    }
}

fn human(left: time::Duration) -> String {
    match left.whole_hours() {
        hours @ 0..48 => format!("{hours} h"),
        hours => format!("{} days", hours / 24),
    }
}

/// Extensions that cannot run, miss keys, or whose processes failed.
pub fn extensions(running: &Running) -> Check {
    const ID: &str = "extensions";
    let mut problems = Vec::new();
    let mut advice = Vec::new();
    for extension in running.extensions.iter().filter(|extension| extension.enabled) {
        if let Some(problem) = extension.problem.as_ref().or(extension.tools_problem.as_ref()) {
            problems.push(format!("{}: {problem}", extension.name));
            advice.push(format!("fix {}'s files, then `luna ext enable {}`", extension.name, extension.name));
        }
        if !extension.missing_secrets.is_empty() {
            problems.push(format!("{} needs {}", extension.name, extension.missing_secrets.join(", ")));
            advice.push(format!("`luna keys set {} <value>`", extension.missing_secrets[0]));
        }
    }
    let mut unhealthy = false;
    for (key, process) in &running.services.services {
        let reason = process.error.as_deref().unwrap_or("no reason recorded");
        match process.status {
            Status::Failed | Status::Misconfigured => {
                problems.push(format!(
                    "{key} {}: {reason}",
                    if process.status == Status::Failed { "failed" } else { "cannot start" }
                ));
                advice.push(format!("`luna service troubleshoot {key}`"));
            }
            Status::Unhealthy => {
                unhealthy = true;
                problems.push(format!("{key} is unhealthy"));
                advice.push(format!("`luna service troubleshoot {key}`"));
            }
            _ => {}
        }
    }
    let enabled = running.extensions.iter().filter(|extension| extension.enabled).count();
    if problems.is_empty() {
        Check::ok(ID, format!("{enabled} enabled, {} processes, none failed", running.services.services.len()))
    } else if unhealthy && problems.len() == 1 {
        Check::warn(ID, problems.join("; "), advice.join("; "))
    } else {
        Check::fail(ID, problems.join("; "), advice.join("; "))
    }
}

/// The Docker engine external services run on.
pub async fn docker(settings: &ExternalServicesSettings) -> Check {
    const ID: &str = "docker";
    let host = &settings.docker_host;
    let connected = tokio::time::timeout(DOCKER_TIMEOUT, crate::external::docker::Engine::connect(settings)).await;
    let socket = std::path::Path::new(host.trim_start_matches("unix://"));
    match connected {
        Ok(Ok(engine)) => Check::ok(ID, format!("Docker {} at {host}", engine.version)),
        _ if !socket.exists() => Check::warn(
            ID,
            format!("Docker is not installed (no {})", socket.display()),
            "external services need it: `sudo apt install docker.io && sudo usermod -aG docker luna`, then restart Luna",
        ),
        Ok(Err(reason)) if reason.contains("ermission denied") => Check::fail(
            ID,
            format!("no permission to use Docker at {host}"),
            "add Luna's user to the docker group (`sudo usermod -aG docker luna`), then `sudo systemctl restart luna`",
        ),
        Ok(Err(reason)) => Check::fail(ID, reason, "start Docker: `sudo systemctl start docker`"),
        Err(_) => Check::fail(
            ID,
            format!("Docker at {host} did not answer in {DOCKER_TIMEOUT:?}"),
            "restart Docker: `sudo systemctl restart docker`",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::CheckStatus;
    use super::*;
    use crate::tls::AcmeStatus;

    fn report(source: Source, lifetime_left: time::Duration, state: Option<AcmeState>) -> CertificateReport {
        let now = OffsetDateTime::now_utc();
        serde_json::from_value(serde_json::json!({
            "https_listen": "0.0.0.0:443",
            "host": "luna.example.com",
            "source": source,
            "certificate": {
                "names": ["luna.example.com"], "issuer": "CN=Pebble", "serial": "01", "sha256_fingerprint": "ab",
                "not_before": (now - time::Duration::days(1)).format(&time::format_description::well_known::Rfc3339).unwrap(),
                "not_after": (now + lifetime_left).format(&time::format_description::well_known::Rfc3339).unwrap(),
            },
            "acme": state.map(|state| AcmeStatus { state, last_error: Some("connection refused".into()), ..Default::default() }),
            "problem": null,
        }))
        .unwrap()
    }

    #[test]
    fn a_certificate_is_judged_by_what_it_is_and_how_long_it_has_left() {
        let now = OffsetDateTime::now_utc();
        let judge = |report: CertificateReport| judge_certificate(&report, now);
        let fine = judge(report(Source::Acme, time::Duration::days(60), Some(AcmeState::Valid)));
        assert_eq!(fine.status, CheckStatus::Ok, "{}", fine.summary);
        let ending = judge(report(Source::Acme, time::Duration::hours(30), Some(AcmeState::Valid)));
        assert_eq!(ending.status, CheckStatus::Fail);
        assert!(
            ending.summary.contains("expires in 29 h") || ending.summary.contains("expires in 30 h"),
            "{}",
            ending.summary
        );
        let renewal_failing = judge(report(Source::Acme, time::Duration::days(20), Some(AcmeState::Failing)));
        assert_eq!(renewal_failing.status, CheckStatus::Warn);
        assert!(renewal_failing.summary.contains("last ACME error: connection refused"));
        assert_eq!(
            judge(report(Source::SelfSigned, time::Duration::days(300), Some(AcmeState::Failing))).status,
            CheckStatus::Fail
        );
        assert_eq!(
            judge(report(Source::SelfSigned, time::Duration::days(300), Some(AcmeState::Issuing))).status,
            CheckStatus::Warn
        );
        assert_eq!(judge(report(Source::SelfSigned, time::Duration::days(300), None)).status, CheckStatus::Ok);
    }
}
