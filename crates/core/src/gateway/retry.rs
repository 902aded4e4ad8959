//! When to try again: full-jitter exponential backoff, and reading `Retry-After`.
//!
//! Full jitter (a uniform wait in `[0, min(cap, base·2^n)]`) spreads the retries of many
//! tills that failed together, so a payment API that stumbled is not hit by a synchronized
//! wave the moment it recovers. A `Retry-After` from the service overrides the backoff.

use std::time::{Duration, UNIX_EPOCH};

use crate::realtime::backoff;

/// The upper bound of the wait before retry number `retry` (1 = the first retry).
pub fn backoff_ceiling(retry: u32, base: Duration, cap: Duration) -> Duration {
    backoff::exp_ceiling(base, cap, retry.saturating_sub(1))
}

/// A full-jitter wait before retry number `retry`: the session's backoff, counted from 1.
pub fn full_jitter(retry: u32, base: Duration, cap: Duration) -> Duration {
    backoff::full_jitter(base, cap, retry.saturating_sub(1))
}

/// Parses `Retry-After`: delta seconds, or an HTTP date measured against the server's
/// clock (`server_now_ms`, unix ms) so a till whose clock is off still waits the right time.
pub fn parse_retry_after(value: &str, server_now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at_ms = i64::try_from(at.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    let wait_ms = at_ms.saturating_sub(server_now_ms).max(0);
    Some(Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        assert_eq!(backoff_ceiling(1, base, cap), Duration::from_millis(100));
        assert_eq!(backoff_ceiling(2, base, cap), Duration::from_millis(200));
        assert_eq!(backoff_ceiling(4, base, cap), Duration::from_millis(800));
        assert_eq!(backoff_ceiling(6, base, cap), cap);
        assert_eq!(backoff_ceiling(500, base, cap), cap);
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_spreads() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(1);
        let waits: Vec<Duration> = (0..200).map(|_| full_jitter(3, base, cap)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(400)));
        // Uniform over [0, 400 ms]: 200 draws all in one half is astronomically unlikely.
        assert!(waits.iter().any(|w| *w < Duration::from_millis(200)));
        assert!(waits.iter().any(|w| *w > Duration::from_millis(200)));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_on_the_servers_clock() {
        assert_eq!(parse_retry_after(" 7 ", 0), Some(Duration::from_secs(7)));
        // 1994-11-06 08:49:37 GMT is 784_111_777 s; the server says it is 10 s earlier.
        let now = 784_111_767_000;
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(10))
        );
        // A date already past means "now".
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 60_000),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
