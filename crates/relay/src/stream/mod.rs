//! Where events live between the webhook and the sessions: the event-stream backend.
//!
//! The webhook handler [`Backend::append`]s a verified event, which gives it the merchant's
//! next offset; the backend hands it to the local [`hub::Hub`], which fans it out to this
//! instance's sessions. A resuming session asks [`Backend::since`] for what it missed. The
//! backend also keeps the two pieces of state every instance must agree on: outstanding
//! tickets and the replay memory of webhook event ids.
//!
//! [`memory::MemoryBackend`] is the embedded default; [`redis::RedisBackend`] shares
//! everything through Redis Streams so several instances act as one.

pub mod hub;
pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures_util::future::BoxFuture;
use paydesk_protocol::wire::{Recovery, StreamPosition};
use rand::RngCore as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// One event ready for the wire: its position and the complete `event` message, serialized
/// once and shared by every session (cloning is a reference-count increment).
#[derive(Clone, Debug)]
pub struct Pushed {
    pub epoch: Arc<str>,
    pub offset: u64,
    pub text: Utf8Bytes,
}

impl Pushed {
    /// Builds the `event` message around the webhook body exactly as it was received.
    /// The body has been parsed as a webhook event already, so it is one JSON object.
    pub fn new(epoch: Arc<str>, offset: u64, body: &str) -> Pushed {
        let epoch_json = serde_json::Value::String(epoch.to_string()).to_string();
        let text = format!(
            r#"{{"type":"event","epoch":{epoch_json},"offset":{offset},"event":{}}}"#,
            body.trim()
        );
        Pushed {
            epoch,
            offset,
            text: text.into(),
        }
    }
}

/// Where an appended event landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub epoch: String,
    pub offset: u64,
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
    pub terminal: String,
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
    /// Stores a verified event (`body` is the raw webhook JSON) under the merchant's next
    /// offset. Local sessions receive it through the hub once stored.
    fn append<'a>(
        &'a self,
        merchant: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<Appended, BackendError>>;

    /// The stream head and, when `from` is given, every event after it (or
    /// `NotRecovered` when some are gone or the epoch differs).
    fn since<'a>(
        &'a self,
        merchant: &'a str,
        from: Option<&'a StreamPosition>,
    ) -> BoxFuture<'a, Result<Since, BackendError>>;

    /// Remembers a webhook event key for `window`; `false` when it was already there.
    fn claim_event<'a>(
        &'a self,
        merchant: &'a str,
        key: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>>;

    /// Forgets a claimed key (the event could not be stored, so its retry must pass).
    fn release_event<'a>(
        &'a self,
        merchant: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>>;

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

/// The resume rule both backends follow. `available(after)` yields the retained events
/// with offsets above `after`, in order, or `None` when retention cannot prove it has all
/// of them.
pub(crate) fn decide(
    from: Option<&StreamPosition>,
    epoch: &Arc<str>,
    head: u64,
    available: impl FnOnce(u64) -> Option<Vec<Pushed>>,
) -> Since {
    let not = |recovery| Since {
        epoch: epoch.clone(),
        offset: head,
        recovery,
        events: Vec::new(),
    };
    let Some(from) = from else {
        return not(Recovery::Fresh);
    };
    if from.epoch != **epoch || from.offset > head {
        return not(Recovery::NotRecovered);
    }
    if from.offset == head {
        return not(Recovery::Recovered);
    }
    match available(from.offset) {
        Some(events)
            if events.len() as u64 == head - from.offset
                && events
                    .iter()
                    .zip(from.offset + 1..)
                    .all(|(e, want)| e.offset == want) =>
        {
            Since {
                epoch: epoch.clone(),
                offset: head,
                recovery: Recovery::Recovered,
                events,
            }
        }
        _ => not(Recovery::NotRecovered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_protocol::wire::ServerMessage;

    #[test]
    fn an_event_message_wraps_the_body_verbatim_and_parses_as_the_wire_type() {
        let body = r#"{"id":"e1","type":"payment.captured","data":{"object":{"id":"p","amount":100000000000000000000,"currency":"CRO","status":"succeeded","extra":{"kept":true}}}}"#;
        let p = Pushed::new(Arc::from("ep\"och"), 7, &format!("  {body}\n"));
        assert!(p.text.as_str().ends_with(&format!(",\"event\":{body}}}")));
        match ServerMessage::from_json(p.text.as_str()).unwrap() {
            ServerMessage::Event(e) => {
                assert_eq!((e.epoch.as_str(), e.offset), ("ep\"och", 7));
                assert_eq!(e.event.payment_id(), "p");
            }
            other => panic!("{other:?}"),
        }
    }
}
