//! `external_services/<name>/service.json` (+ `config-form.json`): what a service is, read
//! from disk. A definition that does not parse or does not fit its form is listed as broken
//! with the reason; the others are unaffected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::form::Form;
use super::template;

/// Templates may name these besides the form's fields.
pub const BUILT_INS: &[&str] = &["luna.service", "luna.ui_base_path"];
/// Longest accepted definition file.
const MAX_FILE_BYTES: u64 = 256 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Definition {
    Docker(DockerDefinition),
    /// The reference's command-based definitions: arbitrary shell commands, run only when
    /// `external_services.allow_shell` is on.
    Shell(ShellDefinition),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerDefinition {
    pub name: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    /// `registry/repository:tag`; pulled on install.
    pub image: String,
    /// The container's argument vector (replaces the image's `CMD`); templates per element.
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub network: Network,
    /// Published ports (bridge: bound to 127.0.0.1; host: the ports the service listens on).
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    /// Named volumes Luna creates (`luna-<service>-<name>`); removed only on request.
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    pub healthcheck: Option<Healthcheck>,
    /// An HTTP GET Luna sends besides Docker's healthcheck (2xx/3xx = healthy).
    pub probe: Option<Probe>,
    #[serde(default)]
    pub resources: Resources,
    pub ui: Option<UiSpec>,
    /// Connection values shown after install (`DATABASE_URL`, ...); templates.
    #[serde(default)]
    pub exports: BTreeMap<String, String>,
    /// Pull + start + first healthy report must fit in this.
    #[serde(default = "default_install_timeout")]
    pub install_timeout_secs: u64,
}

fn default_install_timeout() -> u64 {
    600
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Docker's bridge; ports published on 127.0.0.1 only (the gateway is the way in).
    #[default]
    Bridge,
    /// The host's network: the service binds its ports itself (tell it to use 127.0.0.1).
    Host,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    /// The host port: a number or a template such as `{{port}}`.
    pub host: String,
    /// The container port (bridge networking); defaults to the host port.
    pub container: Option<u16>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSpec {
    pub name: String,
    pub target: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// Docker's form: `["CMD", "pg_isready", ...]` (no shell: `CMD-SHELL` is refused).
    pub test: Vec<String>,
    #[serde(default = "default_interval")]
    pub interval_secs: f64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    #[serde(default = "default_retries")]
    pub retries: i64,
    #[serde(default)]
    pub start_period_secs: f64,
}

fn default_interval() -> f64 {
    10.0
}
fn default_timeout() -> f64 {
    5.0
}
fn default_retries() -> i64 {
    3
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub port: String,
    #[serde(default = "default_probe_path")]
    pub path: String,
}

fn default_probe_path() -> String {
    "/".into()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub memory_mb: Option<u64>,
    pub cpus: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiSpec {
    /// The host port the web UI answers on (template).
    pub port: String,
    /// `subpath`: the app serves under `/ext_service/<name>/` itself (its base-path setting
    /// is filled from `{{luna.ui_base_path}}`); `port`: the gateway strips the prefix.
    #[serde(default)]
    pub mode: UiMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UiMode {
    Subpath,
    #[default]
    Port,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellDefinition {
    pub name: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    pub install_cmd: Option<String>,
    pub uninstall_cmd: Option<String>,
    pub start_cmd: Option<String>,
    pub stop_cmd: Option<String>,
    pub restart_cmd: Option<String>,
    pub health_check_cmd: Option<String>,
    pub health_check_expected: Option<String>,
    pub enable_startup_cmd: Option<String>,
    pub disable_startup_cmd: Option<String>,
    #[serde(default)]
    pub required_vars: Vec<String>,
    #[serde(default)]
    pub provides_vars: Vec<String>,
    pub install_timeout: Option<u64>,
}

impl Definition {
    pub fn name(&self) -> &str {
        match self {
            Definition::Docker(docker) => &docker.name,
            Definition::Shell(shell) => &shell.name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Definition::Docker(_) => "docker",
            Definition::Shell(_) => "shell",
        }
    }

    pub fn display_name(&self) -> String {
        let (display, name) = match self {
            Definition::Docker(docker) => (&docker.display_name, &docker.name),
            Definition::Shell(shell) => (&shell.display_name, &shell.name),
        };
        display.clone().unwrap_or_else(|| name.clone())
    }

    pub fn description(&self) -> &str {
        match self {
            Definition::Docker(docker) => &docker.description,
            Definition::Shell(shell) => &shell.description,
        }
    }

    pub fn category(&self) -> &str {
        match self {
            Definition::Docker(docker) => &docker.category,
            Definition::Shell(shell) => &shell.category,
        }
    }
}

/// One folder of `external_services/`: a usable definition or the reason it is not.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub dir: PathBuf,
    pub loaded: Result<(Definition, Form), String>,
}

/// Every folder with a `service.json`, sorted by name.
pub fn discover(root: &Path) -> Vec<Entry> {
    let Ok(read_dir) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut entries: Vec<Entry> = read_dir
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("service.json").is_file())
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let dir = entry.path();
            let loaded = load(&name, &dir);
            Entry { name, dir, loaded }
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

/// The folder `root/<name>`, if it holds a `service.json`.
pub fn find(root: &Path, name: &str) -> Option<Entry> {
    let dir = root.join(name);
    dir.join("service.json").is_file().then(|| Entry { name: name.to_string(), loaded: load(name, &dir), dir })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let display = path.display();
    let size = std::fs::metadata(path).map_err(|error| format!("{display}: {error}"))?.len();
    if size > MAX_FILE_BYTES {
        return Err(format!("{display}: larger than {MAX_FILE_BYTES} bytes"));
    }
    let text = std::fs::read(path).map_err(|error| format!("{display}: {error}"))?;
    let mut deserializer = serde_json::Deserializer::from_slice(&text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let inner = error.inner();
        format!("{display}: {}: {} (line {})", error.path(), inner, inner.line())
    })
}

fn load(folder: &str, dir: &Path) -> Result<(Definition, Form), String> {
    let definition: Definition = read_json(&dir.join("service.json"))?;
    let form_file = dir.join("config-form.json");
    let form: Form = if form_file.exists() { read_json(&form_file)? } else { Form::default() };
    if definition.name() != folder {
        return Err(format!("service.json names `{}` but lives in folder `{folder}`", definition.name()));
    }
    if !is_service_name(folder) {
        return Err(format!("`{folder}`: service names are lower-case letters, digits and `-`"));
    }
    let mut problems = form.problems();
    if let Definition::Docker(docker) = &definition {
        problems.extend(docker.problems(&form));
    }
    if problems.is_empty() { Ok((definition, form)) } else { Err(problems.join("; ")) }
}

pub fn is_service_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

impl DockerDefinition {
    /// Every template names a form field or a built-in; shapes Docker would refuse.
    fn problems(&self, form: &Form) -> Vec<String> {
        let known = |name: &str| BUILT_INS.contains(&name) || form.fields.iter().any(|field| field.name == name);
        let mut templates: Vec<(&str, &str)> = Vec::new();
        templates.extend(self.command.iter().map(|arg| ("command", arg.as_str())));
        templates.extend(self.env.values().map(|value| ("env", value.as_str())));
        templates.extend(self.ports.iter().map(|port| ("ports", port.host.as_str())));
        templates.extend(self.exports.values().map(|value| ("exports", value.as_str())));
        if let Some(check) = &self.healthcheck {
            templates.extend(check.test.iter().map(|arg| ("healthcheck", arg.as_str())));
        }
        if let Some(ui) = &self.ui {
            templates.push(("ui.port", ui.port.as_str()));
        }
        if let Some(probe) = &self.probe {
            templates.push(("probe.port", probe.port.as_str()));
        }
        let mut problems: Vec<String> = templates
            .iter()
            .flat_map(|(place, text)| template::names(text).into_iter().map(move |name| (place, name)))
            .filter(|(_, name)| !known(name))
            .map(|(place, name)| format!("{place}: `{{{{{name}}}}}` is not a form field"))
            .collect();
        if self.image.trim().is_empty() || self.image.contains(char::is_whitespace) {
            problems.push(format!("image: `{}` is not an image reference", self.image));
        }
        if let Some(check) = &self.healthcheck
            && check.test.first().map(String::as_str) != Some("CMD")
        {
            problems.push("healthcheck.test: must start with \"CMD\" (no shell)".into());
        }
        for volume in &self.volumes {
            if !is_service_name(&volume.name) || !volume.target.starts_with('/') {
                problems.push(format!(
                    "volumes: `{}` → `{}` needs a simple name and an absolute target",
                    volume.name, volume.target
                ));
            }
        }
        if self.env.keys().any(|key| key.is_empty() || key.contains('=')) {
            problems.push("env: names may not be empty or contain `=`".into());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_definitions_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("external_services");
        let entries = discover(&root);
        assert!(entries.len() >= 5, "{entries:?}");
        for entry in entries {
            if let Err(problem) = entry.loaded {
                panic!("{}: {problem}", entry.name);
            }
        }
    }

    #[test]
    fn a_broken_definition_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let service = dir.path().join("bad");
        std::fs::create_dir(&service).unwrap();
        std::fs::write(
            service.join("service.json"),
            r#"{"kind": "docker", "name": "bad", "image": "x", "env": {"A": "{{nope}}"}}"#,
        )
        .unwrap();
        let entries = discover(dir.path());
        let problem = entries[0].loaded.as_ref().unwrap_err();
        assert!(problem.contains("{{nope}}"), "{problem}");

        std::fs::write(service.join("service.json"), r#"{"kind": "docker", "name": "bad", "imag": "x"}"#).unwrap();
        let problem = discover(dir.path())[0].loaded.clone().unwrap_err();
        assert!(problem.contains("imag") && problem.contains("service.json"), "{problem}");
    }
}
