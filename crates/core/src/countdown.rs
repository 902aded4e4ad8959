//! The countdown a customer sees beside the QR code.
//!
//! The deadline is the server's (`expired_at`, or `created + time_window`), converted once
//! into a monotonic [`Instant`] through the measured server-clock offset — so a till whose
//! clock is minutes off still shows the server's remaining time, and a wall-clock step
//! does not move it. Ticks are scheduled at the instants where the whole seconds left
//! change and the number shown is recomputed from the deadline each time: never counted,
//! so a stalled timer catches up instead of drifting. Expiry fires once per payment, and
//! then the status is re-read from the API, because a payment can be captured in its last
//! second.
//!
//! `run` drives every tracked payment's countdown for the session; it publishes
//! [`Tick`]s and [`TrackerEvent::Expired`] through the tracker.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::local_now_ms;
use crate::tracker::{Tick, Tracker, TrackerEvent};

/// Re-anchor a running countdown when the clock estimate moved by more than this.
const REANCHOR_MS: i64 = 250;

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

    /// Anchors on the tracker's clocks.
    pub fn for_tracker(deadline_unix_ms: i64, tracker: &Tracker) -> Countdown {
        let offset = tracker.server_clock().offset_ms();
        Countdown::anchor(
            deadline_unix_ms,
            tracker.local_clock().now_ms() + offset,
            offset,
        )
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
    fn reanchored(self, tracker: &Tracker) -> Countdown {
        let offset = tracker.server_clock().offset_ms();
        if (offset - self.anchored_offset_ms).abs() > REANCHOR_MS {
            Countdown::for_tracker(self.deadline_unix_ms, tracker)
        } else {
            self
        }
    }
}

struct Running {
    countdown: Countdown,
    next_due: Instant,
}

/// Runs the countdowns of every tracked pending payment until `cancel`. At expiry it
/// publishes [`TrackerEvent::Expired`] once and asks the session for an API read.
pub(crate) async fn run(tracker: Tracker, cancel: CancellationToken) {
    let mut changes = tracker.watch_changes();
    let mut running: HashMap<String, Running> = HashMap::new();
    loop {
        sync(&tracker, &mut running);
        let now = Instant::now();
        let mut expired = Vec::new();
        for (id, r) in running.iter_mut() {
            r.countdown = r.countdown.reanchored(&tracker);
            if r.countdown.is_expired(now) {
                expired.push((id.clone(), r.countdown.deadline_unix_ms()));
            } else if r.next_due <= now {
                tracker.publish(TrackerEvent::Tick(Tick {
                    payment_id: id.clone(),
                    remaining_secs: r.countdown.remaining_secs(now),
                    deadline_unix_ms: r.countdown.deadline_unix_ms(),
                }));
                r.next_due = r.countdown.next_tick(now);
            }
        }
        for (id, deadline_unix_ms) in expired {
            running.remove(&id);
            if tracker.mark_expiry_fired(&id) {
                tracing::info!(payment_id = %id, "countdown reached zero; re-reading status");
                tracker.publish(TrackerEvent::Tick(Tick {
                    payment_id: id.clone(),
                    remaining_secs: 0,
                    deadline_unix_ms,
                }));
                tracker.publish(TrackerEvent::Expired {
                    payment_id: id.clone(),
                    deadline_unix_ms,
                });
                tracker.request_read(&id);
            }
        }
        let wake = running
            .values()
            .map(|r| r.next_due.min(r.countdown.deadline()))
            .min();
        tokio::select! {
            _ = cancel.cancelled() => return,
            res = changes.changed() => if res.is_err() { return },
            _ = sleep_until_opt(wake) => {}
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Starts countdowns for new pending payments with a deadline; drops the others.
fn sync(tracker: &Tracker, running: &mut HashMap<String, Running>) {
    let mut keep = Vec::new();
    for id in tracker.pending_ids() {
        let Some(view) = tracker.get(&id) else {
            continue;
        };
        let Some(deadline) = view.deadline_unix_ms else {
            continue;
        };
        if view.expiry_fired {
            continue;
        }
        keep.push(id.clone());
        match running.get(&id) {
            Some(r) if r.countdown.deadline_unix_ms() == deadline => {}
            _ => {
                running.insert(
                    id,
                    Running {
                        countdown: Countdown::for_tracker(deadline, tracker),
                        next_due: Instant::now(),
                    },
                );
            }
        }
    }
    running.retain(|id, _| keep.contains(id));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ClockSample, ServerClock};
    use crate::payment::{Payment, PaymentStatus};
    use crate::tracker::{NoJournal, Source, Subscription};
    use std::sync::Arc;

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

    fn payment_with_deadline(id: &str, deadline_s: i64) -> Payment {
        serde_json::from_str(&format!(
            r#"{{"id":"{id}","amount":100,"currency":"USD","status":"pending","expired_at":{deadline_s}}}"#
        ))
        .unwrap()
    }

    async fn next_timed(sub: &mut Subscription) -> TrackerEvent {
        loop {
            match sub.recv().await.unwrap() {
                e @ (TrackerEvent::Tick(_) | TrackerEvent::Expired { .. }) => return e,
                _ => continue,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_till_minutes_behind_shows_the_servers_remaining_time() {
        // The till runs 7 minutes behind; the server clock estimate knows it.
        let local = LocalClock::skewed(-420_000);
        let server = ServerClock::new();
        let local_now = local.now_ms();
        server.observe(ClockSample::pushed(local_now + 420_000, local_now, 2));
        let tracker = Tracker::with_clocks(Arc::new(NoJournal), server, local);
        let server_now_s = (local_now + 420_000) / 1000;
        // 90 s left by the server's clock (plus the part of the current second).
        let deadline_s = server_now_s + 90;
        let mut sub = tracker.subscribe();
        tracker
            .track(
                payment_with_deadline("p1", deadline_s),
                Source::CreateResponse,
            )
            .unwrap();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(tracker.clone(), cancel.clone()));
        let TrackerEvent::Tick(first) = next_timed(&mut sub).await else {
            panic!("expected a tick");
        };
        assert!(
            (90..=91).contains(&first.remaining_secs),
            "till clock leaked into the countdown: {first:?}"
        );
        assert_eq!(first.deadline_unix_ms, deadline_s * 1000);
        cancel.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_fires_once_and_asks_for_a_read() {
        let local = LocalClock::system();
        let server = ServerClock::new();
        let tracker = Tracker::with_clocks(Arc::new(NoJournal), server, local);
        // Deadline 3 s away by the server's (= local) clock, on a second boundary.
        let deadline_s = local.now_ms() / 1000 + 3;
        let mut sub = tracker.subscribe();
        tracker
            .track(
                payment_with_deadline("p1", deadline_s),
                Source::CreateResponse,
            )
            .unwrap();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(tracker.clone(), cancel.clone()));
        let mut seen = Vec::new();
        loop {
            match next_timed(&mut sub).await {
                TrackerEvent::Tick(t) => seen.push(t.remaining_secs),
                TrackerEvent::Expired { payment_id, .. } => {
                    assert_eq!(payment_id, "p1");
                    break;
                }
                _ => unreachable!(),
            }
        }
        // Strictly decreasing whole seconds, ending at zero; no repeats.
        assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");
        assert_eq!(seen.last(), Some(&0));
        assert!(tracker.take_needs_read().contains("p1"));
        assert!(tracker.get("p1").unwrap().expiry_fired);
        // The payment is still pending (until the API says otherwise); no second expiry.
        tracker.request_read("p1");
        tokio::time::advance(Duration::from_secs(5)).await;
        tokio::task::yield_now().await;
        while let Some(e) = sub.try_recv() {
            assert!(
                !matches!(e, TrackerEvent::Expired { .. }),
                "expiry fired twice"
            );
        }
        assert_eq!(
            tracker.get("p1").unwrap().status,
            PaymentStatus::Pending,
            "expiry alone never decides the status"
        );
        cancel.cancel();
        task.await.unwrap();
    }
}
