//! Clocks: this till's own ([`LocalClock`]) and a server's, as measured from here
//! ([`ServerClock`]). A leaf: everything that counts time uses it, it uses nothing.
//!
//! A till's clock can be minutes off; the customer's deadline is the payment API's. Every
//! response that carries a server's time is a sample: the API's HTTP `Date` (1 s
//! resolution) for the API's clock, the relay's hello and heartbeats (milliseconds) for
//! the relay's — two clocks, because the relay's may differ from the API's and deadlines
//! are the API's. Each sample brackets the
//! offset between the moment the request left and the moment the answer arrived, so its
//! uncertainty is half the round trip plus the resolution. The estimate keeps the sample
//! with the smallest uncertainty, widened by how long ago it was taken (clocks drift), so
//! one slow response never drags a good estimate away.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Drift allowance: a quartz clock drifts well under 100 ppm; we assume 200 ppm.
const DRIFT_PPM: i64 = 200;

/// One observation of the server's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSample {
    /// Server time, unix milliseconds.
    pub server_ms: i64,
    /// The server's clock resolution in milliseconds (1000 for HTTP `Date`).
    pub resolution_ms: i64,
    /// Local wall clock when the request left, unix ms.
    pub sent_local_ms: i64,
    /// Local wall clock when the answer arrived, unix ms.
    pub received_local_ms: i64,
}

impl ClockSample {
    /// A sample taken by one pushed message (no request: the round trip is unknown, so the
    /// caller gives what it knows of the one-way delay, e.g. the last heartbeat's RTT).
    pub fn pushed(server_ms: i64, received_local_ms: i64, one_way_bound_ms: i64) -> Self {
        ClockSample {
            server_ms,
            resolution_ms: 1,
            sent_local_ms: received_local_ms - one_way_bound_ms.max(0),
            received_local_ms,
        }
    }

    /// A sample from an HTTP `Date` header.
    pub fn from_http_date(date: &str, sent_local_ms: i64, received_local_ms: i64) -> Option<Self> {
        let t = httpdate::parse_http_date(date).ok()?;
        let server_ms = i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
        Some(ClockSample {
            // `Date` truncates to the second: the true time is in [s, s + 1000).
            server_ms: server_ms + 500,
            resolution_ms: 1000,
            sent_local_ms,
            received_local_ms,
        })
    }

    /// Offset (server − local) in ms, taking the server's reading at the midpoint.
    fn offset_ms(&self) -> i64 {
        let mid = self.sent_local_ms + (self.received_local_ms - self.sent_local_ms) / 2;
        self.server_ms - mid
    }

    fn uncertainty_ms(&self) -> i64 {
        (self.received_local_ms - self.sent_local_ms).max(0) / 2 + self.resolution_ms / 2
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetEstimate {
    /// Server time minus local time, in ms: positive when the till is behind.
    pub offset_ms: i64,
    /// How wrong `offset_ms` may be, in ms, at the time of reading.
    pub uncertainty_ms: i64,
    /// How many samples have been offered.
    pub samples: u64,
}

#[derive(Debug)]
struct Best {
    offset_ms: i64,
    uncertainty_ms: i64,
    at: Instant,
}

#[derive(Debug, Default)]
struct State {
    best: Option<Best>,
    samples: u64,
}

/// The shared estimate of the server's clock. Cheap to clone; every clone sees every sample.
#[derive(Clone, Debug, Default)]
pub struct ServerClock {
    state: Arc<Mutex<State>>,
}

/// Local wall clock, unix milliseconds.
pub fn local_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl ServerClock {
    pub fn new() -> Self {
        Self::default()
    }

    fn aged(best: &Best, now: Instant) -> i64 {
        let age_ms = i64::try_from(now.duration_since(best.at).as_millis()).unwrap_or(i64::MAX);
        best.uncertainty_ms
            .saturating_add(age_ms.saturating_mul(DRIFT_PPM) / 1_000_000)
    }

    /// Offers a sample; it replaces the estimate when it is tighter than the current one
    /// has become with age.
    pub fn observe(&self, sample: ClockSample) {
        if sample.received_local_ms < sample.sent_local_ms {
            return; // the local clock stepped backwards mid-request: no information
        }
        let now = Instant::now();
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.samples += 1;
        let candidate = Best {
            offset_ms: sample.offset_ms(),
            uncertainty_ms: sample.uncertainty_ms(),
            at: now,
        };
        let replace = match &st.best {
            None => true,
            Some(best) => candidate.uncertainty_ms <= Self::aged(best, now),
        };
        if replace {
            st.best = Some(candidate);
        }
    }

    pub fn estimate(&self) -> Option<OffsetEstimate> {
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.best.as_ref().map(|b| OffsetEstimate {
            offset_ms: b.offset_ms,
            uncertainty_ms: Self::aged(b, Instant::now()),
            samples: st.samples,
        })
    }

    /// Offset in ms (0 until the first sample).
    pub fn offset_ms(&self) -> i64 {
        self.estimate().map_or(0, |e| e.offset_ms)
    }

    /// The server's time now, unix ms, by our best estimate.
    pub fn server_now_ms(&self) -> i64 {
        local_now_ms() + self.offset_ms()
    }

    /// How long until the server's clock reads `server_unix_ms`; zero if it already has.
    pub fn until_server_time(&self, server_unix_ms: i64) -> Duration {
        let ms = server_unix_ms.saturating_sub(self.server_now_ms());
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }
}

/// The terminal's own wall clock. Real terminals use [`LocalClock::system`]; tests give a
/// terminal a clock that is minutes off with [`LocalClock::skewed`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalClock {
    skew_ms: i64,
}

impl LocalClock {
    pub fn system() -> Self {
        LocalClock { skew_ms: 0 }
    }

    /// The system clock plus `skew_ms` (negative: the till runs behind).
    pub fn skewed(skew_ms: i64) -> Self {
        LocalClock { skew_ms }
    }

    /// Unix milliseconds, as this terminal believes.
    pub fn now_ms(&self) -> i64 {
        local_now_ms().saturating_add(self.skew_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_till_that_runs_minutes_behind() {
        let clock = ServerClock::new();
        assert_eq!(clock.offset_ms(), 0);
        // The till thinks it is 1_000_000; the server said 1_180_020 mid-way of a 40 ms trip.
        clock.observe(ClockSample {
            server_ms: 1_180_020,
            resolution_ms: 1,
            sent_local_ms: 1_000_000,
            received_local_ms: 1_000_040,
        });
        let e = clock.estimate().unwrap();
        assert_eq!(e.offset_ms, 180_000);
        assert!(e.uncertainty_ms <= 21);
    }

    #[test]
    fn a_slow_sample_never_replaces_a_tight_one() {
        let clock = ServerClock::new();
        clock.observe(ClockSample::pushed(10_500, 10_000, 4));
        clock.observe(ClockSample {
            server_ms: 99_999,
            resolution_ms: 1000,
            sent_local_ms: 10_000,
            received_local_ms: 13_000,
        });
        assert_eq!(clock.offset_ms(), 502);
    }

    #[test]
    fn reads_http_date() {
        let s = ClockSample::from_http_date("Sun, 06 Nov 1994 08:49:37 GMT", 0, 100).unwrap();
        assert_eq!(s.server_ms, 784_111_777_000 + 500);
        assert_eq!(s.uncertainty_ms(), 550);
        assert!(ClockSample::from_http_date("yesterday", 0, 1).is_none());
    }
}
