//! Extensions on disk: what `extensions/<name>/` declares, read and checked.
//!
//! This module knows the file formats (`config.json`, `services/<svc>/service_config.json`,
//! `tools/tool_config.json`) and turns them into typed values; it starts nothing. A file
//! that cannot be used becomes a [`ConfigProblem`] naming the file and field, attached to
//! that extension or service only, so one broken extension never stops another.

mod discovery;
mod manifest;
pub mod ports;
mod sync;

use std::fmt;
use std::path::PathBuf;

pub use discovery::{discover, read_extension};
pub use manifest::{Manifest, ServiceConfig};
pub use sync::{sync_extension, today_version};

/// Path prefixes under `/api/` that belong to Luna itself; no extension may take them.
pub const RESERVED_NAMES: &[&str] =
    &["supervisor", "external-services", "addons", "mcp", "agent", "authorize", "token", "register", "revoke"];

/// One folder under `extensions/`.
#[derive(Debug, Clone)]
pub struct Extension {
    /// The folder name: the extension's identity in routes, ports and `master_config`.
    pub name: String,
    pub dir: PathBuf,
    pub manifest: Result<Manifest, ConfigProblem>,
    /// `ui/start.sh`, if the extension has a `ui/` folder.
    pub ui: Option<PathBuf>,
    pub services: Vec<ServiceDef>,
    /// Tools listed in `tools/tool_config.json` (empty without the file).
    pub tool_names: Result<Vec<String>, ConfigProblem>,
}

/// One folder under `extensions/<name>/services/`.
#[derive(Debug, Clone)]
pub struct ServiceDef {
    pub name: String,
    pub dir: PathBuf,
    pub start_script: PathBuf,
    pub config: Result<ServiceConfig, ConfigProblem>,
}

impl ServiceDef {
    /// `<extension>.<service>`: the key in `port_assignments.services` and `state.json`.
    pub fn key(&self, extension: &str) -> String {
        format!("{extension}.{}", self.name)
    }

    pub fn requires_port(&self) -> bool {
        self.config.as_ref().is_ok_and(|config| config.requires_port)
    }
}

impl Extension {
    /// `<extension>_ui`: the UI process's key in `state.json`.
    pub fn ui_key(&self) -> String {
        format!("{}_ui", self.name)
    }

    /// `<extension>_tools`: the tool host's key in `state.json`.
    pub fn tools_key(&self) -> String {
        format!("{}_tools", self.name)
    }

    /// The service that answers `/api/<extension>/`: the one marked `"api": true`, else the
    /// only service with a port.
    pub fn api_service(&self) -> Option<&ServiceDef> {
        let marked = self.services.iter().find(|service| service.config.as_ref().is_ok_and(|config| config.api));
        marked.or_else(|| {
            let mut with_port = self.services.iter().filter(|service| service.requires_port());
            match (with_port.next(), with_port.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        })
    }
}

/// Why a file of an extension cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigProblem {
    pub file: PathBuf,
    /// The offending field (`requires_port`, `required_secrets[1]`), when one is to blame.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Names usable in a URL path segment, a file name and a JSON key alike.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(format!(
            "`{name}` is not a valid name: use up to 64 letters, digits, `_` or `-`, starting with a letter or digit"
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!("`{name}` is reserved for Luna's own API"));
    }
    Ok(())
}
