//! The merge rule: how one piece of news about a payment changes what the till knows.
//!
//! Every path that changes a payment — the create answer, a poll, a push, a resync, the
//! reconciliation after a crash — hands its [`Update`] to [`merge`], a pure function of
//! the current [`PaymentState`] and the update. The tracker applies what it returns and the
//! journal records it as-is: neither decides anything of its own, so they cannot disagree.
//!
//! The rule, in full:
//! - A status only moves forward ([`PaymentStatus::can_advance_to`]): pending → succeeded,
//!   cancelled or expired (the `expired` flag on a pending payment). A stale or duplicate
//!   message changes nothing.
//! - The refunded amount never shrinks: it is the largest of what the API reported and the
//!   sum of the succeeded refunds seen. A refund's own status only moves forward too.
//! - Only a source that [`confirms`](Source::confirms) may change state; anything else
//!   that claims progress is [`Merged::Unconfirmed`] and the caller reads the API.
//! - Fields the API fills in later (the crypto amount, say) are kept once seen: an answer
//!   from the API replaces the fields it carries, a push only fills the ones still empty,
//!   and a missing field never erases a known one. Any order and any duplication of the
//!   same updates therefore end in the same state (`tests` below check it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::payment::{Payment, PaymentStatus, Refund, RefundStatus};

/// Where a piece of payment state came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The answer to our own `POST payments`.
    CreateResponse,
    /// A `GET payments/{id}` answer (poll, resync, expiry check, "check now").
    ApiRead,
    /// A signed webhook, verified by the relay and pushed over the authenticated session.
    RelayedWebhook,
    /// An API answer found while reconciling after a crash or at the close of day.
    Reconciliation,
    /// The terminal's own journal, after a restart: history, not confirmation.
    Restored,
}

impl Source {
    /// Whether this source may confirm a payment as paid.
    pub fn confirms(self) -> bool {
        !matches!(self, Source::Restored)
    }

    /// Whether the update is a whole object fresh from the API (it may replace fields).
    fn is_api_answer(self) -> bool {
        matches!(
            self,
            Source::CreateResponse | Source::ApiRead | Source::Reconciliation
        )
    }

    /// The journal's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::CreateResponse => "create",
            Source::ApiRead => "poll",
            Source::RelayedWebhook => "push",
            Source::Reconciliation => "reconcile",
            Source::Restored => "restored",
        }
    }

    /// Reads the journal's word back; words older journals wrote for the API's answer to
    /// a cancel or a refund are API reads.
    pub fn parse(s: &str) -> Option<Source> {
        Some(match s {
            "create" => Source::CreateResponse,
            "poll" | "cancel" | "refund" => Source::ApiRead,
            "push" => Source::RelayedWebhook,
            "reconcile" => Source::Reconciliation,
            "restored" => Source::Restored,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refund of a payment, as the till knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundState {
    pub id: String,
    pub amount: i128,
    pub currency: String,
    pub status: RefundStatus,
    #[serde(default)]
    pub reason: Option<String>,
    /// Unix seconds, as the service stamped it (0 when it did not say).
    #[serde(default)]
    pub created: i64,
}

impl RefundState {
    pub fn of(r: &Refund) -> RefundState {
        RefundState {
            id: r.id.clone(),
            amount: r.amount,
            currency: r.currency.clone(),
            status: r.status.clone(),
            reason: r.reason.clone(),
            created: r.created,
        }
    }
}

/// A refund status's place in its one-way life: pending, then one final status.
fn refund_rank(s: &RefundStatus) -> u8 {
    match s {
        RefundStatus::Pending => 0,
        RefundStatus::Unknown(_) => 1,
        RefundStatus::Succeeded | RefundStatus::Failed => 2,
    }
}

/// Everything the till knows of one payment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaymentState {
    /// The API's object, merged: its `amount_refunded` is [`PaymentState::refunded`].
    pub payment: Payment,
    /// The status to show: the effective status (`pending` + `expired` = expired), which
    /// only moves forward.
    pub status: PaymentStatus,
    /// Refunds seen, by id.
    #[serde(default)]
    pub refunds: BTreeMap<String, RefundState>,
    /// The source of the last change.
    pub source: Source,
    /// The sequence number of the last transition of this payment (0: never journaled).
    pub seq: u64,
}

impl PaymentState {
    /// Refunded minor units: the API's own figure or the sum of succeeded refunds seen,
    /// whichever is larger (both only grow).
    pub fn refunded(&self) -> i128 {
        self.payment
            .amount_refunded
            .max(self.sum_refunds(RefundStatus::Succeeded))
    }

    /// Minor units asked back that the service has not sent yet (an on-chain refund
    /// waits for the customer's address).
    pub fn refund_requested(&self) -> i128 {
        self.sum_refunds(RefundStatus::Pending)
    }

    fn sum_refunds(&self, status: RefundStatus) -> i128 {
        self.refunds
            .values()
            .filter(|r| r.status == status)
            .fold(0i128, |acc, r| acc.saturating_add(r.amount))
    }

    pub fn deadline_unix_ms(&self) -> Option<i64> {
        self.payment.deadline_unix().map(|s| s.saturating_mul(1000))
    }
}

/// News about one payment.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    Payment(Payment),
    /// Refund webhooks carry a Refund, which names its payment.
    Refund(Refund),
}

impl Update {
    pub fn payment_id(&self) -> &str {
        match self {
            Update::Payment(p) => &p.id,
            Update::Refund(r) => &r.payment_id,
        }
    }
}

/// What changed in a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    /// The payment was seen for the first time.
    Tracked,
    /// Its status moved forward (and possibly its refunded amount too).
    Status,
    /// A refund was requested, sent, or its amount grew.
    Refund,
    /// Same status, same refunds; the API filled in or corrected a detail.
    Details,
}

impl TransitionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Tracked => "tracked",
            TransitionKind::Status => "status",
            TransitionKind::Refund => "refund",
            TransitionKind::Details => "details",
        }
    }

    pub fn parse(s: &str) -> Option<TransitionKind> {
        Some(match s {
            "tracked" => TransitionKind::Tracked,
            "status" => TransitionKind::Status,
            "refund" => TransitionKind::Refund,
            "details" => TransitionKind::Details,
            _ => return None,
        })
    }
}

/// One change of one payment: journaled, then shown, exactly once.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transition {
    /// Assigned when the journal records it; rises by at least one per transition.
    pub seq: u64,
    /// The sequence number of the state this was merged onto (0 for the first sight):
    /// the journal refuses it if the payment moved on meanwhile (another process).
    #[serde(skip)]
    pub prev_seq: u64,
    pub payment_id: String,
    pub kind: TransitionKind,
    /// `None` for [`TransitionKind::Tracked`].
    pub from: Option<PaymentStatus>,
    pub to: PaymentStatus,
    pub refunded_from: i128,
    pub refunded_to: i128,
    pub source: Source,
    /// The server's time when the change was taken, unix ms (clock-corrected).
    pub at_unix_ms: i64,
    /// The payment as it stands after the change.
    pub payment: Payment,
    /// The refund this transition added or moved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund: Option<RefundState>,
}

impl Transition {
    pub fn status_changed(&self) -> bool {
        self.from.as_ref() != Some(&self.to)
    }

    pub fn refund_grew(&self) -> bool {
        self.refunded_to > self.refunded_from
    }

    /// The state after this transition, given the state before it.
    pub fn apply_to(&self, before: Option<&PaymentState>) -> PaymentState {
        let mut refunds = before.map(|b| b.refunds.clone()).unwrap_or_default();
        if let Some(r) = &self.refund {
            refunds.insert(r.id.clone(), r.clone());
        }
        PaymentState {
            payment: self.payment.clone(),
            status: self.to.clone(),
            refunds,
            source: self.source,
            seq: self.seq,
        }
    }
}

/// What [`merge`] made of an update.
#[derive(Clone, Debug, PartialEq)]
pub enum Merged {
    /// A change: record it, then show it.
    Changed(Transition),
    /// Nothing new: a duplicate, or a refresh of the same state.
    Unchanged,
    /// Older than what is known: ignored.
    Stale,
    /// A source that cannot confirm claimed progress: read the API instead.
    Unconfirmed,
    /// News of a refund for a payment the till has never seen: read the API instead.
    Unknown,
}

impl Merged {
    pub fn transition(self) -> Option<Transition> {
        match self {
            Merged::Changed(t) => Some(t),
            _ => None,
        }
    }
}

/// The merge rule (see the module head). `at_unix_ms` stamps the transition.
pub fn merge(
    current: Option<&PaymentState>,
    update: &Update,
    source: Source,
    at_unix_ms: i64,
) -> Merged {
    match (current, update) {
        (None, Update::Payment(p)) => Merged::Changed(first_sight(p, source, at_unix_ms)),
        (None, Update::Refund(_)) => Merged::Unknown,
        (Some(c), Update::Payment(p)) => merge_payment(c, p, source, at_unix_ms),
        (Some(c), Update::Refund(r)) => merge_refund(c, r, source, at_unix_ms),
    }
}

fn first_sight(p: &Payment, source: Source, at_unix_ms: i64) -> Transition {
    let mut shown = p.clone();
    let mut status = p.effective_status();
    if !source.confirms() && status != PaymentStatus::Pending {
        // A claim we cannot trust enters as pending; the caller reads the API.
        status = PaymentStatus::Pending;
        shown.status = PaymentStatus::Pending;
        shown.captured = false;
        shown.expired = false;
    }
    Transition {
        seq: 0,
        prev_seq: 0,
        payment_id: p.id.clone(),
        kind: TransitionKind::Tracked,
        from: None,
        to: status,
        refunded_from: 0,
        refunded_to: shown.amount_refunded.max(0),
        source,
        at_unix_ms,
        payment: shown,
        refund: None,
    }
}

fn merge_payment(c: &PaymentState, p: &Payment, source: Source, at_unix_ms: i64) -> Merged {
    if p.id != c.payment.id {
        return Merged::Stale;
    }
    let next = p.effective_status();
    let moves = c.status.can_advance_to(&next);
    if !moves && c.status != next {
        return Merged::Stale;
    }
    let before = c.refunded();
    let grows = p.amount_refunded > before;
    if !source.confirms() {
        return if moves || grows {
            Merged::Unconfirmed
        } else {
            Merged::Unchanged
        };
    }
    let mut merged = merge_fields(&c.payment, p, source.is_api_answer());
    let after = before.max(p.amount_refunded);
    merged.amount_refunded = after;
    merged.refunded = c.payment.refunded || p.refunded;
    if moves {
        merged.status = p.status.clone();
        merged.expired = p.expired || c.payment.expired;
        merged.captured = p.captured;
    } else {
        merged.status = c.payment.status.clone();
        merged.expired = c.payment.expired;
        merged.captured = c.payment.captured;
    }
    let kind = if moves {
        TransitionKind::Status
    } else if grows {
        TransitionKind::Refund
    } else if differs_materially(&c.payment, &merged) {
        TransitionKind::Details
    } else {
        return Merged::Unchanged;
    };
    Merged::Changed(Transition {
        seq: 0,
        prev_seq: c.seq,
        payment_id: c.payment.id.clone(),
        kind,
        from: Some(c.status.clone()),
        to: if moves { next } else { c.status.clone() },
        refunded_from: before,
        refunded_to: after,
        source,
        at_unix_ms,
        payment: merged,
        refund: None,
    })
}

fn merge_refund(c: &PaymentState, r: &Refund, source: Source, at_unix_ms: i64) -> Merged {
    if r.payment_id != c.payment.id {
        return Merged::Stale;
    }
    let incoming = RefundState::of(r);
    match c.refunds.get(&r.id) {
        Some(known) if refund_rank(&known.status) > refund_rank(&incoming.status) => {
            return Merged::Stale
        }
        Some(known) if known.status == incoming.status && known.amount == incoming.amount => {
            return Merged::Unchanged
        }
        Some(known) if refund_rank(&known.status) == 2 => return Merged::Stale,
        _ => {}
    }
    if !source.confirms() {
        return Merged::Unconfirmed;
    }
    let before = c.refunded();
    let mut refunds = c.refunds.clone();
    let mut kept = incoming;
    if let Some(known) = c.refunds.get(&r.id) {
        // What a later message leaves out, an earlier one said.
        kept.reason = kept.reason.or_else(|| known.reason.clone());
        if kept.created == 0 {
            kept.created = known.created;
        }
    }
    refunds.insert(kept.id.clone(), kept.clone());
    let probe = PaymentState {
        payment: c.payment.clone(),
        status: c.status.clone(),
        refunds,
        source,
        seq: c.seq,
    };
    let after = probe.refunded().max(before);
    let mut payment = c.payment.clone();
    payment.amount_refunded = after;
    payment.refunded = payment.refunded || (after > 0 && after >= payment.amount);
    Merged::Changed(Transition {
        seq: 0,
        prev_seq: c.seq,
        payment_id: c.payment.id.clone(),
        kind: TransitionKind::Refund,
        from: Some(c.status.clone()),
        to: c.status.clone(),
        refunded_from: before,
        refunded_to: after,
        source,
        at_unix_ms,
        payment,
        refund: Some(kept),
    })
}

/// `known` with what `news` adds: an API answer replaces the fields it carries, a push
/// only fills the empty ones; a missing field never erases a known one.
fn merge_fields(known: &Payment, news: &Payment, replace: bool) -> Payment {
    let mut out = known.clone();
    macro_rules! take {
        ($($f:ident),* $(,)?) => {$(
            if news.$f.is_some() && (replace || out.$f.is_none()) {
                out.$f = news.$f.clone();
            }
        )*};
    }
    take!(
        original_amount,
        expired_at,
        time_window,
        crypto_currency,
        crypto_amount,
        payment_url,
        qr_code,
        data_url,
        return_url,
        cancel_url,
        description,
        order_id,
        metadata,
        customer_id,
        sub_merchant_id,
        live_mode,
        recipient,
        settled_at,
        deposit_address,
        network_cost,
        payment_type,
        amount_in_usd,
        current_inbound_fund,
        payment_source,
        pay_method,
    );
    // The countdown string is recomputed on every read: the newest one, never a detail.
    if news.remaining_time.is_some() {
        out.remaining_time = news.remaining_time.clone();
    }
    if out.created == 0 {
        out.created = news.created;
    }
    out
}

/// Whether `new` says more than `old`, ignoring the countdown string the API recomputes
/// on every read.
fn differs_materially(old: &Payment, new: &Payment) -> bool {
    let mut a = old.clone();
    let mut b = new.clone();
    a.remaining_time = None;
    b.remaining_time = None;
    a != b
}

#[cfg(test)]
mod tests;
