//! `luna certs`: the HTTPS certificate, and `luna certs renew`.

use clap::Subcommand;

use super::output::print_json;
use super::{ApiClient, ClientError, OutputArgs};
use crate::app::CertsDocument;
use crate::tls::{CertificateReport, Source, utc_minute};

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Which certificate is served, who issued it, when it expires and renews
    Show(OutputArgs),
    /// Issue a new certificate over ACME now and serve it (waits for the CA)
    Renew(OutputArgs),
}

pub async fn run(client: &ApiClient, command: &CertsCommand) -> Result<(), ClientError> {
    let (document, output): (CertsDocument, &OutputArgs) = match command {
        CertsCommand::Show(output) => (client.get("/api/supervisor/certs").await?, output),
        CertsCommand::Renew(output) => (client.post("/api/supervisor/certs/renew").await?, output),
    };
    if output.json {
        return print_json(&document);
    }
    match &document.https {
        Some(report) => print!("{}", describe(report)),
        None => println!("{} mode serves plain HTTP on loopback: no certificate", document.mode),
    }
    Ok(())
}

/// The certificate section of `luna status` and `luna certs`.
pub fn describe(report: &CertificateReport) -> String {
    let certificate = &report.certificate;
    let mut lines = vec![
        ("listener", format!("https://{} on {}", report.host, report.https_listen)),
        (
            "certificate",
            format!(
                "{} for {}",
                match report.source {
                    Source::Acme => "ACME",
                    Source::SelfSigned => "self-signed",
                },
                certificate.names.join(", ")
            ),
        ),
        ("issuer", certificate.issuer.clone()),
        ("valid", format!("{} to {}", utc_minute(certificate.not_before), utc_minute(certificate.not_after))),
        ("serial", certificate.serial.clone()),
    ];
    if let Some(acme) = &report.acme {
        lines.push(("acme", format!("{} ({})", acme.state, acme.directory_url)));
        if let Some(account) = &acme.account {
            lines.push(("account", account.clone()));
        }
        if let Some(renew_at) = acme.renew_at {
            lines.push(("renewal", utc_minute(renew_at)));
        }
        if let Some(error) = &acme.last_error {
            lines.push(("last error", format!("{error} ({} failures in a row)", acme.consecutive_failures)));
            if let Some(next) = acme.next_attempt_at {
                lines.push(("next attempt", utc_minute(next)));
            }
        }
    }
    if let Some(problem) = &report.problem {
        lines.push(("problem", problem.clone()));
    }
    let width = lines.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    lines.iter().map(|(label, value)| format!("{label:<width$}  {value}\n")).collect()
}
