//! Time as Luna shows and schedules it: seconds since the epoch for records people read, and
//! the jitter that keeps things that failed together from retrying in the same instant.

use std::time::Duration;

use rand::Rng;

/// Seconds since the Unix epoch, for records shown to people.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

/// `delay` ±10 %: processes (or certificate orders) that failed together do not all retry
/// in the same instant.
pub fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(rand::rng().random_range(0.9..=1.1))
}
