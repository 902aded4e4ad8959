//! The terminal: one till's core, wired together — the API client, the journal, the
//! tracker and the realtime session. The app and the CLI are thin shells over this.
//!
//! A charge is journaled as an intent before the create call leaves, so a till killed at
//! any instant loses nothing: on the next start unresolved intents are reconciled with the
//! API by `order_id`, and pending payments are tracked again. Every transition the tracker
//! emits was written to the journal first ([`JournalSink`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::ServerClock;
use crate::countdown::LocalClock;
use crate::gateway::{Gateway, GatewayConfig, GatewayError};
use crate::journal::{ActionKind, Journal, JournalError};
use crate::money::{Currency, Money, MoneyError};
use crate::payment::{CreatePayment, CreateRefund, Payment, PaymentStatus, Refund};
use crate::realtime::{RelayEndpoint, Session, SessionConfig};
use crate::secrets::Secret;
use crate::tracker::{
    Applied, Snapshot, Source, Subscription, Tracker, TrackerError, Transition, TransitionSink,
};

/// How often unresolved charge intents are retried against the API.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("{}", .0.cashier_message())]
    Gateway(#[from] GatewayError),
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
        }
    }

    pub fn relay(mut self, base_url: impl Into<String>, terminal_key: Secret) -> Self {
        self.relay = Some(RelayEndpoint {
            base_url: normalize_relay_url(&base_url.into()),
            terminal_key,
        });
        self
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

/// Writes every tracker transition to the journal before it is shown.
pub struct JournalSink(pub Arc<Journal>);

impl TransitionSink for JournalSink {
    fn record(&self, t: &Transition) -> Result<(), crate::tracker::SinkError> {
        let source = match t.source {
            Source::CreateResponse => "create",
            Source::ApiRead => "poll",
            Source::RelayedWebhook => "push",
            Source::Restored => "restored",
        };
        self.0
            .record_snapshot(&t.payment, source, t.at_unix_ms)
            .map(|_| ())
            .map_err(crate::tracker::SinkError::new)
    }
}

/// One till's running core.
pub struct Terminal {
    name: String,
    gateway: Gateway,
    journal: Arc<Journal>,
    session: Option<Session>,
    tracker: Tracker,
    stop: CancellationToken,
    reconciler: Option<JoinHandle<()>>,
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
        let gateway = Gateway::new(
            GatewayConfig::new(setup.api_url.clone(), setup.secret_key.clone()),
            clock.clone(),
        )?;
        let tracker = Tracker::with_clocks(
            Arc::new(JournalSink(journal.clone())),
            clock,
            setup.local_clock,
        );
        for payment in journal.pending()? {
            let id = payment.id.clone();
            if let Err(e) = tracker.track(payment, Source::Restored) {
                tracing::warn!(payment = %id, error = %e, "could not resume a pending payment");
            }
        }
        let mut config = setup.session;
        config.relay = setup.relay;
        let session = Session::start(config, tracker.clone(), gateway.clone());
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
            gateway,
            journal,
            session: Some(session),
            tracker,
            stop,
            reconciler: Some(reconciler),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    pub fn subscribe(&self) -> Subscription {
        self.tracker.subscribe()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.tracker.snapshot()
    }

    /// Creates a payment for `money` and starts tracking it. The intent is journaled
    /// first; an ambiguous failure leaves it for reconciliation, never a second create.
    pub async fn charge(
        &self,
        money: Money,
        description: Option<String>,
    ) -> Result<Payment, TerminalError> {
        self.charge_with_order(money, description, None).await
    }

    /// [`Terminal::charge`] under the caller's order id (a shop system's own reference);
    /// `None` generates one. Order ids must be unique: reconciliation finds an interrupted
    /// charge by its order id.
    pub async fn charge_with_order(
        &self,
        money: Money,
        description: Option<String>,
        order_id: Option<String>,
    ) -> Result<Payment, TerminalError> {
        let order_id = match order_id.map(|o| o.trim().to_owned()) {
            Some(o) if o.is_empty() => {
                return Err(TerminalError::Refused("an order id cannot be empty".into()))
            }
            Some(o) => o,
            None => uuid::Uuid::new_v4().to_string(),
        };
        let span = tracing::info_span!("charge", order_id = %order_id, amount = %money);
        let _enter = span.enter();
        let intent =
            self.journal
                .record_intent(&order_id, money, description.as_deref(), &self.name)?;
        let request = CreatePayment {
            amount: money.minor,
            currency: money.currency.code().to_owned(),
            description,
            order_id: Some(order_id.clone()),
            ..CreatePayment::default()
        };
        match self.gateway.create_payment(&request).await {
            Ok(payment) => {
                self.journal.attach_payment(&order_id, &payment)?;
                self.tracker
                    .track(payment.clone(), Source::CreateResponse)?;
                tracing::info!(payment = %payment.id, "payment created");
                Ok(payment)
            }
            Err(e) if e.is_ambiguous() => {
                tracing::warn!(error = %e, "create outcome unknown; left for reconciliation");
                Err(e.into())
            }
            Err(e) => {
                self.journal.abandon_intent(intent, &e.to_string())?;
                Err(e.into())
            }
        }
    }

    /// Cancels a pending payment at the service, and shows what the service answered.
    /// The request is journaled first, so a till killed mid-call re-reads the payment on
    /// its next start instead of guessing.
    pub async fn cancel(&self, payment_id: &str) -> Result<Payment, TerminalError> {
        let action = self
            .journal
            .record_action(payment_id, &ActionKind::Cancel, None)?;
        match self.gateway.cancel_payment(payment_id).await {
            Ok(payment) => {
                self.observe(payment.clone())?;
                self.journal
                    .resolve_action(action, "cancelled", Some(&payment))?;
                Ok(payment)
            }
            Err(e) => {
                if !e.is_ambiguous() {
                    self.journal.resolve_action(action, "refused", None)?;
                }
                Err(e.into())
            }
        }
    }

    /// Re-reads a payment from the API and merges it.
    pub async fn refresh(&self, payment_id: &str) -> Result<Payment, TerminalError> {
        let payment = self.gateway.retrieve_payment(payment_id).await?;
        self.observe(payment.clone())?;
        Ok(payment)
    }

    /// Refunds `amount` (everything still refundable when `None`) of a paid payment.
    pub async fn refund(
        &self,
        payment_id: &str,
        amount: Option<Money>,
        reason: Option<String>,
    ) -> Result<Refund, TerminalError> {
        let payment = self.gateway.retrieve_payment(payment_id).await?;
        if payment.effective_status() != PaymentStatus::Succeeded {
            return Err(TerminalError::Refused(format!(
                "only paid payments can be refunded; this one is {}",
                payment.effective_status()
            )));
        }
        let currency = Currency::from_code(&payment.currency)?;
        let refundable = payment.amount.saturating_sub(payment.amount_refunded);
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
        let action = self.journal.record_action(
            payment_id,
            &ActionKind::Refund { amount },
            reason.as_deref(),
        )?;
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
                    self.journal.resolve_action(action, "refused", None)?;
                }
                return Err(e.into());
            }
        };
        tracing::info!(payment = %payment_id, refund = %refund.id, amount = %amount, "refund requested");
        // The service is the source of truth for what was refunded.
        let after = self.refresh(payment_id).await?;
        self.journal
            .resolve_action(action, "refunded", Some(&after))?;
        Ok(refund)
    }

    /// Merges a payment the API returned: tracked payments through the tracker (which
    /// journals), others straight into the journal.
    fn observe(&self, payment: Payment) -> Result<(), TerminalError> {
        if self.tracker.apply(payment.clone(), Source::ApiRead)? == Applied::Untracked {
            self.journal
                .record_snapshot(&payment, "poll", self.tracker.server_now_ms())?;
        }
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
    journal: Arc<Journal>,
    tracker: Tracker,
    stop: CancellationToken,
) {
    loop {
        let intents = match journal.unresolved_intents() {
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
                    let attached = journal.attach_payment_from(
                        &intent.order_id,
                        &payment,
                        "reconcile",
                        tracker.server_now_ms(),
                    );
                    if let Err(e) = attached {
                        tracing::error!(order_id = %intent.order_id, error = %e, "cannot journal a reconciled payment");
                        left += 1;
                        continue;
                    }
                    tracing::info!(order_id = %intent.order_id, payment = %payment.id, "interrupted charge found");
                    if !payment.effective_status().is_terminal() {
                        let _ = tracker.track(payment, Source::ApiRead);
                    }
                }
                Ok(None) => {
                    if let Err(e) =
                        journal.abandon_intent(intent.id, "the service never created it")
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
async fn reconcile_actions(gateway: &Gateway, journal: &Journal, tracker: &Tracker) -> usize {
    let actions = match journal.unresolved_actions() {
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
                let _ = tracker.apply(payment.clone(), Source::ApiRead);
                if let Err(e) = journal.resolve_action(action.id, "reconciled", Some(&payment)) {
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
