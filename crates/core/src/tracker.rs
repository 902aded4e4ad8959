//! The tracker: the one place a terminal's payment state lives.
//!
//! Everything that says something about a payment ends here — the create response, API
//! reads (polls, resyncs, the expiry check), events pushed over the relay session and the
//! reconciliation after a crash — as an [`Update`]. The tracker asks the pure
//! [`merge`](crate::merge::merge) rule what changes, has the [`TransitionSink`] (the
//! journal) record the [`Transition`] as-is, and only then shows it: subscribers (the app,
//! the CLI) take a [`snapshot`](Tracker::snapshot) for the first render and follow a
//! bounded [`Subscription`] of [`TrackerEvent`]s.
//!
//! Writes are serialized by an async gate, so the journal's fsync never runs on a worker
//! thread holding a lock, and transitions reach the journal and the subscribers in the
//! same order. Reads (snapshot, get, pending ids) take a short synchronous lock and never
//! wait for the journal.
//!
//! A payment the tracker does not follow (a past sale refunded from History, an interrupted
//! charge found by reconciliation) merges against the journal's copy: the same rule, the
//! same sink, just not kept in memory.
//!
//! "Paid" is never shown on a claim alone: only a source that [`confirms`](Source::confirms)
//! can move a payment; anything else is answered with [`Applied::NeedsConfirmation`] and
//! the caller reads the API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::clock::{LocalClock, ServerClock};
use crate::connection::ConnectionStatus;
use crate::countdown::Tick;
use crate::merge::{merge, Merged};
pub use crate::merge::{PaymentState, RefundState, Source, Transition, TransitionKind, Update};
use crate::payment::{Payment, PaymentStatus, Refund};

/// How many events a subscriber may fall behind before it is told to re-snapshot.
pub const DEFAULT_EVENT_CAPACITY: usize = 256;
/// How long after its deadline an expired payment is still read for money that came late.
pub const LATE_FUNDS_WINDOW_MS: i64 = 20 * 60 * 1000;
/// How often a write is merged again after another process moved the payment on.
const CONFLICT_RETRIES: u32 = 3;

/// A tracked payment, as a snapshot shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrackedPayment {
    pub payment: Payment,
    /// The status to show (the payment's effective status as merged).
    pub status: PaymentStatus,
    /// Refunded minor units: the most any confirmed source has reported.
    pub refunded: i128,
    /// Refunds asked for and not yet sent.
    pub refund_requested: i128,
    pub refunds: Vec<RefundState>,
    /// The source of the last change.
    pub source: Source,
    /// The server's deadline, unix ms.
    pub deadline_unix_ms: Option<i64>,
    /// Sequence number of this payment's last transition.
    pub last_seq: u64,
}

impl TrackedPayment {
    pub fn of(s: &PaymentState) -> TrackedPayment {
        TrackedPayment {
            payment: s.payment.clone(),
            status: s.status.clone(),
            refunded: s.refunded(),
            refund_requested: s.refund_requested(),
            refunds: s.refunds.values().cloned().collect(),
            source: s.source,
            deadline_unix_ms: s.deadline_unix_ms(),
            last_seq: s.seq,
        }
    }
}

/// What a subscriber sees at first render.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    /// Every transition with `seq <= seq` is already reflected here.
    pub seq: u64,
    pub payments: Vec<TrackedPayment>,
    pub connection: ConnectionStatus,
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
    /// A receipt printed, or why it did not (the till's print service).
    Receipt(crate::printout::ReceiptEvent),
}

/// Why the journal refused a transition.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("journal write failed: {0}")]
    Failed(Box<dyn std::error::Error + Send + Sync>),
    /// The payment moved on in the journal (another process wrote it): merge again onto
    /// this state.
    #[error("the payment changed in the journal meanwhile")]
    Conflict(Box<PaymentState>),
}

impl SinkError {
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SinkError::Failed(e.into())
    }
}

/// Where transitions are written before anyone sees them (the journal).
pub trait TransitionSink: Send + Sync + 'static {
    /// Records `t` (merged onto the state numbered `t.prev_seq`) and returns the sequence
    /// number it was given. Called one transition at a time, in order.
    fn record(&self, t: Transition) -> BoxFuture<'_, Result<u64, SinkError>>;

    /// What the sink holds of a payment the tracker does not follow.
    fn load(&self, payment_id: String) -> BoxFuture<'_, Result<Option<PaymentState>, SinkError>>;
}

/// A sink that keeps nothing but a counter (tests, the doctor's probe session).
#[derive(Debug, Default)]
pub struct NoJournal {
    seq: AtomicU64,
}

impl TransitionSink for NoJournal {
    fn record(&self, _: Transition) -> BoxFuture<'_, Result<u64, SinkError>> {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move { Ok(seq) })
    }

    fn load(&self, _: String) -> BoxFuture<'_, Result<Option<PaymentState>, SinkError>> {
        Box::pin(async { Ok(None) })
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

/// What the tracker does with a payment after merging news about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Follow it from now on (the create answer, a payment being watched).
    Follow,
    /// Journal the news even if the payment is new here, without following it (an API
    /// answer about a past sale).
    Journal,
    /// Only if it is followed or journaled already (pushes, polls): others are ignored.
    IfKnown,
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
    /// Neither tracked nor journaled: ignored.
    Untracked,
    /// A source that cannot confirm claimed progress; read the API instead.
    NeedsConfirmation,
}

#[derive(Debug)]
struct State {
    payments: HashMap<String, PaymentState>,
    /// Insertion order, so snapshots list payments as they were charged.
    order: Vec<String>,
    /// The highest transition number shown.
    seq: u64,
    connection: ConnectionStatus,
}

struct Inner {
    state: Mutex<State>,
    /// One merge-and-record at a time.
    gate: tokio::sync::Mutex<()>,
    events: broadcast::Sender<TrackerEvent>,
    sink: Arc<dyn TransitionSink>,
    server_clock: ServerClock,
    local_clock: LocalClock,
    /// Bumped whenever the tracked set or a status changes.
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

    /// A tracker with an explicit estimate of the payment API's clock (shared with the API
    /// client) and local clock (tests give the terminal a wrong one).
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
                }),
                gate: tokio::sync::Mutex::new(()),
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

    /// The payment API's clock as measured (deadlines are the API's).
    pub fn server_clock(&self) -> &ServerClock {
        &self.inner.server_clock
    }

    pub fn local_clock(&self) -> LocalClock {
        self.inner.local_clock
    }

    /// The payment API's time now by our best estimate, unix ms.
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
                .filter_map(|id| st.payments.get(id).map(TrackedPayment::of))
                .collect(),
            connection,
        }
    }

    pub fn get(&self, payment_id: &str) -> Option<TrackedPayment> {
        self.lock().payments.get(payment_id).map(TrackedPayment::of)
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

    /// The payments the API is still read for: the pending ones, and those that expired in
    /// the last [`LATE_FUNDS_WINDOW_MS`] — money sent late (after 10 minutes, 20 for BTC)
    /// shows up on the payment afterwards, and the cashier must hear that the customer
    /// paid too late and gets the money back.
    pub fn watched_ids(&self, server_now_ms: i64) -> Vec<String> {
        let st = self.lock();
        st.order
            .iter()
            .filter(|id| {
                st.payments.get(*id).is_some_and(|e| match e.status {
                    PaymentStatus::Expired => e
                        .deadline_unix_ms()
                        .is_some_and(|d| server_now_ms.saturating_sub(d) < LATE_FUNDS_WINDOW_MS),
                    ref s => !s.is_terminal(),
                })
            })
            .cloned()
            .collect()
    }

    pub fn tracked_ids(&self) -> Vec<String> {
        self.lock().order.clone()
    }

    /// Follows payments the journal already holds (a restart): no transition, nothing
    /// recorded again. A payment already followed keeps what the tracker knows.
    pub fn restore(&self, states: Vec<PaymentState>) {
        let mut st = self.lock();
        let mut added = false;
        for s in states {
            let id = s.payment.id.clone();
            if st.payments.contains_key(&id) {
                continue;
            }
            st.order.push(id.clone());
            st.payments.insert(id, s);
            added = true;
        }
        drop(st);
        if added {
            self.bump();
        }
    }

    /// Starts following a payment (normally the create response): it merges like any
    /// other message — against the journal's copy when the journal already has it — and
    /// stays followed until [`untrack`](Self::untrack).
    pub async fn track(&self, payment: Payment, source: Source) -> Result<Applied, TrackerError> {
        self.merge_in(Update::Payment(payment), source, Keep::Follow)
            .await
    }

    /// Merges a payment object from `source`.
    pub async fn apply(&self, payment: Payment, source: Source) -> Result<Applied, TrackerError> {
        self.merge_in(Update::Payment(payment), source, Keep::IfKnown)
            .await
    }

    /// Merges a refund object (refund webhooks carry refunds, not payments).
    pub async fn apply_refund(
        &self,
        refund: Refund,
        source: Source,
    ) -> Result<Applied, TrackerError> {
        self.merge_in(Update::Refund(refund), source, Keep::IfKnown)
            .await
    }

    /// Merges any update: into the followed state, else into the journal's copy; `keep`
    /// says what happens to a payment that is not followed.
    pub async fn merge_in(
        &self,
        update: Update,
        source: Source,
        keep: Keep,
    ) -> Result<Applied, TrackerError> {
        let follow = keep == Keep::Follow;
        let id = update.payment_id().to_owned();
        let _gate = self.inner.gate.lock().await;
        let followed = self.lock().payments.get(&id).cloned();
        let tracked = followed.is_some();
        let mut current = match followed {
            Some(s) => Some(s),
            None => self
                .inner
                .sink
                .load(id.clone())
                .await
                .map_err(|e| self.refused(&id, e))?,
        };
        if current.is_none() && keep == Keep::IfKnown {
            return Ok(Applied::Untracked);
        }
        let mut attempts = 0;
        loop {
            let t = match merge(current.as_ref(), &update, source, self.server_now_ms()) {
                Merged::Changed(t) => t,
                other => {
                    if follow && !tracked {
                        if let Some(s) = current {
                            // Already journaled, nothing new: follow it from here.
                            self.follow(s);
                        }
                    }
                    return Ok(match other {
                        Merged::Stale => Applied::Stale,
                        Merged::Unconfirmed | Merged::Unknown => Applied::NeedsConfirmation,
                        _ => Applied::Unchanged,
                    });
                }
            };
            match self.inner.sink.record(t.clone()).await {
                Ok(seq) => {
                    let t = Transition { seq, ..t };
                    let after = t.apply_to(current.as_ref());
                    self.show(&t, after, tracked || follow);
                    return Ok(Applied::Changed(t));
                }
                Err(SinkError::Conflict(newer)) if attempts < CONFLICT_RETRIES => {
                    attempts += 1;
                    tracing::debug!(payment_id = %id, "journal moved on; merging again");
                    // Another process (the CLI beside the app) recorded news first: show
                    // what it recorded, then merge ours onto it.
                    if tracked || follow {
                        if let Some(t) = catch_up(current.as_ref(), &newer, self.server_now_ms()) {
                            self.show(&t, (*newer).clone(), true);
                        }
                    }
                    current = Some(*newer);
                }
                Err(e) => return Err(self.refused(&id, e)),
            }
        }
    }

    fn refused(&self, payment_id: &str, source: SinkError) -> TrackerError {
        tracing::error!(payment_id = %payment_id, error = %source,
            "journal refused a change; not shown");
        self.publish(TrackerEvent::JournalFailed {
            payment_id: payment_id.to_owned(),
            error: source.to_string(),
        });
        TrackerError::Journal {
            payment_id: payment_id.to_owned(),
            source,
        }
    }

    fn follow(&self, s: PaymentState) {
        let mut st = self.lock();
        let id = s.payment.id.clone();
        if !st.payments.contains_key(&id) {
            st.order.push(id.clone());
        }
        st.payments.insert(id, s);
        drop(st);
        self.bump();
    }

    /// Keeps the new state (when followed) and tells subscribers, under one lock so a
    /// snapshot is never missing a published transition.
    fn show(&self, t: &Transition, after: PaymentState, keep: bool) {
        let mut st = self.lock();
        if keep {
            if !st.payments.contains_key(&t.payment_id) {
                st.order.push(t.payment_id.clone());
            }
            st.payments.insert(t.payment_id.clone(), after);
        }
        st.seq = st.seq.max(t.seq);
        let _ = self.inner.events.send(TrackerEvent::Transition(t.clone()));
        drop(st);
        self.bump();
    }

    /// Stops following a payment (the cashier closed it); it stays in the journal.
    pub fn untrack(&self, payment_id: &str) -> bool {
        let mut st = self.lock();
        let removed = st.payments.remove(payment_id).is_some();
        if removed {
            st.order.retain(|id| id != payment_id);
            let _ = self.inner.events.send(TrackerEvent::Untracked {
                payment_id: payment_id.to_owned(),
            });
        }
        drop(st);
        if removed {
            self.bump();
        }
        removed
    }

    fn bump(&self) {
        self.inner.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Publishes an event that is not a state change (ticks, expiry). Having no
    /// subscriber is fine.
    pub fn publish(&self, event: TrackerEvent) {
        let _st = self.lock();
        let _ = self.inner.events.send(event);
    }

    /// Records the session's connection status and tells subscribers.
    pub fn set_connection(&self, status: ConnectionStatus) {
        let mut st = self.lock();
        st.connection = status.clone();
        let _ = self.inner.events.send(TrackerEvent::Connection(status));
    }

    pub fn connection(&self) -> ConnectionStatus {
        let mut c = self.lock().connection.clone();
        c.refresh_age(self.inner.local_clock.now_ms());
        c
    }

    /// Changes whenever the followed set or a status changes (the session's loops wait
    /// on it).
    pub fn watch_changes(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }
}

/// The change from what this tracker held to what the journal holds now, as one
/// transition (already recorded, by whoever wrote it).
fn catch_up(
    before: Option<&PaymentState>,
    now: &PaymentState,
    at_unix_ms: i64,
) -> Option<Transition> {
    let (kind, from, refunded_from) = match before {
        None => (TransitionKind::Tracked, None, 0),
        Some(b) if b.seq == now.seq => return None,
        Some(b) if b.status != now.status => {
            (TransitionKind::Status, Some(b.status.clone()), b.refunded())
        }
        Some(b) if b.refunded() != now.refunded() || b.refunds != now.refunds => {
            (TransitionKind::Refund, Some(b.status.clone()), b.refunded())
        }
        Some(b) => (
            TransitionKind::Details,
            Some(b.status.clone()),
            b.refunded(),
        ),
    };
    Some(Transition {
        seq: now.seq,
        prev_seq: before.map_or(0, |b| b.seq),
        payment_id: now.payment.id.clone(),
        kind,
        from,
        to: now.status.clone(),
        refunded_from,
        refunded_to: now.refunded(),
        source: now.source,
        at_unix_ms,
        payment: now.payment.clone(),
        refund: None,
    })
}

#[cfg(test)]
mod tests;
