//! Certificate files under `certs/`: a chain (`fullchain.pem`, 0644) and its key
//! (`privkey.pem`, 0600) per directory, each written atomically. The key is written first and
//! a pair is only used when the two belong together, so a crash between the writes costs a
//! re-issue, never a broken listener.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::sign::CertifiedKey;

use super::pem::{self, CertificateFacts};
use crate::state_file::{create_private_dir, write_atomic};

/// A certificate ready to serve, with what it says about itself.
#[derive(Debug, Clone)]
pub struct LoadedCertificate {
    pub key: Arc<CertifiedKey>,
    pub facts: CertificateFacts,
}

impl LoadedCertificate {
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, String> {
        let key = pem::certified_key(chain_pem, key_pem)?;
        let facts = CertificateFacts::of(&key.cert[0])?;
        Ok(Self { key, facts })
    }
}

/// One certificate directory.
#[derive(Debug, Clone)]
pub struct CertificateFiles {
    dir: PathBuf,
}

impl CertificateFiles {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn chain_file(&self) -> PathBuf {
        self.dir.join("fullchain.pem")
    }

    pub fn key_file(&self) -> PathBuf {
        self.dir.join("privkey.pem")
    }

    /// `Ok(None)` when there is no pair yet; an error when there is one that cannot be used.
    pub fn load(&self) -> Result<Option<LoadedCertificate>, String> {
        let read = |path: &Path| match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(format!("{}: {error}", path.display())),
        };
        let (Some(chain), Some(key)) = (read(&self.chain_file())?, read(&self.key_file())?) else {
            return Ok(None);
        };
        LoadedCertificate::from_pem(&chain, &key)
            .map(Some)
            .map_err(|reason| format!("{}: {reason}", self.chain_file().display()))
    }

    pub fn save(&self, chain_pem: &str, key_pem: &str) -> io::Result<()> {
        create_private_dir(&self.dir)?;
        write_atomic(&self.key_file(), key_pem.as_bytes(), 0o600)?;
        write_atomic(&self.chain_file(), chain_pem.as_bytes(), 0o644)
    }
}
