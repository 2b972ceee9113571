//! HTTPS certificates (SPEC §4).
//!
//! [`Certificates`] is the shared handle: the certificate being served sits in an `ArcSwap`
//! that the rustls listener reads on every handshake ([`Resolver`]), so a renewal swaps it
//! in without touching open connections. `lan` mode serves a persisted self-signed
//! certificate; the ACME modes serve the stored ACME certificate when there is a valid one,
//! the self-signed one until then, and [`manager`] issues and renews in the background.
//!
//! Files (`certs/`, 0700): `self-signed/`, `acme/account.json` (0600), `acme/<host>/`; each
//! certificate directory holds `fullchain.pem` and `privkey.pem` (0600).

pub mod acme;
pub mod manager;
pub mod pem;
mod self_signed;
mod store;

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::home::LunaHome;
use crate::settings::{CertificateSource, HttpsSettings};
use acme::Challenges;
use pem::CertificateFacts;
use store::{CertificateFiles, LoadedCertificate};

pub use manager::RenewError;

/// Where the served certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    SelfSigned,
    Acme,
}

#[derive(Debug)]
struct Served {
    certificate: LoadedCertificate,
    source: Source,
}

/// What the certificate manager is doing.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AcmeState {
    /// A certificate is being ordered (the first one, or a renewal).
    #[default]
    Issuing,
    /// The served certificate came from the CA.
    Valid,
    /// The last order failed; it is retried with backoff.
    Failing,
}

impl std::fmt::Display for AcmeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Issuing => "issuing",
            Self::Valid => "valid",
            Self::Failing => "failing",
        })
    }
}

/// The ACME side of the report: what the manager is doing and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AcmeStatus {
    pub directory_url: String,
    /// The account URL at the CA, once the account is known.
    pub account: Option<String>,
    pub state: AcmeState,
    #[serde(with = "time::serde::rfc3339::option")]
    pub renew_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_issued_at: Option<OffsetDateTime>,
}

/// `GET /api/supervisor/certs`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificateReport {
    pub https_listen: String,
    pub host: String,
    pub source: Source,
    pub certificate: CertificateFacts,
    /// `None` in `lan` mode.
    pub acme: Option<AcmeStatus>,
    /// Set when the served certificate is not the one this mode wants (a browser will warn).
    pub problem: Option<String>,
}

/// The certificates of the HTTPS listener; shared by the listener, the gateway (ACME
/// challenges), the manager and the API.
#[derive(Debug)]
pub struct Certificates {
    settings: HttpsSettings,
    served: ArcSwap<Served>,
    pub challenges: Challenges,
    acme: Mutex<Option<AcmeStatus>>,
    acme_files: CertificateFiles,
    renew_requests: Mutex<Option<tokio::sync::mpsc::Sender<manager::RenewRequest>>>,
    events: crate::events::Events,
}

impl Certificates {
    /// Picks the certificate to serve from the start: a stored, unexpired ACME certificate
    /// for the host, else the self-signed one (created when missing).
    pub fn load(settings: &HttpsSettings, home: &LunaHome, events: crate::events::Events) -> Result<Arc<Self>, String> {
        let certs_dir = home.certs_dir();
        crate::state_file::create_private_dir(&certs_dir)
            .map_err(|error| format!("{}: {error}", certs_dir.display()))?;
        let self_signed_files = CertificateFiles::new(certs_dir.join("self-signed"));
        let acme_files = CertificateFiles::new(certs_dir.join("acme").join(&settings.host));
        let acme_status = match &settings.certificate {
            CertificateSource::SelfSigned => None,
            CertificateSource::Acme(acme) => Some(AcmeStatus {
                directory_url: acme.directory_url.clone(),
                state: AcmeState::Issuing,
                ..Default::default()
            }),
        };
        let stored_acme = match (&settings.certificate, acme_files.load()) {
            (CertificateSource::Acme(_), Ok(Some(stored))) if usable(&stored.facts, &settings.host) => Some(stored),
            (CertificateSource::Acme(_), Err(reason)) => {
                tracing::warn!(%reason, "ignoring the stored ACME certificate");
                None
            }
            _ => None,
        };
        let served = match stored_acme {
            Some(certificate) => Served { certificate, source: Source::Acme },
            None => {
                let names = self_signed_names(settings);
                Served {
                    certificate: self_signed::load_or_create(&self_signed_files, &names)?,
                    source: Source::SelfSigned,
                }
            }
        };
        Ok(Arc::new(Self {
            settings: settings.clone(),
            served: ArcSwap::from_pointee(served),
            challenges: Challenges::default(),
            acme: Mutex::new(acme_status),
            acme_files,
            renew_requests: Mutex::new(None),
            events,
        }))
    }

    /// The rustls hook for the listener.
    pub fn resolver(self: &Arc<Self>) -> Arc<dyn ResolvesServerCert> {
        Arc::new(Resolver(self.clone()))
    }

    pub fn settings(&self) -> &HttpsSettings {
        &self.settings
    }

    /// Facts about the served ACME certificate, `None` while the self-signed one is served.
    fn served_acme(&self) -> Option<CertificateFacts> {
        let served = self.served.load();
        (served.source == Source::Acme).then(|| served.certificate.facts.clone())
    }

    fn serve(&self, certificate: LoadedCertificate, source: Source) {
        tracing::info!(
            serial = %certificate.facts.serial,
            issuer = %certificate.facts.issuer,
            not_after = %certificate.facts.not_after,
            "serving a new certificate"
        );
        self.served.store(Arc::new(Served { certificate, source }));
        self.events.publish(crate::events::Topic::Certificates);
    }

    fn update_acme(&self, change: impl FnOnce(&mut AcmeStatus)) {
        if let Ok(mut status) = self.acme.lock()
            && let Some(status) = status.as_mut()
        {
            change(status);
        }
        self.events.publish(crate::events::Topic::Certificates);
    }

    pub fn report(&self) -> CertificateReport {
        let served = self.served.load();
        let acme = self.acme.lock().ok().and_then(|status| status.clone());
        let problem = match (&acme, served.source) {
            (Some(acme), Source::SelfSigned) => Some(match &acme.last_error {
                Some(error) => format!("serving a self-signed certificate: ACME failed: {error}"),
                None => "serving a self-signed certificate until the first ACME certificate is issued".to_string(),
            }),
            _ => None,
        };
        CertificateReport {
            https_listen: self.settings.listen.to_string(),
            host: self.settings.host.clone(),
            source: served.source,
            certificate: served.certificate.facts.clone(),
            acme,
            problem,
        }
    }
}

/// `2027-02-20 05:00 UTC`: how `luna status` and `luna certs` show times.
pub fn utc_minute(moment: OffsetDateTime) -> String {
    let moment = moment.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", moment.date(), moment.hour(), moment.minute())
}

/// Valid now, for a while yet, and for this host.
fn usable(facts: &CertificateFacts, host: &str) -> bool {
    let now = OffsetDateTime::now_utc();
    facts.covers(host) && facts.not_before <= now && facts.not_after - now > time::Duration::hours(1)
}

/// The self-signed certificate also names loopback, so the machine itself can connect, and,
/// for a domain, every app origin below it (`*.<host>`).
fn self_signed_names(settings: &HttpsSettings) -> Vec<String> {
    let mut names = vec![settings.host.clone()];
    if settings.host.parse::<std::net::IpAddr>().is_err() {
        names.push(format!("*.{}", settings.host));
    }
    for name in ["localhost", "127.0.0.1"] {
        if !names.iter().any(|existing| existing == name) {
            names.push(name.to_string());
        }
    }
    names
}

#[derive(Debug)]
struct Resolver(Arc<Certificates>);

impl ResolvesServerCert for Resolver {
    /// One site, one certificate: SNI or not (people may type the IP), the same one.
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.served.load().certificate.key.clone())
    }
}
