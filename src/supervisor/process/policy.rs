//! The restart policy of one process (SPEC §9): exponential backoff with jitter, a budget
//! of restarts inside a window, and a reset after stable uptime. Pure logic; the caller
//! supplies the clock (tokio's, so tests can pause it).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::settings::SupervisorSettings;

#[derive(Debug, Clone)]
pub struct RestartPolicy {
    budget: u32,
    window: Duration,
    initial: Duration,
    max: Duration,
    /// When recent restarts happened, oldest first; entries leave after `window`.
    restarts: VecDeque<Instant>,
    /// Consecutive restarts without a stable period: the backoff exponent.
    attempt: u32,
}

impl RestartPolicy {
    pub fn new(settings: &SupervisorSettings) -> Self {
        Self {
            budget: settings.restart_budget,
            window: settings.restart_window,
            initial: settings.restart_backoff_initial,
            max: settings.restart_backoff_max,
            restarts: VecDeque::new(),
            attempt: 0,
        }
    }

    /// After a failure at `now`: the delay before the next start, or `None` when the
    /// budget is spent and the process should be marked `failed`.
    pub fn on_failure(&mut self, now: Instant) -> Option<Duration> {
        while self.restarts.front().is_some_and(|at| now.duration_since(*at) >= self.window) {
            self.restarts.pop_front();
        }
        if self.restarts.len() as u32 >= self.budget {
            return None;
        }
        self.restarts.push_back(now);
        let delay = self.backoff(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        Some(crate::clock::jitter(delay))
    }

    /// Stable uptime, or a manual start: a fresh budget and no backoff.
    pub fn reset(&mut self) {
        self.restarts.clear();
        self.attempt = 0;
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy::new(&SupervisorSettings { restart_budget: 2, ..SupervisorSettings::default() })
    }

    fn within(delay: Duration, expected: Duration) -> bool {
        delay >= expected.mul_f64(0.9) && delay <= expected.mul_f64(1.1)
    }

    #[test]
    fn two_restarts_then_failed() {
        let mut policy = policy();
        let now = Instant::now();
        assert!(within(policy.on_failure(now).unwrap(), Duration::from_secs(1)));
        assert!(within(policy.on_failure(now + Duration::from_secs(2)).unwrap(), Duration::from_secs(2)));
        assert_eq!(policy.on_failure(now + Duration::from_secs(5)), None);
    }

    #[test]
    fn the_window_forgives_old_restarts() {
        let mut policy = policy();
        let now = Instant::now();
        policy.on_failure(now).unwrap();
        policy.on_failure(now + Duration::from_secs(1)).unwrap();
        assert!(policy.on_failure(now + Duration::from_secs(601)).is_some());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RestartPolicy::new(&SupervisorSettings::default());
        let delays: Vec<u64> = (0..8).map(|attempt| policy.backoff(attempt).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn reset_restores_the_budget() {
        let mut policy = policy();
        let now = Instant::now();
        policy.on_failure(now);
        policy.on_failure(now);
        policy.reset();
        assert!(within(policy.on_failure(now).unwrap(), Duration::from_secs(1)));
    }
}
