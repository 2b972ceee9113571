//! Per-client-address rate limits for the public OAuth endpoints: a token bucket per
//! (endpoint, address), refilled continuously. The table is bounded: when it is full,
//! buckets that have refilled completely are dropped (they carry no information).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Distinct addresses remembered per limiter.
const MAX_BUCKETS: usize = 10_000;

pub struct RateLimiter {
    /// Requests allowed in a burst.
    burst: f64,
    /// Tokens added per second.
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `count` requests per `per`, all of them allowed at once.
    pub fn new(count: u32, per: Duration) -> Self {
        Self { burst: count as f64, per_second: count as f64 / per.as_secs_f64(), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`; `Err(wait)` says how long until one is available.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
            if buckets.len() >= MAX_BUCKETS {
                return Err(Duration::from_secs(1));
            }
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

/// The limits of the OAuth endpoints.
pub struct OAuthLimits {
    pub register: RateLimiter,
    pub authorize: RateLimiter,
    pub token: RateLimiter,
}

impl Default for OAuthLimits {
    fn default() -> Self {
        Self {
            register: RateLimiter::new(10, Duration::from_secs(60)),
            authorize: RateLimiter::new(30, Duration::from_secs(60)),
            token: RateLimiter::new(60, Duration::from_secs(60)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_per_address() {
        let limiter = RateLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(limiter.check("10.0.0.1"), Ok(()));
        }
        let wait = limiter.check("10.0.0.1").unwrap_err();
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20), "{wait:?}");
        assert_eq!(limiter.check("10.0.0.2"), Ok(()), "another address has its own bucket");
    }
}
