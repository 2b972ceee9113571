//! The certificate manager of the ACME modes: one task that issues the first certificate,
//! renews it when a third of its lifetime is left (or when the CA's renewal information says
//! so), retries failures with jittered exponential backoff, and runs a renewal on request.
//! The certificate names the site and every app origin (`<app>.<host>`, one order for all):
//! when an app appears that the served certificate does not name, a new one is ordered after
//! the set has settled. If the CA refuses the apps' names (a `custom_domain` without its
//! wildcard DNS record, say), the site's own name is ordered alone so the Hub is not left on
//! the self-signed certificate, and the apps' names are retried with the failure backoff.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::acme::AcmeClient;
use super::pem::CertificateFacts;
use super::store::LoadedCertificate;
use super::{AcmeState, Certificates, Source};
use crate::clock::jitter;
use crate::events::Topic;
use crate::gateway::routes::RouteHandle;
use crate::settings::{AcmeSettings, CertificateSource};

/// The manager wakes at least this often, so a clock change (suspend, NTP) cannot make it
/// oversleep a renewal.
const MAX_SLEEP: Duration = Duration::from_secs(3600);
/// How long the set of apps must stay unchanged before a certificate is ordered for it (an
/// install that starts several apps is one order, not several: CAs limit orders per week).
const APP_NAMES_SETTLE: Duration = Duration::from_secs(5);

/// `POST /api/supervisor/certs/renew`: renew now and say how it went.
#[derive(Debug)]
pub struct RenewRequest {
    reply: oneshot::Sender<Result<(), String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    #[error("this deployment mode serves a self-signed certificate; there is nothing to renew over ACME")]
    NotAcme,
    #[error("the certificate manager is not running")]
    NotRunning,
    #[error("{0}")]
    Failed(String),
}

impl Certificates {
    /// Runs an issuance now (even while backing off) and waits for its outcome.
    pub async fn renew_now(&self) -> Result<(), RenewError> {
        if !matches!(self.settings.certificate, CertificateSource::Acme(_)) {
            return Err(RenewError::NotAcme);
        }
        let sender = self.renew_requests.lock().ok().and_then(|slot| slot.clone()).ok_or(RenewError::NotRunning)?;
        let (reply, outcome) = oneshot::channel();
        sender.send(RenewRequest { reply }).await.map_err(|_| RenewError::NotRunning)?;
        outcome.await.map_err(|_| RenewError::NotRunning)?.map_err(RenewError::Failed)
    }
}

/// Starts the manager when the mode gets its certificate over ACME. `routes` names the apps
/// whose names the certificate covers too; `None` where apps have origins by port.
pub fn spawn(
    certificates: Arc<Certificates>,
    certs_dir: PathBuf,
    routes: Option<RouteHandle>,
    tasks: &crate::background::BackgroundTasks,
) {
    let CertificateSource::Acme(settings) = &certificates.settings.certificate else {
        return;
    };
    let (sender, requests) = mpsc::channel(4);
    if let Ok(mut slot) = certificates.renew_requests.lock() {
        *slot = Some(sender);
    }
    tasks.spawn("certificate manager", run(certificates.clone(), settings.clone(), certs_dir, routes, requests));
}

async fn run(
    certificates: Arc<Certificates>,
    settings: AcmeSettings,
    certs_dir: PathBuf,
    routes: Option<RouteHandle>,
    mut requests: mpsc::Receiver<RenewRequest>,
) {
    let mut changes = certificates.events.subscribe();
    let mut client = match AcmeClient::new(settings.clone(), certs_dir) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "ACME is not possible; serving the self-signed certificate");
            certificates.update_acme(|status| {
                status.state = AcmeState::Failing;
                status.last_error = Some(error.clone());
            });
            while let Some(request) = requests.recv().await {
                let _ = request.reply.send(Err(error.clone()));
            }
            return;
        }
    };
    let mut renew_at = certificates.served_acme().map(|facts| default_renewal(&facts));
    let mut retry_at: Option<OffsetDateTime> = None;
    let mut failures: u32 = 0;
    // When the app names last changed while the served certificate lacks some of them.
    let mut names_changed_at: Option<OffsetDateTime> = Some(OffsetDateTime::now_utc() - APP_NAMES_SETTLE);
    loop {
        let wanted = wanted_names(&certificates.settings.host, routes.as_ref());
        let missing = certificates.served_acme().is_some_and(|facts| !wanted.iter().all(|name| facts.covers(name)));
        let names_due = names_changed_at.filter(|_| missing).map(|changed| changed + APP_NAMES_SETTLE);
        // No ACME certificate served yet: now. After a failure: when the backoff says.
        let due = match (retry_at, names_due) {
            (Some(retry), _) => retry,
            (None, Some(names)) => renew_at.map_or(names, |renew| renew.min(names)),
            (None, None) => renew_at.unwrap_or_else(OffsetDateTime::now_utc),
        };
        certificates.update_acme(|status| {
            status.renew_at = renew_at;
            status.next_attempt_at = Some(due);
        });
        let wait = (due - OffsetDateTime::now_utc()).try_into().unwrap_or(Duration::ZERO);
        let request = tokio::select! {
            () = tokio::time::sleep(wait.min(MAX_SLEEP)) => {
                if OffsetDateTime::now_utc() < due {
                    continue;
                }
                None
            }
            request = requests.recv() => match request {
                Some(request) => Some(request),
                None => return,
            },
            change = changes.recv() => {
                if matches!(change, Ok(Topic::Extensions | Topic::ExternalServices) | Err(_)) {
                    names_changed_at = Some(OffsetDateTime::now_utc());
                }
                continue;
            }
        };

        certificates.update_acme(|status| status.state = AcmeState::Issuing);
        names_changed_at = None;
        let outcome = issue(&mut client, &certificates, wanted).await;
        let now = OffsetDateTime::now_utc();
        match &outcome {
            Ok((issued, apps_refused)) => {
                if let Some(error) = apps_refused {
                    failures += 1;
                    let delay = backoff(settings.retry_initial, settings.retry_max, failures);
                    retry_at = Some(now + delay);
                    names_changed_at = Some(now);
                    tracing::warn!(%error, retry_in_secs = delay.as_secs(), "the apps' names were refused; the site's certificate is served alone");
                    certificates.update_acme(|status| status.last_error = Some(error.clone()));
                } else {
                    failures = 0;
                    retry_at = None;
                }
                let suggested = client.suggested_renewal(&issued.key.cert[0]).await;
                let renewal = default_renewal(&issued.facts);
                renew_at = Some(suggested.map_or(renewal, |suggested| suggested.min(renewal)).max(now));
                certificates.update_acme(|status| {
                    status.state = AcmeState::Valid;
                    status.account = client.account_id();
                    if failures == 0 {
                        status.last_error = None;
                    }
                    status.consecutive_failures = failures;
                    status.last_issued_at = Some(now);
                });
            }
            Err(error) => {
                failures += 1;
                let delay = backoff(settings.retry_initial, settings.retry_max, failures);
                retry_at = Some(now + delay);
                tracing::warn!(%error, failures, retry_in_secs = delay.as_secs(), "ACME issuance failed");
                certificates.update_acme(|status| {
                    status.state = AcmeState::Failing;
                    status.account = client.account_id();
                    status.last_error = Some(error.clone());
                    status.consecutive_failures = failures;
                });
            }
        }
        if let Some(request) = request {
            let _ = request.reply.send(outcome.map(drop));
        }
    }
}

/// The names the certificate should cover: the site's host first, then each app's origin.
fn wanted_names(host: &str, routes: Option<&RouteHandle>) -> Vec<String> {
    let table = routes.map(|routes| routes.load());
    let app_names = table.iter().flat_map(|table| table.app_names());
    let mut apps: Vec<String> = app_names.map(|app| format!("{app}.{host}")).collect();
    apps.sort();
    std::iter::once(host.to_string()).chain(apps).collect()
}

/// One issuance for `names`: order, save, swap in. If the CA refuses the apps' names, the
/// site alone (then the refusal comes back next to the certificate).
async fn issue(
    client: &mut AcmeClient,
    certificates: &Certificates,
    names: Vec<String>,
) -> Result<(LoadedCertificate, Option<String>), String> {
    match issue_for(client, certificates, &names).await {
        Ok(loaded) => Ok((loaded, None)),
        Err(error) if names.len() > 1 => {
            tracing::warn!(%error, "ordering the site's name alone");
            let loaded = issue_for(client, certificates, &names[..1]).await?;
            Ok((loaded, Some(format!("the apps' names were refused: {error}"))))
        }
        Err(error) => Err(error),
    }
}

async fn issue_for(
    client: &mut AcmeClient,
    certificates: &Certificates,
    names: &[String],
) -> Result<LoadedCertificate, String> {
    tracing::info!(names = %names.join(", "), directory = client.directory_url(), "requesting a certificate over ACME");
    let issued = client.issue(names, &certificates.challenges).await?;
    let loaded = LoadedCertificate::from_pem(issued.chain_pem.as_bytes(), issued.key_pem.as_bytes())
        .map_err(|reason| format!("the CA sent an unusable certificate: {reason}"))?;
    certificates
        .acme_files
        .save(&issued.chain_pem, &issued.key_pem)
        .map_err(|error| format!("saving the certificate: {error}"))?;
    certificates.serve(loaded.clone(), Source::Acme);
    Ok(loaded)
}

/// When a third of the lifetime is left.
fn default_renewal(facts: &CertificateFacts) -> OffsetDateTime {
    facts.not_before + (facts.not_after - facts.not_before) * 2 / 3
}

/// `initial`, doubling per failure up to `max`, ±10 %.
fn backoff(initial: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    jitter(initial.saturating_mul(factor).min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_with_a_third_of_the_lifetime_left() {
        let not_before = OffsetDateTime::UNIX_EPOCH;
        let facts = CertificateFacts {
            names: vec![],
            issuer: String::new(),
            serial: String::new(),
            sha256_fingerprint: String::new(),
            not_before,
            not_after: not_before + time::Duration::days(90),
        };
        assert_eq!(default_renewal(&facts), not_before + time::Duration::days(60));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (initial, max) = (Duration::from_secs(60), Duration::from_secs(600));
        let near = |delay: Duration, expected: u64| delay.as_secs_f64() / expected as f64;
        assert!((0.89..=1.11).contains(&near(backoff(initial, max, 1), 60)));
        assert!((0.89..=1.11).contains(&near(backoff(initial, max, 2), 120)));
        assert!((0.89..=1.11).contains(&near(backoff(initial, max, 10), 600)));
    }
}
