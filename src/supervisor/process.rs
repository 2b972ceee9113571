//! `Process`: the actor that owns one extension UI, service or tool host process.
//!
//! The decisions are [`lifecycle::Lifecycle`]'s, a pure state machine (phases, restart
//! policy, readiness): this actor feeds it events and runs the effects it asks for — spawn
//! the child, ask it to stop, start probes, the MCP handshake and timers. What makes a child
//! ready is a [`lifecycle::Readiness`]: an HTTP probe on its port, a tool host's MCP handshake
//! and first `tools/list` (see [`crate::tools::host`]), or nothing (alive is all there is).
//! Once running, the first two are checked on the liveness schedule: the HTTP probe again, or
//! an MCP `ping` that a hung tool host does not answer.
//! The Python tool host exits with [`TOOLS_IMPORT_FAILED`] when a tools module does not
//! import: retrying cannot help, so that is `misconfigured` with the traceback as the error.
//!
//! Handlers never wait: spawning is immediate, probes and the child's exit run in tasks
//! that report back with messages carrying a generation; each child started or exited, and
//! each cancelled restart, changes it, so a report about a moment that has passed is dropped.
//! An OS process exiting is not an actor failure; this actor owns the restart decision.

mod child;
mod lifecycle;
pub mod logs;
pub(crate) mod policy;
mod probe;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};

use crate::clock::unix_now;
use crate::settings::SupervisorSettings;
pub use child::{ExitInfo, log_file_name, stop_group_remnants};
use child::{Launch, RunningChild, check_script};
use lifecycle::{Effect, Event, Lifecycle, Phase, Readiness};
use logs::LogSink;
use tokio::process::{ChildStdin, ChildStdout};
use tokio::time::Instant;

use crate::tools::{ToolRegistry, host};

/// Status values (SPEC §9), as the API and `state.json` show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// What a process is to its extension, as the API and `state.json` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Ui,
    Service,
    Tools,
}

impl ProcessKind {
    pub fn role(&self) -> Role {
        match self {
            ProcessKind::Ui => Role::Ui,
            ProcessKind::Service(_) => Role::Service,
            ProcessKind::Tools => Role::Tools,
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
    pub env: super::child_env::ProcessEnv,
}

/// The last health probe's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HealthRecord {
    pub at_unix: u64,
    pub ok: bool,
    pub error: Option<String>,
}

/// One process as `state.json` and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProcessRecord {
    pub extension: String,
    pub kind: Role,
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
    /// Health checks that failed since Luna started this process's actor.
    #[serde(default)]
    pub health_check_failures: u32,
    /// Why the process is `misconfigured` or `failed`, or what it is waiting for.
    pub error: Option<String>,
    pub log_file: String,
}

impl ProcessRecord {
    /// A process that cannot be run at all.
    pub fn misconfigured(extension: &str, kind: &ProcessKind, error: String) -> Self {
        Self {
            extension: extension.to_string(),
            kind: kind.role(),
            status: Status::Misconfigured,
            pid: None,
            pgid: None,
            start_time: None,
            port: None,
            restarts: 0,
            started_at_unix: None,
            last_exit: None,
            last_health_check: None,
            health_check_failures: 0,
            error: Some(error),
            log_file: log_file_name(extension, kind).display().to_string(),
        }
    }
}

/// Manual actions from the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// Where a process tells its new record after each change: the process key, the actor that
/// reports (a process restarted as a new actor must not be confused with the old one) and
/// the record.
pub type Reporter = Arc<dyn Fn(&str, ractor::ActorId, ProcessRecord) + Send + Sync>;

pub struct ProcessArgs {
    pub spec: ProcessSpec,
    pub settings: Arc<SupervisorSettings>,
    pub logs: LogSink,
    pub reporter: Reporter,
    pub tools: ToolRegistry,
}

pub struct Process;

pub struct ProcessState {
    id: ractor::ActorId,
    spec: ProcessSpec,
    settings: Arc<SupervisorSettings>,
    logs: LogSink,
    reporter: Reporter,
    tools: ToolRegistry,
    /// The decisions: what phase the process is in and what to do next.
    lifecycle: Lifecycle,
    /// Tags the reports of the current child's tasks and of pending timers. It changes with
    /// every child started or exited and whenever a pending restart is cancelled, so a report
    /// about a moment that has passed is dropped.
    generation: u64,
    child: Option<RunningChild>,
    /// A tool host's MCP channel, from its spawn until the handshake takes it.
    mcp_pipes: Option<(ChildStdout, ChildStdin)>,
    started_at_unix: Option<u64>,
    last_exit: Option<ExitInfo>,
    last_health_check: Option<HealthRecord>,
    health_check_failures: u32,
    /// Luna (or the extension) is stopping: nothing starts again.
    shutting_down: bool,
    /// What the extensions supervisor was last told.
    reported: Option<ProcessRecord>,
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
        let readiness = match (&args.spec.kind, args.spec.port, &args.spec.health_check) {
            (ProcessKind::Tools, _, _) => Readiness::Handshake,
            (_, Some(_), Some(_)) => Readiness::Probe,
            _ => Readiness::Alive,
        };
        let mut state = ProcessState {
            id: myself.get_id(),
            lifecycle: Lifecycle::new(readiness, args.spec.restart_on_failure, &args.settings),
            spec: args.spec,
            settings: args.settings,
            logs: args.logs,
            reporter: args.reporter,
            tools: args.tools,
            generation: 0,
            child: None,
            mcp_pipes: None,
            started_at_unix: None,
            last_exit: None,
            last_health_check: None,
            health_check_failures: 0,
            shutting_down: false,
            reported: None,
            waiting_for_exit: Vec::new(),
            waiting_for_shutdown: Vec::new(),
            waiting_for_spawn: Vec::new(),
        };
        state.feed(&myself, Event::Start);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<ProcessMsg>,
        message: ProcessMsg,
        state: &mut ProcessState,
    ) -> Result<(), ActorProcessingErr> {
        let current = |generation: u64| generation == state.generation;
        match message {
            ProcessMsg::Control(action, reply) => {
                let event = match action {
                    Action::Start => Event::Start,
                    Action::Stop => Event::Stop,
                    Action::Restart => Event::Restart,
                };
                match action {
                    Action::Stop => state.waiting_for_exit.push(reply),
                    Action::Start | Action::Restart => state.waiting_for_spawn.push(reply),
                }
                state.manual(&myself, event);
            }
            ProcessMsg::Shutdown(reply) => {
                state.shutting_down = true;
                state.waiting_for_shutdown.push(reply);
                state.manual(&myself, Event::Stop);
            }
            ProcessMsg::Exited { generation, exit } if current(generation) => {
                state.child = None;
                state.mcp_pipes = None;
                state.generation += 1;
                tracing::info!(process = %state.spec.key, exit = %exit.describe(), "exited");
                let misconfigured = (state.spec.kind == ProcessKind::Tools && exit.code == Some(TOOLS_IMPORT_FAILED))
                    .then(|| {
                        format!("the tools failed to import:\n{}", state.logs.tail(STARTUP_ERROR_LINES).join("\n"))
                    });
                state.last_exit = Some(exit.clone());
                // Whoever waited for this child to go is answered now, even if the next one starts.
                state.answer_exit_waiters(ProcessRecord { status: Status::Stopped, ..state.record() });
                state.feed(&myself, Event::Exited { describe: exit.describe(), misconfigured });
            }
            ProcessMsg::ProbeDue { generation } if current(generation) && state.child.is_some() => {
                state.spawn_probe(&myself);
            }
            ProcessMsg::Probed { generation, result } if current(generation) && state.child.is_some() => {
                state.last_health_check =
                    Some(HealthRecord { at_unix: unix_now(), ok: result.is_ok(), error: result.clone().err() });
                if result.is_err() {
                    state.health_check_failures += 1;
                }
                state.feed(&myself, Event::Checked(result));
            }
            ProcessMsg::ToolsConnected { generation, result } if current(generation) && state.child.is_some() => {
                if let Ok(count) = &result {
                    tracing::info!(process = %state.spec.key, tools = count, "tool host ready");
                }
                state.feed(&myself, Event::Checked(result.map(drop)));
            }
            ProcessMsg::RestartDue { generation } if current(generation) && !state.shutting_down => {
                state.feed(&myself, Event::RestartDue);
            }
            ProcessMsg::StableFor { generation } if current(generation) && state.child.is_some() => {
                state.feed(&myself, Event::StableCheck);
            }
            // A report about an older child or a cancelled timer.
            _ => {}
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
    /// A manual action or a shutdown. Without a child, any pending restart is cancelled.
    fn manual(&mut self, myself: &ActorRef<ProcessMsg>, event: Event) {
        if self.child.is_none() {
            self.generation += 1;
        }
        self.feed(myself, event);
    }

    /// Steps the lifecycle on `event` and runs what it asks for, until nothing is left;
    /// then tells the extensions supervisor and whoever waits.
    fn feed(&mut self, myself: &ActorRef<ProcessMsg>, event: Event) {
        let mut pending = vec![event];
        while let Some(event) = pending.pop() {
            for effect in self.lifecycle.step(event, Instant::now()) {
                if let Some(next) = self.run(myself, effect) {
                    pending.push(next);
                }
            }
        }
        self.report();
        if !self.lifecycle.has_child() {
            self.answer_exit_waiters(self.record());
        }
        if !matches!(self.lifecycle.phase(), Phase::Stopping { .. }) {
            let record = self.record();
            for reply in self.waiting_for_spawn.drain(..) {
                let _ = reply.send(record.clone());
            }
        }
    }

    fn answer_exit_waiters(&mut self, record: ProcessRecord) {
        for reply in self.waiting_for_shutdown.drain(..) {
            let _ = reply.send(());
        }
        for reply in self.waiting_for_exit.drain(..) {
            let _ = reply.send(record.clone());
        }
    }

    /// Runs one effect; a spawn's outcome comes back as the next event.
    fn run(&mut self, myself: &ActorRef<ProcessMsg>, effect: Effect) -> Option<Event> {
        let generation = self.generation;
        match effect {
            Effect::Spawn if self.shutting_down => None,
            Effect::Spawn => Some(self.spawn(myself)),
            Effect::StopChild => {
                if let Some(child) = &mut self.child {
                    child.request_stop();
                }
                None
            }
            Effect::ProbeAfter(delay) => {
                self.schedule(myself, delay, ProcessMsg::ProbeDue { generation });
                None
            }
            Effect::Handshake => {
                if let Some(pipes) = self.mcp_pipes.take() {
                    self.spawn_tools_connect(myself, pipes);
                }
                None
            }
            Effect::RestartAfter(delay) => {
                tracing::warn!(process = %self.spec.key, reason = ?self.lifecycle.error(), delay = ?delay, "restarting");
                self.schedule(myself, delay, ProcessMsg::RestartDue { generation });
                None
            }
            Effect::StableCheckAfter(delay) => {
                self.schedule(myself, delay, ProcessMsg::StableFor { generation });
                None
            }
        }
    }

    /// Starts the child; says how that went.
    fn spawn(&mut self, myself: &ActorRef<ProcessMsg>) -> Event {
        if let Err(reason) = check_script(&self.spec.program) {
            return Event::CannotSpawn { reason, permanent: true };
        }
        if let Some(port) = self.spec.port
            && !crate::sys::port_is_free(port)
        {
            let holder = crate::sys::describe_port_holder(port);
            return Event::CannotSpawn {
                reason: format!("port {port} is held by {holder}; not starting"),
                permanent: false,
            };
        }
        self.generation += 1;
        let generation = self.generation;
        let exit_to = myself.clone();
        let env = self.spec.env.build();
        let launch = Launch {
            program: &self.spec.program,
            args: &self.spec.args,
            dir: &self.spec.dir,
            port: self.spec.port,
            env: &env,
            mcp_stdio: self.spec.kind == ProcessKind::Tools,
        };
        let spawned = child::spawn(launch, self.logs.clone(), self.settings.stop_timeout, move |exit| {
            let _ = exit_to.cast(ProcessMsg::Exited { generation, exit });
        });
        match spawned {
            Ok(mut child) => {
                tracing::info!(process = %self.spec.key, pid = child.pid, port = ?self.spec.port, "started");
                self.mcp_pipes = child.mcp_pipes.take();
                self.child = Some(child);
                self.started_at_unix = Some(unix_now());
                Event::Spawned
            }
            // A bad interpreter line, a missing interpreter, no permission: retrying will not
            // help until someone fixes the script.
            Err(error) if is_permanent(&error) => Event::CannotSpawn {
                reason: format!("cannot run {}: {error}", self.spec.program.display()),
                permanent: true,
            },
            // Busy file, process limit, memory: worth another try after a backoff.
            Err(error) => Event::CannotSpawn {
                reason: format!("cannot start {}: {error}", self.spec.program.display()),
                permanent: false,
            },
        }
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

    /// A health check: `GET` of the health path, or for a tool host an MCP `ping`.
    fn spawn_probe(&self, myself: &ActorRef<ProcessMsg>) {
        let generation = self.generation;
        let timeout = self.settings.probe_timeout;
        let report_to = myself.clone();
        if self.spec.kind == ProcessKind::Tools {
            let (tools, extension) = (self.tools.clone(), self.spec.extension.clone());
            tokio::spawn(async move {
                let result = tools.ping(&extension, timeout).await;
                let _ = report_to.cast(ProcessMsg::Probed { generation, result });
            });
            return;
        }
        let (Some(port), Some(path)) = (self.spec.port, self.spec.health_check.clone()) else { return };
        tokio::spawn(async move {
            let result = probe::probe(port, &path, timeout).await;
            let _ = report_to.cast(ProcessMsg::Probed { generation, result });
        });
    }

    fn schedule(&self, myself: &ActorRef<ProcessMsg>, delay: Duration, message: ProcessMsg) {
        let target = myself.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = target.cast(message);
        });
    }

    /// Tells the extensions supervisor (and so `state.json`) when the record changed.
    fn report(&mut self) {
        let record = self.record();
        if self.reported.as_ref() == Some(&record) {
            return;
        }
        self.reported = Some(record.clone());
        (self.reporter)(&self.spec.key, self.id, record);
    }

    fn record(&self) -> ProcessRecord {
        ProcessRecord {
            extension: self.spec.extension.clone(),
            kind: self.spec.kind.role(),
            status: self.lifecycle.status(),
            pid: self.child.as_ref().map(|child| child.pid),
            pgid: self.child.as_ref().map(|child| child.pgid),
            start_time: self.child.as_ref().and_then(|child| child.start_time),
            port: self.spec.port,
            restarts: self.lifecycle.restarts(),
            started_at_unix: self.child.as_ref().and(self.started_at_unix),
            last_exit: self.last_exit.clone(),
            last_health_check: self.last_health_check.clone(),
            health_check_failures: self.health_check_failures,
            error: self.lifecycle.error().map(str::to_string),
            log_file: self.logs.path().display().to_string(),
        }
    }
}

/// Spawn errors that mean the script itself is broken.
fn is_permanent(error: &std::io::Error) -> bool {
    matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied)
        || error.raw_os_error() == Some(libc::ENOEXEC)
}
