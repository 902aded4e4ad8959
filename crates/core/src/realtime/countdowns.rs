//! The session's countdown task: every pending payment's countdown, ticking on the
//! server's second boundaries, computed by [`crate::countdown`].
//!
//! It publishes [`Tick`]s and, once per payment, [`TrackerEvent::Expired`] through the
//! tracker's event stream, and then asks the read loop to re-read the payment: a payment
//! can be captured in its last second, and expiry alone never decides the status.

use std::collections::HashMap;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::queue::ReadQueue;
use crate::countdown::{Countdown, Tick};
use crate::tracker::{Tracker, TrackerEvent};

struct Running {
    countdown: Countdown,
    next_due: Instant,
}

/// Runs the countdowns of every tracked pending payment until `cancel`.
pub(crate) async fn run(tracker: Tracker, queue: ReadQueue, cancel: CancellationToken) {
    let mut changes = tracker.watch_changes();
    let mut running: HashMap<String, Running> = HashMap::new();
    loop {
        sync(&tracker, &queue, &mut running);
        let now = Instant::now();
        let local_now = tracker.local_clock().now_ms();
        let mut expired = Vec::new();
        for (id, r) in running.iter_mut() {
            r.countdown = r.countdown.reanchored(tracker.server_clock(), local_now);
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
            if queue.mark_expired(&id) {
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
                queue.request(&id);
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
fn sync(tracker: &Tracker, queue: &ReadQueue, running: &mut HashMap<String, Running>) {
    let mut keep = Vec::new();
    for id in tracker.pending_ids() {
        let Some(view) = tracker.get(&id) else {
            continue;
        };
        let Some(deadline) = view.deadline_unix_ms else {
            continue;
        };
        if queue.is_expired(&id) {
            continue;
        }
        keep.push(id.clone());
        match running.get(&id) {
            Some(r) if r.countdown.deadline_unix_ms() == deadline => {}
            _ => {
                let countdown = Countdown::on(
                    deadline,
                    tracker.server_clock(),
                    tracker.local_clock().now_ms(),
                );
                running.insert(
                    id,
                    Running {
                        countdown,
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
    use std::sync::Arc;
    use std::time::Duration;

    use crate::clock::{ClockSample, LocalClock, ServerClock};
    use crate::payment::{Payment, PaymentStatus};
    use crate::tracker::{NoJournal, Source, Subscription};

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
        let tracker = Tracker::with_clocks(Arc::new(NoJournal::default()), server, local);
        let server_now_s = (local_now + 420_000) / 1000;
        // 90 s left by the server's clock (plus the part of the current second).
        let deadline_s = server_now_s + 90;
        let mut sub = tracker.subscribe();
        tracker
            .track(
                payment_with_deadline("p1", deadline_s),
                Source::CreateResponse,
            )
            .await
            .unwrap();
        let queue = ReadQueue::default();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(tracker.clone(), queue.clone(), cancel.clone()));
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
        let tracker = Tracker::with_clocks(Arc::new(NoJournal::default()), server, local);
        // Deadline 3 s away by the server's (= local) clock, on a second boundary.
        let deadline_s = local.now_ms() / 1000 + 3;
        let mut sub = tracker.subscribe();
        tracker
            .track(
                payment_with_deadline("p1", deadline_s),
                Source::CreateResponse,
            )
            .await
            .unwrap();
        let queue = ReadQueue::default();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(tracker.clone(), queue.clone(), cancel.clone()));
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
        assert!(queue.take().contains("p1"));
        assert!(queue.is_expired("p1"));
        // The payment is still pending (until the API says otherwise); no second expiry.
        queue.request("p1");
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
