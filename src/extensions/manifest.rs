//! `config.json` and `service_config.json`.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::ConfigProblem;

/// An extension's `config.json`. The whole object is kept (`raw`) because config sync
/// writes it back with only the synced keys changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub raw: Map<String, Value>,
    pub version: Option<String>,
    pub required_secrets: Vec<String>,
    /// `ui.strip_prefix` (default true): whether the UI sees `/ext/<name>/x` as `/x`.
    pub ui_strip_prefix: bool,
    /// `mcp_server.command`: a stdio MCP server that serves this extension's tools.
    pub mcp_server_command: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ManifestFields {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    required_secrets: Vec<String>,
    #[serde(default)]
    ui: Option<UiFields>,
    #[serde(default)]
    mcp_server: Option<McpServerFields>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct McpServerFields {
    command: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UiFields {
    #[serde(default = "yes")]
    strip_prefix: bool,
}

fn yes() -> bool {
    true
}

/// A service's `service_config.json` (all fields optional; a service without the file
/// has no port and is restarted on failure).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceConfig {
    #[serde(default)]
    pub requires_port: bool,
    #[serde(default)]
    pub health_check: Option<String>,
    #[serde(default = "yes")]
    pub restart_on_failure: bool,
    /// This service answers `/api/<extension>/`.
    #[serde(default)]
    pub api: bool,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self { requires_port: false, health_check: None, restart_on_failure: true, api: false }
    }
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Self, ConfigProblem> {
        let value = read_json(path)?;
        let Value::Object(raw) = value else {
            return Err(problem(path, None, "must be a JSON object"));
        };
        let fields: ManifestFields = parse_fields(path, Value::Object(raw.clone()))?;
        let mcp_server_command = fields.mcp_server.map(|server| server.command);
        if mcp_server_command.as_ref().is_some_and(|command| command.first().is_none_or(|program| program.is_empty())) {
            return Err(problem(path, Some("mcp_server.command"), "must name a program: [\"program\", \"arg\", ...]"));
        }
        Ok(Self {
            mcp_server_command,
            raw,
            version: fields.version,
            required_secrets: fields.required_secrets,
            ui_strip_prefix: fields.ui.is_none_or(|ui| ui.strip_prefix),
        })
    }
}

impl ServiceConfig {
    /// Reads `path`; a missing file means the defaults.
    pub fn read(path: &Path) -> Result<Self, ConfigProblem> {
        if !path.exists() {
            return Ok(Self::default());
        }
        let config: ServiceConfig = parse_fields(path, read_json(path)?)?;
        if let Some(check) = &config.health_check
            && !check.starts_with('/')
        {
            return Err(problem(path, Some("health_check"), "must be a path starting with /"));
        }
        if config.health_check.is_some() && !config.requires_port {
            return Err(problem(path, Some("health_check"), "needs `requires_port: true` to be probed"));
        }
        Ok(config)
    }
}

fn read_json(path: &Path) -> Result<Value, ConfigProblem> {
    let text = std::fs::read_to_string(path).map_err(|error| problem(path, None, &error.to_string()))?;
    serde_json::from_str(&text).map_err(|error| problem(path, None, &format!("invalid JSON: {error}")))
}

fn parse_fields<T: serde::de::DeserializeOwned>(path: &Path, value: Value) -> Result<T, ConfigProblem> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let field = (field != ".").then_some(field);
        problem(path, field.as_deref(), &error.into_inner().to_string())
    })
}

pub(super) fn problem(path: &Path, field: Option<&str>, message: &str) -> ConfigProblem {
    ConfigProblem { file: path.to_path_buf(), field: field.map(str::to_string), message: message.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn manifest_fields_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "config.json", r#"{"name": "x", "required_secrets": ["A_KEY"], "theme": "dark"}"#);
        let manifest = Manifest::read(&path).unwrap();
        assert_eq!(manifest.required_secrets, ["A_KEY"]);
        assert!(manifest.ui_strip_prefix);
        assert_eq!(manifest.raw["theme"], "dark");
    }

    #[test]
    fn a_wrong_field_type_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "config.json", r#"{"required_secrets": ["A", 3]}"#);
        let error = Manifest::read(&path).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("required_secrets[1]"));

        let path = write(&dir, "service_config.json", r#"{"requires_port": "yes"}"#);
        let error = ServiceConfig::read(&path).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("requires_port"));
        assert!(error.to_string().contains("service_config.json: field `requires_port`"), "{error}");
    }

    #[test]
    fn invalid_json_is_reported_with_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "config.json", "{\"name\": }");
        let error = Manifest::read(&path).unwrap_err();
        assert!(error.message.contains("line 1"), "{error}");
    }

    #[test]
    fn service_config_defaults_and_health_rules() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ServiceConfig::read(&dir.path().join("missing.json")).unwrap(), ServiceConfig::default());

        let path = write(&dir, "a.json", r#"{"requires_port": false, "health_check": "/healthz"}"#);
        assert_eq!(ServiceConfig::read(&path).unwrap_err().field.as_deref(), Some("health_check"));

        let path = write(&dir, "b.json", r#"{"requires_port": true, "health_check": "healthz"}"#);
        assert_eq!(ServiceConfig::read(&path).unwrap_err().field.as_deref(), Some("health_check"));
    }
}
