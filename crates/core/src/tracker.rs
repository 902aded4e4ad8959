//! The tracker: the one place a terminal's payment state lives.
//!
//! Everything that says something about a payment ends here — the create response, API
//! reads (polls, resyncs, the expiry check) and events pushed over the relay session — all
//! in the same [`Payment`] shape. The tracker merges them by monotonic status, so a late or
//! duplicate message can never move a payment backwards, and turns every real change into
//! exactly one [`Transition`]. A transition is first handed to the [`TransitionSink`] (the
//! journal) and only shown once it is written. Subscribers (the app, the CLI) take a
//! [`snapshot`](Tracker::snapshot) for the first render and then follow a bounded
//! [`Subscription`] of [`TrackerEvent`]s: transitions, connection state, countdown ticks,
//! expiry.
//!
//! "Paid" is never shown on a claim alone: only the create response, an API read or a
//! signed webhook relayed over the authenticated session can move a payment to
//! `succeeded`. Anything else that claims it (a restored journal row) only triggers an API
//! read.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::clock::ServerClock;
use crate::countdown::LocalClock;
use crate::payment::{Payment, PaymentStatus, Refund, RefundStatus};
use crate::realtime::ConnectionStatus;

/// How many events a subscriber may fall behind before it is told to re-snapshot.
pub const DEFAULT_EVENT_CAPACITY: usize = 256;

/// Where a piece of payment state came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The answer to our own `POST payments`.
    CreateResponse,
    /// A `GET payments/{id}` answer (poll, resync, expiry check).
    ApiRead,
    /// A signed webhook, verified by the relay and pushed over the authenticated session.
    RelayedWebhook,
    /// The terminal's own journal, after a restart: history, not confirmation.
    Restored,
}

impl Source {
    /// Whether this source may confirm a payment as paid.
    pub fn confirms(self) -> bool {
        matches!(
            self,
            Source::CreateResponse | Source::ApiRead | Source::RelayedWebhook
        )
    }
}

/// What changed in a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    /// The payment started being tracked.
    Tracked,
    /// Its status moved forward (and possibly its refunded amount too).
    Status,
    /// Only its refunded amount grew.
    Refund,
}

/// One change of one payment, shown exactly once.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transition {
    /// Increases by one for every transition this tracker emits.
    pub seq: u64,
    pub payment_id: String,
    pub kind: TransitionKind,
    /// `None` for [`TransitionKind::Tracked`].
    pub from: Option<PaymentStatus>,
    pub to: PaymentStatus,
    pub refunded_from: i128,
    pub refunded_to: i128,
    pub source: Source,
    /// The server's time when the tracker took the change, unix ms (clock-corrected).
    pub at_unix_ms: i64,
    /// The payment as it stands after the change.
    pub payment: Payment,
}

/// A tracked payment, as a snapshot shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrackedPayment {
    pub payment: Payment,
    /// The status to show (the payment's effective status as merged).
    pub status: PaymentStatus,
    /// Refunded minor units: the most any confirmed source has reported.
    pub refunded: i128,
    /// The source of the last change.
    pub source: Source,
    /// The server's deadline, unix ms.
    pub deadline_unix_ms: Option<i64>,
    /// Whether the countdown reached zero (fires once).
    pub expiry_fired: bool,
    /// A source that cannot confirm claimed a change; an API read is on its way.
    pub awaiting_confirmation: bool,
    /// Sequence number of this payment's last transition.
    pub last_seq: u64,
}

/// What a subscriber sees at first render.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    /// Every transition with `seq <= seq` is already reflected here.
    pub seq: u64,
    pub payments: Vec<TrackedPayment>,
    pub connection: ConnectionStatus,
}

/// One countdown step: whole seconds left, as the server counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tick {
    pub payment_id: String,
    pub remaining_secs: u64,
    pub deadline_unix_ms: i64,
}

/// Everything a subscriber is told, in order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrackerEvent {
    Transition(Transition),
    Connection(ConnectionStatus),
    Tick(Tick),
    /// The countdown reached zero (once per payment); the status is being re-read.
    Expired {
        payment_id: String,
        deadline_unix_ms: i64,
    },
    Untracked {
        payment_id: String,
    },
    /// A change could not be written to the journal, so it is not shown; it will be
    /// retried from the API.
    JournalFailed {
        payment_id: String,
        error: String,
    },
    /// This subscriber fell behind and missed events: take a new snapshot.
    Resnapshot {
        missed: u64,
    },
}

/// Why the journal refused a transition.
#[derive(Debug, thiserror::Error)]
#[error("journal write failed: {0}")]
pub struct SinkError(pub Box<dyn std::error::Error + Send + Sync>);

impl SinkError {
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SinkError(e.into())
    }
}

/// Where transitions are written before anyone sees them (the journal).
///
/// Called with the tracker's lock held, so transitions reach it in `seq` order; keep it
/// short (one SQLite insert). If it fails, the transition is dropped and not shown.
pub trait TransitionSink: Send + Sync + 'static {
    fn record(&self, transition: &Transition) -> Result<(), SinkError>;
}

/// A sink that keeps nothing (tests, the CLI's `--no-journal`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoJournal;

impl TransitionSink for NoJournal {
    fn record(&self, _: &Transition) -> Result<(), SinkError> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    #[error("payment {payment_id}: {source}")]
    Journal {
        payment_id: String,
        #[source]
        source: SinkError,
    },
}

/// What [`Tracker::apply`] did with a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    /// A change: this transition was recorded and published.
    Changed(Transition),
    /// Nothing new (a duplicate, or a refresh of the same state).
    Unchanged,
    /// Older than what the tracker holds: ignored.
    Stale,
    /// Not a tracked payment: ignored.
    Untracked,
    /// A source that cannot confirm claimed paid; an API read was requested instead.
    NeedsConfirmation,
}

#[derive(Debug)]
struct Entry {
    payment: Payment,
    status: PaymentStatus,
    source: Source,
    /// Refunds seen by id, so a duplicate refund event adds nothing.
    refunds: BTreeMap<String, (i128, RefundStatus)>,
    expiry_fired: bool,
    awaiting_confirmation: bool,
    last_seq: u64,
}

impl Entry {
    /// Refunded so far: the API's own figure or the sum of succeeded refunds we saw,
    /// whichever is larger (both only grow).
    fn refunded(&self) -> i128 {
        let seen: i128 = self
            .refunds
            .values()
            .filter(|(_, s)| *s == RefundStatus::Succeeded)
            .map(|(a, _)| *a)
            .fold(0i128, |acc, a| acc.saturating_add(a));
        self.payment.amount_refunded.max(seen)
    }

    fn view(&self) -> TrackedPayment {
        TrackedPayment {
            payment: self.payment.clone(),
            status: self.status.clone(),
            refunded: self.refunded(),
            source: self.source,
            deadline_unix_ms: deadline_ms(&self.payment),
            expiry_fired: self.expiry_fired,
            awaiting_confirmation: self.awaiting_confirmation,
            last_seq: self.last_seq,
        }
    }
}

fn deadline_ms(p: &Payment) -> Option<i64> {
    p.deadline_unix().map(|s| s.saturating_mul(1000))
}

#[derive(Debug)]
struct State {
    /// Insertion order is kept so snapshots list payments as they were charged.
    payments: HashMap<String, Entry>,
    order: Vec<String>,
    seq: u64,
    connection: ConnectionStatus,
    /// Payments an API read must confirm or refresh, soonest possible.
    needs_read: BTreeSet<String>,
}

struct Inner {
    state: Mutex<State>,
    events: broadcast::Sender<TrackerEvent>,
    sink: Arc<dyn TransitionSink>,
    server_clock: ServerClock,
    local_clock: LocalClock,
    /// Bumped whenever the tracked set, a status, or `needs_read` changes.
    changed: watch::Sender<u64>,
}

/// The payment state of one terminal. Cheap to clone; all clones share the state.
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker").finish_non_exhaustive()
    }
}

/// A subscriber's view of the event stream.
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<TrackerEvent>,
}

impl Subscription {
    /// The next event; `None` once the tracker is gone. A subscriber that fell behind
    /// gets [`TrackerEvent::Resnapshot`] and should call [`Tracker::snapshot`] again.
    pub async fn recv(&mut self) -> Option<TrackerEvent> {
        match self.rx.recv().await {
            Ok(e) => Some(e),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                Some(TrackerEvent::Resnapshot { missed })
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next event if one is already waiting.
    pub fn try_recv(&mut self) -> Option<TrackerEvent> {
        match self.rx.try_recv() {
            Ok(e) => Some(e),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                Some(TrackerEvent::Resnapshot { missed })
            }
            Err(_) => None,
        }
    }
}

impl Tracker {
    /// A tracker writing to `sink`, on the system clock.
    pub fn new(sink: Arc<dyn TransitionSink>) -> Tracker {
        Tracker::with_clocks(sink, ServerClock::new(), LocalClock::system())
    }

    /// A tracker with an explicit server clock estimate (shared with the API client) and
    /// local clock (tests give the terminal a wrong one).
    pub fn with_clocks(
        sink: Arc<dyn TransitionSink>,
        server_clock: ServerClock,
        local_clock: LocalClock,
    ) -> Tracker {
        Tracker::with_capacity(sink, server_clock, local_clock, DEFAULT_EVENT_CAPACITY)
    }

    pub fn with_capacity(
        sink: Arc<dyn TransitionSink>,
        server_clock: ServerClock,
        local_clock: LocalClock,
        event_capacity: usize,
    ) -> Tracker {
        let (events, _) = broadcast::channel(event_capacity.max(1));
        let (changed, _) = watch::channel(0);
        Tracker {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    payments: HashMap::new(),
                    order: Vec::new(),
                    seq: 0,
                    connection: ConnectionStatus::initial(),
                    needs_read: BTreeSet::new(),
                }),
                events,
                sink,
                server_clock,
                local_clock,
                changed,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn server_clock(&self) -> &ServerClock {
        &self.inner.server_clock
    }

    pub fn local_clock(&self) -> LocalClock {
        self.inner.local_clock
    }

    /// The server's time now by our best estimate, unix ms.
    pub fn server_now_ms(&self) -> i64 {
        self.inner.local_clock.now_ms() + self.inner.server_clock.offset_ms()
    }

    /// Subscribe first, then [`snapshot`](Self::snapshot): events with a transition
    /// `seq` at or below the snapshot's are already in it.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            rx: self.inner.events.subscribe(),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let st = self.lock();
        let mut connection = st.connection.clone();
        connection.refresh_age(self.inner.local_clock.now_ms());
        Snapshot {
            seq: st.seq,
            payments: st
                .order
                .iter()
                .filter_map(|id| st.payments.get(id).map(Entry::view))
                .collect(),
            connection,
        }
    }

    pub fn get(&self, payment_id: &str) -> Option<TrackedPayment> {
        self.lock().payments.get(payment_id).map(Entry::view)
    }

    /// Tracked payments that are not in a terminal status (pending or unknown): the set
    /// that polling and resyncs read.
    pub fn pending_ids(&self) -> Vec<String> {
        let st = self.lock();
        st.order
            .iter()
            .filter(|id| {
                st.payments
                    .get(*id)
                    .is_some_and(|e| !e.status.is_terminal())
            })
            .cloned()
            .collect()
    }

    pub fn tracked_ids(&self) -> Vec<String> {
        self.lock().order.clone()
    }

    /// Starts tracking a payment (normally the create response). Tracking an already
    /// tracked payment merges it like any other message.
    pub fn track(&self, payment: Payment, source: Source) -> Result<Applied, TrackerError> {
        let mut st = self.lock();
        if st.payments.contains_key(&payment.id) {
            return self.merge_locked(&mut st, payment, source);
        }
        let claimed = payment.effective_status();
        let unconfirmed_paid = claimed == PaymentStatus::Succeeded && !source.confirms();
        // A claim of paid we cannot trust enters as pending, and is read from the API.
        let status = if unconfirmed_paid {
            PaymentStatus::Pending
        } else {
            claimed
        };
        let mut shown = payment.clone();
        if unconfirmed_paid {
            shown.status = PaymentStatus::Pending;
            shown.captured = false;
        }
        let transition = Transition {
            seq: st.seq + 1,
            payment_id: payment.id.clone(),
            kind: TransitionKind::Tracked,
            from: None,
            to: status.clone(),
            refunded_from: 0,
            refunded_to: shown.amount_refunded,
            source,
            at_unix_ms: self.server_now_ms(),
            payment: shown.clone(),
        };
        self.record(&transition)?;
        st.seq = transition.seq;
        let id = payment.id.clone();
        st.payments.insert(
            id.clone(),
            Entry {
                payment: shown,
                status,
                source,
                refunds: BTreeMap::new(),
                expiry_fired: false,
                awaiting_confirmation: unconfirmed_paid,
                last_seq: transition.seq,
            },
        );
        st.order.push(id.clone());
        if unconfirmed_paid {
            st.needs_read.insert(id);
        }
        self.publish_locked(TrackerEvent::Transition(transition.clone()));
        drop(st);
        self.bump();
        Ok(Applied::Changed(transition))
    }

    /// Stops tracking a payment (the cashier closed it). Its pending reads stop too.
    pub fn untrack(&self, payment_id: &str) -> bool {
        let mut st = self.lock();
        let removed = st.payments.remove(payment_id).is_some();
        if removed {
            st.order.retain(|id| id != payment_id);
            st.needs_read.remove(payment_id);
            self.publish_locked(TrackerEvent::Untracked {
                payment_id: payment_id.to_owned(),
            });
        }
        drop(st);
        if removed {
            self.bump();
        }
        removed
    }

    /// Merges a payment object from `source` into the tracked state.
    pub fn apply(&self, payment: Payment, source: Source) -> Result<Applied, TrackerError> {
        let mut st = self.lock();
        self.merge_locked(&mut st, payment, source)
    }

    /// Merges a refund object (refund webhooks carry refunds, not payments).
    pub fn apply_refund(&self, refund: Refund, source: Source) -> Result<Applied, TrackerError> {
        let mut st = self.lock();
        let Some(entry) = st.payments.get(&refund.payment_id) else {
            return Ok(Applied::Untracked);
        };
        if !source.confirms() {
            st.needs_read.insert(refund.payment_id.clone());
            drop(st);
            self.bump();
            return Ok(Applied::NeedsConfirmation);
        }
        let before = entry.refunded();
        let mut refunds = entry.refunds.clone();
        let known = refunds.get(&refund.id).cloned();
        // A refund's status only moves forward too: a late "pending" never undoes
        // "succeeded".
        let next = match known {
            Some((_, RefundStatus::Succeeded)) | Some((_, RefundStatus::Failed)) => {
                return Ok(Applied::Unchanged)
            }
            _ => (refund.amount, refund.status.clone()),
        };
        refunds.insert(refund.id.clone(), next);
        let mut probe = Entry {
            payment: entry.payment.clone(),
            status: entry.status.clone(),
            source,
            refunds,
            expiry_fired: entry.expiry_fired,
            awaiting_confirmation: entry.awaiting_confirmation,
            last_seq: entry.last_seq,
        };
        let after = probe.refunded();
        if after <= before {
            // Recorded (a requested refund), nothing to show yet.
            if let Some(e) = st.payments.get_mut(&refund.payment_id) {
                e.refunds = probe.refunds;
            }
            return Ok(Applied::Unchanged);
        }
        probe.payment.amount_refunded = after;
        probe.payment.refunded = after > 0;
        let transition = Transition {
            seq: st.seq + 1,
            payment_id: refund.payment_id.clone(),
            kind: TransitionKind::Refund,
            from: Some(probe.status.clone()),
            to: probe.status.clone(),
            refunded_from: before,
            refunded_to: after,
            source,
            at_unix_ms: self.server_now_ms(),
            payment: probe.payment.clone(),
        };
        self.record(&transition)?;
        st.seq = transition.seq;
        probe.last_seq = transition.seq;
        st.payments.insert(refund.payment_id.clone(), probe);
        self.publish_locked(TrackerEvent::Transition(transition.clone()));
        drop(st);
        self.bump();
        Ok(Applied::Changed(transition))
    }

    fn merge_locked(
        &self,
        st: &mut MutexGuard<'_, State>,
        payment: Payment,
        source: Source,
    ) -> Result<Applied, TrackerError> {
        let Some(entry) = st.payments.get(&payment.id) else {
            return Ok(Applied::Untracked);
        };
        let next = payment.effective_status();
        let status_moves = entry.status.can_advance_to(&next);
        let same_status = entry.status == next;
        if !status_moves && !same_status {
            return Ok(Applied::Stale);
        }
        if !source.confirms() {
            // Restored rows and anything else unconfirmed only ever ask for a read.
            if status_moves || payment.amount_refunded > entry.refunded() {
                let id = payment.id.clone();
                if let Some(e) = st.payments.get_mut(&id) {
                    e.awaiting_confirmation = true;
                }
                st.needs_read.insert(id);
                self.bump();
                return Ok(Applied::NeedsConfirmation);
            }
            return Ok(Applied::Unchanged);
        }
        let before_refunded = entry.refunded();
        let refund_grows = payment.amount_refunded > before_refunded;
        if !status_moves && !refund_grows {
            // Same state. An API read is the freshest full object: keep its fields
            // (a corrected `expired_at`, say) without a transition.
            let clears_claim = entry.awaiting_confirmation && source == Source::ApiRead;
            if source == Source::ApiRead || source == Source::CreateResponse {
                let id = payment.id.clone();
                if let Some(e) = st.payments.get_mut(&id) {
                    e.payment = Payment {
                        amount_refunded: e.payment.amount_refunded.max(payment.amount_refunded),
                        ..payment
                    };
                    if clears_claim {
                        e.awaiting_confirmation = false;
                    }
                }
                st.needs_read.remove(&id);
                if clears_claim {
                    self.bump();
                }
            }
            return Ok(Applied::Unchanged);
        }
        let from = entry.status.clone();
        let to = if status_moves { next } else { from.clone() };
        let after_refunded = before_refunded.max(payment.amount_refunded);
        let mut stored = payment;
        stored.amount_refunded = after_refunded;
        let transition = Transition {
            seq: st.seq + 1,
            payment_id: stored.id.clone(),
            kind: if status_moves {
                TransitionKind::Status
            } else {
                TransitionKind::Refund
            },
            from: Some(from),
            to: to.clone(),
            refunded_from: before_refunded,
            refunded_to: after_refunded,
            source,
            at_unix_ms: self.server_now_ms(),
            payment: stored.clone(),
        };
        self.record(&transition)?;
        st.seq = transition.seq;
        let id = stored.id.clone();
        if let Some(e) = st.payments.get_mut(&id) {
            e.payment = stored;
            e.status = to;
            e.source = source;
            e.awaiting_confirmation = false;
            e.last_seq = transition.seq;
        }
        st.needs_read.remove(&id);
        self.publish_locked(TrackerEvent::Transition(transition.clone()));
        self.bump();
        Ok(Applied::Changed(transition))
    }

    fn record(&self, transition: &Transition) -> Result<(), TrackerError> {
        if let Err(source) = self.inner.sink.record(transition) {
            tracing::error!(payment_id = %transition.payment_id, error = %source,
                "journal refused a transition; not shown");
            self.publish_locked(TrackerEvent::JournalFailed {
                payment_id: transition.payment_id.clone(),
                error: source.to_string(),
            });
            return Err(TrackerError::Journal {
                payment_id: transition.payment_id.clone(),
                source,
            });
        }
        Ok(())
    }

    /// Sends to subscribers; having none is fine.
    fn publish_locked(&self, event: TrackerEvent) {
        let _ = self.inner.events.send(event);
    }

    fn bump(&self) {
        self.inner.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Publishes an event that is not a state change (ticks, expiry).
    pub(crate) fn publish(&self, event: TrackerEvent) {
        let _st = self.lock();
        self.publish_locked(event);
    }

    /// Records the session's connection status and tells subscribers.
    pub(crate) fn set_connection(&self, status: ConnectionStatus) {
        let mut st = self.lock();
        st.connection = status.clone();
        self.publish_locked(TrackerEvent::Connection(status));
    }

    pub fn connection(&self) -> ConnectionStatus {
        let mut c = self.lock().connection.clone();
        c.refresh_age(self.inner.local_clock.now_ms());
        c
    }

    /// Marks the payment's countdown as run out. True only the first time.
    pub(crate) fn mark_expiry_fired(&self, payment_id: &str) -> bool {
        let mut st = self.lock();
        match st.payments.get_mut(payment_id) {
            Some(e) if !e.expiry_fired => {
                e.expiry_fired = true;
                true
            }
            _ => false,
        }
    }

    /// Asks for an API read of a tracked payment (the session's read loop takes it).
    pub fn request_read(&self, payment_id: &str) {
        let mut st = self.lock();
        if st.payments.contains_key(payment_id) {
            st.needs_read.insert(payment_id.to_owned());
            drop(st);
            self.bump();
        }
    }

    pub(crate) fn take_needs_read(&self) -> BTreeSet<String> {
        std::mem::take(&mut self.lock().needs_read)
    }

    pub(crate) fn watch_changes(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn payment(id: &str, status: &str) -> Payment {
        serde_json::from_str(&format!(
            r#"{{"id":"{id}","amount":1250,"currency":"USD","status":"{status}",
                "created":1700000000,"time_window":600,"captured":{}}}"#,
            status == "succeeded"
        ))
        .unwrap()
    }

    fn tracker() -> Tracker {
        Tracker::new(Arc::new(NoJournal))
    }

    fn transitions(sub: &mut Subscription) -> Vec<Transition> {
        let mut out = Vec::new();
        while let Some(e) = sub.try_recv() {
            if let TrackerEvent::Transition(t) = e {
                out.push(t);
            }
        }
        out
    }

    #[test]
    fn duplicate_messages_emit_one_transition() {
        let t = tracker();
        let mut sub = t.subscribe();
        t.track(payment("p1", "pending"), Source::CreateResponse)
            .unwrap();
        for source in [
            Source::RelayedWebhook,
            Source::ApiRead,
            Source::RelayedWebhook,
        ] {
            t.apply(payment("p1", "succeeded"), source).unwrap();
        }
        let ts = transitions(&mut sub);
        assert_eq!(ts.len(), 2, "{ts:#?}");
        assert_eq!(ts[0].kind, TransitionKind::Tracked);
        assert_eq!(ts[1].from, Some(PaymentStatus::Pending));
        assert_eq!(ts[1].to, PaymentStatus::Succeeded);
        assert_eq!(ts[1].source, Source::RelayedWebhook);
        assert_eq!(ts[1].seq, ts[0].seq + 1);
    }

    #[test]
    fn stale_push_never_moves_status_backwards() {
        let t = tracker();
        t.track(payment("p1", "pending"), Source::CreateResponse)
            .unwrap();
        t.apply(payment("p1", "succeeded"), Source::ApiRead)
            .unwrap();
        let mut sub = t.subscribe();
        assert_eq!(
            t.apply(payment("p1", "pending"), Source::RelayedWebhook)
                .unwrap(),
            Applied::Stale
        );
        assert_eq!(
            t.apply(payment("p1", "cancelled"), Source::ApiRead)
                .unwrap(),
            Applied::Stale
        );
        assert!(transitions(&mut sub).is_empty());
        assert_eq!(t.get("p1").unwrap().status, PaymentStatus::Succeeded);
        assert!(t.pending_ids().is_empty());
    }

    #[test]
    fn out_of_order_messages_settle_on_the_furthest_status() {
        let t = tracker();
        t.track(payment("p1", "pending"), Source::CreateResponse)
            .unwrap();
        let mut sub = t.subscribe();
        // The capture push overtakes the "created" push.
        t.apply(payment("p1", "succeeded"), Source::RelayedWebhook)
            .unwrap();
        t.apply(payment("p1", "pending"), Source::RelayedWebhook)
            .unwrap();
        let ts = transitions(&mut sub);
        assert_eq!(ts.len(), 1);
        assert_eq!(ts[0].to, PaymentStatus::Succeeded);
    }

    #[test]
    fn unknown_status_stays_visible_and_can_still_settle() {
        let t = tracker();
        t.track(payment("p1", "pending"), Source::CreateResponse)
            .unwrap();
        let mut sub = t.subscribe();
        t.apply(payment("p1", "under_review"), Source::ApiRead)
            .unwrap();
        assert_eq!(
            t.get("p1").unwrap().status,
            PaymentStatus::Unknown("under_review".into())
        );
        // Still polled: an unknown status is not terminal.
        assert_eq!(t.pending_ids(), vec!["p1".to_owned()]);
        t.apply(payment("p1", "pending"), Source::ApiRead).unwrap();
        t.apply(payment("p1", "succeeded"), Source::ApiRead)
            .unwrap();
        let ts = transitions(&mut sub);
        assert_eq!(ts.len(), 2);
        assert_eq!(
            ts[1].from,
            Some(PaymentStatus::Unknown("under_review".into()))
        );
        assert_eq!(ts[1].to, PaymentStatus::Succeeded);
    }

    #[test]
    fn paid_is_never_shown_from_an_unconfirmed_source() {
        let t = tracker();
        t.track(payment("p1", "pending"), Source::CreateResponse)
            .unwrap();
        let mut sub = t.subscribe();
        assert_eq!(
            t.apply(payment("p1", "succeeded"), Source::Restored)
                .unwrap(),
            Applied::NeedsConfirmation
        );
        assert!(transitions(&mut sub).is_empty());
        let view = t.get("p1").unwrap();
        assert_eq!(view.status, PaymentStatus::Pending);
        assert!(view.awaiting_confirmation);
        assert!(t.take_needs_read().contains("p1"));
        // A restored row that claims paid is tracked as pending until the API says so.
        t.track(payment("p2", "succeeded"), Source::Restored)
            .unwrap();
        assert_eq!(t.get("p2").unwrap().status, PaymentStatus::Pending);
        assert!(!t.get("p2").unwrap().payment.is_paid());
        assert!(t.take_needs_read().contains("p2"));
        t.apply(payment("p2", "succeeded"), Source::ApiRead)
            .unwrap();
        assert_eq!(t.get("p2").unwrap().status, PaymentStatus::Succeeded);
        assert!(!t.get("p2").unwrap().awaiting_confirmation);
    }

    #[test]
    fn an_expired_flag_reads_as_expired() {
        let t = tracker();
        t.track(payment("p1", "pending"), Source::CreateResponse)
            .unwrap();
        let mut p = payment("p1", "pending");
        p.expired = true;
        let Applied::Changed(tr) = t.apply(p, Source::ApiRead).unwrap() else {
            panic!("expected a transition");
        };
        assert_eq!(tr.to, PaymentStatus::Expired);
        // A capture after expiry is not believed over the terminal status.
        assert_eq!(
            t.apply(payment("p1", "succeeded"), Source::RelayedWebhook)
                .unwrap(),
            Applied::Stale
        );
    }

    #[test]
    fn refunds_add_up_once_per_refund() {
        let t = tracker();
        t.track(payment("p1", "succeeded"), Source::CreateResponse)
            .unwrap();
        let mut sub = t.subscribe();
        let refund = |id: &str, amount: i128, status: &str| -> Refund {
            serde_json::from_str(&format!(
                r#"{{"id":"{id}","payment_id":"p1","amount":{amount},"currency":"USD","status":"{status}"}}"#
            ))
            .unwrap()
        };
        t.apply_refund(refund("r1", 250, "pending"), Source::RelayedWebhook)
            .unwrap();
        t.apply_refund(refund("r1", 250, "succeeded"), Source::RelayedWebhook)
            .unwrap();
        t.apply_refund(refund("r1", 250, "succeeded"), Source::RelayedWebhook)
            .unwrap();
        t.apply_refund(refund("r1", 250, "pending"), Source::RelayedWebhook)
            .unwrap();
        t.apply_refund(refund("r2", 100, "succeeded"), Source::RelayedWebhook)
            .unwrap();
        // The API's own total agrees: nothing new.
        let mut p = payment("p1", "succeeded");
        p.amount_refunded = 350;
        assert_eq!(t.apply(p, Source::ApiRead).unwrap(), Applied::Unchanged);
        let ts = transitions(&mut sub);
        assert_eq!(
            ts.iter()
                .map(|t| (t.refunded_from, t.refunded_to))
                .collect::<Vec<_>>(),
            vec![(0, 250), (250, 350)]
        );
        assert!(ts.iter().all(|t| t.kind == TransitionKind::Refund));
        assert_eq!(t.get("p1").unwrap().refunded, 350);
    }

    struct FlakyJournal {
        fail: AtomicBool,
        written: Mutex<Vec<u64>>,
    }

    impl TransitionSink for FlakyJournal {
        fn record(&self, t: &Transition) -> Result<(), SinkError> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(SinkError::new("disk full"));
            }
            self.written.lock().unwrap().push(t.seq);
            Ok(())
        }
    }

    #[test]
    fn a_transition_the_journal_refuses_is_not_shown() {
        let journal = Arc::new(FlakyJournal {
            fail: AtomicBool::new(false),
            written: Mutex::new(Vec::new()),
        });
        let t = Tracker::new(journal.clone());
        t.track(payment("p1", "pending"), Source::CreateResponse)
            .unwrap();
        let mut sub = t.subscribe();
        journal.fail.store(true, Ordering::SeqCst);
        let err = t
            .apply(payment("p1", "succeeded"), Source::RelayedWebhook)
            .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(t.get("p1").unwrap().status, PaymentStatus::Pending);
        assert!(matches!(
            sub.try_recv(),
            Some(TrackerEvent::JournalFailed { .. })
        ));
        assert!(sub.try_recv().is_none());
        // The same news later, once the journal works, is shown — with the next seq.
        journal.fail.store(false, Ordering::SeqCst);
        let Applied::Changed(tr) = t
            .apply(payment("p1", "succeeded"), Source::ApiRead)
            .unwrap()
        else {
            panic!("expected a transition");
        };
        assert_eq!(tr.seq, 2);
        assert_eq!(*journal.written.lock().unwrap(), vec![1, 2]);
    }

    #[test]
    fn messages_for_untracked_payments_are_ignored() {
        let t = tracker();
        assert_eq!(
            t.apply(payment("nope", "succeeded"), Source::RelayedWebhook)
                .unwrap(),
            Applied::Untracked
        );
        t.track(payment("p1", "pending"), Source::CreateResponse)
            .unwrap();
        assert!(t.untrack("p1"));
        assert_eq!(
            t.apply(payment("p1", "succeeded"), Source::ApiRead)
                .unwrap(),
            Applied::Untracked
        );
        assert!(t.snapshot().payments.is_empty());
    }

    #[test]
    fn snapshot_then_stream_misses_nothing() {
        let t = tracker();
        let mut sub = t.subscribe();
        t.track(payment("p1", "pending"), Source::CreateResponse)
            .unwrap();
        let snap = t.snapshot();
        t.apply(payment("p1", "succeeded"), Source::ApiRead)
            .unwrap();
        let ts = transitions(&mut sub);
        let after: Vec<_> = ts.iter().filter(|t| t.seq > snap.seq).collect();
        assert_eq!(snap.payments[0].status, PaymentStatus::Pending);
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].to, PaymentStatus::Succeeded);
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_to_resnapshot() {
        let t = Tracker::with_capacity(
            Arc::new(NoJournal),
            ServerClock::new(),
            LocalClock::system(),
            2,
        );
        let mut sub = t.subscribe();
        for i in 0..5 {
            t.track(payment(&format!("p{i}"), "pending"), Source::CreateResponse)
                .unwrap();
        }
        assert!(matches!(
            sub.recv().await,
            Some(TrackerEvent::Resnapshot { missed: 3 })
        ));
        assert_eq!(t.snapshot().payments.len(), 5);
    }
}
