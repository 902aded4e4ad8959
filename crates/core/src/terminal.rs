//! The terminal: one till's core, wired together — the API client, the journal, the
//! tracker and the realtime session. The app and the CLI are thin shells over this.
//!
//! A charge is journaled as an intent before the create call leaves, so a till killed at
//! any instant loses nothing: on the next start unresolved intents are reconciled with the
//! API by `order_id`, and pending payments are tracked again. Every change of a payment —
//! the create answer, a cancel's or refund's answer, a re-read, a reconciliation — goes
//! through the tracker's one merge rule, and is journaled before it is shown. The journal
//! is reached through its own thread ([`JournalHandle`]), never from an async worker.
//!
//! A sale ([`Terminal::charge_sale`]) is a charge like any other, for the sale's total,
//! with its summary as the payment's description and metadata; the sale is journaled with
//! the intent, in the same transaction.
//!
//! Who: charges, cancels and refunds take an [`Operator`] from the staff gate
//! ([`crate::staff`]) and journal it with the request; the payment's metadata names the
//! cashier. The terminal checks the operator against the request itself (its action, its
//! payment, and whether a cancel is of the person's own payment as the journal knows it),
//! so a caller cannot talk it into more than the gate allowed.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::{LocalClock, ServerClock};
use crate::gateway::{Gateway, GatewayConfig, GatewayError};
use crate::journal::{ActionKind, IntentOrder, Journal, JournalError, JournalHandle};
use crate::money::{Currency, Money, MoneyError};
use crate::payment::{CreatePayment, CreateRefund, Payment, PaymentStatus, Refund};
use crate::realtime::{RelayEndpoint, Session, SessionConfig};
use crate::receipts::{PrintService, ReceiptSetup};
use crate::sale::{Sale, SaleRequest};
use crate::secrets::Secret;
use crate::staff::{Action, Context, GateError, Operator, PersonId, Pin, Staff};
use crate::tracker::{Keep, Snapshot, Source, Subscription, Tracker, TrackerError, Update};

/// The journal's key for the id the relay knows this till by.
const RELAY_ID_META: &str = "relay_terminal_id";
/// How long a charge waits for a new session's first hello to learn the till's relay id.
const RELAY_ID_PATIENCE: Duration = Duration::from_secs(3);

/// How often unresolved charge intents are retried against the API.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// Said in the cashier's words; the technical error is not chained under them (it
    /// would repeat them: "… Check the payment ID.: payment API has no such object").
    #[error("{}", .0.cashier_message())]
    Gateway(GatewayError),
    #[error("the local journal failed: {0}")]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Money(#[from] MoneyError),
    #[error("{0}")]
    Tracker(#[from] TrackerError),
    #[error("payment {0} is not known on this till")]
    UnknownPayment(String),
    #[error("{0}")]
    Refused(String),
    /// The staff gate did not allow it.
    #[error("{0}")]
    Gate(#[from] GateError),
}

impl From<GatewayError> for TerminalError {
    fn from(e: GatewayError) -> Self {
        TerminalError::Gateway(e)
    }
}

/// What one charge asks Crypto.com Pay for.
#[derive(Clone, Debug)]
pub struct ChargeRequest {
    pub money: Money,
    /// The cashier's note, sent as the payment's `description`.
    pub description: Option<String>,
    /// A shop system's own reference; `None`: the till's next readable order id.
    pub order_id: Option<String>,
    /// More `metadata` for the payment (a sale's lines and taxes, the cashier), beside
    /// PayDesk's own keys (`plugin_name`, the till, the charge's token).
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl ChargeRequest {
    pub fn new(money: Money) -> ChargeRequest {
        ChargeRequest {
            money,
            description: None,
            order_id: None,
            metadata: serde_json::Map::new(),
        }
    }
}

/// Everything a terminal needs to start.
#[derive(Clone, Debug)]
pub struct TerminalSetup {
    /// Shown to the cashier and journaled with every charge.
    pub name: String,
    /// The payment API: `https://pay.crypto.com/api` or the sandbox's `/api`.
    pub api_url: String,
    pub secret_key: Secret,
    /// The relay to listen to; `None` polls the API only.
    pub relay: Option<RelayEndpoint>,
    /// Timings of the realtime session (its `relay` is replaced by the one above).
    pub session: SessionConfig,
    /// The till's own clock (tests give it a wrong one).
    pub local_clock: LocalClock,
    /// The start of this till's order ids (`T1` → `T1-20261128-0042`).
    pub order_prefix: String,
    /// The shop, the printer and `auto_print`; `None`: no printer, the terminal's name as
    /// the shop's.
    pub receipts: Option<ReceiptSetup>,
    /// Who may do what here; [`Staff::none`] (everything unattended) unless the till
    /// assembly opened the till's staff file.
    pub staff: Staff,
}

impl TerminalSetup {
    pub fn new(name: impl Into<String>, api_url: impl Into<String>, secret_key: Secret) -> Self {
        TerminalSetup {
            name: name.into(),
            api_url: api_url.into(),
            secret_key,
            relay: None,
            session: SessionConfig::default(),
            local_clock: LocalClock::system(),
            order_prefix: "T".to_owned(),
            receipts: None,
            staff: Staff::none(),
        }
    }

    pub fn relay(mut self, base_url: impl Into<String>, terminal_key: Secret) -> Self {
        self.relay = Some(RelayEndpoint::new(
            normalize_relay_url(&base_url.into()),
            terminal_key,
        ));
        self
    }

    /// A reconciler without a running till (the CLI's `report --reconcile`): its own API
    /// client, the journal on its own thread, and a tracker that follows nothing and
    /// starts no session, so what it merges is exactly what reconciliation found.
    pub fn headless_reconciler(
        &self,
        journal: Arc<Journal>,
    ) -> Result<crate::day::Reconciler, crate::day::ReconcileError> {
        crate::init_tls();
        let clock = ServerClock::new();
        let mut config = GatewayConfig::new(self.api_url.clone(), self.secret_key.clone());
        config.local_clock = self.local_clock;
        let gateway = Gateway::new(config, clock.clone())?;
        let journal = JournalHandle::spawn(journal)?;
        let tracker = Tracker::with_clocks(Arc::new(journal.clone()), clock, LocalClock::system());
        Ok(crate::day::Reconciler::new(
            gateway,
            journal,
            tracker,
            self.order_prefix.clone(),
        ))
    }
}

/// Accepts what installers type — `https://relay.shop`, `wss://relay.shop/v1/ws` — and
/// gives the relay's base URL the session derives its endpoints from.
pub fn normalize_relay_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let url = url
        .strip_suffix(crate::wire::WS_PATH)
        .or_else(|| url.strip_suffix("/ws"))
        .unwrap_or(url);
    if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        url.to_owned()
    }
}

/// One till's running core.
pub struct Terminal {
    name: String,
    order_prefix: String,
    staff: Staff,
    gateway: Gateway,
    journal: JournalHandle,
    session: Option<Session>,
    tracker: Tracker,
    stop: CancellationToken,
    reconciler: Option<JoinHandle<()>>,
    printing: Option<PrintService>,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Terminal {
    /// Starts the terminal on the current tokio runtime: resumes the journal's pending
    /// payments, starts the realtime session, and reconciles interrupted charges.
    pub async fn start(
        setup: TerminalSetup,
        journal: Arc<Journal>,
    ) -> Result<Terminal, TerminalError> {
        crate::init_tls();
        let clock = ServerClock::new();
        let mut gateway_config =
            GatewayConfig::new(setup.api_url.clone(), setup.secret_key.clone());
        gateway_config.local_clock = setup.local_clock;
        let gateway = Gateway::new(gateway_config, clock.clone())?;
        let journal = JournalHandle::spawn(journal)?;
        journal.call(|j| j.mark_in_use()).await?;
        let tracker = Tracker::with_clocks(Arc::new(journal.clone()), clock, setup.local_clock);
        // Pending payments of an earlier run: followed again as the journal has them, and
        // read from the API before anything about them is shown as new.
        let restored = journal.call(|j| j.pending_states()).await?;
        let restored_ids: Vec<String> = restored.iter().map(|s| s.payment.id.clone()).collect();
        tracker.restore(restored);
        let mut config = setup.session;
        config.relay = setup.relay;
        let session = Session::start(config, tracker.clone(), gateway.clone());
        if let Some(id) = journal.call(|j| j.meta(RELAY_ID_META)).await? {
            session.remember_terminal_id(id);
        }
        for id in &restored_ids {
            session.check_now(id);
        }
        let receipts = setup.receipts.clone().unwrap_or_else(|| ReceiptSetup {
            shop: paydesk_receipt::Shop {
                name: setup.name.clone(),
                address: Vec::new(),
            },
            printer: None,
            auto_print: false,
            confirmation: crate::receipts::confirmation(journal.journal().book()),
            till: setup.name.clone(),
            timeouts: paydesk_receipt::Timeouts::default(),
        });
        let printing = PrintService::start(
            receipts,
            journal.clone(),
            tracker.clone(),
            crate::receipts::DEFAULT_QUEUE,
        );
        let stop = CancellationToken::new();
        let reconciler = tokio::spawn(reconcile_intents(
            gateway.clone(),
            journal.clone(),
            tracker.clone(),
            stop.clone(),
        ));
        tracing::info!(terminal = %setup.name, "terminal started");
        Ok(Terminal {
            name: setup.name,
            order_prefix: setup.order_prefix,
            staff: setup.staff,
            gateway,
            journal,
            session: Some(session),
            tracker,
            stop,
            reconciler: Some(reconciler),
            printing: Some(printing),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The journal, through its own thread.
    pub fn journal(&self) -> &JournalHandle {
        &self.journal
    }

    /// Reads a payment from the API as soon as the read policy allows ("check now").
    pub fn check_now(&self, payment_id: &str) {
        if let Some(session) = &self.session {
            session.check_now(payment_id);
        }
    }

    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The till's receipt printing: queue a sale's receipt, a refund slip or a report;
    /// outcomes arrive as [`crate::tracker::TrackerEvent::Receipt`].
    pub fn printing(&self) -> Option<&PrintService> {
        self.printing.as_ref()
    }

    /// The order-id prefix of this till's charges.
    pub fn order_prefix(&self) -> &str {
        &self.order_prefix
    }

    /// A journaled payment's receipt (or one refund's slip) as the screen shows it; print
    /// it with [`Terminal::printing`].
    pub async fn receipt(
        &self,
        payment_id: &str,
        refund_id: Option<&str>,
    ) -> Result<crate::receipts::ReceiptView, crate::receipts::ReceiptError> {
        use crate::receipts::ReceiptError;
        let id = payment_id.to_owned();
        let entry = self
            .journal
            .call(move |j| j.entry(&id))
            .await?
            .ok_or_else(|| ReceiptError::UnknownPayment(payment_id.to_owned()))?;
        let setup = match &self.printing {
            Some(p) => p.setup(),
            None => return Err(ReceiptError::NoPrinter),
        };
        let receipt = match refund_id {
            Some(r) => setup.refund(&entry, r)?,
            None => setup.sale(&entry)?,
        };
        Ok(setup.screen(&receipt))
    }

    /// Reconciliation for a close (`day::close_shift`, `day::close_day`), merging through
    /// this till's tracker: a payment on screen is repaired on screen too.
    pub fn reconciler(&self) -> crate::day::Reconciler {
        crate::day::Reconciler::new(
            self.gateway.clone(),
            self.journal.clone(),
            self.tracker.clone(),
            self.order_prefix.clone(),
        )
    }

    pub fn subscribe(&self) -> Subscription {
        self.tracker.subscribe()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.tracker.snapshot()
    }

    /// The staff gate of this till.
    pub fn staff(&self) -> &Staff {
        &self.staff
    }

    /// The gate for a PIN typed for one action (the CLI; the app's PIN pad for a single
    /// action): an [`Operator`] for `action` about `ctx`. `None` on a till with staff is
    /// [`GateError::PinNeeded`]; on a till without staff nothing is checked.
    pub async fn authorize(
        &self,
        pin: Option<Pin>,
        action: Action,
        ctx: Context,
    ) -> Result<Operator, TerminalError> {
        Ok(self.staff.authorize(pin, action, ctx).await?)
    }

    /// What the gate needs to judge an action on `payment_id`: the payment, and who
    /// created it as this till's journal knows (unknown for one created elsewhere).
    pub async fn payment_context(&self, payment_id: &str) -> Result<Context, TerminalError> {
        let id = payment_id.to_owned();
        let creator = self.journal.call(move |j| j.creator(&id)).await?;
        Ok(Context::payment(payment_id, creator.map(PersonId::new)))
    }

    /// Journals something `by` did at the till beyond charges, cancels and refunds — an
    /// export, a reprint, a shift change, a settings change — once it is done. `by` must
    /// have been allowed `needed`; its subject is recorded with `detail`.
    pub async fn record_operation(
        &self,
        by: Operator,
        needed: Action,
        detail: Option<String>,
    ) -> Result<i64, TerminalError> {
        let done = by.done(needed)?;
        tracing::info!(action = %needed, cashier = ?done.who.cashier_id, "operation");
        Ok(self
            .journal
            .call(move |j| {
                j.record_operation(
                    done.action,
                    done.subject.as_deref(),
                    detail.as_deref(),
                    &done.who,
                )
            })
            .await?)
    }

    /// Creates a payment for `money` and starts tracking it, for a caller that asks for no
    /// PIN (see [`Staff::without_pin`]: refused on a till with staff). The intent is
    /// journaled first; an ambiguous failure leaves it for reconciliation, never a second
    /// create.
    pub async fn charge(
        &self,
        money: Money,
        description: Option<String>,
    ) -> Result<Payment, TerminalError> {
        self.charge_with_order(money, description, None).await
    }

    /// [`Terminal::charge`] under the caller's order id (a shop system's own reference);
    /// `None` takes the till's next readable one. Order ids must be unique:
    /// reconciliation finds an interrupted charge by its order id.
    pub async fn charge_with_order(
        &self,
        money: Money,
        description: Option<String>,
        order_id: Option<String>,
    ) -> Result<Payment, TerminalError> {
        let mut request = ChargeRequest::new(money);
        request.description = description;
        request.order_id = order_id;
        self.charge_request(request).await
    }

    /// [`Terminal::charge_as`] for a caller that asks for no PIN (see
    /// [`Staff::without_pin`]: refused on a till with staff).
    pub async fn charge_request(&self, request: ChargeRequest) -> Result<Payment, TerminalError> {
        let by = self
            .staff
            .without_pin(Action::Charge, Context::none())
            .await?;
        self.charge_as(by, request).await
    }

    /// Creates the payment `request` asks for, as `by`, and starts tracking it. The intent
    /// is journaled first (with its order id and who charged), its token and the cashier
    /// travel in the payment's metadata.
    pub async fn charge_as(
        &self,
        by: Operator,
        request: ChargeRequest,
    ) -> Result<Payment, TerminalError> {
        self.create(by, request, None).await
    }

    /// [`Terminal::charge_sale_as`] for a caller that asks for no PIN (see
    /// [`Staff::without_pin`]: refused on a till with staff).
    pub async fn charge_sale(&self, request: SaleRequest) -> Result<Payment, TerminalError> {
        let by = self
            .staff
            .without_pin(Action::Charge, Context::none())
            .await?;
        self.charge_sale_as(by, request).await
    }

    /// Charges a sale, as `by`: the payment's amount is the sale's total (tip included),
    /// its `description` the sale's summary ("2× Latte, Croissant") unless the request
    /// names one, its `metadata` the lines, tax and tip (beside the request's keys and
    /// PayDesk's own, which win). The sale is journaled with the charge's intent, in one
    /// transaction.
    pub async fn charge_sale_as(
        &self,
        by: Operator,
        request: SaleRequest,
    ) -> Result<Payment, TerminalError> {
        let SaleRequest {
            sale,
            description,
            order_id,
            metadata: mut extra,
        } = request;
        sale.totals()
            .charge_amount()
            .map_err(|e| TerminalError::Refused(e.to_string()))?;
        let summary = sale.summary();
        extra.extend(summary.metadata);
        let description = description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .unwrap_or(summary.description);
        let charge = ChargeRequest {
            money: sale.amount(),
            description: Some(description),
            order_id,
            metadata: extra,
        };
        self.create(by, charge, Some(sale)).await
    }

    /// The one way a payment is created: `by` checked, intent (and sale) journaled with who
    /// charged, create call, the answer merged and attached.
    async fn create(
        &self,
        by: Operator,
        request: ChargeRequest,
        sale: Option<Sale>,
    ) -> Result<Payment, TerminalError> {
        by.require(Action::Charge)?;
        let who = by.who();
        let ChargeRequest {
            money,
            description,
            order_id,
            metadata: extra,
        } = request;
        let name = self.name.clone();
        let desc = description.clone();
        let given = match order_id.map(|o| o.trim().to_owned()) {
            Some(o) if o.is_empty() => {
                return Err(TerminalError::Refused("an order id cannot be empty".into()))
            }
            given => given,
        };
        let prefix = self.order_prefix.clone();
        let day = chrono::Local::now().date_naive();
        let intent = self
            .journal
            .call(move |j| {
                let desc = desc.as_deref();
                let order = match &given {
                    Some(o) => IntentOrder::Given(o),
                    None => IntentOrder::Numbered {
                        prefix: &prefix,
                        day,
                    },
                };
                match (&sale, order) {
                    (Some(sale), order) => j.record_sale_intent_as(order, sale, desc, &name, &who),
                    (None, IntentOrder::Given(o)) => {
                        let id = j.record_intent_as(o, money, desc, &name, &who)?;
                        j.intent(id)?.ok_or(JournalError::UnknownIntent(id.0))
                    }
                    (None, IntentOrder::Numbered { prefix, day }) => {
                        j.record_numbered_intent_as(prefix, day, money, desc, &name, &who)
                    }
                }
            })
            .await?;
        let order_id = intent.order_id.clone();
        let span = tracing::info_span!("charge", order_id = %order_id, amount = %money);
        let _enter = span.enter();
        let mut metadata = extra;
        // Who charged is the gate's to say, never the request's.
        for key in [
            crate::staff::CASHIER_ID_METADATA_KEY,
            crate::journal::CASHIER_METADATA_KEY,
            crate::staff::APPROVED_BY_METADATA_KEY,
        ] {
            metadata.remove(key);
        }
        for (key, value) in by.metadata() {
            metadata.insert(key.into(), value.into());
        }
        metadata.insert("plugin_name".into(), "paydesk".into());
        metadata.insert("paydesk_version".into(), env!("CARGO_PKG_VERSION").into());
        metadata.insert("paydesk_terminal".into(), self.name.clone().into());
        if let Some(till) = self.relay_id().await {
            metadata.insert(crate::wire::TILL_METADATA_KEY.into(), till.into());
        }
        metadata.insert(
            crate::journal::INTENT_METADATA_KEY.into(),
            intent.token.clone().into(),
        );
        let intent = intent.id;
        let request = CreatePayment {
            amount: money.minor,
            currency: money.currency.code().to_owned(),
            description,
            order_id: Some(order_id.clone()),
            metadata: Some(serde_json::Value::Object(metadata)),
            ..CreatePayment::default()
        };
        match self.gateway.create_payment(&request).await {
            Ok(payment) => {
                // Shown once journaled; the intent is resolved right after (a crash in
                // between is resolved by reconciliation, finding the payment journaled).
                self.tracker
                    .track(payment.clone(), Source::CreateResponse)
                    .await?;
                let attach = payment.clone();
                self.journal
                    .call(move |j| j.attach_payment(&order_id, &attach))
                    .await?;
                tracing::info!(payment = %payment.id, "payment created");
                Ok(payment)
            }
            Err(e) if e.is_ambiguous() => {
                tracing::warn!(error = %e, "create outcome unknown; left for reconciliation");
                Err(e.into())
            }
            Err(e) => {
                let reason = e.to_string();
                self.journal
                    .call(move |j| j.abandon_intent(intent, &reason))
                    .await?;
                Err(e.into())
            }
        }
    }

    /// The id the relay routes this till's payments by: as the session's hello said it
    /// (remembered for the next start), or as the last run knew it.
    async fn relay_id(&self) -> Option<String> {
        let session = self.session.as_ref()?;
        let known = session.terminal_id();
        let id = match known {
            Some(id) => id,
            None => session.wait_for_terminal_id(RELAY_ID_PATIENCE).await?,
        };
        let remember = id.clone();
        let saved = self
            .journal
            .call(move |j| {
                if j.meta(RELAY_ID_META)?.as_deref() != Some(remember.as_str()) {
                    j.set_meta(RELAY_ID_META, &remember)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = saved {
            tracing::warn!(error = %e, "could not remember the relay's id for this till");
        }
        Some(id)
    }

    /// [`Terminal::cancel_as`] for a caller that asks for no PIN (see
    /// [`Staff::without_pin`]: refused on a till with staff).
    pub async fn cancel(&self, payment_id: &str) -> Result<Payment, TerminalError> {
        let ctx = self.payment_context(payment_id).await?;
        let by = self.staff.without_pin(Action::CancelOwn, ctx).await?;
        self.cancel_as(by, payment_id).await
    }

    /// Cancels a pending payment at the service, as `by`, and shows what the service
    /// answered. `by` must be allowed to cancel this payment: `CancelOwn` only when the
    /// journal says `by` created it, else `CancelAny`. The request is journaled first, so
    /// a till killed mid-call re-reads the payment on its next start instead of guessing.
    pub async fn cancel_as(
        &self,
        by: Operator,
        payment_id: &str,
    ) -> Result<Payment, TerminalError> {
        by.require_subject(payment_id)?;
        let id = payment_id.to_owned();
        let creator = self.journal.call(move |j| j.creator(&id)).await?;
        let own = match (by.person(), creator) {
            (Some(p), Some(c)) => p.id.get() == c,
            // Unattended: nobody owns anything, and nothing is checked.
            (None, _) => true,
            (Some(_), None) => false,
        };
        by.require(if own {
            Action::CancelOwn
        } else {
            Action::CancelAny
        })?;
        let who = by.who();
        let id = payment_id.to_owned();
        let action = self
            .journal
            .call(move |j| j.record_action_as(&id, &ActionKind::Cancel, None, &who))
            .await?;
        match self.gateway.cancel_payment(payment_id).await {
            Ok(payment) => {
                self.observe(payment.clone()).await?;
                self.resolve(action, "cancelled", Some(payment.clone()))
                    .await?;
                Ok(payment)
            }
            Err(e) => {
                if !e.is_ambiguous() {
                    self.resolve(action, "refused", None).await?;
                }
                Err(e.into())
            }
        }
    }

    /// Re-reads a payment from the API and merges it.
    pub async fn refresh(&self, payment_id: &str) -> Result<Payment, TerminalError> {
        let payment = self.gateway.retrieve_payment(payment_id).await?;
        self.observe(payment.clone()).await?;
        Ok(payment)
    }

    async fn resolve(
        &self,
        action: crate::journal::ActionId,
        outcome: &'static str,
        snapshot: Option<Payment>,
    ) -> Result<(), TerminalError> {
        self.journal
            .call(move |j| j.resolve_action(action, outcome, snapshot.as_ref()))
            .await?;
        Ok(())
    }

    /// [`Terminal::refund_as`] for a caller that asks for no PIN (see
    /// [`Staff::without_pin`]: refused on a till with staff).
    pub async fn refund(
        &self,
        payment_id: &str,
        amount: Option<Money>,
        reason: Option<String>,
    ) -> Result<Refund, TerminalError> {
        let by = self
            .staff
            .without_pin(Action::Refund, Context::subject(payment_id))
            .await?;
        self.refund_as(by, payment_id, amount, reason).await
    }

    /// Refunds `amount` (everything still refundable when `None`) of a paid payment, as
    /// `by` (allowed [`Action::Refund`] for this payment).
    pub async fn refund_as(
        &self,
        by: Operator,
        payment_id: &str,
        amount: Option<Money>,
        reason: Option<String>,
    ) -> Result<Refund, TerminalError> {
        by.require(Action::Refund)?;
        by.require_subject(payment_id)?;
        let who = by.who();
        let payment = self.gateway.retrieve_payment(payment_id).await?;
        if payment.effective_status() != PaymentStatus::Succeeded {
            return Err(TerminalError::Refused(format!(
                "only paid payments can be refunded; this one is {}",
                payment.effective_status()
            )));
        }
        let currency = Currency::from_code(&payment.currency)?;
        // Refunds asked for and not yet sent count too: the service holds them.
        let id = payment_id.to_owned();
        let requested = self
            .journal
            .call(move |j| j.state(&id))
            .await?
            .map_or(0, |s| s.refund_requested());
        let refundable = payment
            .amount
            .saturating_sub(payment.amount_refunded)
            .saturating_sub(requested);
        let amount = amount.unwrap_or(Money::new(refundable, currency));
        if amount.currency != currency {
            return Err(
                MoneyError::CurrencyMismatch(amount.currency.code(), currency.code()).into(),
            );
        }
        if amount.minor <= 0 || amount.minor > refundable {
            return Err(TerminalError::Refused(format!(
                "at most {} can be refunded",
                Money::new(refundable, currency)
            )));
        }
        let action = {
            let (id, reason) = (payment_id.to_owned(), reason.clone());
            self.journal
                .call(move |j| {
                    j.record_action_as(&id, &ActionKind::Refund { amount }, reason.as_deref(), &who)
                })
                .await?
        };
        let refund = match self
            .gateway
            .create_refund(&CreateRefund {
                payment_id: payment_id.to_owned(),
                amount: amount.minor,
                currency: currency.code().to_owned(),
                reason,
                description: None,
            })
            .await
        {
            Ok(refund) => refund,
            Err(e) => {
                // An unknown outcome stays open: the next start re-reads the payment rather
                // than offering a second refund.
                if !e.is_ambiguous() {
                    self.resolve(action, "refused", None).await?;
                }
                return Err(e.into());
            }
        };
        tracing::info!(payment = %payment_id, refund = %refund.id, amount = %amount, "refund requested");
        // The refund as the API answered it (requested, or already sent), then the
        // payment: the service is the source of truth for what was refunded.
        self.tracker
            .merge_in(
                Update::Refund(refund.clone()),
                Source::ApiRead,
                Keep::Journal,
            )
            .await?;
        let after = self.refresh(payment_id).await?;
        self.resolve(action, "refunded", Some(after)).await?;
        Ok(refund)
    }

    /// Merges a payment the API returned, followed or not: it is journaled either way.
    async fn observe(&self, payment: Payment) -> Result<(), TerminalError> {
        self.tracker
            .merge_in(Update::Payment(payment), Source::ApiRead, Keep::Journal)
            .await?;
        Ok(())
    }

    /// Stops watching a payment (the cashier moved on); it stays in the journal.
    pub fn dismiss(&self, payment_id: &str) {
        self.tracker.untrack(payment_id);
    }

    /// Stops the session and every background task.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.reconciler.take() {
            let _ = task.await;
        }
        if let Some(printing) = self.printing.take() {
            printing.shutdown().await;
        }
        if let Some(session) = self.session.take() {
            session.shutdown().await;
        }
        tracing::info!(terminal = %self.name, "terminal stopped");
    }
}

/// Resolves charges whose create call may or may not have reached the service: found by
/// `order_id` → attached and tracked; known absent → abandoned. Retries until none is left.
async fn reconcile_intents(
    gateway: Gateway,
    journal: JournalHandle,
    tracker: Tracker,
    stop: CancellationToken,
) {
    loop {
        let intents = match journal.call(|j| j.unresolved_intents()).await {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(error = %e, "cannot read unresolved charges");
                Vec::new()
            }
        };
        let mut left = 0usize;
        for intent in intents {
            // A create may still be in flight in this very process: leave young intents.
            let age_ms = crate::clock::local_now_ms().saturating_sub(intent.created_at_ms);
            if age_ms < 60_000 {
                left += 1;
                continue;
            }
            match gateway.find_by_order_id(&intent.order_id).await {
                Ok(Some(payment)) => {
                    // Through the merge rule like any news (followed while pending), then
                    // the intent is resolved.
                    let keep = if payment.effective_status().is_terminal() {
                        Keep::Journal
                    } else {
                        Keep::Follow
                    };
                    let merged = tracker
                        .merge_in(
                            Update::Payment(payment.clone()),
                            Source::Reconciliation,
                            keep,
                        )
                        .await;
                    let order_id = intent.order_id.clone();
                    let found = payment.clone();
                    let at = tracker.server_now_ms();
                    let attached = match merged {
                        Ok(_) => journal
                            .call(move |j| {
                                j.attach_payment_from(&order_id, &found, Source::Reconciliation, at)
                            })
                            .await
                            .map(|_| ()),
                        Err(e) => Err(JournalError::Corrupt(e.to_string())),
                    };
                    if let Err(e) = attached {
                        tracing::error!(order_id = %intent.order_id, error = %e, "cannot journal a reconciled payment");
                        left += 1;
                        continue;
                    }
                    tracing::info!(order_id = %intent.order_id, payment = %payment.id, "interrupted charge found");
                }
                Ok(None) => {
                    let id = intent.id;
                    if let Err(e) = journal
                        .call(move |j| j.abandon_intent(id, "the service never created it"))
                        .await
                    {
                        tracing::error!(error = %e, "cannot abandon an intent");
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "reconciliation postponed");
                    left += 1;
                }
            }
        }
        left += reconcile_actions(&gateway, &journal, &tracker).await;
        let wait = if left == 0 {
            RECONCILE_EVERY * 4
        } else {
            RECONCILE_EVERY
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Cancels and refunds whose outcome a crash hid: the payment is re-read and the action
/// closed with what the service says. Returns how many are still open.
async fn reconcile_actions(gateway: &Gateway, journal: &JournalHandle, tracker: &Tracker) -> usize {
    let actions = match journal.call(|j| j.unresolved_actions()).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "cannot read unresolved cancels and refunds");
            return 0;
        }
    };
    let mut left = 0;
    for action in actions {
        let age_ms = crate::clock::local_now_ms().saturating_sub(action.created_at_ms);
        if age_ms < 60_000 {
            left += 1;
            continue;
        }
        match gateway.retrieve_payment(&action.payment_id).await {
            Ok(payment) => {
                if let Err(e) = tracker
                    .merge_in(
                        Update::Payment(payment.clone()),
                        Source::Reconciliation,
                        Keep::Journal,
                    )
                    .await
                {
                    tracing::warn!(error = %e, "reconciled payment not journaled yet");
                    left += 1;
                    continue;
                }
                let id = action.id;
                if let Err(e) = journal
                    .call(move |j| j.resolve_action(id, "reconciled", Some(&payment)))
                    .await
                {
                    tracing::error!(error = %e, "cannot close an interrupted action");
                    left += 1;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "action reconciliation postponed");
                left += 1;
            }
        }
    }
    left
}

/// The tracker's sink (wired here, where the terminal joins the two): every transition is
/// journaled, on the journal's thread, before it is shown.
impl crate::tracker::TransitionSink for JournalHandle {
    fn record(
        &self,
        t: crate::merge::Transition,
    ) -> futures_util::future::BoxFuture<'_, std::result::Result<u64, crate::tracker::SinkError>>
    {
        Box::pin(async move {
            self.call(move |j| j.record(&t)).await.map_err(|e| match e {
                crate::journal::JournalError::Conflict(newer) => {
                    crate::tracker::SinkError::Conflict(newer)
                }
                e => crate::tracker::SinkError::new(e),
            })
        })
    }

    fn load(
        &self,
        payment_id: String,
    ) -> futures_util::future::BoxFuture<
        '_,
        std::result::Result<Option<crate::merge::PaymentState>, crate::tracker::SinkError>,
    > {
        Box::pin(async move {
            self.call(move |j| j.state(&payment_id))
                .await
                .map_err(crate::tracker::SinkError::new)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_are_normalized_from_what_installers_type() {
        assert_eq!(
            normalize_relay_url("wss://relay.shop/v1/ws"),
            "https://relay.shop"
        );
        assert_eq!(
            normalize_relay_url("https://relay.shop/"),
            "https://relay.shop"
        );
        assert_eq!(
            normalize_relay_url("ws://127.0.0.1:9/ws"),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            normalize_relay_url(" http://10.0.0.2:8080 "),
            "http://10.0.0.2:8080"
        );
    }
}
