//! Where events live between the webhook and the sessions: the event-stream backend.
//!
//! The webhook handler [`Backend::append`]s a verified event, which gives it the merchant's
//! next offset and its route ([`route`]); the backend hands it to the local [`hub::Hub`],
//! which fans it out to this instance's sessions of that till and of the merchant. A
//! resuming session asks [`Backend::since`] for what it missed. The backend also keeps the
//! state every instance must agree on: outstanding tickets, the replay memory of webhook
//! event ids (claimed in the same step that stores the event, so a claim never exists
//! without its event), and which till each payment belongs to.
//!
//! [`memory::MemoryBackend`] is the embedded default; [`redis::RedisBackend`] shares
//! everything through Redis Streams so several instances act as one.

pub mod hub;
pub mod memory;
pub mod redis;
pub mod route;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures_util::future::BoxFuture;
use paydesk_protocol::wire::{Recovery, StreamPosition};
use rand::RngCore as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use route::{Audience, RouteBy};

/// One event ready for the wire: its position, its route and the complete `event` message,
/// serialized once and shared by every session (cloning is a reference-count increment).
#[derive(Clone, Debug)]
pub struct Pushed {
    pub epoch: Arc<str>,
    pub offset: u64,
    /// The till it is routed to (`None`: merchant-scope sessions only).
    pub till: Option<Arc<str>>,
    /// The offset of the previous event routed to the same till (0: none this epoch).
    pub till_prev: Option<u64>,
    pub text: Utf8Bytes,
}

impl Pushed {
    /// Builds the `event` message around the webhook body exactly as it was received.
    /// The body has been parsed as a webhook event already, so it is one JSON object.
    pub fn new(
        epoch: Arc<str>,
        offset: u64,
        till: Option<Arc<str>>,
        till_prev: Option<u64>,
        body: &str,
    ) -> Pushed {
        let json = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        let routing = match (&till, till_prev) {
            (Some(t), prev) => format!(r#","till":{},"till_prev":{}"#, json(t), prev.unwrap_or(0)),
            (None, _) => String::new(),
        };
        let text = format!(
            r#"{{"type":"event","epoch":{},"offset":{offset}{routing},"event":{}}}"#,
            json(&epoch),
            body.trim()
        );
        Pushed {
            epoch,
            offset,
            till_prev: till.as_ref().map(|_| till_prev.unwrap_or(0)),
            till,
            text: text.into(),
        }
    }
}

/// Where an appended event landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub epoch: String,
    pub offset: u64,
    /// The till it was routed to.
    pub till: Option<String>,
}

/// A verified webhook event to store once.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    /// The replay key (the event id, or a hash of a body without one).
    pub key: &'a str,
    /// The raw webhook JSON.
    pub body: &'a str,
    pub route: RouteBy,
    /// How long the key is remembered.
    pub window: Duration,
}

/// What storing an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Stored under a new offset (and pushed).
    New(Appended),
    /// Its key was stored within the window already: nothing stored again. The earlier
    /// position when the backend knows it.
    Duplicate(Option<Appended>),
}

/// The answer to a session's resume request, read atomically with the stream's head.
#[derive(Debug)]
pub struct Since {
    pub epoch: Arc<str>,
    /// The newest offset in the stream (0: none yet).
    pub offset: u64,
    pub recovery: Recovery,
    /// Every event after the requested offset, in order (empty unless `Recovered`).
    pub events: Vec<Pushed>,
}

/// Who a ticket was issued to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketGrant {
    pub merchant: String,
    /// The terminal's name (for logs).
    pub terminal: String,
    /// The key the ticket was bought with: the session opens only while that key is still
    /// registered, and is closed when a reload removes or rotates it.
    pub key_hash: crate::terminals::KeyHash,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("backend returned unexpected data: {0}")]
    Corrupt(String),
    #[error("{0} is full")]
    Full(&'static str),
    #[error("unknown merchant")]
    UnknownMerchant,
}

/// The storage behind the relay. Object safe so the server holds `Arc<dyn Backend>`.
pub trait Backend: Send + Sync + 'static {
    /// Stores a verified event under the merchant's next offset and routes it, unless its
    /// key was stored within its window; the replay claim, the route and the event are one
    /// atomic step, so a claim can never outlive an event that was not stored (nor an
    /// event be stored twice). Local sessions receive it through the hub once stored.
    fn append<'a>(
        &'a self,
        merchant: &'a str,
        event: NewEvent<'a>,
    ) -> BoxFuture<'a, Result<Stored, BackendError>>;

    /// The stream head and, when `from` is given, every event after it that `audience`
    /// receives (or `NotRecovered` when some are gone or the epoch differs).
    fn since<'a>(
        &'a self,
        merchant: &'a str,
        from: Option<&'a StreamPosition>,
        audience: &'a Audience,
    ) -> BoxFuture<'a, Result<Since, BackendError>>;

    /// Stores a ticket by its hash for `ttl`.
    fn put_ticket<'a>(
        &'a self,
        hash: [u8; 32],
        grant: TicketGrant,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Takes a ticket (single use): the grant if it exists and has not expired.
    fn take_ticket<'a>(
        &'a self,
        hash: [u8; 32],
    ) -> BoxFuture<'a, Result<Option<TicketGrant>, BackendError>>;

    /// Starts background work (the Redis reader); it stops when `cancel` fires.
    fn start(&self, cancel: CancellationToken, tracker: &TaskTracker);
}

/// A fresh stream epoch: 64 random bits, hex.
pub fn new_epoch() -> String {
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// What a backend knows about a stream when a session asks to resume.
pub(crate) struct StreamState {
    pub epoch: Arc<str>,
    pub head: u64,
    /// For a till audience: the offset of the last event routed to it this epoch (0: none).
    pub till_last: u64,
}

/// The resume rule both backends follow. `available(after)` yields the retained events
/// with offsets above `after` that the audience may receive (a till's backend may filter
/// them already), in order, or `None` when retention cannot prove it has them.
///
/// A merchant-scope session must get every offset after its position. A till must get
/// every event routed to it: its chain (`till_prev` links, back from the till's last event)
/// must reach its position. A till with nothing routed to it since its position is up to
/// date however old that position is.
pub(crate) fn decide(
    from: Option<&StreamPosition>,
    state: StreamState,
    audience: &Audience,
    available: impl FnOnce(u64) -> Option<Vec<Pushed>>,
) -> Since {
    let StreamState {
        epoch,
        head,
        till_last,
    } = state;
    let answer = |recovery, events| Since {
        epoch: epoch.clone(),
        offset: head,
        recovery,
        events,
    };
    let Some(from) = from else {
        return answer(Recovery::Fresh, Vec::new());
    };
    if from.epoch != *epoch || from.offset > head {
        return answer(Recovery::NotRecovered, Vec::new());
    }
    match audience {
        Audience::Merchant => {
            if from.offset == head {
                return answer(Recovery::Recovered, Vec::new());
            }
            match available(from.offset) {
                Some(events)
                    if events.len() as u64 == head - from.offset
                        && events
                            .iter()
                            .zip(from.offset + 1..)
                            .all(|(e, want)| e.offset == want) =>
                {
                    answer(Recovery::Recovered, events)
                }
                _ => answer(Recovery::NotRecovered, Vec::new()),
            }
        }
        Audience::Till(_) => {
            if till_last <= from.offset {
                return answer(Recovery::Recovered, Vec::new());
            }
            let Some(mut events) = available(from.offset) else {
                return answer(Recovery::NotRecovered, Vec::new());
            };
            events.retain(|e| e.offset > from.offset && audience.wants(e));
            // Linked from the position to the till's last event, nothing missing.
            let mut prev = from.offset;
            let mut linked = true;
            for e in &events {
                linked &= e.till_prev.is_some_and(|p| p <= prev) && e.offset > prev;
                prev = e.offset;
            }
            if linked && prev == till_last {
                answer(Recovery::Recovered, events)
            } else {
                answer(Recovery::NotRecovered, Vec::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_protocol::wire::ServerMessage;

    #[test]
    fn an_event_message_wraps_the_body_verbatim_and_parses_as_the_wire_type() {
        let body = r#"{"id":"e1","type":"payment.captured","data":{"object":{"id":"p","amount":100000000000000000000,"currency":"CRO","status":"succeeded","extra":{"kept":true}}}}"#;
        let p = Pushed::new(Arc::from("ep\"och"), 7, None, None, &format!("  {body}\n"));
        assert!(p.text.as_str().ends_with(&format!(",\"event\":{body}}}")));
        match ServerMessage::from_json(p.text.as_str()).unwrap() {
            ServerMessage::Event(e) => {
                assert_eq!((e.epoch.as_str(), e.offset), ("ep\"och", 7));
                assert_eq!((e.till, e.till_prev), (None, None));
                assert_eq!(e.event.payment_id(), "p");
            }
            other => panic!("{other:?}"),
        }
        let routed = Pushed::new(Arc::from("e"), 9, Some(Arc::from("t_a")), Some(4), body);
        match ServerMessage::from_json(routed.text.as_str()).unwrap() {
            ServerMessage::Event(e) => {
                assert_eq!((e.till.as_deref(), e.till_prev), (Some("t_a"), Some(4)));
            }
            other => panic!("{other:?}"),
        }
    }

    fn pushed(offset: u64, till: Option<&str>, till_prev: u64) -> Pushed {
        Pushed::new(
            Arc::from("e"),
            offset,
            till.map(Arc::from),
            Some(till_prev),
            "{}",
        )
    }

    fn state(head: u64, till_last: u64) -> StreamState {
        StreamState {
            epoch: Arc::from("e"),
            head,
            till_last,
        }
    }

    fn at(offset: u64) -> StreamPosition {
        StreamPosition {
            epoch: "e".into(),
            offset,
        }
    }

    #[test]
    fn a_till_resumes_by_its_own_chain() {
        let till = Audience::Till(Arc::from("t_a"));
        // Offsets 1..=6: the till's events are 2, 5 (linked 0 → 2 → 5).
        let log = vec![
            pushed(1, Some("t_b"), 0),
            pushed(2, Some("t_a"), 0),
            pushed(3, None, 0),
            pushed(4, Some("t_b"), 1),
            pushed(5, Some("t_a"), 2),
            pushed(6, Some("t_b"), 4),
        ];
        let after = |from: u64, kept: &[Pushed]| -> Option<Vec<Pushed>> {
            Some(kept.iter().filter(|e| e.offset > from).cloned().collect())
        };
        let offsets = |s: &Since| s.events.iter().map(|e| e.offset).collect::<Vec<_>>();
        let s = decide(Some(&at(2)), state(6, 5), &till, |f| after(f, &log));
        assert_eq!((s.recovery, offsets(&s)), (Recovery::Recovered, vec![5]));
        let s = decide(Some(&at(1)), state(6, 5), &till, |f| after(f, &log));
        assert_eq!((s.recovery, offsets(&s)), (Recovery::Recovered, vec![2, 5]));
        // Up to date however old the position: nothing routed to it since.
        let s = decide(Some(&at(5)), state(600, 5), &till, |_| None);
        assert_eq!((s.recovery, s.offset), (Recovery::Recovered, 600));
        // Its event 2 is no longer kept: the chain cannot reach position 1.
        let s = decide(Some(&at(1)), state(6, 5), &till, |f| after(f, &log[3..]));
        assert_eq!(s.recovery, Recovery::NotRecovered);
        // Another till's chain says nothing about this one.
        let other = Audience::Till(Arc::from("t_b"));
        let s = decide(Some(&at(3)), state(6, 6), &other, |f| after(f, &log));
        assert_eq!((s.recovery, offsets(&s)), (Recovery::Recovered, vec![4, 6]));
        // A merchant session still needs every offset.
        let s = decide(Some(&at(3)), state(6, 0), &Audience::Merchant, |f| {
            after(f, &log)
        });
        assert_eq!(
            (s.recovery, offsets(&s)),
            (Recovery::Recovered, vec![4, 5, 6])
        );
        let s = decide(Some(&at(0)), state(6, 0), &Audience::Merchant, |f| {
            after(f, &log[1..])
        });
        assert_eq!(s.recovery, Recovery::NotRecovered);
        // Another epoch, or a position from the future.
        let other_epoch = StreamPosition {
            epoch: "x".into(),
            offset: 5,
        };
        assert_eq!(
            decide(Some(&other_epoch), state(6, 5), &till, |_| None).recovery,
            Recovery::NotRecovered
        );
        assert_eq!(
            decide(Some(&at(7)), state(6, 5), &till, |_| None).recovery,
            Recovery::NotRecovered
        );
        assert_eq!(
            decide(None, state(6, 5), &till, |_| None).recovery,
            Recovery::Fresh
        );
    }
}
