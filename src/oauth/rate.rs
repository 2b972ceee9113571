//! Per-client-address rate limits for the public OAuth endpoints: a token bucket per
//! (endpoint, address), refilled continuously. The table is bounded: when it is full,
//! buckets that have refilled completely are dropped (they carry no information).
//!
//! An IPv6 client usually holds a whole /64 and can rotate through it, so IPv6 addresses
//! are counted by their /64 ([`address_key`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

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

/// What an address is counted as: an IPv4 address (IPv4-mapped ones too) as itself, an IPv6
/// address as its /64; anything else (the API socket) as it is.
pub fn address_key(address: &str) -> String {
    match address.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) if ip.to_ipv4_mapped().is_none() => {
            let [a, b, c, d, ..] = ip.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        Ok(IpAddr::V6(ip)) => ip.to_ipv4_mapped().map_or_else(|| ip.to_string(), |v4| v4.to_string()),
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Err(_) => address.to_string(),
    }
}

/// Database work the unauthenticated OAuth endpoints may do at once, across all addresses.
/// A flood from many addresses then waits here instead of in the database pool, where the
/// gateway's session checks (everyone's logins) wait too.
const PUBLIC_DB_WORK: usize = 4;
/// How long a public request waits for its turn before it is told to come back.
const PUBLIC_DB_WAIT: Duration = Duration::from_secs(2);

/// The limits of the OAuth endpoints.
pub struct OAuthLimits {
    pub register: RateLimiter,
    pub authorize: RateLimiter,
    pub token: RateLimiter,
    pub revoke: RateLimiter,
    database: Semaphore,
}

impl OAuthLimits {
    /// A turn at the database for an unauthenticated request; `None` when Luna is too busy.
    pub async fn database_turn(&self) -> Option<SemaphorePermit<'_>> {
        tokio::time::timeout(PUBLIC_DB_WAIT, self.database.acquire()).await.ok()?.ok()
    }
}

impl Default for OAuthLimits {
    fn default() -> Self {
        Self {
            register: RateLimiter::new(10, Duration::from_secs(60)),
            authorize: RateLimiter::new(30, Duration::from_secs(60)),
            token: RateLimiter::new(60, Duration::from_secs(60)),
            revoke: RateLimiter::new(30, Duration::from_secs(60)),
            database: Semaphore::new(PUBLIC_DB_WORK),
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

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(address_key("2001:db8:1:3::1"), address_key("2001:db8:1:2::1"));
        assert_eq!(address_key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(address_key("192.0.2.1"), "192.0.2.1");
        assert_eq!(address_key("socket"), "socket");

        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        for host in ["2001:db8::1", "2001:db8::2"] {
            assert_eq!(limiter.check(&address_key(host)), Ok(()));
        }
        assert!(limiter.check(&address_key("2001:db8::3")).is_err(), "rotating through the /64 does not help");
    }
}
