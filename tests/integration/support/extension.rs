//! Extension folders for tests, written into a temp home. Start scripts `exec` the fixture
//! programs in `tests/fixtures/bin/`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bin").join(name)
}

/// `[supervisor]` settings short enough for tests.
pub const FAST_SUPERVISION: &str = "readiness_interval_ms = 100
liveness_interval_ms = 300
probe_timeout_ms = 500
stop_timeout_ms = 1000
restart_backoff_initial_ms = 200
";

/// Writes `luna.toml` with `supervisor` lines and port ranges of its own, so tests that
/// run at the same time never compete for extension ports.
pub fn write_config(home: &Path, supervisor: &str) {
    write_config_with(home, supervisor, "");
}

/// [`write_config`] plus more tables (`[auth]`, `[database]`, ...) after `[supervisor]`.
pub fn write_config_with(home: &Path, supervisor: &str, more: &str) {
    static NEXT_BLOCK: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let base = 21000 + 20 * NEXT_BLOCK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let toml = format!(
        "[supervisor]\nui_ports = [{base}, {}]\nservice_ports = [{}, {}]\n{supervisor}\n{more}",
        base + 9,
        base + 10,
        base + 19
    );
    std::fs::create_dir_all(home.join("config")).unwrap();
    std::fs::write(home.join("config/luna.toml"), toml).unwrap();
}

pub struct ExtensionFixture {
    dir: PathBuf,
}

impl ExtensionFixture {
    /// `extensions/<name>/` with a `config.json`.
    pub fn new(home: &Path, name: &str) -> Self {
        let dir = home.join("extensions").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), format!(r#"{{"name": "{name}", "version": "1"}}"#)).unwrap();
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A UI whose `start.sh` runs `program` (from the fixtures) with the port.
    pub fn ui(self, program: &str) -> Self {
        write_script(&self.dir.join("ui/start.sh"), &launcher(program));
        self
    }

    /// A service with `service_config.json` = `config` and a `start.sh` running `program`.
    pub fn service(self, name: &str, config: &str, program: &str) -> Self {
        let dir = self.dir.join("services").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("service_config.json"), config).unwrap();
        write_script(&dir.join("start.sh"), &launcher(program));
        self
    }
}

/// A port-bearing API service with a health check.
pub const API_SERVICE: &str = r#"{"requires_port": true, "health_check": "/healthz", "api": true}"#;

fn launcher(program: &str) -> String {
    let path = fixture(program);
    if program.ends_with(".py") {
        format!("#!/bin/sh\nexec python3 {} \"$@\"\n", path.display())
    } else {
        format!("#!/bin/sh\nexec {} \"$@\"\n", path.display())
    }
}

pub fn write_script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// True while `pid` runs (a zombie waiting for its parent counts as gone).
pub fn is_alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// Copies a directory tree (an extension from the repository, say).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `extensions/secretive/`: requires `WEATHER_API_KEY`; its one tool, `SECRETIVE_GET_key`,
/// answers the value its process sees (`unset` without one).
pub fn add_secretive(home: &Path) {
    let tools = home.join("extensions/secretive/tools");
    std::fs::create_dir_all(&tools).unwrap();
    std::fs::write(
        home.join("extensions/secretive/config.json"),
        r#"{"name": "secretive", "required_secrets": ["WEATHER_API_KEY"]}"#,
    )
    .unwrap();
    std::fs::write(
        tools.join("secretive_tools.py"),
        "import os\n\n\ndef SECRETIVE_GET_key() -> str:\n    \"\"\"The key this process sees.\"\"\"\n    \
         return os.environ.get('WEATHER_API_KEY', 'unset')\n\n\nTOOLS = [SECRETIVE_GET_key]\n",
    )
    .unwrap();
    std::fs::write(tools.join("tool_config.json"), r#"{"SECRETIVE_GET_key": {"enabled_in_mcp": true}}"#).unwrap();
}
