//! The read loop: every API read the session makes, under one policy.
//!
//! Reads come from five places — polling while the push channel is down, the resync after
//! each hello, a payment's expiry, "check now", and the check while live (a webhook may
//! never reach the relay) — and all of them go through here, so a `429` with
//! `Retry-After` pauses them all, every read has a deadline, ETags are reused, failures
//! back off with jitter, and at most `max_concurrent_reads` are in flight.
//!
//! While live, each pending payment is read every `live_check_every` (jittered down, never
//! stretched): however often the relay session was re-established, a capture whose
//! webhook was lost is seen within that interval plus one read's deadline. Requested
//! reads (resyncs, expiry, check now) come on top and leave that schedule alone.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;

use super::session::{Counters, Shared};
use crate::backoff::{exp_ceiling, jittered, random_between};
use crate::reader::{ReadError, ReadOutcome};
use crate::tracker::Source;
use crate::wire::{Scope, TILL_METADATA_KEY};

/// Longest pause a `Retry-After` may impose; a larger value is treated as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// How long to leave a payment the API says it does not know, or refuses to read.
const PARK: Duration = Duration::from_secs(30);

struct Schedule {
    next_at: Instant,
    failures: u32,
    expiry_reads: u32,
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut changes = shared.tracker.watch_changes();
    let mut fallback_rx = shared.watch_fallback();
    let cancel = shared.cancel.clone();
    let cfg = shared.config.clone();
    let mut schedules: HashMap<String, Schedule> = HashMap::new();
    let mut fallback = false;
    let mut blocked_until: Option<Instant> = None;
    let mut rate_limits_in_a_row: u32 = 0;
    // Requested reads that a 429 pause held back.
    let mut carry: BTreeSet<String> = BTreeSet::new();

    loop {
        let now = Instant::now();
        let mode = *fallback_rx.borrow_and_update();
        if mode != fallback {
            fallback = mode;
            for (id, s) in schedules.iter_mut() {
                s.next_at = if fallback || !pushed_here(&shared, id) {
                    now
                } else {
                    now + live_gap(cfg.live_check_every)
                };
            }
        }

        // Follow the tracked set: new pending payments get a schedule, settled ones lose it.
        let pending = shared.tracker.watched_ids(shared.tracker.server_now_ms());
        let before = schedules.len();
        schedules.retain(|id, _| pending.contains(id));
        if schedules.len() != before {
            // Validators of payments no longer tracked would only pile up.
            let tracked = shared.tracker.tracked_ids();
            shared.etags().retain(|id, _| tracked.contains(id));
            shared.queue.retain(&tracked);
        }
        for id in &pending {
            schedules.entry(id.clone()).or_insert_with(|| Schedule {
                next_at: if fallback || !pushed_here(&shared, id) {
                    now
                } else {
                    now + live_gap(cfg.live_check_every)
                },
                failures: 0,
                expiry_reads: 0,
            });
        }

        carry.extend(shared.queue.take());
        let blocked = blocked_until.is_some_and(|b| b > now);
        let mut due = BTreeSet::new();
        if !blocked {
            blocked_until = None;
            due.append(&mut carry);
            due.extend(
                schedules
                    .iter()
                    .filter(|(_, s)| s.next_at <= now)
                    .map(|(id, _)| id.clone()),
            );
        }

        if !due.is_empty() {
            let results = tokio::select! {
                _ = cancel.cancelled() => return,
                r = read_all(&shared, due) => r,
            };
            let now = Instant::now();
            for (id, result) in results {
                let outcome = handle(&shared, &id, result).await;
                let Some(s) = schedules.get_mut(&id) else {
                    // A requested read of a settled payment: nothing to schedule.
                    if let Outcome::RateLimited(ra) = outcome {
                        carry.insert(id);
                        rate_limits_in_a_row = rate_limits_in_a_row.saturating_add(1);
                        let until = now + pause(ra, &cfg, rate_limits_in_a_row);
                        blocked_until = Some(blocked_until.map_or(until, |b| b.max(until)));
                    }
                    continue;
                };
                match outcome {
                    Outcome::Answered => {
                        rate_limits_in_a_row = 0;
                        s.failures = 0;
                        let expired = shared.queue.is_expired(&id);
                        s.next_at = if expired {
                            s.expiry_reads = s.expiry_reads.saturating_add(1);
                            now + exp_ceiling(
                                cfg.expiry_recheck,
                                cfg.backoff_cap,
                                s.expiry_reads - 1,
                            )
                        } else if fallback || !pushed_here(&shared, &id) {
                            now + jittered(cfg.poll_interval, cfg.poll_jitter)
                        } else {
                            now + live_gap(cfg.live_check_every)
                        };
                    }
                    Outcome::RateLimited(ra) => {
                        rate_limits_in_a_row = rate_limits_in_a_row.saturating_add(1);
                        let until = now + pause(ra, &cfg, rate_limits_in_a_row);
                        blocked_until = Some(blocked_until.map_or(until, |b| b.max(until)));
                        s.next_at = until;
                    }
                    Outcome::Failed => {
                        s.failures = s.failures.saturating_add(1);
                        let ceiling =
                            exp_ceiling(cfg.poll_interval, cfg.backoff_cap, s.failures - 1);
                        s.next_at = now + random_between(ceiling / 2, ceiling);
                    }
                    Outcome::Parked => s.next_at = now + PARK,
                }
            }
            // Loop again at once: reads may have settled payments or revealed new work.
            continue;
        }

        // While a 429 pause lasts, nothing is due before it ends.
        let wake = match blocked_until.filter(|_| blocked) {
            Some(until) => Some(until),
            None => schedules.values().map(|s| s.next_at).min(),
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            res = changes.changed() => if res.is_err() { return },
            res = fallback_rx.changed() => if res.is_err() { return },
            () = shared.queue.requested() => {}
            _ = sleep_until_opt(wake) => {}
        }
    }
}

/// The wait before the next check while live: the interval, jittered down by up to a
/// fifth so a shop's tills spread out, never beyond it.
/// Whether the relay pushes this payment's news to this session: every payment of the
/// merchant for a merchant-wide session, a till's own payments (by the routing id in
/// their metadata) for a till. Others — a web shop's payment this till watches, one made
/// before the till knew its id — are read at the polling cadence even while live.
fn pushed_here(shared: &Shared, id: &str) -> bool {
    if *shared.scope() == Scope::Merchant {
        return true;
    }
    let Some(mine) = shared.terminal_id.borrow().clone() else {
        return false;
    };
    shared.tracker.get(id).is_some_and(|t| {
        t.payment
            .metadata
            .as_ref()
            .and_then(|m| m.get(TILL_METADATA_KEY))
            .and_then(|v| v.as_str())
            == Some(mine.as_str())
    })
}

fn live_gap(every: Duration) -> Duration {
    random_between(every.mul_f64(0.8), every)
}

fn pause(retry_after: Option<Duration>, cfg: &super::config::SessionConfig, n: u32) -> Duration {
    match retry_after {
        Some(d) => d.min(MAX_RETRY_AFTER),
        // No Retry-After: back off like any retry, doubling per 429 in a row.
        None => {
            let c = exp_ceiling(cfg.poll_interval, cfg.backoff_cap, n.saturating_sub(1));
            random_between(c / 2, c)
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reads every payment in `ids`, a few at a time, each with a deadline.
async fn read_all(
    shared: &Arc<Shared>,
    ids: BTreeSet<String>,
) -> Vec<(String, Result<ReadOutcome, ReadError>)> {
    let limit = shared.config.max_concurrent_reads.max(1);
    let deadline = shared.config.read_timeout;
    futures_util::stream::iter(ids)
        .map(|id| {
            let shared = shared.clone();
            async move {
                let etag = shared.etags().get(&id).cloned();
                Counters::add(&shared.counters.api_reads, 1);
                let res =
                    match tokio::time::timeout(deadline, shared.reader.read(&id, etag.as_deref()))
                        .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(ReadError::Transient(format!(
                            "no answer within {} ms",
                            deadline.as_millis()
                        ))),
                    };
                (id, res)
            }
        })
        .buffer_unordered(limit)
        .collect()
        .await
}

enum Outcome {
    Answered,
    RateLimited(Option<Duration>),
    Failed,
    Parked,
}

/// Feeds one read's result to the tracker and the connection state.
async fn handle(shared: &Shared, id: &str, result: Result<ReadOutcome, ReadError>) -> Outcome {
    let span = tracing::debug_span!("read", payment_id = %id);
    tracing::Instrument::instrument(handle_in_span(shared, id, result), span).await
}

async fn handle_in_span(
    shared: &Shared,
    id: &str,
    result: Result<ReadOutcome, ReadError>,
) -> Outcome {
    match result {
        Ok(ReadOutcome::Modified { payment, etag }) => {
            shared.api_answered();
            if payment.id != id {
                tracing::warn!(got = %payment.id, "API answered with another payment; ignored");
                return Outcome::Parked;
            }
            match shared.tracker.apply(payment, Source::ApiRead).await {
                Ok(_) => {
                    if let Some(etag) = etag {
                        shared.etags().insert(id.to_owned(), etag);
                    }
                    Outcome::Answered
                }
                Err(e) => {
                    tracing::warn!(error = %e, "read not recorded; will read again");
                    shared.etags().remove(id);
                    Outcome::Failed
                }
            }
        }
        Ok(ReadOutcome::NotModified) => {
            shared.api_answered();
            Counters::add(&shared.counters.api_not_modified, 1);
            Outcome::Answered
        }
        Err(ReadError::RateLimited { retry_after }) => {
            shared.api_answered();
            Counters::add(&shared.counters.api_rate_limited, 1);
            tracing::info!(?retry_after, "API rate limit; pausing reads");
            Outcome::RateLimited(retry_after)
        }
        Err(ReadError::NotFound) => {
            shared.api_answered();
            tracing::warn!("the API does not know this payment");
            Outcome::Parked
        }
        Err(ReadError::Fatal(e)) => {
            shared.api_answered();
            Counters::add(&shared.counters.api_failures, 1);
            tracing::error!(error = %e, "payment read refused");
            Outcome::Parked
        }
        Err(ReadError::Transient(e)) => {
            shared.api_failed();
            Counters::add(&shared.counters.api_failures, 1);
            tracing::debug!(error = %e, "payment read failed");
            Outcome::Failed
        }
    }
}
