//! The till a window shows: one [`TillHost`] owns the running [`Till`] (or why there is
//! none), restarts it when the settings change, and publishes one [`TillStatus`] — mode,
//! running or failed and why, currency, connection, the payment in progress — that every
//! window renders from. No screen keeps its own copy.
//!
//! Events reach subscribers through one stream that survives restarts: the status
//! whenever it changes, and the tracker's events of whichever till is running. The host
//! owns the task that forwards them and stops it with the till.
//!
//! The host also holds the cashier's [`Register`] — the cart being rung up and the sale
//! awaiting the customer's tip — which outlives restarts too (a restart withdraws an open
//! tip prompt; the cart keeps the catalog it was opened with).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use tokio::sync::{broadcast, RwLock, RwLockReadGuard};
use tokio_util::sync::CancellationToken;

use super::{Assembly, DemoLauncher, Till, TillError};
use crate::config::{self, Mode};
use crate::connection::{ConnectionState, ConnectionStatus};
use crate::money::Currency;
use crate::payment::Payment;
use crate::sale::{Catalog, PromptId, Register, SaleRequest};
use crate::tracker::TrackerEvent;

/// How many events a subscriber may fall behind before it must re-read the status.
const EVENT_CAPACITY: usize = 512;

/// Whether the till runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Starting,
    Running,
    /// It could not start; `problem` says why and what to do.
    Failed,
    Stopped,
}

/// Everything a window needs to know about the till, in one value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TillStatus {
    pub state: RunState,
    /// Why the till is not running, in the cashier's words (never a secret).
    pub problem: Option<String>,
    /// The mode it runs in; when it could not start, the mode its settings name.
    pub mode: Option<Mode>,
    pub terminal_name: String,
    /// The currency typed amounts are in.
    pub currency: String,
    pub connection: ConnectionStatus,
    /// The payment in progress on this till (the one the cashier charged last and has not
    /// closed), if any.
    pub active: Option<String>,
    /// Something the cashier should read although the till runs.
    pub notice: Option<String>,
    /// Rises with every (re)start: events of an older run are stale.
    pub generation: u64,
}

impl TillStatus {
    fn initial() -> TillStatus {
        TillStatus {
            state: RunState::Starting,
            problem: None,
            mode: None,
            terminal_name: config::DEFAULT_TERMINAL_NAME.to_owned(),
            currency: config::DEFAULT_CURRENCY.to_owned(),
            connection: not_connected(ConnectionState::Connecting),
            active: None,
            notice: None,
            generation: 0,
        }
    }

    pub fn running(&self) -> bool {
        self.state == RunState::Running
    }
}

fn not_connected(state: ConnectionState) -> ConnectionStatus {
    ConnectionStatus {
        state,
        since_unix_ms: crate::clock::local_now_ms(),
        last_update_unix_ms: None,
        last_update_age_ms: None,
        detail: None,
    }
}

/// What a subscriber is told.
#[derive(Clone, Debug, PartialEq)]
pub enum HostEvent {
    Status(TillStatus),
    Tracker(TrackerEvent),
    /// Fell behind: read [`TillHost::status`] and the till's snapshot again.
    Resnapshot,
}

/// A subscriber's stream of [`HostEvent`]s.
#[derive(Debug)]
pub struct HostSubscription {
    rx: broadcast::Receiver<HostEvent>,
}

impl HostSubscription {
    /// The next event; `None` once the host is gone.
    pub async fn recv(&mut self) -> Option<HostEvent> {
        match self.rx.recv().await {
            Ok(e) => Some(e),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(HostEvent::Resnapshot),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// Owns the running till of a window (the app) and its status.
pub struct TillHost {
    assembly: Assembly,
    launcher: Arc<dyn DemoLauncher>,
    till: RwLock<Option<Till>>,
    status: Mutex<TillStatus>,
    events: broadcast::Sender<HostEvent>,
    /// Stops the current run's forwarder.
    forwarder: Mutex<CancellationToken>,
    register: Register,
}

impl std::fmt::Debug for TillHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TillHost")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TillHost {
    pub fn new(assembly: Assembly, launcher: Arc<dyn DemoLauncher>) -> Arc<TillHost> {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Arc::new(TillHost {
            assembly,
            launcher,
            till: RwLock::new(None),
            status: Mutex::new(TillStatus::initial()),
            events,
            forwarder: Mutex::new(CancellationToken::new()),
            register: Register::new(),
        })
    }

    pub fn assembly(&self) -> &Assembly {
        &self.assembly
    }

    /// The cart being rung up and the sale awaiting the customer's tip.
    pub fn register(&self) -> &Register {
        &self.register
    }

    /// The catalog of the running till (quick keys, tax rates, tip settings).
    pub async fn catalog(&self) -> Option<Arc<Catalog>> {
        self.till
            .read()
            .await
            .as_ref()
            .map(|t| Arc::clone(&t.plan.catalog))
    }

    /// Charges the sale whose tip prompt `prompt` decided, with `metadata` beside the
    /// sale's (the cashier); on success the cart empties and the payment is in progress.
    /// A failed charge leaves the sale decided, to try again without asking the customer
    /// twice.
    pub async fn charge_sale(
        &self,
        prompt: PromptId,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Payment, String> {
        let decision = self
            .register
            .tips()
            .sale(prompt)
            .map_err(|e| e.to_string())?;
        let mut request = SaleRequest::new(decision.sale);
        request.metadata = metadata;
        let payment = {
            let slot = self.till.read().await;
            let till = slot
                .as_ref()
                .ok_or_else(|| "the till is not running".to_owned())?;
            till.terminal
                .charge_sale(request)
                .await
                .map_err(|e| e.to_string())?
        };
        self.register.sold(prompt);
        self.set_active(Some(payment.id.clone()));
        Ok(payment)
    }

    /// Subscribe first, then read [`status`](Self::status) and the till's snapshot.
    pub fn subscribe(&self) -> HostSubscription {
        HostSubscription {
            rx: self.events.subscribe(),
        }
    }

    pub fn status(&self) -> TillStatus {
        let mut s = lock(&self.status).clone();
        s.connection.refresh_age(crate::clock::local_now_ms());
        s
    }

    /// The running till, if any (read-locked: a restart waits for this guard).
    pub async fn till(&self) -> RwLockReadGuard<'_, Option<Till>> {
        self.till.read().await
    }

    fn update(&self, f: impl FnOnce(&mut TillStatus)) {
        let mut st = lock(&self.status);
        let before = st.clone();
        f(&mut st);
        if *st != before {
            let _ = self.events.send(HostEvent::Status(st.clone()));
        }
    }

    /// (Re)starts the till from the current settings: stops the running one first, then
    /// plans and starts; the status says how it went.
    pub async fn restart(self: &Arc<Self>) -> Result<(), String> {
        let mut slot = self.till.write().await;
        lock(&self.forwarder).cancel();
        self.register.tips().reset();
        if let Some(old) = slot.take() {
            old.shutdown().await;
        }
        self.update(|s| {
            s.state = RunState::Starting;
            s.problem = None;
            s.notice = None;
            s.connection = not_connected(ConnectionState::Connecting);
            s.generation += 1;
        });
        // What the settings say, even if the till cannot start: the header and the
        // keypad show this till's name and currency, never a default from elsewhere.
        if let Ok(config) = self.assembly.settings() {
            self.update(|s| {
                s.terminal_name = config.terminal_name.clone();
                s.currency = config.default_currency.code().to_owned();
                s.mode = config.mode;
            });
        }
        let started = match self.assembly.plan().await {
            Ok(plan) => Till::start(plan, self.launcher.as_ref()).await,
            Err(e) => Err(e),
        };
        match started {
            Ok(till) => {
                let tracker = till.terminal.tracker().clone();
                let active = tracker
                    .snapshot()
                    .payments
                    .iter()
                    .rev()
                    .find(|p| !p.status.is_terminal())
                    .map(|p| p.payment.id.clone());
                self.update(|s| {
                    s.state = RunState::Running;
                    s.problem = None;
                    s.mode = Some(till.plan.mode);
                    s.terminal_name = till.plan.config.terminal_name.clone();
                    s.currency = till.plan.config.default_currency.code().to_owned();
                    s.connection = tracker.connection();
                    s.notice = till.plan.notice.clone();
                    // After a (re)start, the newest payment still pending is in progress.
                    s.active = active.clone();
                });
                let stop = CancellationToken::new();
                *lock(&self.forwarder) = stop.clone();
                tokio::spawn(forward(self.clone(), tracker, stop));
                *slot = Some(till);
                Ok(())
            }
            Err(e) => {
                let problem = failure_words(&e);
                tracing::error!(error = %problem, "the till could not start");
                self.update(|s| {
                    s.state = RunState::Failed;
                    s.problem = Some(problem.clone());
                    s.connection = not_connected(ConnectionState::Offline);
                    s.active = None;
                });
                Err(problem)
            }
        }
    }

    /// Marks `payment_id` as the payment in progress.
    pub fn set_active(&self, payment_id: Option<String>) {
        self.update(|s| s.active = payment_id);
    }

    /// The cashier closed `payment_id`: no longer in progress.
    pub fn clear_active(&self, payment_id: &str) {
        self.update(|s| {
            if s.active.as_deref() == Some(payment_id) {
                s.active = None;
            }
        });
    }

    /// The currency of typed amounts (the settings', even when the till is down).
    pub fn currency(&self) -> Result<Currency, String> {
        Currency::from_code(&self.status().currency).map_err(|e| e.to_string())
    }

    /// Stops the till and its forwarder.
    pub async fn shutdown(&self) {
        lock(&self.forwarder).cancel();
        if let Some(till) = self.till.write().await.take() {
            till.shutdown().await;
        }
        self.update(|s| {
            s.state = RunState::Stopped;
            s.connection = not_connected(ConnectionState::Closed);
        });
    }
}

/// The cashier's words for a start that failed.
fn failure_words(e: &TillError) -> String {
    format!("PayDesk could not start: {e}")
}

/// Forwards one run's tracker events, and keeps the status's connection current.
async fn forward(host: Arc<TillHost>, tracker: crate::tracker::Tracker, stop: CancellationToken) {
    let mut events = tracker.subscribe();
    host.update(|s| s.connection = tracker.connection());
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            e = events.recv() => e,
        };
        let Some(event) = event else { return };
        if let TrackerEvent::Connection(c) = &event {
            host.update(|s| s.connection = c.clone());
        }
        let _ = host.events.send(HostEvent::Tracker(event));
    }
}
