//! The environment of extension processes: nothing leaks in from Luna's own environment
//! but an allow-list, then the owner's keys from `.env` (never Luna's own secrets), then
//! `LUNA_*` (which `.env` cannot override). A `.venv/bin` in the extension folder goes
//! first on `PATH`.

use std::path::PathBuf;

use crate::env_file::{EnvFile, SharedSecrets};

/// Variables passed through from Luna's environment: what programs need to find their
/// tools, locale and temp directory, and nothing that could carry Luna's own secrets.
pub const INHERITED: &[&str] =
    &["PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SHELL"];

/// Keys in `.env` that are Luna's own credentials. An extension holding one could act as
/// Luna: call `/api/mcp` as the owner, or impersonate Luna's GitHub app.
pub const LUNA_SECRETS: &[&str] = &["MCP_AUTH_TOKEN", "AGENT_API_KEY", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"];

/// Keys no extension receives and the Key Manager neither shows nor changes: Luna's own
/// credentials, and `LUNA_*`, which Luna sets itself.
pub fn is_lunas_own(key: &str) -> bool {
    LUNA_SECRETS.contains(&key) || key.starts_with("LUNA_")
}

#[derive(Clone)]
pub struct ChildEnv {
    inherited: Vec<(String, String)>,
    /// Read at every process start: a key set in the Key Manager reaches the next process.
    secrets: SharedSecrets,
    home: PathBuf,
    gateway_url: String,
}

/// What differs between two processes.
#[derive(Debug, Clone)]
pub struct ProcessIdentity {
    pub extension: String,
    pub extension_dir: PathBuf,
    pub service: Option<String>,
    pub port: Option<u16>,
    /// The gateway path this process is reached under, if any (`/api/x`; `""` for a UI at the
    /// root of its origin).
    pub base_path: Option<String>,
    /// The `LUNA_PORTS` JSON document.
    pub ports_json: String,
}

/// One process's environment, built again at each start: a key set in the Key Manager
/// since the last start is there. `Debug` names the process, never a value.
#[derive(Clone)]
pub struct ProcessEnv {
    child_env: ChildEnv,
    identity: ProcessIdentity,
}

impl ProcessEnv {
    pub fn build(&self) -> Vec<(String, String)> {
        self.child_env.for_process(&self.identity)
    }
}

impl std::fmt::Debug for ProcessEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessEnv").field("extension", &self.identity.extension).finish_non_exhaustive()
    }
}

impl ChildEnv {
    pub fn new(secrets: SharedSecrets, home: PathBuf, gateway_url: String) -> Self {
        let inherited =
            INHERITED.iter().filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?))).collect();
        Self { inherited, secrets, home, gateway_url }
    }

    pub fn secrets(&self) -> std::sync::Arc<EnvFile> {
        self.secrets.current()
    }

    /// The environment `identity`'s process gets, each time it starts.
    pub fn environment(&self, identity: ProcessIdentity) -> ProcessEnv {
        ProcessEnv { child_env: self.clone(), identity }
    }

    pub fn for_process(&self, identity: &ProcessIdentity) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self.inherited.clone();
        let secrets = self.secrets.current();
        for key in secrets.keys().filter(|key| !is_lunas_own(key)) {
            if let Some(value) = secrets.get(key) {
                set(&mut env, key, value);
            }
        }
        let venv = identity.extension_dir.join(".venv").join("bin");
        if venv.is_dir() {
            let path = env.iter().find(|(key, _)| key == "PATH").map(|(_, value)| value.clone()).unwrap_or_default();
            set(&mut env, "PATH", &format!("{}:{path}", venv.display()));
        }
        set(&mut env, "PYTHONUNBUFFERED", "1");
        env.retain(|(key, _)| !key.starts_with("LUNA_"));
        set(&mut env, "LUNA_HOME", &self.home.display().to_string());
        set(&mut env, "LUNA_GATEWAY_URL", &self.gateway_url);
        // The Agent API, with a key of the extension's own (never AGENT_API_KEY itself).
        set(&mut env, "LUNA_AGENT_URL", &format!("{}/api/agent/v1", self.gateway_url));
        if let Some(agent_api_key) = secrets.get(crate::agent::AGENT_API_KEY).filter(|key| !key.is_empty()) {
            set(&mut env, "LUNA_AGENT_KEY", &crate::agent::extension_key(agent_api_key, &identity.extension));
        }
        set(&mut env, "LUNA_PORTS", &identity.ports_json);
        set(&mut env, "LUNA_EXTENSION", &identity.extension);
        set(&mut env, "LUNA_SERVICE", identity.service.as_deref().unwrap_or("ui"));
        if let Some(port) = identity.port {
            set(&mut env, "LUNA_PORT", &port.to_string());
        }
        if let Some(base_path) = &identity.base_path {
            set(&mut env, "LUNA_BASE_PATH", base_path);
        }
        env
    }
}

fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(existing, _)| existing == key) {
        Some((_, slot)) => *slot = value.to_string(),
        None => env.push((key.to_string(), value.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_luna_variables_out_and_no_override_of_luna_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "OPENAI_API_KEY=sk-1\nLUNA_PORTS=forged\nMCP_AUTH_TOKEN=m\nAGENT_API_KEY=a\nGITHUB_CLIENT_ID=i\n\
             GITHUB_CLIENT_SECRET=s\n",
        )
        .unwrap();
        let secrets = EnvFile::load(&dir.path().join(".env")).unwrap();
        let child_env =
            ChildEnv::new(SharedSecrets::new(secrets), dir.path().to_path_buf(), "http://127.0.0.1:8800".into());
        let identity = ProcessIdentity {
            extension: "hello".into(),
            extension_dir: dir.path().to_path_buf(),
            service: Some("api".into()),
            port: Some(5300),
            base_path: Some("/api/hello".into()),
            ports_json: r#"{"core":{}}"#.into(),
        };

        let env = child_env.for_process(&identity);
        let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());

        assert_eq!(get("OPENAI_API_KEY"), Some("sk-1"));
        for own in LUNA_SECRETS {
            assert_eq!(get(own), None, "Luna's own {own} stays with Luna");
        }
        assert_eq!(get("LUNA_PORTS"), Some(r#"{"core":{}}"#));
        assert_eq!(get("LUNA_PORT"), Some("5300"));
        assert_eq!(get("LUNA_SERVICE"), Some("api"));
        assert_eq!(get("LUNA_BASE_PATH"), Some("/api/hello"));
        assert!(env.iter().all(|(key, _)| INHERITED.contains(&key.as_str())
            || key.starts_with("LUNA_")
            || key == "OPENAI_API_KEY"
            || key == "PYTHONUNBUFFERED"));
    }
}
