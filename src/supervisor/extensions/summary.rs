//! The API's view of one extension.

use serde::{Deserialize, Serialize};

use crate::env_file::EnvFile;
use crate::extensions::Extension;
use crate::master_config::MasterConfig;
use crate::supervisor::state::ServicesState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExtensionSummary {
    pub name: String,
    pub enabled: bool,
    /// Where it was installed from (`local` for a folder put there by hand).
    pub source: String,
    /// The commit installed, for a GitHub source.
    pub commit: Option<String>,
    /// Its processes are managed right now.
    pub running: bool,
    pub version: Option<String>,
    /// Why the extension cannot run (file, field, parse error), if it cannot.
    pub problem: Option<String>,
    pub tool_count: usize,
    pub tools_problem: Option<String>,
    pub ui_port: Option<u16>,
    /// Keys of its processes (`<name>_ui`, `<name>.<service>`).
    pub processes: Vec<String>,
    pub required_secrets: Vec<String>,
    /// Required secrets that `.env` does not set.
    pub missing_secrets: Vec<String>,
}

pub fn summarize(
    extension: &Extension,
    master: &MasterConfig,
    services: &ServicesState,
    secrets: &EnvFile,
    running: bool,
) -> ExtensionSummary {
    let name = &extension.name;
    let (version, required_secrets) = match &extension.manifest {
        Ok(manifest) => (manifest.version.clone(), manifest.required_secrets.clone()),
        Err(_) => (None, Vec::new()),
    };
    let missing_secrets =
        required_secrets.iter().filter(|key| secrets.get(key).is_none_or(str::is_empty)).cloned().collect();
    let mut processes: Vec<String> = extension.ui.iter().map(|_| extension.ui_key()).collect();
    processes.extend(extension.services.iter().map(|service| service.key(name)));
    processes.retain(|key| services.services.contains_key(key) || running);
    ExtensionSummary {
        name: name.clone(),
        enabled: master.extensions.get(name).is_some_and(|entry| entry.enabled),
        source: master.extensions.get(name).map_or_else(|| "local".to_string(), |entry| entry.source.clone()),
        commit: master.extensions.get(name).and_then(|entry| entry.commit.clone()),
        running,
        version,
        problem: extension.manifest.as_ref().err().map(ToString::to_string),
        tool_count: extension.tool_names.as_ref().map_or(0, Vec::len),
        tools_problem: extension.tool_names.as_ref().err().map(ToString::to_string),
        ui_port: extension.ui.as_ref().and(master.port_assignments.extensions.get(name).copied()),
        processes,
        required_secrets,
        missing_secrets,
    }
}
