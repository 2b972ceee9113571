//! `.luna/external_services.json`: the installed services, their form values and their last
//! known status. Written atomically, mode 0600 (it holds the services' passwords). A file
//! that does not parse is never overwritten: Luna refuses to change it and says why.
//!
//! Changes are made in memory and numbered; the file is written from a [`Snapshot`] after the
//! lock is released, so readers never wait for an fsync, and an older snapshot never
//! overwrites a newer one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::definition::UiMode;

/// How an installed external service is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ServiceHealth)]
pub enum Status {
    Running,
    Stopped,
    Unhealthy,
    Unknown,
}

/// How an installed service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A container Luna created through Docker.
    Docker,
    /// The unsafe adapter: the definition's shell commands.
    Shell,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Installed {
    pub kind: Kind,
    #[serde(with = "time::serde::rfc3339")]
    pub installed_at: OffsetDateTime,
    /// Auto-start: the container's restart policy is `unless-stopped` (else `no`).
    pub enabled: bool,
    pub container: String,
    pub image: String,
    pub spec_hash: String,
    /// Docker volumes holding the service's data.
    pub volumes: Vec<String>,
    /// The form values it was installed with (secrets included: this file is 0600).
    pub config: BTreeMap<String, Value>,
    pub status: Status,
    /// Why the status is what it is, when it is not `running`.
    pub status_detail: Option<String>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_health_check: Option<OffsetDateTime>,
    /// Host port and mode of the web UI, served at `/ext_service/<name>/`.
    pub ui: Option<(u16, UiMode)>,
    /// Ports the service holds on this machine.
    #[serde(default)]
    pub ports: Vec<u16>,
}

#[derive(Debug)]
pub struct Registry {
    path: PathBuf,
    pub services: BTreeMap<String, Installed>,
    /// Set when the file on disk could not be read: nothing is written over it.
    unreadable: Option<String>,
    /// Bumped by every snapshot.
    generation: u64,
}

/// The registry as it was at one change, ready to be written.
pub struct Snapshot {
    path: PathBuf,
    pub generation: u64,
    bytes: Vec<u8>,
}

impl Snapshot {
    pub fn write(&self) -> Result<(), String> {
        crate::state_file::write_atomic(&self.path, &self.bytes, 0o600)
            .map_err(|error| format!("writing {}: {error}", self.path.display()))
    }
}

impl Registry {
    pub fn load(path: &Path) -> Self {
        let (services, unreadable) = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(services) => (services, None),
                Err(error) => {
                    let reason = format!("{}: {error}; fix or remove it", path.display());
                    tracing::error!(%reason, "the external services registry is unreadable; changes are refused");
                    (BTreeMap::new(), Some(reason))
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => (BTreeMap::new(), None),
            Err(error) => (BTreeMap::new(), Some(format!("{}: {error}", path.display()))),
        };
        Self { path: path.to_path_buf(), services, unreadable, generation: 0 }
    }

    /// Why changes are refused, if they are.
    pub fn problem(&self) -> Option<&str> {
        self.unreadable.as_deref()
    }

    /// The current state, numbered; write it after letting go of the registry.
    pub fn snapshot(&mut self) -> Result<Snapshot, String> {
        if let Some(reason) = &self.unreadable {
            return Err(reason.clone());
        }
        let mut bytes = serde_json::to_vec_pretty(&self.services).map_err(|error| error.to_string())?;
        bytes.push(b'\n');
        self.generation += 1;
        Ok(Snapshot { path: self.path.clone(), generation: self.generation, bytes })
    }
}
