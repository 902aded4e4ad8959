//! Token buckets for ticket issuance, one per terminal key and one per source address.
//!
//! Implemented as GCRA (one `Instant` per key: the theoretical arrival time), which is a
//! token bucket without floating point. The map is bounded: keys whose bucket is full
//! again are forgotten, and when it is still full new keys are refused (fail closed).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimit;

pub struct RateLimiter<K> {
    interval: Duration,
    tolerance: Duration,
    max_keys: usize,
    tats: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(limit: RateLimit, max_keys: usize) -> Self {
        let interval = Duration::from_secs(60) / limit.per_minute.max(1);
        RateLimiter {
            interval,
            tolerance: interval * limit.burst.saturating_sub(1),
            max_keys,
            tats: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key` at `now`; `Err(retry_after)` when there is none.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Ok(mut tats) = self.tats.lock() else {
            return Err(Duration::from_secs(1));
        };
        if !tats.contains_key(key) && tats.len() >= self.max_keys {
            tats.retain(|_, tat| *tat > now);
            if tats.len() >= self.max_keys {
                return Err(self.interval);
            }
        }
        let tat = tats.get(key).copied().unwrap_or(now).max(now);
        let allow_at = tat.checked_sub(self.tolerance).unwrap_or(now);
        if now < allow_at {
            return Err(allow_at - now);
        }
        tats.insert(key.clone(), tat + self.interval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refills_at_the_rate() {
        let rl = RateLimiter::new(
            RateLimit {
                burst: 3,
                per_minute: 60,
            },
            10,
        );
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.check(&"k", t0).is_ok());
        }
        let wait = rl.check(&"k", t0).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        assert!(rl.check(&"other", t0).is_ok(), "keys are independent");
        assert!(rl.check(&"k", t0 + Duration::from_secs(1)).is_ok());
        assert!(rl.check(&"k", t0 + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_full_map_refuses_new_keys_until_buckets_refill() {
        let rl = RateLimiter::new(
            RateLimit {
                burst: 1,
                per_minute: 60,
            },
            2,
        );
        let t0 = Instant::now();
        assert!(rl.check(&1, t0).is_ok());
        assert!(rl.check(&2, t0).is_ok());
        assert!(rl.check(&3, t0).is_err());
        assert!(rl.check(&3, t0 + Duration::from_secs(2)).is_ok());
    }
}
