//! The in-memory backend: one process, nothing shared. The embedded default.
//!
//! Each merchant has a ring of recent events bounded by count and age. Offsets are
//! assigned and events handed to the hub under the same lock, so the order sessions see is
//! the order of offsets. The epoch is chosen at start-up: after a restart every old
//! position is plainly `not_recovered`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use paydesk_protocol::wire::StreamPosition;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::hub::Hub;
use super::{decide, new_epoch, Appended, Backend, BackendError, Pushed, Since, TicketGrant};

struct Log {
    head: u64,
    entries: VecDeque<(Instant, Pushed)>,
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

/// Replay memory bounded by count and age: a map for lookups, a queue for expiry order.
struct Seen {
    keys: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
    max: usize,
}

impl Seen {
    fn claim(&mut self, key: String, now: Instant, window: Duration) -> bool {
        while let Some((expires, _)) = self.order.front() {
            let over = self.order.len() >= self.max;
            if *expires > now && !over {
                break;
            }
            if let Some((_, k)) = self.order.pop_front() {
                if self.keys.get(&k).is_some_and(|e| *e <= now || over) {
                    self.keys.remove(&k);
                }
            }
        }
        if self.keys.get(&key).is_some_and(|e| *e > now) {
            return false;
        }
        let expires = now + window;
        self.keys.insert(key.clone(), expires);
        self.order.push_back((expires, key));
        true
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

    fn append_now(&self, merchant: &str, body: &str) -> Result<Appended, BackendError> {
        let mut log = self.log(merchant)?;
        let now = Instant::now();
        log.head += 1;
        let pushed = Pushed::new(self.epoch.clone(), log.head, body);
        log.entries.push_back((now, pushed.clone()));
        self.trim(&mut log, now);
        // Under the lock, so the hub sees events in offset order.
        self.hub.publish(merchant, pushed);
        Ok(Appended {
            epoch: self.epoch.to_string(),
            offset: log.head,
        })
    }

    fn since_now(
        &self,
        merchant: &str,
        from: Option<&StreamPosition>,
    ) -> Result<Since, BackendError> {
        let mut log = self.log(merchant)?;
        self.trim(&mut log, Instant::now());
        let head = log.head;
        Ok(decide(from, &self.epoch, head, |after| {
            let first = log.entries.front().map(|(_, p)| p.offset)?;
            if first > after + 1 {
                return None;
            }
            Some(
                log.entries
                    .iter()
                    .filter(|(_, p)| p.offset > after)
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
        body: &'a str,
    ) -> BoxFuture<'a, Result<Appended, BackendError>> {
        futures_util::future::ready(self.append_now(merchant, body)).boxed()
    }

    fn since<'a>(
        &'a self,
        merchant: &'a str,
        from: Option<&'a StreamPosition>,
    ) -> BoxFuture<'a, Result<Since, BackendError>> {
        futures_util::future::ready(self.since_now(merchant, from)).boxed()
    }

    fn claim_event<'a>(
        &'a self,
        merchant: &'a str,
        key: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        let r = self
            .seen
            .lock()
            .map_err(|_| BackendError::Corrupt("replay lock poisoned".into()))
            .map(|mut s| s.claim(format!("{merchant}/{key}"), Instant::now(), window));
        futures_util::future::ready(r).boxed()
    }

    fn release_event<'a>(
        &'a self,
        merchant: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        if let Ok(mut s) = self.seen.lock() {
            s.keys.remove(&format!("{merchant}/{key}"));
        }
        futures_util::future::ready(Ok(())).boxed()
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
    use paydesk_protocol::wire::Recovery;

    fn backend(max_events: usize) -> MemoryBackend {
        let hub = Arc::new(Hub::new(&["m".to_owned()], 16));
        MemoryBackend::new(
            hub,
            ["m".to_owned()],
            max_events,
            Duration::from_secs(60),
            10,
            3,
        )
    }

    #[test]
    fn resume_returns_exactly_the_missed_events_or_says_not_recovered() {
        let b = backend(3);
        for _ in 0..4 {
            b.append_now("m", r#"{"id":"e"}"#).unwrap();
        }
        let epoch = b.epoch.to_string();
        let at = |offset| StreamPosition {
            epoch: epoch.clone(),
            offset,
        };
        let s = b.since_now("m", Some(&at(2))).unwrap();
        assert_eq!(s.recovery, Recovery::Recovered);
        assert_eq!(
            s.events.iter().map(|e| e.offset).collect::<Vec<_>>(),
            [3, 4]
        );
        assert_eq!(
            b.since_now("m", Some(&at(1))).unwrap().recovery,
            Recovery::Recovered,
            "offset 2..4 are kept"
        );
        assert_eq!(
            b.since_now("m", Some(&at(0))).unwrap().recovery,
            Recovery::NotRecovered,
            "offset 1 was trimmed"
        );
        assert_eq!(
            b.since_now("m", Some(&at(9))).unwrap().recovery,
            Recovery::NotRecovered
        );
        let other = StreamPosition {
            epoch: "x".into(),
            offset: 4,
        };
        assert_eq!(
            b.since_now("m", Some(&other)).unwrap().recovery,
            Recovery::NotRecovered
        );
        assert_eq!(b.since_now("m", None).unwrap().offset, 4);
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
        assert!(s.claim("a".into(), t0, w));
        assert!(!s.claim("a".into(), t0, w));
        assert!(
            s.claim("a".into(), t0 + w + w, w),
            "forgotten after the window"
        );
        assert!(s.claim("b".into(), t0 + w + w, w));
        assert!(s.claim("c".into(), t0 + w + w, w));
        assert!(s.keys.len() <= 2);
    }
}
