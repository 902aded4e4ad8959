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
//!
//! Staff: the host keeps the till's staff gate open even when the till cannot start (the
//! owner must be able to sign in to fix the settings), and the one [`SignIn`] of the
//! screen — who is signed in, and the timer that locks the till after the idle time.
//! Windows get their operators from [`TillHost::operator`]; the status says who is signed
//! in ([`StaffStatus`]), so the lock screen is rendered from it like everything else.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use serde::Serialize;
use tokio::sync::{broadcast, Notify, RwLock, RwLockReadGuard};
use tokio_util::sync::CancellationToken;

use super::{Assembly, DemoLauncher, Till, TillError};
use crate::config::{self, Mode};
use crate::connection::{ConnectionState, ConnectionStatus};
use crate::kiosk::{autostart, KioskSettings};
use crate::money::Currency;
use crate::payment::Payment;
use crate::sale::{Catalog, PromptId, Register, SaleRequest};
use crate::secrets::Secret;
use crate::staff::{
    self, Action, Context, GateError, Operator, Policy, SignIn, SignedIn, Staff, StaffKind,
};
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
    /// Who may act at the till, and who is signed in.
    pub staff: StaffStatus,
}

/// The till's staff as a window needs them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StaffStatus {
    /// Which staff file the till uses.
    pub kind: StaffKind,
    /// Whether anyone is on the staff: without staff nothing asks for a PIN and every
    /// action is journaled as unattended.
    pub required: bool,
    /// The demo owner's PIN, to show on the demo's PIN pad (demo file only).
    pub demo_pin: Option<&'static str>,
    /// Who is signed in; `None` with `required`: show the lock screen.
    pub signed_in: Option<SignedIn>,
}

impl StaffStatus {
    fn none() -> StaffStatus {
        StaffStatus {
            kind: StaffKind::None,
            required: false,
            demo_pin: None,
            signed_in: None,
        }
    }
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
            staff: StaffStatus::none(),
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
    /// The staff gate of the current settings (open even when the till is not running).
    staff: RwLock<Staff>,
    /// Who is signed in at the screen.
    sign_in: SignIn,
    /// Wakes the lock timer when someone signs in.
    lock_changed: Arc<Notify>,
    /// Stops the lock timer (started with the first run).
    lock_timer: Mutex<Option<CancellationToken>>,
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
            staff: RwLock::new(Staff::none()),
            sign_in: SignIn::new(Some(config::DEFAULT_LOCK_AFTER)),
            lock_changed: Arc::new(Notify::new()),
            lock_timer: Mutex::new(None),
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

    /// Charges the sale whose tip prompt `prompt` decided, as `by` (from
    /// [`TillHost::operator`]), with the cashier's note as its description (else the sale's
    /// summary); on success the cart empties and the payment is in progress.
    /// A failed charge leaves the sale decided, to try again without asking the customer
    /// twice.
    pub async fn charge_sale(
        &self,
        by: Operator,
        prompt: PromptId,
        description: Option<String>,
    ) -> Result<Payment, String> {
        let decision = self
            .register
            .tips()
            .sale(prompt)
            .map_err(|e| e.to_string())?;
        let mut request = SaleRequest::new(decision.sale);
        request.description = description;
        let payment = {
            let slot = self.till.read().await;
            let till = slot
                .as_ref()
                .ok_or_else(|| "the till is not running".to_owned())?;
            till.terminal
                .charge_sale_as(by, request)
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
        let planned = self.assembly.plan().await;
        self.open_staff(planned.as_ref().ok().map(|p| p.mode)).await;
        self.start_lock_timer();
        let staff = self.staff.read().await.clone();
        let started = match planned {
            Ok(plan) => Till::start_with(plan, staff, self.launcher.as_ref()).await,
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

    /// Opens the staff file the settings' mode uses (the till's own when the mode cannot
    /// be read: never the demo's by mistake), and the idle time of the settings.
    async fn open_staff(&self, mode: Option<Mode>) {
        let settings = self.assembly.settings().ok();
        let mode = mode
            .or_else(|| settings.as_ref().and_then(|c| c.mode))
            .unwrap_or(Mode::Test);
        if let Some(c) = &settings {
            self.sign_in.set_idle_after(c.lock_after).await;
        }
        let opened = match self.assembly.data_dir() {
            Ok(dir) => tokio::task::spawn_blocking(move || {
                Staff::open(&dir, mode, Policy::default()).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string())),
            Err(e) => Err(e.to_string()),
        };
        let staff = match opened {
            Ok(s) => s,
            Err(e) => {
                // Fail closed: without its file a till with staff must not turn unattended.
                tracing::error!(error = %e, "the staff file cannot be opened");
                Staff::unavailable(format!("the staff list cannot be read: {e}"))
            }
        };
        if staff.kind() == StaffKind::Demo && self.sign_in.current().await.is_none() {
            // The demo opens signed in as its own owner, so it sells like a till without
            // staff; Lock shows the PIN pad with the demo PIN on it.
            match staff::pin_of(Secret::new(staff::DEMO_OWNER_PIN)) {
                Ok(pin) => {
                    if let Err(e) = self.sign_in.sign_in(&staff, pin).await {
                        tracing::warn!(error = %e, "the demo owner could not sign in");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the demo owner's PIN is refused"),
            }
            self.lock_changed.notify_one();
        }
        *self.staff.write().await = staff;
        self.refresh_staff().await;
    }

    /// The staff gate of the current settings.
    pub async fn staff(&self) -> Staff {
        self.staff.read().await.clone()
    }

    /// Publishes who may act and who is signed in.
    async fn refresh_staff(&self) {
        let staff = self.staff().await;
        let required = staff.has_staff().await.unwrap_or(true);
        let signed_in = self.sign_in.current().await;
        self.update(|s| {
            s.staff = StaffStatus {
                kind: staff.kind(),
                required,
                demo_pin: (staff.kind() == StaffKind::Demo).then_some(staff::DEMO_OWNER_PIN),
                signed_in,
            };
        });
    }

    /// Signs in the person whose PIN was typed on the PIN pad.
    pub async fn sign_in(&self, pin: Secret) -> Result<SignedIn, String> {
        let pin = staff::pin_of(pin).map_err(|e| e.to_string())?;
        let staff = self.staff().await;
        let signed = self
            .sign_in
            .sign_in(&staff, pin)
            .await
            .map_err(|e| e.to_string())?;
        self.lock_changed.notify_one();
        self.refresh_staff().await;
        Ok(signed)
    }

    /// Locks the till now (the Lock button).
    pub async fn lock(&self) {
        let staff = self.staff().await;
        self.sign_in.lock(&staff).await;
        self.refresh_staff().await;
    }

    /// The signed-in person did something: the idle time restarts.
    pub async fn touch(&self) {
        self.sign_in.touch().await;
    }

    /// An operator for `action` from the person signed in (unattended on a till without
    /// staff): what a window passes to the terminal's gated operations.
    pub async fn operator(&self, action: Action, ctx: Context) -> Result<Operator, GateError> {
        let staff = self.staff().await;
        let result = self.sign_in.operator(&staff, action, ctx).await;
        if matches!(result, Err(GateError::Locked)) {
            self.refresh_staff().await;
        }
        result
    }

    /// An override: a supervisor's or the owner's PIN typed on the signed-in person's
    /// screen allows them this one action.
    pub async fn override_operator(
        &self,
        approver_pin: Secret,
        action: Action,
        ctx: Context,
    ) -> Result<Operator, GateError> {
        let pin = staff::pin_of(approver_pin)?;
        let staff = self.staff().await;
        self.sign_in
            .override_operator(&staff, pin, action, ctx)
            .await
    }

    /// Kiosk mode as the settings and this machine have it.
    pub fn kiosk(&self) -> Result<KioskSettings, String> {
        let config = self.assembly.settings().map_err(|e| e.to_string())?;
        let exe = autostart::app_executable().map_err(|e| e.to_string())?;
        let entry = autostart::for_this_platform(exe).map_err(|e| e.to_string())?;
        Ok(KioskSettings::of(&config, entry.as_ref()))
    }

    /// Whether the window may close now: not in kiosk mode while a payment is pending.
    pub async fn may_close(&self) -> Result<(), String> {
        let kiosk = self.assembly.settings().map(|c| c.kiosk).unwrap_or(false);
        if !kiosk {
            return Ok(());
        }
        let pending = match self.till().await.as_ref() {
            Some(till) => till
                .terminal
                .snapshot()
                .payments
                .iter()
                .any(|p| !p.status.is_terminal()),
            None => false,
        };
        if pending {
            Err("A payment is still pending: finish or cancel it before closing PayDesk.".into())
        } else {
            Ok(())
        }
    }

    /// Starts the task that locks the till when its idle time passes (once per host).
    fn start_lock_timer(self: &Arc<Self>) {
        let mut slot = lock(&self.lock_timer);
        if slot.is_some() {
            return;
        }
        let stop = CancellationToken::new();
        *slot = Some(stop.clone());
        tokio::spawn(lock_timer(
            Arc::downgrade(self),
            self.lock_changed.clone(),
            stop,
        ));
    }

    /// Stops the till and its forwarder.
    pub async fn shutdown(&self) {
        if let Some(stop) = lock(&self.lock_timer).take() {
            stop.cancel();
        }
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

/// Locks the till when the signed-in person's idle time passes: one sleep until
/// [`SignIn::locks_at`], re-read after each wake (a touch moves it later), woken early when
/// someone signs in. Holds the host weakly: it ends with the host or on `stop`.
async fn lock_timer(host: Weak<TillHost>, changed: Arc<Notify>, stop: CancellationToken) {
    loop {
        let Some(at) = (match host.upgrade() {
            Some(h) => h.sign_in.locks_at().await,
            None => return,
        }) else {
            tokio::select! {
                () = stop.cancelled() => return,
                () = changed.notified() => continue,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = changed.notified() => continue,
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
        }
        let Some(h) = host.upgrade() else { return };
        let staff = h.staff().await;
        if h.sign_in.tick(&staff).await.is_some() {
            h.refresh_staff().await;
        }
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
        // A payment moving (or counting down) is activity: the till does not lock while a
        // customer is paying.
        if matches!(event, TrackerEvent::Transition(_) | TrackerEvent::Tick(_)) {
            host.sign_in.touch().await;
        }
        let _ = host.events.send(HostEvent::Tracker(event));
    }
}
