//! `kind: "shell"`: the earlier Luna's command-based definitions (`install_cmd`, `start_cmd`,
//! ...). **Unsafe**: each command is a shell line run as Luna's user, so a definition can do
//! anything Luna can. Off unless `external_services.allow_shell` is on. Form values are never
//! spliced into the lines: they go to `external_services/<name>/config.json` (0600), and the
//! only substitution is `{config_file}`, that file's quoted path.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::Assessment;
use super::definition::ShellDefinition;
use super::registry::Status;

/// Start, stop, restart and auto-start commands get this long.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// A health check gets this long; then the status is `unknown`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Install commands get `install_timeout` of the definition, or this.
const DEFAULT_INSTALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest health-check output read.
const MAX_OUTPUT: u64 = 64 * 1024;

/// Where one shell service's commands run: from the Luna home, output appended to its log.
pub struct ShellService<'a> {
    pub definition: &'a ShellDefinition,
    pub home: PathBuf,
    pub config_file: PathBuf,
    pub log_file: PathBuf,
}

/// Which command of the definition.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Install,
    Uninstall,
    Start,
    Stop,
    Restart,
    EnableStartup,
    DisableStartup,
}

impl ShellService<'_> {
    fn command(&self, step: Step) -> Option<&str> {
        let definition = self.definition;
        match step {
            Step::Install => definition.install_cmd.as_deref(),
            Step::Uninstall => definition.uninstall_cmd.as_deref(),
            Step::Start => definition.start_cmd.as_deref(),
            Step::Stop => definition.stop_cmd.as_deref(),
            Step::Restart => definition.restart_cmd.as_deref(),
            Step::EnableStartup => definition.enable_startup_cmd.as_deref(),
            Step::DisableStartup => definition.disable_startup_cmd.as_deref(),
        }
    }

    /// Runs `step`; `Ok(false)` when the definition has no such command.
    pub async fn run(&self, step: Step) -> Result<bool, String> {
        let Some(command) = self.command(step) else { return Ok(false) };
        let timeout = match step {
            Step::Install => self.definition.install_timeout.map_or(DEFAULT_INSTALL_TIMEOUT, Duration::from_secs),
            _ => COMMAND_TIMEOUT,
        };
        let (status, _) = self.execute(command, timeout, false).await?;
        if status != 0 {
            return Err(format!("{step:?} command exited with {status}; see {}", self.log_file.display()));
        }
        Ok(true)
    }

    /// `health_check_cmd`, and whether its output holds `health_check_expected`.
    pub async fn health(&self) -> Assessment {
        let Some(command) = self.definition.health_check_cmd.as_deref() else {
            return Assessment::unknown("the definition has no health_check_cmd".into());
        };
        let expected = self.definition.health_check_expected.as_deref().unwrap_or("");
        match self.execute(command, HEALTH_TIMEOUT, true).await {
            Ok((0, output)) if output.contains(expected) => Assessment { status: Status::Running, detail: None },
            Ok((0, _)) => Assessment {
                status: Status::Stopped,
                detail: Some(format!("the health check's output lacks `{expected}`")),
            },
            Ok((code, _)) => Assessment::unhealthy(format!("the health check exited with {code}")),
            Err(reason) => Assessment::unknown(reason),
        }
    }

    /// `sh -c <line>` in its own process group (killed whole on timeout); stderr, and stdout
    /// unless `capture`, go to the service's log.
    async fn execute(&self, line: &str, timeout: Duration, capture: bool) -> Result<(i32, String), String> {
        let line = line.replace("{config_file}", &quote(&self.config_file));
        if let Some(dir) = self.log_file.parent() {
            std::fs::create_dir_all(dir).map_err(|error| error.to_string())?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.log_file)
            .map_err(|error| format!("{}: {error}", self.log_file.display()))?;
        let stdout = if capture { Stdio::piped() } else { Stdio::from(log.try_clone().map_err(|e| e.to_string())?) };
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(&line)
            .current_dir(&self.home)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()))
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .env("LUNA_HOME", &self.home)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::from(log))
            .process_group(0)
            .kill_on_drop(true);
        crate::sys::give_children_the_inherited_umask(&mut command);
        let mut child = command.spawn().map_err(|error| format!("cannot run sh: {error}"))?;
        let pgid = child.id().map(|pid| pid as i32);
        let mut output = String::new();
        let mut pipe = child.stdout.take();
        let run = async {
            if let Some(pipe) = pipe.as_mut() {
                let _ = pipe.take(MAX_OUTPUT).read_to_string(&mut output).await;
            }
            child.wait().await
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(status)) => Ok((status.code().unwrap_or(-1), output)),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => {
                if let Some(pgid) = pgid {
                    crate::sys::signal_group(pgid, crate::sys::GroupSignal::Kill);
                }
                Err(format!("`{line}` did not finish within {}s", timeout.as_secs()))
            }
        }
    }
}

/// A path as one shell word.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_see_the_config_file_and_nothing_of_the_form() {
        let home = tempfile::tempdir().unwrap();
        let definition: ShellDefinition = serde_json::from_value(serde_json::json!({
            "name": "legacy",
            "install_cmd": "cp {config_file} installed.json",
            "health_check_cmd": "cat installed.json",
            "health_check_expected": "\"port\""
        }))
        .unwrap();
        let config_file = home.path().join("it's here.json");
        std::fs::write(&config_file, r#"{"port": 1}"#).unwrap();
        let service = ShellService {
            definition: &definition,
            home: home.path().to_path_buf(),
            config_file,
            log_file: home.path().join("logs/legacy.log"),
        };
        assert!(matches!(service.run(Step::Install).await, Ok(true)));
        assert_eq!(service.health().await.status, Status::Running);
        assert!(matches!(service.run(Step::Start).await, Ok(false)), "no start_cmd");
    }
}
