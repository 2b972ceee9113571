//! Timings and limits of process supervision (SPEC §9). Every one is a setting so tests
//! can shorten them; the defaults are the product's behaviour.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;

use super::{Origin, SettingsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorSettings {
    /// Between readiness probes after a start.
    pub readiness_interval: Duration,
    /// A child not ready after this long counts as a failed start.
    pub readiness_timeout: Duration,
    /// Between liveness probes once running.
    pub liveness_interval: Duration,
    /// One probe (readiness or liveness) gives up after this long.
    pub probe_timeout: Duration,
    /// SIGTERM to the group, then this long, then SIGKILL.
    pub stop_timeout: Duration,
    /// First restart delay; doubles per restart, with jitter.
    pub restart_backoff_initial: Duration,
    pub restart_backoff_max: Duration,
    /// Restarts allowed inside `restart_window`; one more failure means `failed`.
    pub restart_budget: u32,
    pub restart_window: Duration,
    /// Healthy uptime that resets the restart budget.
    pub stable_uptime: Duration,
    /// A log file is rotated when it would grow past this.
    pub log_max_bytes: u64,
    /// Rotated log files kept (`.1` ... `.N`).
    pub log_backups: u32,
    /// Lines kept in memory per child for the API.
    pub log_tail_lines: usize,
    /// Ports assigned to extension UIs.
    pub ui_ports: RangeInclusive<u16>,
    /// Ports assigned to extension services.
    pub service_ports: RangeInclusive<u16>,
}

impl Default for SupervisorSettings {
    fn default() -> Self {
        Self {
            readiness_interval: Duration::from_secs(1),
            readiness_timeout: Duration::from_secs(60),
            liveness_interval: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(5),
            stop_timeout: Duration::from_secs(5),
            restart_backoff_initial: Duration::from_secs(1),
            restart_backoff_max: Duration::from_secs(60),
            restart_budget: 2,
            restart_window: Duration::from_secs(600),
            stable_uptime: Duration::from_secs(300),
            log_max_bytes: 10 * 1024 * 1024,
            log_backups: 3,
            log_tail_lines: 1000,
            ui_ports: 5200..=5299,
            service_ports: 5300..=5399,
        }
    }
}

/// The `[supervisor]` table of `luna.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SupervisorSection {
    pub readiness_interval_ms: Option<u64>,
    pub readiness_timeout_secs: Option<u64>,
    pub liveness_interval_ms: Option<u64>,
    pub probe_timeout_ms: Option<u64>,
    pub stop_timeout_ms: Option<u64>,
    pub restart_backoff_initial_ms: Option<u64>,
    pub restart_backoff_max_secs: Option<u64>,
    pub restart_budget: Option<u32>,
    pub restart_window_secs: Option<u64>,
    pub stable_uptime_secs: Option<u64>,
    pub log_max_bytes: Option<u64>,
    pub log_backups: Option<u32>,
    pub log_tail_lines: Option<usize>,
    pub ui_ports: Option<[u16; 2]>,
    pub service_ports: Option<[u16; 2]>,
}

impl SupervisorSection {
    pub fn validate(self, origin: &Origin) -> Result<SupervisorSettings, SettingsError> {
        let defaults = SupervisorSettings::default();
        let positive = |key: &str, value: Option<u64>, unit: fn(u64) -> Duration, default: Duration| match value {
            None => Ok(default),
            Some(0) => Err(SettingsError::new(&format!("supervisor.{key}"), origin.clone(), "must be greater than 0")),
            Some(value) => Ok(unit(value)),
        };
        let millis = Duration::from_millis;
        let secs = Duration::from_secs;
        let settings = SupervisorSettings {
            readiness_interval: positive(
                "readiness_interval_ms",
                self.readiness_interval_ms,
                millis,
                defaults.readiness_interval,
            )?,
            readiness_timeout: positive(
                "readiness_timeout_secs",
                self.readiness_timeout_secs,
                secs,
                defaults.readiness_timeout,
            )?,
            liveness_interval: positive(
                "liveness_interval_ms",
                self.liveness_interval_ms,
                millis,
                defaults.liveness_interval,
            )?,
            probe_timeout: positive("probe_timeout_ms", self.probe_timeout_ms, millis, defaults.probe_timeout)?,
            stop_timeout: positive("stop_timeout_ms", self.stop_timeout_ms, millis, defaults.stop_timeout)?,
            restart_backoff_initial: positive(
                "restart_backoff_initial_ms",
                self.restart_backoff_initial_ms,
                millis,
                defaults.restart_backoff_initial,
            )?,
            restart_backoff_max: positive(
                "restart_backoff_max_secs",
                self.restart_backoff_max_secs,
                secs,
                defaults.restart_backoff_max,
            )?,
            restart_budget: self.restart_budget.unwrap_or(defaults.restart_budget),
            restart_window: positive("restart_window_secs", self.restart_window_secs, secs, defaults.restart_window)?,
            stable_uptime: positive("stable_uptime_secs", self.stable_uptime_secs, secs, defaults.stable_uptime)?,
            log_max_bytes: match self.log_max_bytes {
                Some(bytes) if bytes < 4096 => {
                    return Err(SettingsError::new(
                        "supervisor.log_max_bytes",
                        origin.clone(),
                        "must be at least 4096",
                    ));
                }
                other => other.unwrap_or(defaults.log_max_bytes),
            },
            log_backups: self.log_backups.unwrap_or(defaults.log_backups),
            log_tail_lines: match self.log_tail_lines {
                Some(0) => {
                    return Err(SettingsError::new(
                        "supervisor.log_tail_lines",
                        origin.clone(),
                        "must be greater than 0",
                    ));
                }
                other => other.unwrap_or(defaults.log_tail_lines),
            },
            ui_ports: port_range("ui_ports", self.ui_ports, defaults.ui_ports, origin)?,
            service_ports: port_range("service_ports", self.service_ports, defaults.service_ports, origin)?,
        };
        let (ui, service) = (&settings.ui_ports, &settings.service_ports);
        if ui.start() <= service.end() && service.start() <= ui.end() {
            return Err(SettingsError::new("supervisor.service_ports", origin.clone(), "overlaps supervisor.ui_ports"));
        }
        if settings.stop_timeout > Duration::from_secs(5) {
            // Luna's own shutdown must finish within its drain budget.
            return Err(SettingsError::new("supervisor.stop_timeout_ms", origin.clone(), "must be at most 5000"));
        }
        Ok(settings)
    }
}

fn port_range(
    key: &str,
    value: Option<[u16; 2]>,
    default: RangeInclusive<u16>,
    origin: &Origin,
) -> Result<RangeInclusive<u16>, SettingsError> {
    match value {
        None => Ok(default),
        Some([first, last]) if first > 0 && first <= last => Ok(first..=last),
        Some(_) => Err(SettingsError::new(
            &format!("supervisor.{key}"),
            origin.clone(),
            "must be [first, last] with 0 < first <= last",
        )),
    }
}
