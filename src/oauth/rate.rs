//! Per-client-address rate limits for the public OAuth endpoints: a token bucket per
//! (endpoint, address), refilled continuously. The table is bounded: when it is full,
//! buckets that have refilled completely are dropped (they carry no information), and
//! then the one used longest ago: a flood from many addresses must not lock out new ones (the
//! shared database turns bound what such a flood can do).
//!
//! An IPv6 client usually holds a whole /64 and can rotate through it, so IPv6 addresses
//! are counted by their /64 ([`address_key`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
            let used_longest_ago = buckets.iter().min_by_key(|(_, (_, at))| *at).map(|(key, _)| key.clone());
            if buckets.len() >= MAX_BUCKETS
                && let Some(key) = used_longest_ago
            {
                buckets.remove(&key);
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

/// Database work the unauthenticated OAuth endpoints may do at once: registration,
/// authorization and revocation share one pool, token requests (connected clients refreshing)
/// have their own. A flood from many addresses then waits here instead of in the database
/// pool, where the gateway's session checks (everyone's logins) wait too.
const DATABASE_TURNS: usize = 4;
/// How long a public request waits for its turn before it is told to come back.
const DATABASE_WAIT: Duration = Duration::from_secs(2);

/// One public endpoint's limits: a rate per address, and the database turns it draws from.
pub struct EndpointLimits {
    pub rate: RateLimiter,
    turns: Arc<Semaphore>,
}

impl EndpointLimits {
    fn new(count: u32, per: Duration, turns: &Arc<Semaphore>) -> Self {
        Self { rate: RateLimiter::new(count, per), turns: Arc::clone(turns) }
    }

    /// A turn at the database; `None` when Luna is too busy.
    pub async fn database_turn(&self) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(DATABASE_WAIT, Arc::clone(&self.turns).acquire_owned()).await.ok()?.ok()
    }
}

/// The limits of the OAuth endpoints.
pub struct OAuthLimits {
    pub register: EndpointLimits,
    pub authorize: EndpointLimits,
    pub token: EndpointLimits,
    pub revoke: EndpointLimits,
}

impl Default for OAuthLimits {
    fn default() -> Self {
        let shared = Arc::new(Semaphore::new(DATABASE_TURNS));
        let minute = Duration::from_secs(60);
        Self {
            register: EndpointLimits::new(10, minute, &shared),
            authorize: EndpointLimits::new(30, minute, &shared),
            token: EndpointLimits::new(60, minute, &Arc::new(Semaphore::new(DATABASE_TURNS))),
            revoke: EndpointLimits::new(30, minute, &shared),
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
    fn a_full_table_makes_room_instead_of_refusing_newcomers() {
        let limiter = RateLimiter::new(1, Duration::from_secs(3600));
        for n in 0..MAX_BUCKETS {
            assert_eq!(limiter.check(&format!("flood-{n}")), Ok(()));
        }
        assert_eq!(limiter.check("newcomer"), Ok(()), "the bucket used longest ago made room");
        assert!(limiter.check("newcomer").is_err(), "and the newcomer is limited like anyone");
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
