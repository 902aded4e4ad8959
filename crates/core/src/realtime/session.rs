//! The session: owns the socket, the read loop and its queue, the fallback timer and the
//! countdowns.
//!
//! [`Session::start`] spawns them all into one `JoinSet` under one cancellation token;
//! [`Session::shutdown`] stops and joins every one. The facts they share — is the relay
//! live, is polling on, do API reads succeed, when did we last hear anything — live in
//! [`Shared`], which derives the shown [`ConnectionState`] and publishes it through the
//! tracker whenever it changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::SessionConfig;
use super::queue::ReadQueue;
use super::{countdowns, reads, socket};
use crate::clock::ServerClock;
use crate::connection::{ConnectionState, ConnectionStatus, Link};
use crate::payment::Payment;
use crate::reader::{DynReader, PaymentReader};
use crate::tracker::{Applied, Snapshot, Source, Subscription, Tracker, TrackerError};
use crate::wire::Scope;

/// Counters for diagnostics and the benchmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SessionStats {
    /// API reads attempted (each one HTTP request).
    pub api_reads: u64,
    pub api_not_modified: u64,
    pub api_failures: u64,
    pub api_rate_limited: u64,
    /// Ticket requests (each one HTTP request).
    pub tickets: u64,
    /// WebSocket handshakes that reached hello.
    pub sessions: u64,
    /// Messages received from the relay, and their bytes.
    pub ws_messages: u64,
    pub ws_bytes: u64,
    /// Times the watchdog declared a silent link dead.
    pub watchdog_fired: u64,
    /// Resyncs (one read per pending payment) after a hello.
    pub resyncs: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub api_reads: AtomicU64,
    pub api_not_modified: AtomicU64,
    pub api_failures: AtomicU64,
    pub api_rate_limited: AtomicU64,
    pub tickets: AtomicU64,
    pub sessions: AtomicU64,
    pub ws_messages: AtomicU64,
    pub ws_bytes: AtomicU64,
    pub watchdog_fired: AtomicU64,
    pub resyncs: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn snapshot(&self) -> SessionStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SessionStats {
            api_reads: g(&self.api_reads),
            api_not_modified: g(&self.api_not_modified),
            api_failures: g(&self.api_failures),
            api_rate_limited: g(&self.api_rate_limited),
            tickets: g(&self.tickets),
            sessions: g(&self.sessions),
            ws_messages: g(&self.ws_messages),
            ws_bytes: g(&self.ws_bytes),
            watchdog_fired: g(&self.watchdog_fired),
            resyncs: g(&self.resyncs),
        }
    }
}

struct LinkState {
    link: Link,
    since_ms: i64,
    last_update_ms: Option<i64>,
    /// Monotonic time of the last message from the relay (or the session start).
    last_heard: Instant,
    /// When the relay session last went live.
    live_since: Instant,
    detail: Option<String>,
    shown: Option<(ConnectionState, Option<String>)>,
    api_failures_in_a_row: u32,
}

/// What the session's tasks share.
pub(crate) struct Shared {
    pub tracker: Tracker,
    pub config: SessionConfig,
    pub reader: Arc<dyn DynReader>,
    pub cancel: CancellationToken,
    pub counters: Counters,
    /// Payments to read soonest, and those whose countdown ran out.
    pub queue: ReadQueue,
    /// The relay's clock, from its hello and heartbeats: kept apart from the payment
    /// API's (the tracker's), which alone counts deadlines.
    pub relay_clock: ServerClock,
    /// The id the relay knows this till by (from its hello): written into each new
    /// payment's metadata so the relay routes the payment's events to this till alone.
    pub terminal_id: watch::Sender<Option<String>>,
    /// What the relay pushes to this session: its own payments (a till) or all of them.
    scope: Mutex<Scope>,
    /// Last ETag per payment; dropped when a read's result could not be recorded, so the
    /// next read returns the full object again.
    pub etags: Mutex<HashMap<String, String>>,
    link: Mutex<LinkState>,
    ws_live: watch::Sender<bool>,
    fallback: watch::Sender<bool>,
}

impl Shared {
    fn link(&self) -> MutexGuard<'_, LinkState> {
        self.link.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn scope(&self) -> MutexGuard<'_, Scope> {
        self.scope.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn etags(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.etags.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ms(&self) -> i64 {
        self.tracker.local_clock().now_ms()
    }

    /// Publishes the derived status if the state or its explanation changed.
    fn publish_locked(&self, st: &mut LinkState) {
        let state = st.link.state();
        let key = (state, st.detail.clone());
        if st.shown.as_ref() == Some(&key) {
            return;
        }
        if st.shown.as_ref().map(|s| s.0) != Some(state) {
            st.since_ms = self.now_ms();
            tracing::info!(state = state.as_str(), detail = ?st.detail, "connection state");
        }
        st.shown = Some(key);
        let mut status = ConnectionStatus {
            state,
            since_unix_ms: st.since_ms,
            last_update_unix_ms: st.last_update_ms,
            last_update_age_ms: None,
            detail: st.detail.clone(),
        };
        status.refresh_age(self.now_ms());
        self.tracker.set_connection(status);
    }

    pub fn set_ws_live(&self, live: bool, detail: Option<String>) {
        let mut st = self.link();
        if live && !st.link.ws_live {
            st.live_since = Instant::now();
        }
        st.link.ws_live = live;
        if live {
            st.link.ever_live = true;
            st.link.fallback = false;
            st.detail = None;
        } else if detail.is_some() {
            st.detail = detail;
        }
        self.publish_locked(&mut st);
        drop(st);
        self.ws_live.send_replace(live);
        if live {
            self.fallback.send_replace(false);
        }
    }

    /// Explains why the relay is out of reach without changing the state.
    pub fn set_detail(&self, detail: String) {
        let mut st = self.link();
        st.detail = Some(detail);
        self.publish_locked(&mut st);
    }

    fn set_fallback(&self, on: bool) {
        let mut st = self.link();
        if st.link.ws_live && on {
            return;
        }
        st.link.fallback = on;
        self.publish_locked(&mut st);
        drop(st);
        self.fallback.send_replace(on);
    }

    pub fn heard_from_relay(&self) {
        let mut st = self.link();
        st.last_heard = Instant::now();
        st.last_update_ms = Some(self.now_ms());
    }

    pub fn last_heard(&self) -> Instant {
        self.link().last_heard
    }

    /// How long the current (or last) relay session has been live.
    pub fn live_for(&self) -> Duration {
        self.link().live_since.elapsed()
    }

    /// An API read got an answer (any answer: the API is reachable).
    pub fn api_answered(&self) {
        let mut st = self.link();
        st.api_failures_in_a_row = 0;
        st.last_update_ms = Some(self.now_ms());
        if st.link.api_down {
            st.link.api_down = false;
            self.publish_locked(&mut st);
        }
    }

    /// An API read failed without an answer (timeout, 5xx, network).
    pub fn api_failed(&self) {
        let mut st = self.link();
        st.api_failures_in_a_row = st.api_failures_in_a_row.saturating_add(1);
        if st.api_failures_in_a_row >= self.config.offline_after_failures && !st.link.api_down {
            st.link.api_down = true;
            self.publish_locked(&mut st);
        }
    }

    fn close(&self) {
        let mut st = self.link();
        st.link.closed = true;
        st.link.ws_live = false;
        self.publish_locked(&mut st);
    }

    pub fn watch_fallback(&self) -> watch::Receiver<bool> {
        self.fallback.subscribe()
    }

    pub fn status(&self) -> ConnectionStatus {
        self.tracker.connection()
    }
}

/// One terminal's realtime session.
pub struct Session {
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.shared.status().state)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts the session on the current tokio runtime: connects to the relay (if one is
    /// configured), runs the read loop and the countdowns. Payments are tracked through
    /// the tracker (or [`Session::track`]); the session picks them up by itself.
    ///
    /// # Panics
    /// Outside a tokio runtime (it spawns its tasks on the current one).
    pub fn start<R: PaymentReader>(config: SessionConfig, tracker: Tracker, reader: R) -> Session {
        let config = config.sanitized();
        let now_ms = tracker.local_clock().now_ms();
        let relay = config.relay.clone();
        let (ws_live, _) = watch::channel(false);
        let (fallback, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            tracker,
            config,
            reader: Arc::new(reader),
            cancel: CancellationToken::new(),
            counters: Counters::default(),
            queue: ReadQueue::default(),
            relay_clock: ServerClock::new(),
            terminal_id: watch::channel(None).0,
            scope: Mutex::new(Scope::Till),
            etags: Mutex::new(HashMap::new()),
            link: Mutex::new(LinkState {
                link: Link::default(),
                since_ms: now_ms,
                last_update_ms: None,
                last_heard: Instant::now(),
                live_since: Instant::now(),
                detail: None,
                shown: None,
                api_failures_in_a_row: 0,
            }),
            ws_live,
            fallback,
        });
        {
            let mut st = shared.link();
            shared.publish_locked(&mut st);
        }
        let mut tasks = JoinSet::new();
        tasks.spawn(countdowns::run(
            shared.tracker.clone(),
            shared.queue.clone(),
            shared.cancel.clone(),
        ));
        tasks.spawn(reads::run(shared.clone()));
        match relay {
            Some(relay) => {
                tasks.spawn(socket::run(shared.clone(), relay));
                tasks.spawn(fallback_timer(shared.clone()));
            }
            None => {
                shared.set_detail("no relay configured".into());
                shared.set_fallback(true);
            }
        }
        Session { shared, tasks }
    }

    pub fn tracker(&self) -> &Tracker {
        &self.shared.tracker
    }

    pub fn subscribe(&self) -> Subscription {
        self.shared.tracker.subscribe()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.shared.tracker.snapshot()
    }

    /// Tracks a payment we just created.
    pub async fn track(&self, created: Payment) -> Result<Applied, TrackerError> {
        self.shared
            .tracker
            .track(created, Source::CreateResponse)
            .await
    }

    /// Reads a payment from the API as soon as the read policy allows (the cashier's
    /// "check now", a restored payment, a refund made elsewhere).
    pub fn check_now(&self, payment_id: &str) {
        self.shared.queue.request(payment_id);
    }

    /// The relay's clock as measured from its hello and heartbeats.
    pub fn relay_clock(&self) -> &ServerClock {
        &self.shared.relay_clock
    }

    /// The id the relay knows this till by, once a session said it (or a previous run
    /// remembered it: [`Session::remember_terminal_id`]).
    pub fn terminal_id(&self) -> Option<String> {
        self.shared.terminal_id.borrow().clone()
    }

    /// Seeds the id from a previous run, unless a hello already said it.
    pub fn remember_terminal_id(&self, id: String) {
        self.shared.terminal_id.send_if_modified(|t| {
            if t.is_none() {
                *t = Some(id);
                true
            } else {
                false
            }
        });
    }

    /// The id, waiting at most `patience` for the first hello to say it (a till that
    /// charges the moment it starts). `None` when no relay is configured or none answered.
    pub async fn wait_for_terminal_id(&self, patience: Duration) -> Option<String> {
        self.shared.config.relay.as_ref()?;
        let mut rx = self.shared.terminal_id.subscribe();
        let found = tokio::time::timeout(patience, rx.wait_for(Option::is_some)).await;
        match found {
            Ok(Ok(id)) => id.clone(),
            _ => None,
        }
    }

    pub fn status(&self) -> ConnectionStatus {
        self.shared.status()
    }

    pub fn stats(&self) -> SessionStats {
        self.shared.counters.snapshot()
    }

    /// Stops every task of the session, waits for them (at most `grace`), and publishes
    /// [`ConnectionState::Closed`].
    pub async fn shutdown(mut self) {
        self.shared.cancel.cancel();
        let grace = Duration::from_secs(3);
        let joined = tokio::time::timeout(grace, async {
            while let Some(res) = self.tasks.join_next().await {
                if let Err(e) = res {
                    if e.is_panic() {
                        tracing::error!(error = %e, "a session task panicked");
                    }
                }
            }
        })
        .await;
        if joined.is_err() {
            tracing::warn!("session tasks did not stop in time; aborting them");
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        self.shared.close();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Dropping without shutdown still stops everything (the JoinSet aborts the rest).
        self.shared.cancel.cancel();
    }
}

/// Turns polling on when the relay has been silent for `fallback_after` and the session
/// is not live. Measured from the last message heard, so a link the watchdog found dead
/// (already silent for the whole watchdog window) polls at once.
async fn fallback_timer(shared: Arc<Shared>) {
    let mut live = shared.ws_live.subscribe();
    let cancel = shared.cancel.clone();
    loop {
        let is_live = *live.borrow_and_update();
        let polling = *shared.fallback.borrow();
        if !is_live && !polling {
            let at = shared.last_heard() + shared.config.fallback_after;
            tokio::select! {
                _ = cancel.cancelled() => return,
                res = live.changed() => if res.is_err() { return },
                _ = tokio::time::sleep_until(at) => {
                    if !*live.borrow() && shared.last_heard() + shared.config.fallback_after <= Instant::now() {
                        tracing::info!("no push for {:?}; polling the API", shared.config.fallback_after);
                        shared.set_fallback(true);
                    }
                }
            }
        } else {
            tokio::select! {
                _ = cancel.cancelled() => return,
                res = live.changed() => if res.is_err() { return },
            }
        }
    }
}
