//! The sandbox's books: payments and refunds, and the rules that move them.
//!
//! Pure state, no I/O: every method takes the sandbox's `now` (unix seconds) and returns
//! the webhook events it caused, which the caller hands to the deliverer while it still
//! holds the lock (so events leave in the order the state changed).
//!
//! The rules, as Crypto.com Pay has them (docs/sandbox.md names the sources):
//! - A payment's status is `pending`, `succeeded` or `cancelled`. Expiry is the `expired`
//!   flag on a pending payment, set lazily by the first read at or after its deadline
//!   (`status: "expired"` too in the legacy form a config asks for).
//! - Paid in the App, a payment is captured. Paid on chain, it is captured when the funds
//!   arrive in time and in full; late or short funds leave it unresolved: still pending,
//!   its `current_inbound_fund` saying why, no `payment.captured`, and the funds go back.
//! - A refund starts `pending` (`payment.refund_requested`) and later succeeds
//!   (`payment.refund_transferred`): soon for an App payment, when the customer answers
//!   Crypto.com's e-mail with an address for an on-chain one. `amount_refunded` counts
//!   transferred refunds only; pending ones hold their amount so the total never exceeds
//!   the payment.

use std::collections::{HashMap, VecDeque};

use paydesk_protocol::money::Currency;
use paydesk_protocol::payment::{
    Payment, PaymentStatus, Refund, RefundStatus, EVENT_PAYMENT_CAPTURED, EVENT_PAYMENT_CREATED,
    EVENT_PAYMENT_FULFILL, EVENT_REFUND_REQUESTED, EVENT_REFUND_TRANSFERRED,
};

use crate::object::{self, CustomerInfo, Event, Extras, Fund, Object, Quote, Served};

/// What a create asks for, validated.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub amount: i128,
    pub currency: Currency,
    pub description: Option<String>,
    pub order_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub customer_id: Option<String>,
    pub sub_merchant_id: Option<String>,
    pub onchain_allowed: Option<bool>,
    pub expired_at: Option<i64>,
}

/// What a refund asks for, validated.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub payment_id: String,
    pub amount: i128,
    pub currency: Option<String>,
    pub reason: Option<String>,
    pub description: Option<String>,
}

/// How the customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payer {
    /// In the Crypto.com App: the exact amount, while the payment is open. A refund goes
    /// back to the App account quickly.
    App,
    /// From another wallet to the deposit address, the amount due. After the deadline the
    /// funds are late and the payment stays unresolved. A refund waits for the customer's
    /// wallet address.
    Onchain,
    /// On chain, this many minor units of the payment's currency: less than due, so the
    /// payment stays unresolved.
    Underpaid(i128),
}

/// When a new refund's transfer happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// The payment was made in the App: the sandbox transfers after its App refund delay.
    Soon,
    /// The payment was made on chain: when `POST /sandbox/refunds/{id}/transfer` says the
    /// customer answered.
    WhenTheCustomerAnswers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    NotFound,
    /// The payment cannot change (it is the given status, or "expired").
    NotPending(String),
    /// Funds already arrived and did not pay it (the reason).
    Unresolved(String),
    /// The payment was created with `onchain_allowed: false`.
    OnchainDisabled,
    /// An underpayment must be more than nothing and less than due.
    NotUnderpaid {
        due: i128,
    },
    /// Only succeeded payments can be refunded.
    NotRefundable(String),
    /// More than what is left to refund (pending refunds hold their amount).
    RefundTooLarge {
        available: i128,
    },
    CurrencyMismatch {
        expected: String,
    },
    TooManyRefunds,
    RefundNotFound,
    /// The refund was transferred already.
    RefundNotPending,
    /// `starting_after` names no payment.
    UnknownCursor,
}

/// A page of payments.
#[derive(Debug, Clone)]
pub struct Page {
    pub data: Vec<Served>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PaidBy {
    App,
    Onchain,
}

#[derive(Debug)]
struct Record {
    /// Its `current_inbound_fund` stays None: `fund` holds the whole object.
    payment: Payment,
    extras: Extras,
    fund: Option<Fund>,
    paid_by: Option<PaidBy>,
    refund_ids: Vec<String>,
    /// Bumped on every change; the ETag.
    version: u64,
}

/// Settings that shape new payments.
#[derive(Debug, Clone)]
pub struct Terms {
    pub time_window_secs: i64,
    /// Where `payment_url` points: `{public_base_url}/checkout/{id}`.
    pub public_base_url: String,
}

#[derive(Debug, Default)]
pub struct Store {
    payments: HashMap<String, Record>,
    /// Ids oldest first; lists read it backwards (newest first).
    order: VecDeque<String>,
    refunds: HashMap<String, Refund>,
    /// The legacy form: an expired payment also says `status: "expired"`.
    expired_status: bool,
}

/// The books keep this many payments; the oldest go first (with their refunds). A demo
/// left running for weeks stays small, and no test comes near it.
pub const MAX_PAYMENTS: usize = 100_000;
/// Refunds per payment; more is a runaway script (one minor unit at a time).
pub const MAX_REFUNDS_PER_PAYMENT: usize = 100;
/// Where a sandbox on-chain payer says to write for a refund address.
pub const CUSTOMER_EMAIL: &str = "customer@example.com";

impl Store {
    /// Books whose expired payments say `status: "expired"` when `expired_status`.
    pub fn new(expired_status: bool) -> Store {
        Store {
            expired_status,
            ..Store::default()
        }
    }

    pub fn create(&mut self, new: NewPayment, terms: &Terms, now: i64) -> (Served, Vec<Event>) {
        let id = uuid::Uuid::new_v4().to_string();
        let quote = Quote::of(new.amount, new.currency);
        let onchain = new.onchain_allowed.unwrap_or(true);
        let deposit_address = onchain.then(object::random_address);
        let payment = Payment {
            id: id.clone(),
            amount: new.amount,
            original_amount: Some(new.amount),
            amount_refunded: 0,
            currency: new.currency.code().to_owned(),
            status: PaymentStatus::Pending,
            created: now,
            captured: false,
            expired: false,
            refunded: false,
            expired_at: new.expired_at,
            time_window: Some(terms.time_window_secs),
            remaining_time: None,
            crypto_currency: Some(quote.crypto_currency),
            crypto_amount: quote.crypto_amount,
            payment_url: Some(format!("{}/checkout/{id}", terms.public_base_url)),
            qr_code: Some(object::qr_code(&id)),
            data_url: Some(format!("{}/sdk/payments/{id}", terms.public_base_url)),
            // The live object writes "" for URLs it was not given, and strict clients
            // (Crypto.com's SDK) require a string.
            return_url: Some(new.return_url.unwrap_or_default()),
            cancel_url: Some(new.cancel_url.unwrap_or_default()),
            description: new.description,
            order_id: new.order_id,
            metadata: new.metadata,
            customer_id: new.customer_id,
            sub_merchant_id: new.sub_merchant_id,
            live_mode: Some(false),
            recipient: Some("PayDesk Sandbox Merchant".to_owned()),
            settled_at: None,
            deposit_address: deposit_address.clone(),
            network_cost: Some("0.0".to_owned()),
            payment_type: Some("checkout".to_owned()),
            amount_in_usd: quote.amount_in_usd.clone(),
            current_inbound_fund: None,
            payment_source: None,
            pay_method: None,
        };
        let extras = Extras::new(
            &id,
            onchain,
            deposit_address.as_deref(),
            quote.amount_in_usd,
        );
        self.order.push_back(id.clone());
        while self.order.len() > MAX_PAYMENTS {
            if let Some(oldest) = self.order.pop_front() {
                if let Some(gone) = self.payments.remove(&oldest) {
                    for refund_id in gone.refund_ids {
                        self.refunds.remove(&refund_id);
                    }
                }
            }
        }
        let record = Record {
            payment,
            extras,
            fund: None,
            paid_by: None,
            refund_ids: Vec::new(),
            version: 1,
        };
        let served = view(&record, now);
        self.payments.insert(id, record);
        let event = Event::new(EVENT_PAYMENT_CREATED, Object::Payment(served.clone()), now);
        (served, vec![event])
    }

    /// The payment and its version (the ETag), expiring it first if its time is up.
    pub fn get(&mut self, id: &str, now: i64) -> Result<(Served, u64), StoreError> {
        let r = self.record(id, now)?;
        Ok((view(r, now), r.version))
    }

    /// Newest first, filtered by `order_id`, after the `starting_after` cursor.
    pub fn list(
        &mut self,
        order_id: Option<&str>,
        limit: usize,
        starting_after: Option<&str>,
        now: i64,
    ) -> Result<Page, StoreError> {
        let ids: Vec<String> = self.order.iter().rev().cloned().collect();
        let start = match starting_after {
            None => 0,
            Some(cursor) => {
                ids.iter()
                    .position(|id| id == cursor)
                    .ok_or(StoreError::UnknownCursor)?
                    + 1
            }
        };
        let mut data = Vec::new();
        let mut has_more = false;
        for id in &ids[start..] {
            let Ok(r) = self.record(id, now) else {
                continue;
            };
            if order_id.is_some_and(|o| r.payment.order_id.as_deref() != Some(o)) {
                continue;
            }
            if data.len() == limit {
                has_more = true;
                break;
            }
            data.push(view(r, now));
        }
        Ok(Page { data, has_more })
    }

    /// Cancels an open payment (pending, not expired).
    pub fn cancel(&mut self, id: &str, now: i64) -> Result<Served, StoreError> {
        let r = self.open_mut(id, now)?;
        r.payment.status = PaymentStatus::Cancelled;
        r.version += 1;
        Ok(view(r, now))
    }

    /// Why `payer` cannot pay the payment now, if it cannot: what a delayed payment checks
    /// before it is scheduled.
    pub fn check_payable(&mut self, id: &str, payer: Payer, now: i64) -> Result<(), StoreError> {
        let r = self.record(id, now)?;
        payable(r, payer).map(|_| ())
    }

    /// The customer pays. Paid in time and in full, the payment is captured
    /// (`payment.captured`); late or short on chain, it stays pending and unresolved.
    pub fn pay(
        &mut self,
        id: &str,
        payer: Payer,
        now: i64,
    ) -> Result<(Served, Vec<Event>), StoreError> {
        let r = self.record_mut(id, now)?;
        let late = payable(r, payer)?;
        let crypto_currency = r.payment.crypto_currency.clone().unwrap_or_default();
        let due_crypto = r.payment.crypto_amount.clone().unwrap_or_default();
        match payer {
            Payer::App => {
                r.paid_by = Some(PaidBy::App);
                r.payment.payment_source = Some("Crypto.com App".to_owned());
                r.payment.pay_method = Some("Crypto.com App".to_owned());
            }
            Payer::Onchain | Payer::Underpaid(_) => {
                let (amount, reason) = match payer {
                    Payer::Underpaid(minor) => {
                        let sent = Currency::from_code(&r.payment.currency)
                            .ok()
                            .and_then(|c| Quote::of(minor, c).crypto_amount)
                            .unwrap_or_default();
                        (sent, Some(if late { "late" } else { "underpaid" }))
                    }
                    _ => (due_crypto, late.then_some("late")),
                };
                let deposit = r.payment.deposit_address.clone();
                r.fund = Some(Fund::arrived(
                    &crypto_currency,
                    amount,
                    deposit,
                    reason,
                    now,
                ));
                r.paid_by = Some(PaidBy::Onchain);
                r.payment.payment_source = Some("External Wallets".to_owned());
                r.payment.pay_method = Some("Other Wallets".to_owned());
                r.extras.customer_provided_info = Some(CustomerInfo {
                    email: CUSTOMER_EMAIL.to_owned(),
                });
            }
        }
        r.version += 1;
        if r.fund.as_ref().is_some_and(Fund::is_mismatched) {
            return Ok((view(r, now), Vec::new()));
        }
        r.payment.status = PaymentStatus::Succeeded;
        r.payment.captured = true;
        r.payment.settled_at = Some(now);
        let served = view(r, now);
        let event = Event::new(EVENT_PAYMENT_CAPTURED, Object::Payment(served.clone()), now);
        Ok((served, vec![event]))
    }

    /// Sends `payment.fulfill` with the payment as it is; nothing changes.
    pub fn fulfill(&mut self, id: &str, now: i64) -> Result<(Served, Vec<Event>), StoreError> {
        let served = view(self.record(id, now)?, now);
        let event = Event::new(EVENT_PAYMENT_FULFILL, Object::Payment(served.clone()), now);
        Ok((served, vec![event]))
    }

    /// Expires a pending payment now, whatever its deadline. An unresolved one too: funds
    /// that did not pay it do not stop its time, just as its deadline expires it on a read.
    pub fn expire(&mut self, id: &str, now: i64) -> Result<Served, StoreError> {
        let expired_status = self.expired_status;
        let r = self.record_mut(id, now)?;
        if !is_open(r) {
            return Err(StoreError::NotPending(shown_status(r).to_owned()));
        }
        mark_expired(r, expired_status);
        Ok(view(r, now))
    }

    /// Opens a refund of part or all of what is left of a succeeded payment: `pending`,
    /// with `payment.refund_requested`. The transfer comes later ([`Store::transfer`]).
    pub fn refund(
        &mut self,
        req: NewRefund,
        now: i64,
    ) -> Result<(Refund, Transfer, Vec<Event>), StoreError> {
        let r = self
            .payments
            .get(&req.payment_id)
            .ok_or(StoreError::NotFound)?;
        if r.payment.status != PaymentStatus::Succeeded {
            return Err(StoreError::NotRefundable(shown_status(r).to_owned()));
        }
        if let Some(c) = &req.currency {
            if !c.eq_ignore_ascii_case(&r.payment.currency) {
                return Err(StoreError::CurrencyMismatch {
                    expected: r.payment.currency.clone(),
                });
            }
        }
        if r.refund_ids.len() >= MAX_REFUNDS_PER_PAYMENT {
            return Err(StoreError::TooManyRefunds);
        }
        let held: i128 = r
            .refund_ids
            .iter()
            .filter_map(|id| self.refunds.get(id))
            .filter(|f| f.status == RefundStatus::Pending)
            .map(|f| f.amount)
            .sum();
        let available = r.payment.amount - r.payment.amount_refunded - held;
        if req.amount > available {
            return Err(StoreError::RefundTooLarge { available });
        }
        let transfer = match r.paid_by {
            Some(PaidBy::Onchain) => Transfer::WhenTheCustomerAnswers,
            _ => Transfer::Soon,
        };
        // The crypto amount is quoted again now, so the refund has the payment's fiat value.
        let debit = Currency::from_code(&r.payment.currency)
            .ok()
            .map(|c| Quote::of(req.amount, c));
        let refund = Refund {
            id: uuid::Uuid::new_v4().to_string(),
            payment_id: req.payment_id,
            amount: req.amount,
            currency: r.payment.currency.clone(),
            status: RefundStatus::Pending,
            created: now,
            debit_amount: debit
                .as_ref()
                .and_then(|q| q.crypto_amount.clone())
                .map(serde_json::Value::String),
            debit_currency: debit.map(|q| q.crypto_currency),
            reason: req.reason,
            description: req.description,
        };
        if let Some(r) = self.payments.get_mut(&refund.payment_id) {
            r.refund_ids.push(refund.id.clone());
        }
        self.refunds.insert(refund.id.clone(), refund.clone());
        let event = Event::new(EVENT_REFUND_REQUESTED, Object::Refund(refund.clone()), now);
        Ok((refund, transfer, vec![event]))
    }

    /// The refund's money leaves: `succeeded`, counted in the payment's `amount_refunded`
    /// (`refunded` once it is all), `payment.refund_transferred`.
    pub fn transfer(
        &mut self,
        refund_id: &str,
        now: i64,
    ) -> Result<(Refund, Vec<Event>), StoreError> {
        let refund = self
            .refunds
            .get_mut(refund_id)
            .ok_or(StoreError::RefundNotFound)?;
        if refund.status != RefundStatus::Pending {
            return Err(StoreError::RefundNotPending);
        }
        refund.status = RefundStatus::Succeeded;
        let refund = refund.clone();
        if let Some(r) = self.payments.get_mut(&refund.payment_id) {
            r.payment.amount_refunded += refund.amount;
            r.payment.refunded = r.payment.amount_refunded >= r.payment.amount;
            r.version += 1;
        }
        let event = Event::new(
            EVENT_REFUND_TRANSFERRED,
            Object::Refund(refund.clone()),
            now,
        );
        Ok((refund, vec![event]))
    }

    pub fn get_refund(&self, refund_id: &str) -> Result<Refund, StoreError> {
        self.refunds
            .get(refund_id)
            .cloned()
            .ok_or(StoreError::RefundNotFound)
    }

    pub fn payment_count(&self) -> usize {
        self.payments.len()
    }

    fn record(&mut self, id: &str, now: i64) -> Result<&Record, StoreError> {
        self.record_mut(id, now).map(|r| &*r)
    }

    /// The record, expired first if its deadline has passed.
    fn record_mut(&mut self, id: &str, now: i64) -> Result<&mut Record, StoreError> {
        let expired_status = self.expired_status;
        let r = self.payments.get_mut(id).ok_or(StoreError::NotFound)?;
        let due = r.payment.deadline_unix().is_some_and(|d| now >= d);
        if is_open(r) && due {
            mark_expired(r, expired_status);
        }
        Ok(r)
    }

    /// A payment that can still be cancelled or expired: pending, not expired, no funds.
    fn open_mut(&mut self, id: &str, now: i64) -> Result<&mut Record, StoreError> {
        let r = self.record_mut(id, now)?;
        if let Some(f) = r.fund.as_ref().filter(|f| f.is_mismatched()) {
            return Err(StoreError::Unresolved(
                f.mismatched_reason.clone().unwrap_or_default(),
            ));
        }
        if !is_open(r) {
            return Err(StoreError::NotPending(shown_status(r).to_owned()));
        }
        Ok(r)
    }
}

/// Whether `payer` can pay the record now, and if so whether the funds are late.
fn payable(r: &Record, payer: Payer) -> Result<bool, StoreError> {
    if let Payer::Underpaid(minor) = payer {
        if minor <= 0 || minor >= r.payment.amount {
            return Err(StoreError::NotUnderpaid {
                due: r.payment.amount,
            });
        }
    }
    if let Some(f) = r.fund.as_ref().filter(|f| f.is_mismatched()) {
        return Err(StoreError::Unresolved(
            f.mismatched_reason.clone().unwrap_or_default(),
        ));
    }
    let lapsed = r.payment.expired
        && matches!(
            r.payment.status,
            PaymentStatus::Pending | PaymentStatus::Expired
        );
    if !is_open(r) && !lapsed {
        return Err(StoreError::NotPending(shown_status(r).to_owned()));
    }
    if payer != Payer::App && r.payment.deposit_address.is_none() {
        return Err(StoreError::OnchainDisabled);
    }
    // The App does not pay an expired payment; a wallet can still send to the address.
    if lapsed && payer == Payer::App {
        return Err(StoreError::NotPending(shown_status(r).to_owned()));
    }
    Ok(lapsed)
}

fn is_open(r: &Record) -> bool {
    r.payment.status == PaymentStatus::Pending && !r.payment.expired
}

/// The status a refusal names: "expired" for an expired payment, whichever form.
fn shown_status(r: &Record) -> &str {
    if r.payment.expired && r.payment.status == PaymentStatus::Pending {
        "expired"
    } else {
        r.payment.status.as_str()
    }
}

fn mark_expired(r: &mut Record, expired_status: bool) {
    r.payment.expired = true;
    if expired_status {
        r.payment.status = PaymentStatus::Expired;
    }
    r.version += 1;
}

/// A payment as served: `remaining_time` is computed at the moment of reading.
fn view(r: &Record, now: i64) -> Served {
    let p = &r.payment;
    let remaining = match p.deadline_unix() {
        Some(deadline) if is_open(r) => (deadline - now).max(0),
        _ => 0,
    };
    Served {
        payment: Payment {
            remaining_time: Some(format!("{}:{:02}", remaining / 60, remaining % 60)),
            ..p.clone()
        },
        extras: r.extras.clone(),
        fund: r.fund.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn terms() -> Terms {
        Terms {
            time_window_secs: 600,
            public_base_url: "http://sandbox.test".into(),
        }
    }

    fn usd(amount: i128) -> NewPayment {
        NewPayment {
            amount,
            currency: Currency::from_code("USD").unwrap(),
            description: None,
            order_id: None,
            metadata: None,
            return_url: None,
            cancel_url: None,
            customer_id: None,
            sub_merchant_id: None,
            onchain_allowed: None,
            expired_at: None,
        }
    }

    fn refund_of(id: &str, amount: i128) -> NewRefund {
        NewRefund {
            payment_id: id.to_owned(),
            amount,
            currency: Some("usd".into()),
            reason: None,
            description: None,
        }
    }

    #[test]
    fn a_new_payment_looks_like_the_live_one() {
        let mut s = Store::default();
        let (p, events) = s.create(usd(1250), &terms(), 1_000);
        let p = p.into_payment();
        assert_eq!(p.status, PaymentStatus::Pending);
        assert_eq!(p.remaining_time.as_deref(), Some("10:00"));
        assert_eq!(p.crypto_currency.as_deref(), Some("CRO"));
        // $12.50 at $0.09 per CRO.
        assert_eq!(p.crypto_amount.as_deref(), Some("138.88888888"));
        assert_eq!(p.amount_in_usd.as_deref(), Some("12.50"));
        assert_eq!(
            p.payment_url,
            Some(format!("http://sandbox.test/checkout/{}", p.id))
        );
        assert_eq!(p.cancel_url.as_deref(), Some(""));
        let qr = base64::engine::general_purpose::STANDARD
            .decode(p.qr_code.unwrap())
            .unwrap();
        assert_eq!(
            qr,
            format!(r#"{{"type":"payment","id":"{}"}}"#, p.id).into_bytes()
        );
        assert_eq!(events[0].kind, EVENT_PAYMENT_CREATED);
        assert!(uuid::Uuid::parse_str(&events[0].id).is_ok());
    }

    #[test]
    fn crypto_priced_payments_quote_themselves() {
        let mut s = Store::default();
        let mut req = usd(100_000_000_000_000_000_000);
        req.currency = Currency::from_code("CRO").unwrap();
        let (p, _) = s.create(req, &terms(), 0);
        assert_eq!(p.payment.crypto_amount.as_deref(), Some("100.0"));
        assert_eq!(p.payment.amount_in_usd.as_deref(), Some("9.00"));
    }

    #[test]
    fn a_payment_expires_at_its_deadline_as_a_flag_on_a_pending_payment() {
        let mut s = Store::default();
        let (p, _) = s.create(usd(100), &terms(), 1_000);
        let id = p.payment.id;
        let before = s.get(&id, 1_599).unwrap().0.payment;
        assert_eq!(
            (before.status, before.expired),
            (PaymentStatus::Pending, false)
        );
        let late = s.get(&id, 1_600).unwrap().0.payment;
        assert_eq!((late.status, late.expired), (PaymentStatus::Pending, true));
        assert_eq!(
            s.pay(&id, Payer::App, 1_600).unwrap_err(),
            StoreError::NotPending("expired".into())
        );
        assert_eq!(
            s.cancel(&id, 1_600).unwrap_err(),
            StoreError::NotPending("expired".into())
        );
    }

    #[test]
    fn the_legacy_form_also_says_expired_in_the_status() {
        let mut s = Store::new(true);
        let (p, _) = s.create(usd(100), &terms(), 1_000);
        let late = s.get(&p.payment.id, 1_600).unwrap().0.payment;
        assert_eq!((late.status, late.expired), (PaymentStatus::Expired, true));
    }

    #[test]
    fn expired_at_overrides_the_time_window() {
        let mut s = Store::default();
        let mut req = usd(100);
        req.expired_at = Some(1_030);
        let (p, _) = s.create(req, &terms(), 1_000);
        assert_eq!(p.payment.remaining_time.as_deref(), Some("0:30"));
        assert!(s.get(&p.payment.id, 1_030).unwrap().0.payment.expired);
    }

    #[test]
    fn every_change_bumps_the_version_and_reads_do_not() {
        let mut s = Store::default();
        let (p, _) = s.create(usd(100), &terms(), 0);
        let id = p.payment.id;
        let v1 = s.get(&id, 1).unwrap().1;
        assert_eq!(s.get(&id, 2).unwrap().1, v1);
        s.pay(&id, Payer::App, 3).unwrap();
        assert!(s.get(&id, 4).unwrap().1 > v1);
    }

    #[test]
    fn late_or_short_funds_leave_the_payment_pending_and_unresolved() {
        let mut s = Store::default();
        let (p, _) = s.create(usd(1000), &terms(), 0);
        let (short, events) = s.pay(&p.payment.id, Payer::Underpaid(400), 10).unwrap();
        assert!(events.is_empty());
        assert_eq!(short.payment.status, PaymentStatus::Pending);
        let fund = short.fund.unwrap();
        assert_eq!(fund.mismatched_reason.as_deref(), Some("underpaid"));
        assert_eq!(fund.amount, "44.44444444"); // $4 at $0.09
        assert_eq!(
            s.pay(&p.payment.id, Payer::Onchain, 11).unwrap_err(),
            StoreError::Unresolved("underpaid".into())
        );
        // Its time still runs out; the funds stay unresolved.
        let expired = s.expire(&p.payment.id, 12).unwrap();
        assert!(expired.payment.expired && expired.payment.status == PaymentStatus::Pending);
        assert_eq!(
            expired.fund.unwrap().mismatched_reason.as_deref(),
            Some("underpaid")
        );
        assert_eq!(
            s.expire(&p.payment.id, 13).unwrap_err(),
            StoreError::NotPending("expired".into())
        );

        let (q, _) = s.create(usd(1000), &terms(), 0);
        s.expire(&q.payment.id, 5).unwrap();
        let (late, events) = s.pay(&q.payment.id, Payer::Onchain, 10).unwrap();
        assert!(events.is_empty());
        assert!(late.payment.expired && late.payment.status == PaymentStatus::Pending);
        assert_eq!(
            late.fund.unwrap().mismatched_reason.as_deref(),
            Some("late")
        );
    }

    #[test]
    fn an_underpayment_must_be_less_than_due_and_more_than_nothing() {
        let mut s = Store::default();
        let (p, _) = s.create(usd(1000), &terms(), 0);
        for minor in [0, -1, 1000, 1001] {
            assert_eq!(
                s.pay(&p.payment.id, Payer::Underpaid(minor), 1)
                    .unwrap_err(),
                StoreError::NotUnderpaid { due: 1000 }
            );
        }
    }

    #[test]
    fn a_payment_without_onchain_takes_only_the_app() {
        let mut s = Store::default();
        let mut req = usd(100);
        req.onchain_allowed = Some(false);
        let (p, _) = s.create(req, &terms(), 0);
        assert!(p.payment.deposit_address.is_none() && !p.extras.onchain_enabled);
        assert_eq!(
            s.pay(&p.payment.id, Payer::Onchain, 1).unwrap_err(),
            StoreError::OnchainDisabled
        );
        assert!(s.pay(&p.payment.id, Payer::App, 1).is_ok());
    }

    #[test]
    fn refunds_hold_their_amount_until_transferred_and_count_only_then() {
        let mut s = Store::default();
        let (p, _) = s.create(usd(1000), &terms(), 0);
        let id = p.payment.id;
        assert_eq!(
            s.refund(refund_of(&id, 10), 1).unwrap_err(),
            StoreError::NotRefundable("pending".into())
        );
        s.pay(&id, Payer::Onchain, 1).unwrap();
        let (r, transfer, events) = s.refund(refund_of(&id, 400), 2).unwrap();
        assert_eq!(
            (r.status.clone(), transfer),
            (RefundStatus::Pending, Transfer::WhenTheCustomerAnswers)
        );
        assert_eq!(events[0].kind, EVENT_REFUND_REQUESTED);
        assert_eq!(s.get(&id, 3).unwrap().0.payment.amount_refunded, 0);
        // The pending 400 is held: 601 is too much.
        assert_eq!(
            s.refund(refund_of(&id, 601), 3).unwrap_err(),
            StoreError::RefundTooLarge { available: 600 }
        );
        let (r2, _, _) = s.refund(refund_of(&id, 600), 3).unwrap();
        let (done, events) = s.transfer(&r.id, 4).unwrap();
        assert_eq!(done.status, RefundStatus::Succeeded);
        assert_eq!(events[0].kind, EVENT_REFUND_TRANSFERRED);
        assert_eq!(
            s.transfer(&r.id, 4).unwrap_err(),
            StoreError::RefundNotPending
        );
        let half = s.get(&id, 5).unwrap().0.payment;
        assert_eq!((half.amount_refunded, half.refunded), (400, false));
        s.transfer(&r2.id, 6).unwrap();
        let all = s.get(&id, 7).unwrap().0.payment;
        assert_eq!((all.amount_refunded, all.refunded), (1000, true));
        assert_eq!(
            s.get_refund(&r2.id).unwrap().status,
            RefundStatus::Succeeded
        );
    }

    #[test]
    fn an_app_payment_refunds_soon() {
        let mut s = Store::default();
        let (p, _) = s.create(usd(1000), &terms(), 0);
        s.pay(&p.payment.id, Payer::App, 1).unwrap();
        let (_, transfer, _) = s.refund(refund_of(&p.payment.id, 1000), 2).unwrap();
        assert_eq!(transfer, Transfer::Soon);
    }

    #[test]
    fn lists_page_newest_first_and_filter_by_order() {
        let mut s = Store::default();
        let ids: Vec<String> = (0..5)
            .map(|i| {
                let mut req = usd(100 + i);
                req.order_id = Some(format!("o{}", i % 2));
                s.create(req, &terms(), i64::try_from(i).unwrap())
                    .0
                    .payment
                    .id
            })
            .collect();
        let page = s.list(None, 2, None, 10).unwrap();
        assert_eq!(
            page.data.iter().map(|p| &p.payment.id).collect::<Vec<_>>(),
            [&ids[4], &ids[3]]
        );
        assert!(page.has_more);
        let next = s.list(None, 2, Some(&ids[3]), 10).unwrap();
        assert_eq!(next.data[0].payment.id, ids[2]);
        let last = s.list(None, 2, Some(&ids[1]), 10).unwrap();
        assert_eq!(last.data.len(), 1);
        assert!(!last.has_more);
        let o1 = s.list(Some("o1"), 10, None, 10).unwrap();
        assert_eq!(o1.data.len(), 2);
        assert_eq!(
            s.list(None, 2, Some("nope"), 10).unwrap_err(),
            StoreError::UnknownCursor
        );
    }
}
