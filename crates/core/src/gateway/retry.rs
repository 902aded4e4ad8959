//! Reading `Retry-After`. The backoff itself (full jitter, counted from attempt 0) is
//! [`paydesk_protocol::backoff`], the one every retry in PayDesk uses; a `Retry-After`
//! from the service overrides it.

use std::time::{Duration, UNIX_EPOCH};

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
