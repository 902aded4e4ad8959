//! Local fan-out: one bounded broadcast ring per merchant with a till connected here.
//!
//! Every session of a merchant holds a receiver; an event is stored once in the ring (its
//! text shared by reference count) and each session copies it to its socket. A session
//! that falls more than the ring's capacity behind sees `Lagged` and is closed as a slow
//! consumer, so no session can make the relay buffer without bound.
//!
//! A ring is allocated when a merchant's first session subscribes and freed when an event
//! finds nobody listening: a relay configured for thousands of merchants pays only for
//! those with a till online (a slot is ~110 bytes; the default ring has 128).

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::broadcast;

use super::Pushed;

type Channels = HashMap<String, broadcast::Sender<Pushed>>;

pub struct Hub {
    merchants: HashSet<String>,
    capacity: usize,
    channels: RwLock<Channels>,
}

impl Hub {
    pub fn new<'a>(merchants: impl IntoIterator<Item = &'a String>, capacity: usize) -> Hub {
        Hub {
            merchants: merchants.into_iter().cloned().collect(),
            capacity: capacity.max(1),
            channels: RwLock::new(HashMap::new()),
        }
    }

    /// A receiver for the merchant's live events (`None` for an unknown merchant).
    pub fn subscribe(&self, merchant: &str) -> Option<broadcast::Receiver<Pushed>> {
        if !self.merchants.contains(merchant) {
            return None;
        }
        if let Some(tx) = self.read().get(merchant) {
            return Some(tx.subscribe());
        }
        let mut channels = self.write();
        let tx = channels
            .entry(merchant.to_owned())
            .or_insert_with(|| broadcast::channel(self.capacity).0);
        Some(tx.subscribe())
    }

    /// Hands an event to this instance's sessions; returns how many receivers there were.
    pub fn publish(&self, merchant: &str, event: Pushed) -> usize {
        let sent = match self.read().get(merchant) {
            // `send` fails only when nobody listens, which is fine.
            Some(tx) => tx.send(event).ok(),
            None => return 0,
        };
        match sent {
            Some(n) => n,
            None => {
                // Nobody listens: free the ring. Under the write lock no session can be
                // subscribing, so a merchant with a receiver is never dropped.
                let mut channels = self.write();
                if channels
                    .get(merchant)
                    .is_some_and(|tx| tx.receiver_count() == 0)
                {
                    channels.remove(merchant);
                }
                0
            }
        }
    }

    /// How many merchants have a ring allocated (for tests and metrics).
    pub fn rings(&self) -> usize {
        self.read().len()
    }

    // Every change to the map is one insert or remove, so a panic elsewhere cannot leave
    // it half-written: a poisoned lock is still good to use.
    fn read(&self) -> RwLockReadGuard<'_, Channels> {
        self.channels.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Channels> {
        self.channels
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pushed(offset: u64) -> Pushed {
        Pushed::new("e".into(), offset, "{}")
    }

    #[test]
    fn rings_exist_only_while_a_merchant_has_listeners() {
        let merchants = ["a".to_owned(), "b".to_owned()];
        let hub = Hub::new(&merchants, 8);
        assert_eq!(hub.rings(), 0, "no ring before a till subscribes");
        assert!(hub.subscribe("nobody").is_none());
        assert_eq!(hub.publish("a", pushed(1)), 0);

        let mut rx = hub.subscribe("a").expect("a known merchant");
        let mut rx2 = hub.subscribe("a").expect("a known merchant");
        assert_eq!(hub.rings(), 1);
        assert_eq!(hub.publish("a", pushed(2)), 2);
        assert_eq!(hub.publish("b", pushed(3)), 0, "b has no till here");
        assert_eq!(rx.try_recv().map(|p| p.offset).ok(), Some(2));
        assert_eq!(rx2.try_recv().map(|p| p.offset).ok(), Some(2));

        drop(rx);
        drop(rx2);
        assert_eq!(hub.publish("a", pushed(4)), 0);
        assert_eq!(hub.rings(), 0, "the ring is freed once nobody listens");
        let mut again = hub.subscribe("a").expect("a known merchant");
        assert_eq!(hub.publish("a", pushed(5)), 1);
        assert_eq!(again.try_recv().map(|p| p.offset).ok(), Some(5));
    }
}
