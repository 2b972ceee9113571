//! The self-signed certificate: `lan` mode's certificate, and what the ACME modes serve until
//! their first certificate is issued. Persisted so a browser exception survives restarts.

use time::{Duration, OffsetDateTime};

use super::store::{CertificateFiles, LoadedCertificate};

/// Long-lived: people accept it once in their browser, and it is only for their own network.
const VALIDITY: Duration = Duration::days(5 * 365);
/// Replaced this long before it expires.
const RENEW_BEFORE: Duration = Duration::days(30);

/// The stored certificate when it still names `names` and is not about to expire;
/// otherwise a new one, saved.
pub fn load_or_create(files: &CertificateFiles, names: &[String]) -> Result<LoadedCertificate, String> {
    match files.load() {
        Ok(Some(existing))
            if names.iter().all(|name| existing.facts.covers(name))
                && existing.facts.not_after - OffsetDateTime::now_utc() > RENEW_BEFORE =>
        {
            return Ok(existing);
        }
        Ok(_) => {}
        Err(reason) => tracing::warn!(%reason, "replacing the unusable self-signed certificate"),
    }
    let (chain, key) = generate(names)?;
    files.save(&chain, &key).map_err(|error| format!("saving the self-signed certificate: {error}"))?;
    tracing::info!(names = ?names, file = %files.chain_file().display(), "created a self-signed certificate");
    LoadedCertificate::from_pem(chain.as_bytes(), key.as_bytes())
}

/// A fresh ECDSA P-256 certificate for `names` (DNS names or IP addresses): (chain, key) PEM.
fn generate(names: &[String]) -> Result<(String, String), String> {
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(|error| error.to_string())?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::CommonName, names.first().cloned().unwrap_or_default());
    subject.push(rcgen::DnType::OrganizationName, "Luna self-signed");
    params.distinguished_name = subject;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + VALIDITY;
    let key = rcgen::KeyPair::generate().map_err(|error| error.to_string())?;
    let cert = params.self_signed(&key).map_err(|error| error.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_reused_while_it_names_the_same_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let files = CertificateFiles::new(dir.path().join("self-signed"));
        let names = vec!["luna.example.com".to_string(), "127.0.0.1".to_string()];
        let first = load_or_create(&files, &names).unwrap();
        assert_eq!(first.facts.names, names);
        assert!(first.facts.issuer.contains("Luna self-signed"));
        let again = load_or_create(&files, &names).unwrap();
        assert_eq!(again.facts.serial, first.facts.serial);

        let other = load_or_create(&files, &["other.example.com".to_string()]).unwrap();
        assert_ne!(other.facts.serial, first.facts.serial);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(files.key_file()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
