//! The life of one supervised process as a pure state machine (SPEC §9): a [`Phase`], the
//! [`Event`]s that move it, and the [`Effect`]s a move asks for. [`Lifecycle::step`] decides;
//! the `Process` actor only runs the effects (spawn, stop, timers) and feeds back what they
//! found. Time comes in as an argument, so tests drive every transition with a paused clock.
//!
//! ```text
//!  Stopped/Failed/Misconfigured ──Start──► (Spawn) ──Spawned──► Starting ──ready──► Running
//!        ▲                                   │                    │   not ready in time │
//!        │                         cannot spawn: broken script    ▼                     │ 2 failed probes
//!        │                              ► Misconfigured      Stopping{Failure} ◄────────┤ or exit
//!   Stop / exit                                                    │ exited             │
//!        │                                                         ▼                    ▼
//!   Stopping{Stay}                   BackingOff ◄──budget left── failure ──spent──► Failed
//!                                        └──RestartDue──► (Spawn)
//! ```

use std::time::Duration;

use tokio::time::Instant;

use super::Status;
use super::policy::RestartPolicy;
use crate::settings::SupervisorSettings;

/// Where a process is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// No child, and none wanted: not started yet, stopped by hand, shut down.
    Stopped,
    /// A child runs and is not ready yet; `probes` readiness probes were sent.
    Starting { probes: u32 },
    /// A child runs and was ready; `failed_probes` liveness probes in a row failed (one:
    /// unhealthy; two: it is restarted).
    Running { failed_probes: u32 },
    /// The child was asked to stop; `then` says what follows its exit. `shown` is the
    /// status shown meanwhile (the one it had).
    Stopping { then: AfterExit, shown: Status },
    /// No child; the next start waits out a backoff.
    BackingOff,
    /// No child; the restart budget is spent (or restarts are off). A manual start clears it.
    Failed,
    /// The process cannot be run as it is (missing or non-executable script, tools that do
    /// not import); never retried until a manual start.
    Misconfigured,
}

/// What follows the exit of a child that was asked to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterExit {
    /// Stay stopped (a manual stop or a shutdown).
    Stay,
    /// Start again at once (a manual restart or start).
    StartAgain,
    /// It failed (health checks, readiness): a restart under the policy, for this reason.
    Failure(String),
}

/// What makes a started child ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// An HTTP health probe on its port answers (and keeps answering: liveness).
    Probe,
    /// A tool host's MCP handshake and first `tools/list` succeed.
    Handshake,
    /// Nothing to ask: alive is all that can be known.
    Alive,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Start it (the first start, or by hand: a fresh restart budget).
    Start,
    /// Stop it (by hand, or Luna's shutdown).
    Stop,
    /// Stop it if it runs, then start it (by hand: a fresh restart budget).
    Restart,
    /// The child runs.
    Spawned,
    /// The child could not be started: `permanent` when the script itself is broken.
    CannotSpawn { reason: String, permanent: bool },
    /// A readiness or liveness probe, or the MCP handshake, answered.
    Checked(Result<(), String>),
    /// The child exited (`describe`s how). `misconfigured` names a reason restarting cannot
    /// help with (a tool host whose tools do not import, with their output).
    Exited { describe: String, misconfigured: Option<String> },
    /// The backoff is over.
    RestartDue,
    /// Time to look whether it has run long enough to earn a fresh restart budget.
    StableCheck,
}

/// What a step asks the actor to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start a child; the outcome comes back as `Spawned` or `CannotSpawn`.
    Spawn,
    /// Ask the child to stop; its exit comes back as `Exited`.
    StopChild,
    /// Probe after this long; the answer comes back as `Checked`.
    ProbeAfter(Duration),
    /// Begin the MCP handshake; the outcome comes back as `Checked`.
    Handshake,
    /// Send `RestartDue` after this long.
    RestartAfter(Duration),
    /// Send `StableCheck` after this long.
    StableCheckAfter(Duration),
}

/// The timings the lifecycle needs (from `[supervisor]`).
#[derive(Debug, Clone)]
struct Timings {
    readiness_interval: Duration,
    readiness_timeout: Duration,
    liveness_interval: Duration,
    stable_uptime: Duration,
    restart_budget: u32,
    restart_window: Duration,
}

/// One process's phase and what its decisions rest on.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    phase: Phase,
    readiness: Readiness,
    restart_on_failure: bool,
    timings: Timings,
    policy: RestartPolicy,
    /// When the current child started.
    started: Option<Instant>,
    /// Since when it has been running without interruption.
    running_since: Option<Instant>,
    /// Restarts after failures so far.
    restarts: u32,
    /// Why it is misconfigured or failed, or what it is waiting for.
    error: Option<String>,
}

impl Lifecycle {
    pub fn new(readiness: Readiness, restart_on_failure: bool, settings: &SupervisorSettings) -> Self {
        Self {
            phase: Phase::Stopped,
            readiness,
            restart_on_failure,
            timings: Timings {
                readiness_interval: settings.readiness_interval,
                readiness_timeout: settings.readiness_timeout,
                liveness_interval: settings.liveness_interval,
                stable_uptime: settings.stable_uptime,
                restart_budget: settings.restart_budget,
                restart_window: settings.restart_window,
            },
            policy: RestartPolicy::new(settings),
            started: None,
            running_since: None,
            restarts: 0,
            error: None,
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Whether a child runs in this phase.
    pub fn has_child(&self) -> bool {
        matches!(self.phase, Phase::Starting { .. } | Phase::Running { .. } | Phase::Stopping { .. })
    }

    /// The status the API and `state.json` show.
    pub fn status(&self) -> Status {
        match &self.phase {
            Phase::Stopped => Status::Stopped,
            Phase::Starting { .. } | Phase::BackingOff => Status::Starting,
            Phase::Running { failed_probes: 0 } => Status::Running,
            Phase::Running { .. } => Status::Unhealthy,
            Phase::Stopping { shown, .. } => *shown,
            Phase::Failed => Status::Failed,
            Phase::Misconfigured => Status::Misconfigured,
        }
    }

    /// Moves on `event` at `now`; returns what the actor must do.
    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        match (self.phase.clone(), event) {
            // --- by hand ---------------------------------------------------------------
            (Phase::Starting { .. } | Phase::Running { .. }, Event::Start) => vec![],
            (Phase::Stopping { shown, .. }, Event::Start | Event::Restart) => {
                self.policy.reset();
                self.phase = Phase::Stopping { then: AfterExit::StartAgain, shown };
                vec![]
            }
            (_, Event::Start | Event::Restart) if !self.has_child() => {
                self.policy.reset();
                vec![Effect::Spawn]
            }
            (_, Event::Restart) => {
                self.policy.reset();
                self.stop(AfterExit::StartAgain)
            }
            (Phase::Stopping { shown, .. }, Event::Stop) => {
                self.phase = Phase::Stopping { then: AfterExit::Stay, shown };
                vec![]
            }
            (Phase::Starting { .. } | Phase::Running { .. }, Event::Stop) => self.stop(AfterExit::Stay),
            (Phase::Misconfigured, Event::Stop) => vec![],
            (_, Event::Stop) => self.enter(Phase::Stopped, now),

            // --- starting --------------------------------------------------------------
            (_, Event::Spawned) => {
                self.started = Some(now);
                self.error = None;
                let mut effects = vec![Effect::StableCheckAfter(self.timings.stable_uptime)];
                match self.readiness {
                    Readiness::Probe => {
                        self.enter(Phase::Starting { probes: 0 }, now);
                        effects.push(Effect::ProbeAfter(readiness_delay(0, self.timings.readiness_interval)));
                    }
                    Readiness::Handshake => {
                        self.enter(Phase::Starting { probes: 0 }, now);
                        effects.push(Effect::Handshake);
                    }
                    Readiness::Alive => {
                        self.enter(Phase::Running { failed_probes: 0 }, now);
                    }
                }
                effects
            }
            (_, Event::CannotSpawn { reason, permanent: true }) => {
                self.error = Some(reason);
                self.enter(Phase::Misconfigured, now)
            }
            (_, Event::CannotSpawn { reason, permanent: false }) => self.failure(reason, now),
            (Phase::Starting { probes }, Event::Checked(result)) => match result {
                Ok(()) => {
                    self.error = None;
                    self.enter(Phase::Running { failed_probes: 0 }, now);
                    self.next_liveness_probe()
                }
                Err(error) if self.readiness == Readiness::Handshake => self.stop(AfterExit::Failure(error)),
                Err(error) => {
                    let waited = self.started.map_or(Duration::ZERO, |started| now.duration_since(started));
                    if waited >= self.timings.readiness_timeout {
                        let reason = format!("not ready after {}s: {error}", waited.as_secs());
                        return self.stop(AfterExit::Failure(reason));
                    }
                    self.phase = Phase::Starting { probes: probes + 1 };
                    vec![Effect::ProbeAfter(readiness_delay(probes + 1, self.timings.readiness_interval))]
                }
            },
            (Phase::Running { failed_probes }, Event::Checked(result)) => match result {
                Ok(()) => {
                    self.error = None;
                    self.enter(Phase::Running { failed_probes: 0 }, now);
                    self.next_liveness_probe()
                }
                Err(error) if failed_probes + 1 >= 2 => {
                    self.stop(AfterExit::Failure(format!("{} health checks failed: {error}", failed_probes + 1)))
                }
                Err(_) => {
                    self.enter(Phase::Running { failed_probes: failed_probes + 1 }, now);
                    self.next_liveness_probe()
                }
            },

            // --- exits -----------------------------------------------------------------
            // Not ready yet, and restarting cannot help: whether it was stopped for failing
            // its handshake (which the exit races) or is being restarted by hand.
            (
                Phase::Starting { .. }
                | Phase::Stopping { then: AfterExit::Failure(_) | AfterExit::StartAgain, shown: Status::Starting },
                Event::Exited { misconfigured: Some(reason), .. },
            ) => {
                self.error = Some(reason);
                self.enter(Phase::Misconfigured, now)
            }
            (Phase::Stopping { then, .. }, Event::Exited { .. }) => match then {
                AfterExit::Stay => self.enter(Phase::Stopped, now),
                AfterExit::StartAgain => {
                    self.enter(Phase::Stopped, now);
                    vec![Effect::Spawn]
                }
                AfterExit::Failure(reason) => self.failure(reason, now),
            },
            (Phase::Starting { .. } | Phase::Running { .. }, Event::Exited { describe, .. }) => {
                self.failure(format!("{describe} unexpectedly"), now)
            }

            // --- timers ----------------------------------------------------------------
            (Phase::BackingOff, Event::RestartDue) => {
                self.restarts += 1;
                vec![Effect::Spawn]
            }
            (Phase::Starting { .. } | Phase::Running { .. }, Event::StableCheck) => {
                let stable = self.timings.stable_uptime;
                match self.running_since.map(|since| now.duration_since(since)) {
                    Some(running) if running >= stable => {
                        self.policy.reset();
                        vec![]
                    }
                    // Not running long enough yet: look again when it could be.
                    running => vec![Effect::StableCheckAfter(stable - running.unwrap_or_default())],
                }
            }
            // Anything else is a report about a moment that has passed.
            _ => vec![],
        }
    }

    fn stop(&mut self, then: AfterExit) -> Vec<Effect> {
        if let AfterExit::Failure(reason) = &then {
            self.error = Some(reason.clone());
        }
        self.running_since = None;
        self.phase = Phase::Stopping { then, shown: self.status() };
        vec![Effect::StopChild]
    }

    /// A failure with no child running: restart after a backoff, or give up.
    fn failure(&mut self, reason: String, now: Instant) -> Vec<Effect> {
        if !self.restart_on_failure {
            self.error = Some(format!("{reason}; restart_on_failure is off"));
            return self.enter(Phase::Failed, now);
        }
        match self.policy.on_failure(now) {
            Some(delay) => {
                self.error = Some(format!("{reason}; restarting in {:.1}s", delay.as_secs_f64()));
                self.enter(Phase::BackingOff, now);
                vec![Effect::RestartAfter(delay)]
            }
            None => {
                self.error = Some(format!(
                    "{reason}; gave up after {} restarts in {}s (start or restart it to try again)",
                    self.timings.restart_budget,
                    self.timings.restart_window.as_secs()
                ));
                self.enter(Phase::Failed, now)
            }
        }
    }

    fn enter(&mut self, phase: Phase, now: Instant) -> Vec<Effect> {
        let running = phase == Phase::Running { failed_probes: 0 };
        if !running {
            self.running_since = None;
        } else if self.running_since.is_none() {
            self.running_since = Some(now);
        }
        self.phase = phase;
        vec![]
    }

    /// An HTTP process is probed on its health path; a tool host is pinged over MCP.
    fn next_liveness_probe(&self) -> Vec<Effect> {
        match self.readiness {
            Readiness::Probe | Readiness::Handshake => vec![Effect::ProbeAfter(self.timings.liveness_interval)],
            Readiness::Alive => vec![],
        }
    }
}

/// Readiness probes start 100 ms after a start and double up to `interval`: a quick process
/// is seen ready at once, a slow one is not probed in a tight loop.
fn readiness_delay(probes: u32, interval: Duration) -> Duration {
    Duration::from_millis(100).saturating_mul(2u32.saturating_pow(probes.min(16))).min(interval)
}

#[cfg(test)]
mod tests;
