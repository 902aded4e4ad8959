//! Local fan-out: one bounded broadcast ring per merchant on this instance.
//!
//! Every session of a merchant holds a receiver; an event is stored once in the ring (its
//! text shared by reference count) and each session copies it to its socket. A session
//! that falls more than the ring's capacity behind sees `Lagged` and is closed as a slow
//! consumer, so no session can make the relay buffer without bound.

use std::collections::HashMap;

use tokio::sync::broadcast;

use super::Pushed;

pub struct Hub {
    channels: HashMap<String, broadcast::Sender<Pushed>>,
}

impl Hub {
    pub fn new<'a>(merchants: impl IntoIterator<Item = &'a String>, capacity: usize) -> Hub {
        Hub {
            channels: merchants
                .into_iter()
                .map(|m| (m.clone(), broadcast::channel(capacity.max(1)).0))
                .collect(),
        }
    }

    /// A receiver for the merchant's live events (`None` for an unknown merchant).
    pub fn subscribe(&self, merchant: &str) -> Option<broadcast::Receiver<Pushed>> {
        self.channels
            .get(merchant)
            .map(broadcast::Sender::subscribe)
    }

    /// Hands an event to this instance's sessions; returns how many receivers there were.
    pub fn publish(&self, merchant: &str, event: Pushed) -> usize {
        match self.channels.get(merchant) {
            // `send` fails only when nobody listens, which is fine.
            Some(tx) => tx.send(event).unwrap_or(0),
            None => 0,
        }
    }
}
