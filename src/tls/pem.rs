//! PEM in and out, and what a certificate says about itself (names, issuer, validity).

use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Every certificate in a PEM text, in order (a chain: leaf first).
pub fn certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).collect()
}

/// A chain and its key, checked to belong together, ready to serve.
pub fn certified_key(chain_pem: &[u8], key_pem: &[u8]) -> Result<Arc<CertifiedKey>, String> {
    let chain = certificates(chain_pem);
    if chain.is_empty() {
        return Err("no certificate in the PEM file".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| format!("private key: {error}"))?;
    CertifiedKey::from_der(chain, key, &default_provider())
        .map(Arc::new)
        .map_err(|error| format!("certificate and key do not belong together: {error}"))
}

/// The facts about a served certificate that the API and `luna status` show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CertificateFacts {
    /// DNS names and IP addresses from the subject alternative names.
    pub names: Vec<String>,
    pub issuer: String,
    /// Hex, as browsers show it.
    pub serial: String,
    pub sha256_fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

impl CertificateFacts {
    pub fn of(leaf: &CertificateDer<'_>) -> Result<Self, String> {
        use x509_parser::prelude::*;
        let (_, cert) = X509Certificate::from_der(leaf.as_ref()).map_err(|error| format!("certificate: {error}"))?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => names.push(dns.to_string()),
                    GeneralName::IPAddress(bytes) => match bytes.len() {
                        4 => names.push(
                            std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*bytes).unwrap_or_default()).to_string(),
                        ),
                        16 => names.push(
                            std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*bytes).unwrap_or_default()).to_string(),
                        ),
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        Ok(Self {
            names,
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string().replace(':', ""),
            sha256_fingerprint: crate::hex::lower(&Sha256::digest(leaf.as_ref())),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
        })
    }

    /// True if it names `host` exactly (a wildcard name covers only itself here).
    pub fn covers(&self, host: &str) -> bool {
        self.names.iter().any(|name| name.eq_ignore_ascii_case(host))
    }
}
