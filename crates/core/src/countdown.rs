//! The countdown a customer sees beside the QR code: a pure calculator.
//!
//! The deadline is the payment API's (`expired_at`, or `created + time_window`),
//! converted once into a monotonic [`Instant`] through the measured offset of the API's
//! clock — so a till whose clock is minutes off still shows the server's remaining time,
//! and a wall-clock step does not move it. Ticks fall at the instants where the whole
//! seconds left change and the number shown is recomputed from the deadline each time:
//! never counted, so a stalled timer catches up instead of drifting.
//!
//! The realtime session runs the countdowns of pending payments (`realtime::countdowns`);
//! this module only computes.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::clock::ServerClock;

/// Re-anchor a running countdown when the clock estimate moved by more than this.
const REANCHOR_MS: i64 = 250;

/// One countdown step: whole seconds left, as the server counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tick {
    pub payment_id: String,
    pub remaining_secs: u64,
    pub deadline_unix_ms: i64,
}

/// One payment's countdown: a monotonic deadline and the server deadline it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Countdown {
    deadline_unix_ms: i64,
    deadline: Instant,
    anchored_offset_ms: i64,
}

impl Countdown {
    /// Anchors the server's `deadline_unix_ms` on the monotonic clock, given the server's
    /// time now (`server_now_ms`) and the offset that estimate used.
    pub fn anchor(deadline_unix_ms: i64, server_now_ms: i64, offset_ms: i64) -> Countdown {
        let now = Instant::now();
        let left = deadline_unix_ms.saturating_sub(server_now_ms);
        let deadline = if left >= 0 {
            now + Duration::from_millis(u64::try_from(left).unwrap_or(0))
        } else {
            now.checked_sub(Duration::from_millis(left.unsigned_abs()))
                .unwrap_or(now)
        };
        Countdown {
            deadline_unix_ms,
            deadline,
            anchored_offset_ms: offset_ms,
        }
    }

    /// Anchors on a server clock estimate and this till's local time now.
    pub fn on(deadline_unix_ms: i64, clock: &ServerClock, local_now_ms: i64) -> Countdown {
        let offset = clock.offset_ms();
        Countdown::anchor(deadline_unix_ms, local_now_ms + offset, offset)
    }

    pub fn deadline_unix_ms(&self) -> i64 {
        self.deadline_unix_ms
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    pub fn remaining(&self, now: Instant) -> Duration {
        self.deadline.saturating_duration_since(now)
    }

    /// Whole seconds left, rounded up: "0:01" until the very end.
    pub fn remaining_secs(&self, now: Instant) -> u64 {
        let r = self.remaining(now);
        r.as_secs() + u64::from(r.subsec_nanos() > 0)
    }

    pub fn is_expired(&self, now: Instant) -> bool {
        now >= self.deadline
    }

    /// When the number shown next changes: the deadline minus the whole seconds that
    /// will then be left. At one second left, that is the deadline itself.
    pub fn next_tick(&self, now: Instant) -> Instant {
        let secs = self.remaining_secs(now);
        if secs == 0 {
            return self.deadline;
        }
        self.deadline
            .checked_sub(Duration::from_secs(secs - 1))
            .unwrap_or(now)
    }

    /// Re-anchors when a better clock estimate moved the offset noticeably.
    pub fn reanchored(self, clock: &ServerClock, local_now_ms: i64) -> Countdown {
        if (clock.offset_ms() - self.anchored_offset_ms).abs() > REANCHOR_MS {
            Countdown::on(self.deadline_unix_ms, clock, local_now_ms)
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ticks_land_on_second_boundaries_of_the_deadline() {
        // 2.4 s left: shows 3, then 2 at +0.4 s, 1 at +1.4 s, expiry at +2.4 s.
        let c = Countdown::anchor(10_000, 7_600, 0);
        let start = Instant::now();
        assert_eq!(c.remaining_secs(start), 3);
        assert_eq!(c.next_tick(start), start + Duration::from_millis(400));
        let t1 = c.next_tick(start);
        assert_eq!(c.remaining_secs(t1), 2);
        assert_eq!(c.next_tick(t1), start + Duration::from_millis(1400));
        let t2 = c.next_tick(t1);
        assert_eq!(c.remaining_secs(t2), 1);
        assert_eq!(c.next_tick(t2), c.deadline());
        assert!(c.is_expired(c.deadline()));
        assert_eq!(c.remaining_secs(c.deadline()), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_timer_catches_up_instead_of_counting() {
        let c = Countdown::anchor(60_000, 0, 0);
        let start = Instant::now();
        // The process was frozen for 7.3 s: the next reading is from the deadline.
        tokio::time::advance(Duration::from_millis(7_300)).await;
        let now = Instant::now();
        assert_eq!(now - start, Duration::from_millis(7_300));
        assert_eq!(c.remaining_secs(now), 53);
        assert_eq!(c.next_tick(now), start + Duration::from_secs(8));
    }

    #[test]
    fn a_deadline_already_past_is_expired() {
        let c = Countdown::anchor(1_000, 5_000, 0);
        assert!(c.is_expired(Instant::now()));
        assert_eq!(c.remaining_secs(Instant::now()), 0);
    }
}
