//! Per-till routing: which sessions receive which event.
//!
//! A till writes its terminal id into the metadata of every payment it creates
//! (`paydesk_till`, [`wire::TILL_METADATA_KEY`]). Each event is routed once, when it is
//! stored, and the route travels with it (in memory, and as a field of the Redis stream
//! entries), so every instance, every live session and every resume agree:
//!
//! - a Payment naming one of the merchant's terminals goes to that till, and the backend
//!   remembers the payment's till;
//! - any other event (a Refund, which names only its payment; a Payment without the key)
//!   goes to the till remembered for its payment, if any;
//! - an event with no till (the merchant's web shop, a refund of a payment too old to be
//!   remembered) goes to merchant-scope sessions only; those get every event anyway.
//!
//! Each routed event also carries `till_prev`, the offset of the previous event routed to
//! the same till, so a till that sees only its own events can still tell a routing hole
//! from a loss ([`wire::EventMessage::missed_after`]) and resume by its own chain.

use std::sync::Arc;

use paydesk_protocol::payment::{EventObject, WebhookEvent};
use paydesk_protocol::wire::{self, Scope};

use super::Pushed;

/// How the backend is to route an event as it stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteBy {
    /// The payment names this till (a terminal of the merchant): route there, and remember
    /// the payment's till for its refunds.
    Till { payment_id: String, till: Arc<str> },
    /// Route to the till remembered for this payment, if any.
    Remembered { payment_id: String },
}

impl RouteBy {
    /// The routing rule. `known` interns a metadata value when it names one of the
    /// merchant's terminals (a stale or forged value routes nowhere).
    pub fn of(event: &WebhookEvent, known: impl Fn(&str) -> Option<Arc<str>>) -> RouteBy {
        let payment_id = event.payment_id().to_owned();
        if let EventObject::Payment(p) = &event.data.object {
            let named = p
                .metadata
                .as_ref()
                .and_then(|m| m.get(wire::TILL_METADATA_KEY))
                .and_then(|v| v.as_str())
                .and_then(known);
            if let Some(till) = named {
                return RouteBy::Till { payment_id, till };
            }
        }
        RouteBy::Remembered { payment_id }
    }

    pub fn payment_id(&self) -> &str {
        match self {
            RouteBy::Till { payment_id, .. } | RouteBy::Remembered { payment_id } => payment_id,
        }
    }
}

/// Who a session is, for routing: a till (its own events) or the merchant (all of them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Audience {
    Merchant,
    Till(Arc<str>),
}

impl Audience {
    pub fn new(scope: Scope, id: &Arc<str>) -> Audience {
        match scope {
            Scope::Merchant => Audience::Merchant,
            Scope::Till => Audience::Till(id.clone()),
        }
    }

    /// Whether this audience receives `event`.
    pub fn wants(&self, event: &Pushed) -> bool {
        match self {
            Audience::Merchant => true,
            Audience::Till(id) => event.till.as_deref() == Some(&**id),
        }
    }

    pub fn till(&self) -> Option<&str> {
        match self {
            Audience::Merchant => None,
            Audience::Till(id) => Some(id),
        }
    }
}

/// Payment → till, for the in-memory backend: the most recent `max` payments of a
/// merchant (a ring, oldest forgotten first).
pub struct Owners {
    map: std::collections::HashMap<Box<str>, Arc<str>>,
    order: std::collections::VecDeque<Box<str>>,
    max: usize,
}

impl Owners {
    pub fn new(max: usize) -> Owners {
        Owners {
            map: std::collections::HashMap::new(),
            order: std::collections::VecDeque::new(),
            max: max.max(1),
        }
    }

    /// Resolves `by` to the event's till, remembering a named payment's till.
    pub fn resolve(&mut self, by: &RouteBy) -> Option<Arc<str>> {
        match by {
            RouteBy::Till { payment_id, till } => {
                if self
                    .map
                    .insert(payment_id.as_str().into(), till.clone())
                    .is_none()
                {
                    self.order.push_back(payment_id.as_str().into());
                    while self.order.len() > self.max {
                        if let Some(old) = self.order.pop_front() {
                            self.map.remove(&old);
                        }
                    }
                }
                Some(till.clone())
            }
            RouteBy::Remembered { payment_id } => self.map.get(payment_id.as_str()).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> WebhookEvent {
        WebhookEvent::from_json(json.as_bytes()).unwrap()
    }

    fn known(id: &str) -> Option<Arc<str>> {
        (id == "t_till00001").then(|| Arc::from(id))
    }

    #[test]
    fn a_payment_routes_by_its_metadata_and_a_refund_by_its_payment() {
        let created = event(
            r#"{"id":"e1","type":"payment.created","data":{"object":{"id":"p1","amount":5,
            "currency":"USD","status":"pending","metadata":{"paydesk_till":"t_till00001","cashier":"ann"}}}}"#,
        );
        let by = RouteBy::of(&created, known);
        assert_eq!(
            by,
            RouteBy::Till {
                payment_id: "p1".into(),
                till: Arc::from("t_till00001")
            }
        );
        let refund = event(
            r#"{"id":"e2","type":"payment.refund_transferred","data":{"object":{"id":"r1",
            "payment_id":"p1","amount":5,"currency":"USD","status":"succeeded"}}}"#,
        );
        assert_eq!(
            RouteBy::of(&refund, known),
            RouteBy::Remembered {
                payment_id: "p1".into()
            }
        );
        let mut owners = Owners::new(2);
        assert_eq!(owners.resolve(&by).as_deref(), Some("t_till00001"));
        assert_eq!(
            owners.resolve(&RouteBy::of(&refund, known)).as_deref(),
            Some("t_till00001")
        );
    }

    #[test]
    fn payments_no_till_created_route_to_no_till() {
        let web_shop = event(
            r#"{"id":"e1","type":"payment.captured","data":{"object":{"id":"p9","amount":5,
            "currency":"USD","status":"succeeded","metadata":{"plugin_name":"woocommerce"}}}}"#,
        );
        let forged = event(
            r#"{"id":"e2","type":"payment.captured","data":{"object":{"id":"p8","amount":5,
            "currency":"USD","status":"succeeded","metadata":{"paydesk_till":"t_someoneelse"}}}}"#,
        );
        let mut owners = Owners::new(8);
        for e in [&web_shop, &forged] {
            let by = RouteBy::of(e, known);
            assert!(matches!(by, RouteBy::Remembered { .. }), "{by:?}");
            assert_eq!(owners.resolve(&by), None);
        }
    }

    #[test]
    fn the_owner_ring_forgets_the_oldest_payments_first() {
        let mut owners = Owners::new(2);
        let till = |p: &str| RouteBy::Till {
            payment_id: p.into(),
            till: Arc::from("t_a"),
        };
        let asked = |p: &str| RouteBy::Remembered {
            payment_id: p.into(),
        };
        owners.resolve(&till("p1"));
        owners.resolve(&till("p2"));
        owners.resolve(&till("p2")); // a second event of p2 does not push p1 out
        assert!(owners.resolve(&asked("p1")).is_some());
        owners.resolve(&till("p3"));
        assert_eq!(owners.resolve(&asked("p1")), None);
        assert!(owners.resolve(&asked("p2")).is_some());
        assert!(owners.resolve(&asked("p3")).is_some());
    }

    #[test]
    fn a_till_audience_wants_only_its_own_events() {
        let mine = Arc::from("t_a");
        let pushed = |till: Option<&str>| {
            Pushed::new("e".into(), 1, till.map(Arc::from), till.map(|_| 0), "{}")
        };
        let till = Audience::new(Scope::Till, &mine);
        assert!(till.wants(&pushed(Some("t_a"))));
        assert!(!till.wants(&pushed(Some("t_b"))));
        assert!(!till.wants(&pushed(None)));
        let office = Audience::new(Scope::Merchant, &mine);
        assert!(office.wants(&pushed(None)) && office.wants(&pushed(Some("t_b"))));
    }
}
