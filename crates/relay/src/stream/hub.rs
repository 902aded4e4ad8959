//! Local fan-out: bounded broadcast rings, one per till and one per merchant, allocated
//! while someone here listens.
//!
//! A till's sessions hold a receiver on the till's ring and get only the events routed to
//! it; merchant-scope sessions hold one on the merchant's ring and get every event. An
//! event is stored once per ring (its text shared by reference count), so a payment of a
//! chain with 10,000 tills wakes one till and the merchant's monitors, not 10,000 sessions.
//! A session that falls more than its ring's capacity behind sees `Lagged` and is closed as
//! a slow consumer, so no session can make the relay buffer without bound.
//!
//! A ring is allocated when its first session subscribes and freed when its last session
//! ends (or an event finds nobody listening): a relay configured for thousands of merchants
//! and tills pays only for those online (a slot is ~110 bytes; merchant rings hold 128,
//! till rings 8).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::broadcast;

use super::{Audience, Pushed};

/// The rings of one merchant.
#[derive(Default)]
struct Rings {
    merchant: Option<broadcast::Sender<Pushed>>,
    tills: HashMap<Arc<str>, broadcast::Sender<Pushed>>,
}

type Channels = HashMap<String, Rings>;

pub struct Hub {
    merchants: HashSet<String>,
    capacity: usize,
    till_capacity: usize,
    channels: RwLock<Channels>,
}

impl Hub {
    pub fn new<'a>(
        merchants: impl IntoIterator<Item = &'a String>,
        capacity: usize,
        till_capacity: usize,
    ) -> Hub {
        Hub {
            merchants: merchants.into_iter().cloned().collect(),
            capacity: capacity.max(1),
            till_capacity: till_capacity.max(1),
            channels: RwLock::new(HashMap::new()),
        }
    }

    /// A receiver for the live events `audience` gets of `merchant` (`None` for an unknown
    /// merchant).
    pub fn subscribe(
        &self,
        merchant: &str,
        audience: &Audience,
    ) -> Option<broadcast::Receiver<Pushed>> {
        if !self.merchants.contains(merchant) {
            return None;
        }
        if let Some(rings) = self.read().get(merchant) {
            let tx = match audience {
                Audience::Merchant => rings.merchant.as_ref(),
                Audience::Till(id) => rings.tills.get(id),
            };
            if let Some(tx) = tx {
                return Some(tx.subscribe());
            }
        }
        let mut channels = self.write();
        let rings = channels.entry(merchant.to_owned()).or_default();
        let tx = match audience {
            Audience::Merchant => rings
                .merchant
                .get_or_insert_with(|| broadcast::channel(self.capacity).0),
            Audience::Till(id) => rings
                .tills
                .entry(id.clone())
                .or_insert_with(|| broadcast::channel(self.till_capacity).0),
        };
        Some(tx.subscribe())
    }

    /// Hands an event to this instance's sessions of its till and of its merchant; returns
    /// how many receivers there were.
    pub fn publish(&self, merchant: &str, event: Pushed) -> usize {
        let (mut delivered, mut unheard) = (0, false);
        {
            let channels = self.read();
            let Some(rings) = channels.get(merchant) else {
                return 0;
            };
            let till = event.till.as_ref().and_then(|t| rings.tills.get(t));
            // `send` fails only when nobody listens, which is fine.
            for tx in [rings.merchant.as_ref(), till].into_iter().flatten() {
                match tx.send(event.clone()) {
                    Ok(n) => delivered += n,
                    Err(_) => unheard = true,
                }
            }
        }
        if unheard {
            self.free_unheard(merchant, event.till.as_deref());
        }
        delivered
    }

    /// Frees `audience`'s ring if nobody listens any more (a session ended, its receiver
    /// dropped first).
    pub fn release(&self, merchant: &str, audience: &Audience) {
        match audience {
            Audience::Merchant => self.free_unheard(merchant, None),
            Audience::Till(id) => self.free_unheard(merchant, Some(id)),
        }
    }

    /// Frees the rings of `merchant` (its merchant ring, and `till`'s) that have no
    /// receiver. Under the write lock no session can be subscribing, so a ring with a
    /// receiver is never dropped.
    fn free_unheard(&self, merchant: &str, till: Option<&str>) {
        let mut channels = self.write();
        let Some(rings) = channels.get_mut(merchant) else {
            return;
        };
        if rings
            .merchant
            .as_ref()
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            rings.merchant = None;
        }
        if let Some(till) = till {
            if rings
                .tills
                .get(till)
                .is_some_and(|tx| tx.receiver_count() == 0)
            {
                rings.tills.remove(till);
            }
        }
        if rings.merchant.is_none() && rings.tills.is_empty() {
            channels.remove(merchant);
        }
    }

    /// How many rings are allocated (for tests and metrics).
    pub fn rings(&self) -> usize {
        self.read()
            .values()
            .map(|r| usize::from(r.merchant.is_some()) + r.tills.len())
            .sum()
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

    fn pushed(offset: u64, till: Option<&str>) -> Pushed {
        Pushed::new("e".into(), offset, till.map(Arc::from), Some(0), "{}")
    }

    #[test]
    fn rings_exist_only_while_someone_listens() {
        let merchants = ["a".to_owned(), "b".to_owned()];
        let hub = Hub::new(&merchants, 8, 2);
        let office = Audience::Merchant;
        assert_eq!(hub.rings(), 0, "no ring before a terminal subscribes");
        assert!(hub.subscribe("nobody", &office).is_none());
        assert_eq!(hub.publish("a", pushed(1, None)), 0);

        let mut rx = hub.subscribe("a", &office).expect("a known merchant");
        let mut rx2 = hub.subscribe("a", &office).expect("a known merchant");
        assert_eq!(hub.rings(), 1);
        assert_eq!(hub.publish("a", pushed(2, None)), 2);
        assert_eq!(
            hub.publish("b", pushed(3, None)),
            0,
            "b has no terminal here"
        );
        assert_eq!(rx.try_recv().map(|p| p.offset).ok(), Some(2));
        assert_eq!(rx2.try_recv().map(|p| p.offset).ok(), Some(2));

        drop(rx);
        drop(rx2);
        assert_eq!(hub.publish("a", pushed(4, None)), 0);
        assert_eq!(hub.rings(), 0, "the ring is freed once nobody listens");
        let mut again = hub.subscribe("a", &office).expect("a known merchant");
        assert_eq!(hub.publish("a", pushed(5, None)), 1);
        assert_eq!(again.try_recv().map(|p| p.offset).ok(), Some(5));
    }

    #[test]
    fn a_routed_event_wakes_its_till_and_the_merchant_sessions_only() {
        let merchants = ["a".to_owned()];
        let hub = Hub::new(&merchants, 8, 2);
        let mut till_1 = hub
            .subscribe("a", &Audience::Till(Arc::from("t_1")))
            .unwrap();
        let mut till_2 = hub
            .subscribe("a", &Audience::Till(Arc::from("t_2")))
            .unwrap();
        let mut office = hub.subscribe("a", &Audience::Merchant).unwrap();
        assert_eq!(hub.rings(), 3);

        assert_eq!(hub.publish("a", pushed(1, Some("t_1"))), 2);
        assert_eq!(till_1.try_recv().map(|p| p.offset).ok(), Some(1));
        assert!(till_2.try_recv().is_err(), "another till's payment");
        assert_eq!(office.try_recv().map(|p| p.offset).ok(), Some(1));

        // A payment no till created: merchant-scope sessions only.
        assert_eq!(hub.publish("a", pushed(2, None)), 1);
        assert!(till_1.try_recv().is_err() && till_2.try_recv().is_err());
        assert_eq!(office.try_recv().map(|p| p.offset).ok(), Some(2));

        // A till that left: its ring goes when its session releases it (or with the next
        // event for it).
        drop(till_2);
        hub.release("a", &Audience::Till(Arc::from("t_2")));
        assert_eq!(hub.rings(), 2);
        assert_eq!(hub.publish("a", pushed(3, Some("t_2"))), 1);
        // Released while another session of the same till still listens: kept.
        let mut again = hub
            .subscribe("a", &Audience::Till(Arc::from("t_1")))
            .unwrap();
        hub.release("a", &Audience::Till(Arc::from("t_1")));
        assert_eq!(hub.publish("a", pushed(4, Some("t_1"))), 3);
        assert_eq!(again.try_recv().map(|p| p.offset).ok(), Some(4));
        drop((till_1, again, office));
        hub.release("a", &Audience::Till(Arc::from("t_1")));
        hub.release("a", &Audience::Merchant);
        assert_eq!(hub.rings(), 0);
    }
}
