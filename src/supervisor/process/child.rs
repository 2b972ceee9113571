//! Starting and stopping one OS child.
//!
//! A child runs `start.sh [port]` (or a tool host's command) in its own process group,
//! with a prepared environment, its folder as working directory, stdin from `/dev/null`
//! and its output copied into a [`LogSink`]. A tool host's stdin and stdout are its MCP
//! channel instead: they are handed to the caller and only stderr goes to the log. One task per child owns the `tokio::process::Child`: it notices the exit at
//! once, and on a stop request (or when the owning actor is gone) it signals the group:
//! SIGTERM, `stop_timeout`, SIGKILL. When the group leader has exited, whatever is left
//! in its group (a grandchild holding the port) is stopped the same way, so nothing
//! outlives the child. The task always reaps and always reports.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;

use super::ProcessKind;
use super::logs::LogSink;
use crate::sys::{GroupSignal, group_exists, process_start_time, signal_group};

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub at_unix: u64,
}

impl ExitInfo {
    fn from_status(status: std::io::Result<ExitStatus>) -> Self {
        use std::os::unix::process::ExitStatusExt;
        let (code, signal) = match status {
            Ok(status) => (status.code(), status.signal()),
            Err(_) => (None, None),
        };
        Self { code, signal, at_unix: crate::clock::unix_now() }
    }

    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => "exited".to_string(),
        }
    }
}

/// What to run.
pub struct Launch<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub dir: &'a Path,
    pub port: Option<u16>,
    pub env: &'a [(String, String)],
    /// stdin and stdout carry MCP (a tool host).
    pub mcp_stdio: bool,
}

/// A running child, as the actor sees it.
pub struct RunningChild {
    pub pid: u32,
    pub pgid: i32,
    pub start_time: Option<u64>,
    /// A tool host's MCP channel, until the actor takes it.
    pub mcp_pipes: Option<(ChildStdout, ChildStdin)>,
    stop: Option<oneshot::Sender<()>>,
}

impl RunningChild {
    /// Asks the child's task to stop the group; the exit is reported as usual.
    pub fn request_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Why a script cannot be run at all (never retried).
pub fn check_script(script: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(script).map_err(|_| format!("{} is missing", script.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", script.display()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("{} is not executable (chmod +x it)", script.display()));
    }
    Ok(())
}

/// Spawns the child and its supervising task. `on_exit(exit)` runs exactly once.
pub fn spawn(
    launch: Launch<'_>,
    logs: LogSink,
    stop_timeout: Duration,
    on_exit: impl FnOnce(ExitInfo) + Send + 'static,
) -> std::io::Result<RunningChild> {
    let mut command = Command::new(launch.program);
    command.args(launch.args);
    if let Some(port) = launch.port {
        command.arg(port.to_string());
    }
    command
        .current_dir(launch.dir)
        .env_clear()
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .stdin(if launch.mcp_stdio { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    crate::sys::give_children_the_inherited_umask(&mut command);
    let mut child = command.spawn()?;
    let pid = child.id().ok_or_else(|| std::io::Error::other("child exited before it was tracked"))?;
    let pgid = pid as i32;
    let start_time = process_start_time(pid);

    let mcp_pipes = if launch.mcp_stdio {
        child.stdout.take().zip(child.stdin.take())
    } else {
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(logs.clone().copy_from(stdout));
        }
        None
    };
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(logs.copy_from(stderr));
    }

    let (stop, stop_requested) = oneshot::channel();
    tokio::spawn(async move {
        let (status, requested) = tokio::select! {
            status = child.wait() => (status, false),
            // A dropped sender (the actor is gone) stops the child too.
            _ = stop_requested => {
                // One deadline for the whole group: the leader and whatever it started.
                let deadline = tokio::time::Instant::now() + stop_timeout;
                signal_group(pgid, GroupSignal::Terminate);
                let status = match tokio::time::timeout_at(deadline, child.wait()).await {
                    Ok(status) => status,
                    Err(_) => {
                        signal_group(pgid, GroupSignal::Kill);
                        child.wait().await
                    }
                };
                stop_group_until(pgid, deadline).await;
                (status, true)
            }
        };
        if !requested {
            stop_group_remnants(pgid, stop_timeout).await;
        }
        on_exit(ExitInfo::from_status(status));
    });
    Ok(RunningChild { pid, pgid, start_time, mcp_pipes, stop: Some(stop) })
}

/// Stops what is left of a group whose leader has exited: SIGTERM, wait, SIGKILL.
pub async fn stop_group_remnants(pgid: i32, stop_timeout: Duration) {
    if !group_exists(pgid) {
        return;
    }
    signal_group(pgid, GroupSignal::Terminate);
    stop_group_until(pgid, tokio::time::Instant::now() + stop_timeout).await;
}

/// Waits for group `pgid` to be gone until `deadline`, then SIGKILLs what is left.
async fn stop_group_until(pgid: i32, deadline: tokio::time::Instant) {
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if !wait_group_gone(pgid, left).await {
        signal_group(pgid, GroupSignal::Kill);
        wait_group_gone(pgid, Duration::from_secs(1)).await;
    }
}

/// Polls until no process is left in `pgid`; false if `limit` passed first.
/// (Members are not our children, so there is no exit notification to wait on.)
async fn wait_group_gone(pgid: i32, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while group_exists(pgid) {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    true
}

/// The log file of a process key: `<ext>_ui.log`, `<ext>__service_<svc>.log`,
/// `<ext>_tools.log`.
pub fn log_file_name(extension: &str, kind: &ProcessKind) -> PathBuf {
    match kind {
        ProcessKind::Ui => PathBuf::from(format!("{extension}_ui.log")),
        ProcessKind::Service(service) => PathBuf::from(format!("{extension}__service_{service}.log")),
        ProcessKind::Tools => PathBuf::from(format!("{extension}_tools.log")),
    }
}
