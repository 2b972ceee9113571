//! `Process`: the actor that owns one extension UI or service process.
//!
//! ```text
//!             start ──► starting ──ready──► running ◄──ok── liveness probe
//!               ▲          │                  │  └──fail──► unhealthy ──2nd fail──┐
//!               │      not ready in time      exit                                │
//!               │          ▼                  ▼                                   ▼
//!        backoff (1s,2s..) ◄──────────── failure: budget left? ──no──► failed
//!                                             (restart_on_failure)
//! missing / non-executable start.sh ─► misconfigured (never retried)
//! stop ─► SIGTERM group, 5 s, SIGKILL group ─► stopped
//! ```
//!
//! A tool host follows the same states; it is ready once its MCP handshake and first
//! `tools/list` succeeded (see [`crate::tools::host`]) instead of on a health probe. The
//! Python tool host exits with [`TOOLS_IMPORT_FAILED`] when a tools module does not import:
//! retrying cannot help, so that is `misconfigured` with the traceback as the error.
//!
//! Handlers never wait: spawning is immediate, probes and the child's exit run in tasks
//! that report back with messages carrying the generation of the child they were about.
//! Each start increments the generation, so a report about an older child is dropped.
//! An OS process exiting is not an actor failure; this actor owns the restart decision.

mod child;
pub mod logs;
pub(crate) mod policy;
mod probe;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};

use super::extensions::ExtensionsMsg;
use super::unix_now;
use crate::settings::SupervisorSettings;
pub use child::{ExitInfo, log_file_name, stop_group_remnants};
use child::{Launch, RunningChild, check_script};
use logs::LogSink;
use policy::RestartPolicy;
use tokio::process::{ChildStdin, ChildStdout};

use crate::tools::{ToolRegistry, host};

/// Status values (SPEC §9), as the API and `state.json` show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Starting,
    Running,
    Unhealthy,
    Stopped,
    Failed,
    Misconfigured,
}

/// The Python tool host's exit code when a tools module fails to import (`EX_CONFIG`).
pub const TOOLS_IMPORT_FAILED: i32 = 78;
/// Lines of a tool host's last output kept as the error when it cannot start.
const STARTUP_ERROR_LINES: usize = 30;

/// What a process is to its extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessKind {
    Ui,
    Service(String),
    /// The extension's tool host (MCP over stdio).
    Tools,
}

impl ProcessKind {
    /// As the API and `state.json` show it.
    pub fn label(&self) -> &'static str {
        match self {
            ProcessKind::Ui => "ui",
            ProcessKind::Service(_) => "service",
            ProcessKind::Tools => "tools",
        }
    }
}

/// Everything needed to run one process; fixed for the actor's life.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// `<ext>_ui`, `<ext>.<service>` or `<ext>_tools`.
    pub key: String,
    pub extension: String,
    pub kind: ProcessKind,
    pub dir: PathBuf,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub port: Option<u16>,
    pub health_check: Option<String>,
    pub restart_on_failure: bool,
    pub env: Vec<(String, String)>,
}

/// The last health probe's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthRecord {
    pub at_unix: u64,
    pub ok: bool,
    pub error: Option<String>,
}

/// One process as `state.json` and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub extension: String,
    pub kind: String,
    pub status: Status,
    pub pid: Option<u32>,
    pub pgid: Option<i32>,
    /// Clock ticks since boot (`/proc/<pid>/stat`): with `pid`, identifies the process
    /// after a crash of Luna itself.
    pub start_time: Option<u64>,
    pub port: Option<u16>,
    pub restarts: u32,
    pub started_at_unix: Option<u64>,
    pub last_exit: Option<ExitInfo>,
    pub last_health_check: Option<HealthRecord>,
    /// Why the process is `misconfigured` or `failed`, or what it is waiting for.
    pub error: Option<String>,
    pub log_file: String,
}

impl ProcessRecord {
    /// A process that cannot be run at all.
    pub fn misconfigured(extension: &str, kind: &ProcessKind, error: String) -> Self {
        Self {
            extension: extension.to_string(),
            kind: kind.label().to_string(),
            status: Status::Misconfigured,
            pid: None,
            pgid: None,
            start_time: None,
            port: None,
            restarts: 0,
            started_at_unix: None,
            last_exit: None,
            last_health_check: None,
            error: Some(error),
            log_file: log_file_name(extension, kind).display().to_string(),
        }
    }
}

/// Manual actions from the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Start,
    Stop,
    Restart,
}

pub enum ProcessMsg {
    /// A manual action; the reply comes once it took effect (spawned, or exited).
    Control(Action, RpcReplyPort<ProcessRecord>),
    /// Stop for good (extension disabled, Luna shutting down); reply once exited.
    Shutdown(RpcReplyPort<()>),
    // --- reports from this actor's own tasks and timers, tagged with a generation ---
    Exited {
        generation: u64,
        exit: ExitInfo,
        requested: bool,
    },
    ProbeDue {
        generation: u64,
    },
    Probed {
        generation: u64,
        result: Result<(), String>,
    },
    RestartDue {
        generation: u64,
    },
    StableFor {
        generation: u64,
    },
    /// A tool host's MCP handshake and first listing finished (or failed).
    ToolsConnected {
        generation: u64,
        result: Result<usize, String>,
    },
}

pub struct ProcessArgs {
    pub spec: ProcessSpec,
    pub settings: Arc<SupervisorSettings>,
    pub logs: LogSink,
    pub reporter: ActorRef<ExtensionsMsg>,
    pub tools: ToolRegistry,
}

pub struct Process;

pub struct ProcessState {
    id: ractor::ActorId,
    spec: ProcessSpec,
    settings: Arc<SupervisorSettings>,
    logs: LogSink,
    reporter: ActorRef<ExtensionsMsg>,
    tools: ToolRegistry,
    policy: RestartPolicy,
    generation: u64,
    child: Option<RunningChild>,
    status: Status,
    /// Set while a probe-or-exit driven restart is waiting for the old child to exit.
    restart_when_exited: bool,
    /// Keep the process stopped: a manual stop or a shutdown is in progress or done.
    held_stopped: bool,
    ready: bool,
    started: Option<Instant>,
    /// Since when the current child has been `running` without interruption.
    running_since: Option<Instant>,
    started_at_unix: Option<u64>,
    failed_probes: u32,
    /// Readiness probes sent for the current child; drives the ramp-up of their interval.
    readiness_probes: u32,
    restarts: u32,
    last_exit: Option<ExitInfo>,
    last_health_check: Option<HealthRecord>,
    error: Option<String>,
    /// Callers waiting for the current child to exit, or for the next one to spawn.
    waiting_for_exit: Vec<RpcReplyPort<ProcessRecord>>,
    waiting_for_shutdown: Vec<RpcReplyPort<()>>,
    waiting_for_spawn: Vec<RpcReplyPort<ProcessRecord>>,
}

impl Actor for Process {
    type Msg = ProcessMsg;
    type State = ProcessState;
    type Arguments = ProcessArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ProcessMsg>,
        args: ProcessArgs,
    ) -> Result<ProcessState, ActorProcessingErr> {
        let mut state = ProcessState {
            id: myself.get_id(),
            policy: RestartPolicy::new(&args.settings),
            spec: args.spec,
            settings: args.settings,
            logs: args.logs,
            reporter: args.reporter,
            tools: args.tools,
            generation: 0,
            child: None,
            status: Status::Stopped,
            restart_when_exited: false,
            held_stopped: false,
            ready: false,
            started: None,
            running_since: None,
            started_at_unix: None,
            failed_probes: 0,
            readiness_probes: 0,
            restarts: 0,
            last_exit: None,
            last_health_check: None,
            error: None,
            waiting_for_exit: Vec::new(),
            waiting_for_shutdown: Vec::new(),
            waiting_for_spawn: Vec::new(),
        };
        state.start(&myself);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<ProcessMsg>,
        message: ProcessMsg,
        state: &mut ProcessState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ProcessMsg::Control(action, reply) => state.control(&myself, action, reply),
            ProcessMsg::Shutdown(reply) => {
                state.held_stopped = true;
                state.restart_when_exited = false;
                match &mut state.child {
                    Some(child) => {
                        child.request_stop();
                        state.waiting_for_shutdown.push(reply);
                    }
                    None => {
                        state.generation += 1;
                        state.set_status(Status::Stopped);
                        let _ = reply.send(());
                    }
                }
            }
            ProcessMsg::Exited { generation, exit, requested } => {
                if generation == state.generation {
                    state.on_exit(&myself, exit, requested);
                }
            }
            ProcessMsg::ProbeDue { generation } => {
                if generation == state.generation && state.child.is_some() {
                    state.spawn_probe(&myself);
                }
            }
            ProcessMsg::Probed { generation, result } => {
                if generation == state.generation && state.child.is_some() {
                    state.on_probe(&myself, result);
                }
            }
            ProcessMsg::RestartDue { generation } => {
                if generation == state.generation && state.child.is_none() && !state.held_stopped {
                    state.restarts += 1;
                    state.start(&myself);
                }
            }
            ProcessMsg::ToolsConnected { generation, result } => {
                if generation == state.generation && state.child.is_some() {
                    state.on_tools_connected(&myself, result);
                }
            }
            ProcessMsg::StableFor { generation } => {
                if generation == state.generation && state.child.is_some() {
                    let stable = state.settings.stable_uptime;
                    match state.running_since.map(|since| since.elapsed()) {
                        Some(running) if running >= stable => state.policy.reset(),
                        // Not running long enough yet: look again when it could be.
                        running => {
                            let wait = stable - running.unwrap_or_default();
                            state.schedule(&myself, wait, ProcessMsg::StableFor { generation });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ProcessMsg>,
        state: &mut ProcessState,
    ) -> Result<(), ActorProcessingErr> {
        // Safety net: an actor that stops while its child runs takes the child with it.
        if let Some(child) = &mut state.child {
            child.request_stop();
        }
        Ok(())
    }
}

impl ProcessState {
    fn control(&mut self, myself: &ActorRef<ProcessMsg>, action: Action, reply: RpcReplyPort<ProcessRecord>) {
        match action {
            Action::Start => {
                let stopping = self.held_stopped && self.child.is_some();
                self.held_stopped = false;
                self.policy.reset();
                if stopping {
                    // A stop is under way: start again once it has exited.
                    self.restart_when_exited = true;
                    self.waiting_for_spawn.push(reply);
                } else if self.child.is_some() {
                    let _ = reply.send(self.record());
                } else {
                    self.generation += 1;
                    self.start(myself);
                    let _ = reply.send(self.record());
                }
            }
            Action::Stop => {
                self.held_stopped = true;
                self.restart_when_exited = false;
                match &mut self.child {
                    Some(child) => {
                        child.request_stop();
                        self.waiting_for_exit.push(reply);
                    }
                    None => {
                        // Cancels a pending restart too.
                        self.generation += 1;
                        if self.status != Status::Misconfigured {
                            self.set_status(Status::Stopped);
                        }
                        let _ = reply.send(self.record());
                    }
                }
            }
            Action::Restart => {
                self.held_stopped = false;
                self.policy.reset();
                match &mut self.child {
                    Some(child) => {
                        child.request_stop();
                        self.restart_when_exited = true;
                        self.waiting_for_spawn.push(reply);
                    }
                    None => {
                        self.generation += 1;
                        self.start(myself);
                        let _ = reply.send(self.record());
                    }
                }
            }
        }
    }

    /// Spawns the child (or records why it cannot be).
    fn start(&mut self, myself: &ActorRef<ProcessMsg>) {
        if let Err(problem) = check_script(&self.spec.program) {
            self.error = Some(problem);
            self.set_status(Status::Misconfigured);
            return self.answer_spawn_waiters();
        }
        if let Some(port) = self.spec.port
            && !crate::sys::port_is_free(port)
        {
            let holder = crate::sys::describe_port_holder(port);
            return self.fail(myself, format!("port {port} is held by {holder}; not starting"));
        }

        self.generation += 1;
        let generation = self.generation;
        let exit_to = myself.clone();
        let launch = Launch {
            program: &self.spec.program,
            args: &self.spec.args,
            dir: &self.spec.dir,
            port: self.spec.port,
            env: &self.spec.env,
            mcp_stdio: self.spec.kind == ProcessKind::Tools,
        };
        let spawned = child::spawn(launch, self.logs.clone(), self.settings.stop_timeout, move |exit, requested| {
            let _ = exit_to.cast(ProcessMsg::Exited { generation, exit, requested });
        });
        match spawned {
            Ok(mut child) => {
                tracing::info!(process = %self.spec.key, pid = child.pid, port = ?self.spec.port, "started");
                let mcp_pipes = child.mcp_pipes.take();
                self.child = Some(child);
                self.started = Some(Instant::now());
                self.started_at_unix = Some(unix_now());
                self.ready = false;
                self.failed_probes = 0;
                self.readiness_probes = 0;
                self.error = None;
                if let Some(pipes) = mcp_pipes {
                    self.set_status(Status::Starting);
                    self.spawn_tools_connect(myself, pipes);
                } else if self.spec.port.is_some() && self.spec.health_check.is_some() {
                    self.set_status(Status::Starting);
                    self.schedule(myself, self.readiness_delay(), ProcessMsg::ProbeDue { generation });
                } else {
                    // Nothing to probe: alive is all we can know.
                    self.ready = true;
                    self.set_status(Status::Running);
                }
                self.schedule(myself, self.settings.stable_uptime, ProcessMsg::StableFor { generation });
            }
            Err(error) if is_permanent(&error) => {
                // A bad interpreter line, a missing interpreter, no permission: retrying
                // will not help until someone fixes the script.
                self.error = Some(format!("cannot run {}: {error}", self.spec.program.display()));
                self.set_status(Status::Misconfigured);
            }
            Err(error) => {
                // Busy file, process limit, memory: worth another try after a backoff.
                return self.fail(myself, format!("cannot start {}: {error}", self.spec.program.display()));
            }
        }
        self.answer_spawn_waiters();
    }

    fn on_exit(&mut self, myself: &ActorRef<ProcessMsg>, exit: ExitInfo, requested: bool) {
        self.child = None;
        self.generation += 1;
        tracing::info!(process = %self.spec.key, exit = %exit.describe(), requested, "exited");
        self.last_exit = Some(exit.clone());
        for reply in self.waiting_for_shutdown.drain(..) {
            let _ = reply.send(());
        }
        let restart_requested = std::mem::take(&mut self.restart_when_exited);
        for reply in std::mem::take(&mut self.waiting_for_exit) {
            let _ = reply.send(ProcessRecord { status: Status::Stopped, ..self.record() });
        }
        if self.held_stopped {
            self.set_status(Status::Stopped);
            // A restart asked for before this stop gets the stopped state as its answer.
            return self.answer_spawn_waiters();
        }
        if self.spec.kind == ProcessKind::Tools && !self.ready && exit.code == Some(TOOLS_IMPORT_FAILED) {
            // Restarting re-runs the same failing import; the user fixes the file and
            // restarts (or re-enables) the extension.
            let output = self.logs.tail(STARTUP_ERROR_LINES).join("\n");
            self.error = Some(format!("the tools failed to import:\n{output}"));
            self.set_status(Status::Misconfigured);
            return self.answer_spawn_waiters();
        }
        if restart_requested && !self.waiting_for_spawn.is_empty() {
            // A manual restart: start again at once.
            return self.start(myself);
        }
        if restart_requested && requested {
            // A restart the health checks asked for: it counts against the budget.
            let reason = self.error.clone().unwrap_or_else(|| "health checks failed".to_string());
            return self.fail(myself, reason);
        }
        self.fail(myself, format!("{} unexpectedly", exit.describe()));
    }

    /// A failure of the current or last child: restart with backoff, or give up.
    fn fail(&mut self, myself: &ActorRef<ProcessMsg>, reason: String) {
        if let Some(child) = &mut self.child {
            // Stop the live child first; its exit comes back here through `on_exit`.
            self.error = Some(reason);
            self.restart_when_exited = true;
            child.request_stop();
            return;
        }
        if !self.spec.restart_on_failure {
            self.error = Some(format!("{reason}; restart_on_failure is off"));
            return self.set_status(Status::Failed);
        }
        match self.policy.on_failure(Instant::now()) {
            Some(delay) => {
                tracing::warn!(process = %self.spec.key, %reason, delay = ?delay, "restarting");
                self.error = Some(format!("{reason}; restarting in {:.1}s", delay.as_secs_f64()));
                self.set_status(Status::Starting);
                let generation = self.generation;
                self.schedule(myself, delay, ProcessMsg::RestartDue { generation });
            }
            None => {
                self.error = Some(format!(
                    "{reason}; gave up after {} restarts in {}s (start or restart it to try again)",
                    self.settings.restart_budget,
                    self.settings.restart_window.as_secs()
                ));
                tracing::warn!(process = %self.spec.key, "failed: restart budget spent");
                self.set_status(Status::Failed);
            }
        }
        self.answer_spawn_waiters();
    }

    /// Runs the MCP handshake of a tool host in a task; the outcome comes back tagged.
    fn spawn_tools_connect(&self, myself: &ActorRef<ProcessMsg>, pipes: (ChildStdout, ChildStdin)) {
        let generation = self.generation;
        let report_to = myself.clone();
        let registry = self.tools.clone();
        let extension = self.spec.extension.clone();
        let limit = self.settings.readiness_timeout;
        tokio::spawn(async move {
            let result = host::connect(registry, extension, pipes, limit).await.map(|connection| connection.tool_count);
            let _ = report_to.cast(ProcessMsg::ToolsConnected { generation, result });
        });
    }

    fn on_tools_connected(&mut self, myself: &ActorRef<ProcessMsg>, result: Result<usize, String>) {
        match result {
            Ok(count) => {
                tracing::info!(process = %self.spec.key, tools = count, "tool host ready");
                self.ready = true;
                self.error = None;
                self.set_status(Status::Running);
            }
            Err(error) => self.fail(myself, error),
        }
    }

    fn spawn_probe(&self, myself: &ActorRef<ProcessMsg>) {
        let (Some(port), Some(path)) = (self.spec.port, self.spec.health_check.clone()) else { return };
        let generation = self.generation;
        let timeout = self.settings.probe_timeout;
        let report_to = myself.clone();
        tokio::spawn(async move {
            let result = probe::probe(port, &path, timeout).await;
            let _ = report_to.cast(ProcessMsg::Probed { generation, result });
        });
    }

    fn on_probe(&mut self, myself: &ActorRef<ProcessMsg>, result: Result<(), String>) {
        self.last_health_check =
            Some(HealthRecord { at_unix: unix_now(), ok: result.is_ok(), error: result.clone().err() });
        let generation = self.generation;
        match (self.ready, result) {
            (_, Ok(())) => {
                self.ready = true;
                self.failed_probes = 0;
                self.error = None;
                self.set_status(Status::Running);
                self.schedule(myself, self.settings.liveness_interval, ProcessMsg::ProbeDue { generation });
            }
            (false, Err(error)) => {
                let waited = self.started.map_or(Duration::ZERO, |started| started.elapsed());
                if waited >= self.settings.readiness_timeout {
                    self.fail(myself, format!("not ready after {}s: {error}", waited.as_secs()));
                } else {
                    self.report();
                    self.readiness_probes += 1;
                    self.schedule(myself, self.readiness_delay(), ProcessMsg::ProbeDue { generation });
                }
            }
            (true, Err(error)) => {
                self.failed_probes += 1;
                if self.failed_probes >= 2 {
                    self.fail(myself, format!("{} health checks failed: {error}", self.failed_probes));
                } else {
                    self.set_status(Status::Unhealthy);
                    self.schedule(myself, self.settings.liveness_interval, ProcessMsg::ProbeDue { generation });
                }
            }
        }
    }

    /// Readiness probes start 100 ms after a start and double up to `readiness_interval`:
    /// a quick process is seen ready at once, a slow one is not probed in a tight loop.
    fn readiness_delay(&self) -> Duration {
        let ramp = Duration::from_millis(100).saturating_mul(2u32.saturating_pow(self.readiness_probes.min(16)));
        ramp.min(self.settings.readiness_interval)
    }

    fn schedule(&self, myself: &ActorRef<ProcessMsg>, delay: Duration, message: ProcessMsg) {
        let target = myself.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = target.cast(message);
        });
    }

    fn answer_spawn_waiters(&mut self) {
        for reply in std::mem::take(&mut self.waiting_for_spawn) {
            let _ = reply.send(self.record());
        }
    }

    fn set_status(&mut self, status: Status) {
        if status != Status::Running {
            self.running_since = None;
        } else if self.running_since.is_none() {
            self.running_since = Some(Instant::now());
        }
        self.status = status;
        self.report();
    }

    fn report(&self) {
        let _ =
            self.reporter.cast(ExtensionsMsg::ProcessChanged(self.spec.key.clone(), self.id, Box::new(self.record())));
    }

    fn record(&self) -> ProcessRecord {
        ProcessRecord {
            extension: self.spec.extension.clone(),
            kind: self.spec.kind.label().to_string(),
            status: self.status,
            pid: self.child.as_ref().map(|child| child.pid),
            pgid: self.child.as_ref().map(|child| child.pgid),
            start_time: self.child.as_ref().and_then(|child| child.start_time),
            port: self.spec.port,
            restarts: self.restarts,
            started_at_unix: self.child.as_ref().and(self.started_at_unix),
            last_exit: self.last_exit.clone(),
            last_health_check: self.last_health_check.clone(),
            error: self.error.clone(),
            log_file: self.logs.path().display().to_string(),
        }
    }
}

/// Spawn errors that mean the script itself is broken.
fn is_permanent(error: &std::io::Error) -> bool {
    matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied)
        || error.raw_os_error() == Some(libc::ENOEXEC)
}
