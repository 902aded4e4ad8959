//! The customer's tip, chosen before the payment is created: the till's one "sale awaiting
//! the customer's tip".
//!
//! The cashier totals the cart and proposes it ([`TipDesk::propose`]); the customer display
//! shows the bill and the buttons ([`CustomerTipView`]) and sends back one pick
//! ([`TipDesk::choose`], the only command that window is granted). Or the cashier types the
//! tip ([`TipDesk::cashier_tip`]) or skips it ([`TipDesk::skip`]), or nobody answers before
//! the deadline and there is no tip. The decided [`Sale`] is then charged
//! ([`TipDesk::sale`]) and the desk closed ([`TipDesk::close`]).
//!
//! ```text
//! Idle ─propose─▶ Asking ─choose │ cashier_tip │ skip │ deadline─▶ Decided ─close─▶ Idle
//!                   └──────────── withdraw (back to the cart) ───────────────────▶ Idle
//! ```
//!
//! A new proposal replaces whatever was open. Every call names its prompt, so a late tap
//! on the customer display never lands on the next sale. There is no background task: the
//! deadline is checked on every call and enforced by whoever awaits
//! [`TipDesk::decision`]. The customer's pick is input from another window: it can only
//! name a button offered, or an amount up to the cap, and the amount is recomputed here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use paydesk_protocol::{Money, MoneyError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Cart, CartError, Receipt, Sale, Tip, TipBy, TipChoice, TipError, Totals};
use crate::clock::local_now_ms;

/// How long the customer display waits for a choice when the caller names no time.
pub const DEFAULT_TIP_TIMEOUT: Duration = Duration::from_secs(90);

/// One proposal's handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PromptId(pub u64);

/// What the customer display sends: `{"choice": 2}` (a button, by its index) or
/// `{"amount": "2.50"}` (a tip typed, in the sale's currency).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerPick {
    Choice(usize),
    Amount(String),
}

/// How the tip of a decided sale came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TipOutcome {
    /// The customer chose (a button, "No tip", or an amount).
    Customer,
    /// The cashier typed it instead.
    Cashier,
    /// The cashier went on without a tip.
    Skipped,
    /// Nobody chose before the deadline: no tip.
    TimedOut,
    /// The till does not ask (`ask_customer = false`): no tip.
    NotAsked,
}

/// A sale whose tip is settled, ready to charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TipDecision {
    pub prompt: PromptId,
    pub sale: Sale,
    pub outcome: TipOutcome,
}

/// Why the desk refused a call. Written for the cashier and the customer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TipFlowError {
    #[error("{0}")]
    Cart(#[from] CartError),
    #[error("this sale is no longer waiting for a tip")]
    NotOpen,
    #[error("the time to choose a tip is over; the sale goes on without one")]
    TimedOut,
    #[error("there is no tip button {0}")]
    NoSuchChoice(usize),
    #[error("the tip is not decided yet")]
    Undecided,
}

/// One tip button.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TipButton {
    /// What [`CustomerPick::Choice`] names.
    pub index: usize,
    /// "No tip", "15%", "Round up".
    pub label: String,
    /// The tip, printed: "1.32 EUR".
    pub tip: String,
    /// The bill with this tip, printed: "10.12 EUR".
    pub total: String,
}

/// What the cashier's window shows of the tip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum CashierTipView {
    Idle,
    /// Waiting for the customer: the cashier may skip, type the tip, or go back.
    Asking {
        prompt: PromptId,
        receipt: Receipt,
        before_tip: Money,
        buttons: Vec<TipButton>,
        /// Local unix ms at which the sale goes on without a tip.
        deadline_unix_ms: i64,
    },
    /// Ready to charge.
    Decided {
        prompt: PromptId,
        outcome: TipOutcome,
        receipt: Receipt,
        tip: Money,
        total: Money,
    },
}

/// What the customer display shows: the bill and the buttons, nothing else of the till.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum CustomerTipView {
    Idle,
    Asking {
        prompt: PromptId,
        /// The amount before the tip, printed.
        bill: String,
        currency: String,
        /// Decimal places of a typed amount.
        decimals: u8,
        buttons: Vec<TipButton>,
        /// The largest tip that may be typed, printed.
        largest_tip: String,
        deadline_unix_ms: i64,
    },
    Decided {
        prompt: PromptId,
        tip: String,
        total: String,
    },
}

#[derive(Clone, Debug)]
enum Stage {
    Idle,
    Asking(Box<Asking>),
    Decided(Box<TipDecision>),
}

#[derive(Clone, Debug)]
struct Asking {
    id: PromptId,
    cart: Cart,
    /// The cart's totals without a tip: what the tips are computed on.
    before: Totals,
    choices: Vec<TipChoice>,
    /// The largest tip (`max_percent` of the bill).
    cap: Money,
    deadline: Instant,
    deadline_unix_ms: i64,
}

impl Asking {
    fn decide(
        &self,
        tip: &Tip,
        by: Option<TipBy>,
        outcome: TipOutcome,
    ) -> Result<Stage, CartError> {
        Ok(Stage::Decided(Box::new(TipDecision {
            prompt: self.id,
            sale: Sale::ring_up(&self.cart, tip, by)?,
            outcome,
        })))
    }

    fn buttons(&self) -> Vec<TipButton> {
        let before = self.before.before_tip;
        self.choices
            .iter()
            .enumerate()
            .map(|(index, c)| TipButton {
                index,
                label: c.label.clone(),
                tip: c.amount.to_string(),
                total: before
                    .checked_add(c.amount)
                    .map_or_else(|_| String::new(), |m| m.to_string()),
            })
            .collect()
    }
}

/// A subscriber to a [`TipDesk`]'s changes: the app pushes both views to their windows on
/// each.
#[derive(Debug)]
pub struct TipChanges {
    rx: watch::Receiver<Stage>,
}

impl TipChanges {
    /// Waits for the next change; false once the desk is gone.
    pub async fn changed(&mut self) -> bool {
        self.rx.changed().await.is_ok()
    }
}

/// The till's one sale awaiting a tip. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct TipDesk {
    stage: watch::Sender<Stage>,
    next: AtomicU64,
}

impl Default for TipDesk {
    fn default() -> Self {
        TipDesk::new()
    }
}

impl TipDesk {
    pub fn new() -> TipDesk {
        TipDesk {
            stage: watch::Sender::new(Stage::Idle),
            next: AtomicU64::new(1),
        }
    }

    /// Totals `cart` and asks the customer for a tip until `timeout` has passed; replaces
    /// any sale still open. When the till does not ask (`ask_customer = false`) the sale is
    /// decided at once, without a tip. A cart with nothing to charge is refused.
    pub fn propose(&self, cart: &Cart, timeout: Duration) -> Result<CashierTipView, TipFlowError> {
        let before = cart.totals(&Tip::None)?;
        before.charge_amount()?;
        let id = PromptId(self.next.fetch_add(1, Ordering::Relaxed));
        let catalog = cart.catalog();
        let tips = catalog.tips();
        let mode = catalog.rounding_mode();
        let choices = tips
            .choices(before.before_tip, mode)
            .map_err(CartError::from)?;
        let cap = Tip::Percent(tips.max_percent)
            .amount(before.before_tip, tips, mode)
            .map_err(CartError::from)?;
        let ask_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let asking = Asking {
            id,
            cart: cart.clone(),
            before,
            choices,
            cap,
            deadline: Instant::now() + timeout,
            deadline_unix_ms: local_now_ms().saturating_add(ask_ms),
        };
        let stage = if tips.ask_customer {
            Stage::Asking(Box::new(asking))
        } else {
            asking.decide(&Tip::None, None, TipOutcome::NotAsked)?
        };
        self.stage.send_replace(stage);
        tracing::info!(prompt = id.0, "sale proposed for a tip");
        Ok(self.cashier_view())
    }

    /// The customer's pick, from the customer display.
    pub fn choose(
        &self,
        id: PromptId,
        pick: &CustomerPick,
    ) -> Result<CustomerTipView, TipFlowError> {
        self.transition(id, |a| {
            let tip = match pick {
                CustomerPick::Choice(i) => a
                    .choices
                    .get(*i)
                    .map(|c| c.tip.clone())
                    .ok_or(TipFlowError::NoSuchChoice(*i))?,
                CustomerPick::Amount(text) => typed_tip(text, a)?,
            };
            Ok(a.decide(&tip, Some(TipBy::Customer), TipOutcome::Customer)?)
        })?;
        Ok(self.customer_view())
    }

    /// The cashier types the tip instead of the customer (`Tip::parse` reads what they type).
    pub fn cashier_tip(&self, id: PromptId, tip: &Tip) -> Result<CashierTipView, TipFlowError> {
        self.transition(id, |a| {
            Ok(a.decide(tip, Some(TipBy::Cashier), TipOutcome::Cashier)?)
        })?;
        Ok(self.cashier_view())
    }

    /// The cashier goes on without a tip.
    pub fn skip(&self, id: PromptId) -> Result<CashierTipView, TipFlowError> {
        self.transition(id, |a| {
            Ok(a.decide(&Tip::None, None, TipOutcome::Skipped)?)
        })?;
        Ok(self.cashier_view())
    }

    /// The cashier goes back to the cart: nothing is charged.
    pub fn withdraw(&self, id: PromptId) -> Result<(), TipFlowError> {
        let mut result = Err(TipFlowError::NotOpen);
        self.stage.send_if_modified(|stage| {
            let open = match stage {
                Stage::Asking(a) => a.id == id,
                Stage::Decided(d) => d.prompt == id,
                Stage::Idle => false,
            };
            if open {
                *stage = Stage::Idle;
                result = Ok(());
            }
            open
        });
        result
    }

    /// Ends whatever is open (the till restarts, the cashier signs out).
    pub fn reset(&self) {
        self.stage.send_if_modified(|stage| {
            !matches!(std::mem::replace(stage, Stage::Idle), Stage::Idle)
        });
    }

    /// The decided sale of prompt `id`, to charge. It stays decided until
    /// [`TipDesk::close`], so a charge that failed can be tried again without asking the
    /// customer twice.
    pub fn sale(&self, id: PromptId) -> Result<TipDecision, TipFlowError> {
        self.expire_due();
        match &*self.stage.borrow() {
            Stage::Decided(d) if d.prompt == id => Ok((**d).clone()),
            Stage::Asking(a) if a.id == id => Err(TipFlowError::Undecided),
            _ => Err(TipFlowError::NotOpen),
        }
    }

    /// The payment of prompt `id` was created: back to idle.
    pub fn close(&self, id: PromptId) {
        self.stage.send_if_modified(|stage| match stage {
            Stage::Decided(d) if d.prompt == id => {
                *stage = Stage::Idle;
                true
            }
            _ => false,
        });
    }

    /// Waits until prompt `id` is decided: by the customer, the cashier, or its deadline
    /// (then without a tip). `NotOpen` when it was withdrawn or replaced meanwhile.
    pub async fn decision(&self, id: PromptId) -> Result<TipDecision, TipFlowError> {
        let mut rx = self.stage.subscribe();
        loop {
            let deadline = match &*rx.borrow_and_update() {
                Stage::Decided(d) if d.prompt == id => return Ok((**d).clone()),
                Stage::Asking(a) if a.id == id => a.deadline,
                _ => return Err(TipFlowError::NotOpen),
            };
            tokio::select! {
                changed = rx.changed() => {
                    // The sender lives in `self`, which outlives this call.
                    if changed.is_err() {
                        return Err(TipFlowError::NotOpen);
                    }
                }
                () = tokio::time::sleep_until(deadline) => self.expire_due(),
            }
        }
    }

    /// Tells of every change of either view (read them again after each).
    pub fn changes(&self) -> TipChanges {
        TipChanges {
            rx: self.stage.subscribe(),
        }
    }

    pub fn cashier_view(&self) -> CashierTipView {
        self.expire_due();
        match &*self.stage.borrow() {
            Stage::Idle => CashierTipView::Idle,
            Stage::Asking(a) => CashierTipView::Asking {
                prompt: a.id,
                receipt: Receipt::from_totals(&a.before),
                before_tip: a.before.before_tip,
                buttons: a.buttons(),
                deadline_unix_ms: a.deadline_unix_ms,
            },
            Stage::Decided(d) => CashierTipView::Decided {
                prompt: d.prompt,
                outcome: d.outcome,
                receipt: d.sale.receipt(),
                tip: d.sale.tip(),
                total: d.sale.amount(),
            },
        }
    }

    pub fn customer_view(&self) -> CustomerTipView {
        self.expire_due();
        match &*self.stage.borrow() {
            Stage::Idle => CustomerTipView::Idle,
            Stage::Asking(a) => CustomerTipView::Asking {
                prompt: a.id,
                bill: a.before.before_tip.to_string(),
                currency: a.before.currency.code().to_owned(),
                decimals: a.before.currency.exponent(),
                buttons: a.buttons(),
                largest_tip: a.cap.to_string(),
                deadline_unix_ms: a.deadline_unix_ms,
            },
            Stage::Decided(d) => CustomerTipView::Decided {
                prompt: d.prompt,
                tip: d.sale.tip().to_string(),
                total: d.sale.amount().to_string(),
            },
        }
    }

    /// Applies `decide` to prompt `id` while it is asking and before its deadline.
    fn transition(
        &self,
        id: PromptId,
        decide: impl FnOnce(&Asking) -> Result<Stage, TipFlowError>,
    ) -> Result<(), TipFlowError> {
        let now = Instant::now();
        let mut result = Err(TipFlowError::NotOpen);
        self.stage.send_if_modified(|stage| {
            let expired = expire(stage, now);
            match stage {
                Stage::Asking(a) if a.id == id => match decide(a) {
                    Ok(next) => {
                        *stage = next;
                        result = Ok(());
                        true
                    }
                    Err(e) => {
                        result = Err(e);
                        expired
                    }
                },
                Stage::Decided(d) if d.prompt == id && d.outcome == TipOutcome::TimedOut => {
                    result = Err(TipFlowError::TimedOut);
                    expired
                }
                _ => expired,
            }
        });
        result
    }

    fn expire_due(&self) {
        let now = Instant::now();
        self.stage.send_if_modified(|stage| expire(stage, now));
    }
}

/// Decides an asking stage whose deadline has passed, without a tip. True if it did.
fn expire(stage: &mut Stage, now: Instant) -> bool {
    let Stage::Asking(a) = stage else {
        return false;
    };
    if now < a.deadline {
        return false;
    }
    match Sale::from_totals(a.before.clone(), None) {
        Ok(sale) => {
            tracing::info!(prompt = a.id.0, "no tip chosen in time");
            *stage = Stage::Decided(Box::new(TipDecision {
                prompt: a.id,
                sale,
                outcome: TipOutcome::TimedOut,
            }));
        }
        // Proposed only when there was something to charge, so this cannot happen; if it
        // did, nothing would be left to charge.
        Err(_) => *stage = Stage::Idle,
    }
    true
}

/// A tip the customer typed, in the sale's currency; the cap is checked when totalled.
fn typed_tip(text: &str, a: &Asking) -> Result<Tip, TipFlowError> {
    match Money::parse(text, a.before.currency) {
        Ok(m) => Ok(Tip::Amount(m)),
        Err(MoneyError::Zero) => Ok(Tip::None),
        Err(MoneyError::Negative) => Err(CartError::Tip(TipError::Negative).into()),
        Err(_) => Err(CartError::Tip(TipError::Invalid(text.trim().to_owned())).into()),
    }
}
