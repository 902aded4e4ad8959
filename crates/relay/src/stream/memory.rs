//! The in-memory backend: one process, nothing shared. The embedded default.
//!
//! Each merchant has a ring of recent events bounded by count and age. The replay claim,
//! the route, the offset and the hand-off to the hub happen under the merchant's lock, so
//! the order sessions see is the order of offsets and a claim always has its event. The
//! epoch is chosen at start-up: after a restart every old position is plainly
//! `not_recovered`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use paydesk_protocol::wire::StreamPosition;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::hub::Hub;
use super::route::Owners;
use super::{
    decide, new_epoch, Appended, Audience, Backend, BackendError, NewEvent, Pushed, Since, Stored,
    StreamState, TicketGrant,
};

struct Log {
    head: u64,
    entries: VecDeque<(Instant, Pushed)>,
    /// Which till each recent payment belongs to (for its refunds).
    owners: Owners,
    /// The last offset routed to each till this epoch (bounded by the terminals there are).
    till_last: HashMap<Arc<str>, u64>,
}

pub struct MemoryBackend {
    epoch: Arc<str>,
    hub: Arc<Hub>,
    logs: HashMap<String, Mutex<Log>>,
    max_events: usize,
    max_age: Duration,
    tickets: Mutex<HashMap<[u8; 32], (TicketGrant, Instant)>>,
    max_tickets: usize,
    seen: Mutex<Seen>,
}

/// Replay memory bounded by count and age: a map for lookups (key → expiry and the offset
/// the event was stored at), a queue for expiry order.
struct Seen {
    keys: HashMap<String, (Instant, u64)>,
    order: VecDeque<(Instant, String)>,
    max: usize,
}

impl Seen {
    /// The offset a live claim on `key` was stored at.
    fn claimed(&self, key: &str, now: Instant) -> Option<u64> {
        self.keys
            .get(key)
            .filter(|(expires, _)| *expires > now)
            .map(|(_, offset)| *offset)
    }

    /// Records `key` (stored at `offset`) for `window`, dropping what expired or what
    /// exceeds the bound.
    fn claim(&mut self, key: String, offset: u64, now: Instant, window: Duration) {
        while let Some((expires, _)) = self.order.front() {
            let over = self.order.len() >= self.max;
            if *expires > now && !over {
                break;
            }
            if let Some((_, k)) = self.order.pop_front() {
                if self.keys.get(&k).is_some_and(|(e, _)| *e <= now || over) {
                    self.keys.remove(&k);
                }
            }
        }
        let expires = now + window;
        self.keys.insert(key.clone(), (expires, offset));
        self.order.push_back((expires, key));
    }
}

impl MemoryBackend {
    pub fn new(
        hub: Arc<Hub>,
        merchants: impl IntoIterator<Item = String>,
        max_events: usize,
        max_age: Duration,
        max_tickets: usize,
        max_seen: usize,
        owners_max: usize,
    ) -> Self {
        MemoryBackend {
            epoch: new_epoch().into(),
            hub,
            logs: merchants
                .into_iter()
                .map(|m| {
                    (
                        m,
                        Mutex::new(Log {
                            head: 0,
                            entries: VecDeque::new(),
                            // Allocated as payments arrive, up to the bound.
                            owners: Owners::new(owners_max),
                            till_last: HashMap::new(),
                        }),
                    )
                })
                .collect(),
            max_events,
            max_age,
            tickets: Mutex::new(HashMap::new()),
            max_tickets,
            seen: Mutex::new(Seen {
                keys: HashMap::new(),
                order: VecDeque::new(),
                max: max_seen.max(1),
            }),
        }
    }

    fn trim(&self, log: &mut Log, now: Instant) {
        while log.entries.len() > self.max_events
            || log
                .entries
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > self.max_age)
        {
            log.entries.pop_front();
        }
    }

    /// The merchant's event log, locked.
    fn log(&self, merchant: &str) -> Result<MutexGuard<'_, Log>, BackendError> {
        self.logs
            .get(merchant)
            .ok_or(BackendError::UnknownMerchant)?
            .lock()
            .map_err(|_| BackendError::Corrupt("event log lock poisoned".into()))
    }

    fn append_now(&self, merchant: &str, event: &NewEvent<'_>) -> Result<Stored, BackendError> {
        let mut log = self.log(merchant)?;
        let now = Instant::now();
        let key = format!("{merchant}/{}", event.key);
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| BackendError::Corrupt("replay lock poisoned".into()))?;
        if let Some(offset) = seen.claimed(&key, now) {
            return Ok(Stored::Duplicate(Some(Appended {
                epoch: self.epoch.to_string(),
                offset,
                till: None,
            })));
        }
        log.head += 1;
        let offset = log.head;
        let till = log.owners.resolve(&event.route);
        let till_prev = till
            .as_ref()
            .map(|t| log.till_last.insert(t.clone(), offset).unwrap_or(0));
        let pushed = Pushed::new(
            self.epoch.clone(),
            offset,
            till.clone(),
            till_prev,
            event.body,
        );
        seen.claim(key, offset, now, event.window);
        drop(seen);
        log.entries.push_back((now, pushed.clone()));
        self.trim(&mut log, now);
        // Under the lock, so the hub sees events in offset order.
        self.hub.publish(merchant, pushed);
        Ok(Stored::New(Appended {
            epoch: self.epoch.to_string(),
            offset,
            till: till.map(|t| t.to_string()),
        }))
    }

    fn since_now(
        &self,
        merchant: &str,
        from: Option<&StreamPosition>,
        audience: &Audience,
    ) -> Result<Since, BackendError> {
        let mut log = self.log(merchant)?;
        self.trim(&mut log, Instant::now());
        let state = StreamState {
            epoch: self.epoch.clone(),
            head: log.head,
            till_last: audience
                .till()
                .and_then(|t| log.till_last.get(t).copied())
                .unwrap_or(0),
        };
        Ok(decide(from, state, audience, |after| {
            let first = log.entries.front().map(|(_, p)| p.offset)?;
            if matches!(audience, Audience::Merchant) && first > after + 1 {
                return None;
            }
            Some(
                log.entries
                    .iter()
                    .filter(|(_, p)| p.offset > after && audience.wants(p))
                    .map(|(_, p)| p.clone())
                    .collect(),
            )
        }))
    }
}

impl Backend for MemoryBackend {
    fn append<'a>(
        &'a self,
        merchant: &'a str,
        event: NewEvent<'a>,
    ) -> BoxFuture<'a, Result<Stored, BackendError>> {
        futures_util::future::ready(self.append_now(merchant, &event)).boxed()
    }

    fn since<'a>(
        &'a self,
        merchant: &'a str,
        from: Option<&'a StreamPosition>,
        audience: &'a Audience,
    ) -> BoxFuture<'a, Result<Since, BackendError>> {
        futures_util::future::ready(self.since_now(merchant, from, audience)).boxed()
    }

    fn put_ticket<'a>(
        &'a self,
        hash: [u8; 32],
        grant: TicketGrant,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        let r = (|| {
            let mut t = self
                .tickets
                .lock()
                .map_err(|_| BackendError::Corrupt("ticket lock poisoned".into()))?;
            let now = Instant::now();
            if t.len() >= self.max_tickets {
                t.retain(|_, (_, exp)| *exp > now);
                if t.len() >= self.max_tickets {
                    return Err(BackendError::Full("ticket store"));
                }
            }
            t.insert(hash, (grant, now + ttl));
            Ok(())
        })();
        futures_util::future::ready(r).boxed()
    }

    fn take_ticket<'a>(
        &'a self,
        hash: [u8; 32],
    ) -> BoxFuture<'a, Result<Option<TicketGrant>, BackendError>> {
        let r = self
            .tickets
            .lock()
            .map_err(|_| BackendError::Corrupt("ticket lock poisoned".into()))
            .map(|mut t| {
                t.remove(&hash)
                    .filter(|(_, exp)| *exp > Instant::now())
                    .map(|(g, _)| g)
            });
        futures_util::future::ready(r).boxed()
    }

    fn start(&self, _cancel: CancellationToken, _tracker: &TaskTracker) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::RouteBy;
    use paydesk_protocol::wire::Recovery;

    fn backend(max_events: usize) -> MemoryBackend {
        let hub = Arc::new(Hub::new(&["m".to_owned()], 16, 4));
        MemoryBackend::new(
            hub,
            ["m".to_owned()],
            max_events,
            Duration::from_secs(60),
            10,
            3,
            100,
        )
    }

    fn append(b: &MemoryBackend, key: &str, route: RouteBy) -> Stored {
        b.append_now(
            "m",
            &NewEvent {
                key,
                body: r#"{"id":"e"}"#,
                route,
                window: Duration::from_secs(60),
            },
        )
        .unwrap()
    }

    fn unrouted(payment: &str) -> RouteBy {
        RouteBy::Remembered {
            payment_id: payment.into(),
        }
    }

    #[test]
    fn resume_returns_exactly_the_missed_events_or_says_not_recovered() {
        let b = backend(3);
        for i in 0..4 {
            append(&b, &format!("e{i}"), unrouted("p"));
        }
        let since_now = |m: &str, from: Option<StreamPosition>| {
            b.since_now(m, from.as_ref(), &Audience::Merchant)
        };
        let epoch = b.epoch.to_string();
        let at = |offset| StreamPosition {
            epoch: epoch.clone(),
            offset,
        };
        let s = since_now("m", Some(at(2))).unwrap();
        assert_eq!(s.recovery, Recovery::Recovered);
        assert_eq!(
            s.events.iter().map(|e| e.offset).collect::<Vec<_>>(),
            [3, 4]
        );
        assert_eq!(
            since_now("m", Some(at(1))).unwrap().recovery,
            Recovery::Recovered,
            "offset 2..4 are kept"
        );
        assert_eq!(
            since_now("m", Some(at(0))).unwrap().recovery,
            Recovery::NotRecovered,
            "offset 1 was trimmed"
        );
        assert_eq!(
            since_now("m", Some(at(9))).unwrap().recovery,
            Recovery::NotRecovered
        );
        let other = StreamPosition {
            epoch: "x".into(),
            offset: 4,
        };
        assert_eq!(
            since_now("m", Some(other.clone())).unwrap().recovery,
            Recovery::NotRecovered
        );
        assert_eq!(since_now("m", None).unwrap().offset, 4);
    }

    #[test]
    fn an_event_is_stored_once_and_its_repeat_names_where() {
        let b = backend(10);
        let first = append(&b, "evt_1", unrouted("p"));
        let Stored::New(at) = first else {
            panic!("{first:?}")
        };
        assert_eq!(
            append(&b, "evt_1", unrouted("p")),
            Stored::Duplicate(Some(Appended {
                epoch: at.epoch.clone(),
                offset: at.offset,
                till: None
            }))
        );
        let s = b.since_now("m", None, &Audience::Merchant).unwrap();
        assert_eq!(s.offset, 1, "nothing stored twice");
    }

    #[test]
    fn refunds_follow_their_payment_and_each_till_resumes_by_its_chain() {
        let b = backend(100);
        let till = |t: &str, p: &str| RouteBy::Till {
            payment_id: p.into(),
            till: Arc::from(t),
        };
        append(&b, "e1", till("t_a", "p1")); // 1 → a
        append(&b, "e2", till("t_b", "p2")); // 2 → b
        append(&b, "e3", unrouted("p1")); // 3 → a (refund of p1)
        append(&b, "e4", unrouted("p_web")); // 4 → nobody
        let a = Audience::Till(Arc::from("t_a"));
        let epoch = b.epoch.to_string();
        let s = b
            .since_now(
                "m",
                Some(&StreamPosition {
                    epoch: epoch.clone(),
                    offset: 0,
                }),
                &a,
            )
            .unwrap();
        let got: Vec<_> = s.events.iter().map(|e| (e.offset, e.till_prev)).collect();
        assert_eq!(got, [(1, Some(0)), (3, Some(1))]);
        let s = b
            .since_now("m", Some(&StreamPosition { epoch, offset: 3 }), &a)
            .unwrap();
        assert_eq!(
            (s.recovery, s.events.len(), s.offset),
            (Recovery::Recovered, 0, 4)
        );
    }

    #[test]
    fn replay_memory_is_bounded_by_count_and_age() {
        let mut s = Seen {
            keys: HashMap::new(),
            order: VecDeque::new(),
            max: 2,
        };
        let t0 = Instant::now();
        let w = Duration::from_secs(10);
        s.claim("a".into(), 1, t0, w);
        assert_eq!(s.claimed("a", t0), Some(1));
        assert_eq!(
            s.claimed("a", t0 + w + w),
            None,
            "forgotten after the window"
        );
        s.claim("b".into(), 2, t0 + w + w, w);
        s.claim("c".into(), 3, t0 + w + w, w);
        s.claim("d".into(), 4, t0 + w + w, w);
        assert!(s.keys.len() <= 2);
    }
}
