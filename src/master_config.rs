//! `.luna/master_config.json`: the owner's choices that must survive restarts — which
//! extensions are enabled, their settings, tool flags and port assignments.
//!
//! The format is the reference's. Keys Luna does not know are kept as they are, so an
//! older or newer file round-trips without loss. Writes are atomic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::state_file::write_json_atomic;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MasterConfig {
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, serde_json::Value>)]
    pub luna: Map<String, Value>,
    #[serde(default)]
    pub extensions: BTreeMap<String, ExtensionEntry>,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, BTreeMap<String, serde_json::Value>>)]
    pub tool_configs: BTreeMap<String, Map<String, Value>>,
    /// Prompts switched on or off, by name (one not named is on).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prompt_configs: BTreeMap<String, OfferConfig>,
    /// Resources and resource templates switched on or off, by URI or URI template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_configs: BTreeMap<String, OfferConfig>,
    #[serde(default)]
    pub port_assignments: PortAssignments,
    /// Keys Luna does not know, kept as they are.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: Map<String, Value>,
}

/// A prompt's or resource's switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfferConfig {
    pub enabled_in_mcp: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExtensionEntry {
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default = "local_source")]
    pub source: String,
    /// The branch, tag or commit asked for, for a GitHub source.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The exact commit installed, for a GitHub source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, serde_json::Value>)]
    pub config: Map<String, Value>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: Map<String, Value>,
}

fn enabled_by_default() -> bool {
    true
}

fn local_source() -> String {
    "local".to_string()
}

impl Default for ExtensionEntry {
    fn default() -> Self {
        Self {
            enabled: true,
            source: local_source(),
            reference: None,
            commit: None,
            config: Map::new(),
            other: Map::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PortAssignments {
    /// Extension name → UI port.
    #[serde(default)]
    pub extensions: BTreeMap<String, u16>,
    /// `<extension>.<service>` → port, or `null` for a service without one.
    #[serde(default)]
    pub services: BTreeMap<String, Option<u16>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MasterConfigError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: line {line}, column {column}: {message} (fix or move the file; luna does not overwrite it)")]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
}

impl MasterConfig {
    /// A new installation's file.
    pub fn initial() -> Self {
        let mut luna = Map::new();
        luna.insert("timezone".into(), Value::from("UTC"));
        luna.insert("default_llm".into(), Value::from("gpt-4.1"));
        Self { luna, ..Self::default() }
    }

    /// Reads `path`, or returns [`MasterConfig::initial`] if there is none yet.
    pub fn load(path: &Path) -> Result<Self, MasterConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Self::initial()),
            Err(source) => return Err(MasterConfigError::Read { path: path.to_path_buf(), source }),
        };
        serde_json::from_str(&text).map_err(|error| MasterConfigError::Parse {
            path: path.to_path_buf(),
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        })
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        write_json_atomic(path, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let text = r#"{
            "luna": {"version": "10-28-25"},
            "deployment_mode": "custom_domain",
            "extensions": {"notes": {"enabled": false, "source": "github:u/notes", "config": {"theme": "dark"}, "pinned": 1}},
            "tool_configs": {"NOTES_GET_x": {"enabled_in_mcp": true, "passthrough": false}},
            "port_assignments": {"extensions": {"notes": 5200}, "services": {"notes.worker": null}},
            "external_services": {"postgres": {"installed": true}}
        }"#;
        let config: MasterConfig = serde_json::from_str(text).unwrap();
        assert!(!config.extensions["notes"].enabled);
        assert_eq!(config.port_assignments.services["notes.worker"], None);

        let again: serde_json::Value = serde_json::to_value(&config).unwrap();
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(again, original);
    }

    #[test]
    fn a_broken_file_is_reported_with_its_position_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master_config.json");
        std::fs::write(&path, "{\n  \"extensions\": {,\n}").unwrap();

        let error = MasterConfig::load(&path).unwrap_err();

        assert!(matches!(error, MasterConfigError::Parse { line: 2, .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\n  \"extensions\": {,\n}");
    }

    #[test]
    fn a_missing_file_is_a_fresh_install() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(MasterConfig::load(&dir.path().join("none.json")).unwrap(), MasterConfig::initial());
    }
}
