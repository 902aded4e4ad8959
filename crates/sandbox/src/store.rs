//! The sandbox's books: payments and refunds, and the rules that move them.
//!
//! Pure state, no I/O: every method takes the sandbox's `now` (unix seconds) and returns
//! the webhook events it caused, which the caller hands to the deliverer while it still
//! holds the lock (so events leave in the order the state changed). A payment expires
//! lazily: the first read at or after its deadline marks it `expired`.

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use paydesk_protocol::money::{Currency, Money};
use paydesk_protocol::payment::{
    EventData, EventObject, Payment, PaymentStatus, Refund, RefundStatus, WebhookEvent,
    EVENT_PAYMENT_CAPTURED, EVENT_PAYMENT_CREATED, EVENT_REFUND_REQUESTED,
    EVENT_REFUND_TRANSFERRED,
};
use rand::Rng;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    NotFound,
    /// The payment is not pending (it is the given status).
    NotPending(String),
    /// Only succeeded payments can be refunded.
    NotRefundable(String),
    /// More than what is left to refund.
    RefundTooLarge {
        available: i128,
    },
    CurrencyMismatch {
        expected: String,
    },
    /// `starting_after` names no payment.
    UnknownCursor,
}

/// A page of payments.
#[derive(Debug, Clone)]
pub struct Page {
    pub data: Vec<Payment>,
    pub has_more: bool,
}

#[derive(Debug)]
struct Record {
    payment: Payment,
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
}

/// The books keep this many payments; the oldest go first. A demo left running for weeks
/// stays small, and no test comes near it.
pub const MAX_PAYMENTS: usize = 100_000;

impl Store {
    pub fn create(
        &mut self,
        new: NewPayment,
        terms: &Terms,
        now: i64,
    ) -> (Payment, Vec<WebhookEvent>) {
        let id = uuid::Uuid::new_v4().to_string();
        let quote = Quote::of(new.amount, new.currency);
        let qr = format!(r#"{{"type":"payment","id":"{id}"}}"#);
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
            qr_code: Some(base64::engine::general_purpose::STANDARD.encode(qr)),
            data_url: Some(format!("{}/sdk/payments/{id}", terms.public_base_url)),
            return_url: new.return_url,
            cancel_url: new.cancel_url,
            description: new.description,
            order_id: new.order_id,
            metadata: new.metadata,
            customer_id: new.customer_id,
            sub_merchant_id: new.sub_merchant_id,
            live_mode: Some(false),
            recipient: Some("PayDesk Sandbox Merchant".to_owned()),
            settled_at: None,
            deposit_address: Some(random_address()),
            network_cost: Some("0.0".to_owned()),
            payment_type: Some("checkout".to_owned()),
            amount_in_usd: quote.amount_in_usd,
            current_inbound_fund: None,
            payment_source: None,
            pay_method: None,
        };
        self.order.push_back(id.clone());
        while self.order.len() > MAX_PAYMENTS {
            if let Some(oldest) = self.order.pop_front() {
                self.payments.remove(&oldest);
            }
        }
        self.payments.insert(
            id,
            Record {
                payment: payment.clone(),
                version: 1,
            },
        );
        let event = self.event(
            EVENT_PAYMENT_CREATED,
            EventObject::Payment(payment.clone()),
            now,
        );
        (view(&payment, now), vec![event])
    }

    /// The payment and its version (the ETag), expiring it first if its time is up.
    pub fn get(&mut self, id: &str, now: i64) -> Result<(Payment, u64), StoreError> {
        self.settle(id, now);
        let r = self.payments.get(id).ok_or(StoreError::NotFound)?;
        Ok((view(&r.payment, now), r.version))
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
            self.settle(id, now);
            let Some(r) = self.payments.get(id) else {
                continue;
            };
            if order_id.is_some_and(|o| r.payment.order_id.as_deref() != Some(o)) {
                continue;
            }
            if data.len() == limit {
                has_more = true;
                break;
            }
            data.push(view(&r.payment, now));
        }
        Ok(Page { data, has_more })
    }

    pub fn cancel(&mut self, id: &str, now: i64) -> Result<Payment, StoreError> {
        let p = self.pending_mut(id, now)?;
        p.payment.status = PaymentStatus::Cancelled;
        p.version += 1;
        Ok(view(&p.payment, now))
    }

    /// The customer paid: pending → succeeded, captured.
    pub fn capture(
        &mut self,
        id: &str,
        now: i64,
    ) -> Result<(Payment, Vec<WebhookEvent>), StoreError> {
        let p = self.pending_mut(id, now)?;
        p.payment.status = PaymentStatus::Succeeded;
        p.payment.captured = true;
        p.payment.settled_at = Some(now);
        p.version += 1;
        let payment = p.payment.clone();
        let event = self.event(
            EVENT_PAYMENT_CAPTURED,
            EventObject::Payment(payment.clone()),
            now,
        );
        Ok((view(&payment, now), vec![event]))
    }

    /// Expires a pending payment now, whatever its deadline.
    pub fn expire(&mut self, id: &str, now: i64) -> Result<Payment, StoreError> {
        let p = self.pending_mut(id, now)?;
        mark_expired(p);
        Ok(view(&p.payment, now))
    }

    /// Refunds part or all of what is left of a succeeded payment. The sandbox transfers
    /// at once: both events leave together, and the refund is returned `succeeded`.
    pub fn refund(
        &mut self,
        req: NewRefund,
        now: i64,
    ) -> Result<(Refund, Vec<WebhookEvent>), StoreError> {
        self.settle(&req.payment_id, now);
        let r = self
            .payments
            .get_mut(&req.payment_id)
            .ok_or(StoreError::NotFound)?;
        if r.payment.status != PaymentStatus::Succeeded {
            return Err(StoreError::NotRefundable(r.payment.status.to_string()));
        }
        if let Some(c) = &req.currency {
            if !c.eq_ignore_ascii_case(&r.payment.currency) {
                return Err(StoreError::CurrencyMismatch {
                    expected: r.payment.currency.clone(),
                });
            }
        }
        let available = r.payment.amount - r.payment.amount_refunded;
        if req.amount > available {
            return Err(StoreError::RefundTooLarge { available });
        }
        r.payment.amount_refunded += req.amount;
        r.payment.refunded = r.payment.amount_refunded >= r.payment.amount;
        r.version += 1;
        let currency = Currency::from_code(&r.payment.currency).ok();
        let debit = currency.map(|c| Quote::of(req.amount, c));
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
        let requested = self.event(
            EVENT_REFUND_REQUESTED,
            EventObject::Refund(refund.clone()),
            now,
        );
        let done = Refund {
            status: RefundStatus::Succeeded,
            ..refund
        };
        let transferred = self.event(
            EVENT_REFUND_TRANSFERRED,
            EventObject::Refund(done.clone()),
            now,
        );
        Ok((done, vec![requested, transferred]))
    }

    pub fn payment_count(&self) -> usize {
        self.payments.len()
    }

    fn pending_mut(&mut self, id: &str, now: i64) -> Result<&mut Record, StoreError> {
        self.settle(id, now);
        let r = self.payments.get_mut(id).ok_or(StoreError::NotFound)?;
        if r.payment.status != PaymentStatus::Pending {
            return Err(StoreError::NotPending(r.payment.status.to_string()));
        }
        Ok(r)
    }

    /// Expires a pending payment whose deadline has passed.
    fn settle(&mut self, id: &str, now: i64) {
        if let Some(r) = self.payments.get_mut(id) {
            let due = r.payment.deadline_unix().is_some_and(|d| now >= d);
            if r.payment.status == PaymentStatus::Pending && due {
                mark_expired(r);
            }
        }
    }

    fn event(&self, kind: &str, object: EventObject, now: i64) -> WebhookEvent {
        let object = match object {
            EventObject::Payment(p) => EventObject::Payment(view(&p, now)),
            other => other,
        };
        WebhookEvent {
            id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
            kind: kind.to_owned(),
            created: now,
            data: EventData { object },
        }
    }
}

/// The sandbox's choice where the real service is unverified: an expired payment says
/// `status: "expired"` and `expired: true`.
fn mark_expired(r: &mut Record) {
    r.payment.status = PaymentStatus::Expired;
    r.payment.expired = true;
    r.version += 1;
}

/// A payment as served: `remaining_time` is computed at the moment of reading.
fn view(p: &Payment, now: i64) -> Payment {
    let remaining = match (&p.status, p.deadline_unix()) {
        (PaymentStatus::Pending, Some(deadline)) => (deadline - now).max(0),
        _ => 0,
    };
    Payment {
        remaining_time: Some(format!("{}:{:02}", remaining / 60, remaining % 60)),
        ..p.clone()
    }
}

fn random_address() -> String {
    let bytes: [u8; 20] = rand::rng().random();
    format!(
        "0x{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// What the customer pays in crypto, at fixed illustrative rates (the sandbox is not a
/// price feed). Integer arithmetic only.
struct Quote {
    crypto_currency: String,
    crypto_amount: Option<String>,
    amount_in_usd: Option<String>,
}

/// USD value of one whole unit, in micro-dollars.
const USD_MICROS: &[(&str, i128)] = &[
    ("USD", 1_000_000),
    ("EUR", 1_080_000),
    ("GBP", 1_270_000),
    ("CHF", 1_130_000),
    ("CAD", 730_000),
    ("AUD", 650_000),
    ("SGD", 740_000),
    ("HKD", 128_000),
    ("JPY", 6_700),
    ("KRW", 740),
    ("CRO", 90_000),
    ("BTC", 60_000_000_000),
    ("ETH", 3_000_000_000),
    ("USDC", 1_000_000),
    ("USDT", 1_000_000),
];
const SETTLEMENT: &str = "CRO";
const CRYPTO_DECIMALS: u32 = 8;

impl Quote {
    fn of(amount: i128, currency: Currency) -> Quote {
        let rate = |code: &str| USD_MICROS.iter().find(|(c, _)| *c == code).map(|(_, r)| *r);
        let scale = 10i128.checked_pow(u32::from(currency.exponent()));
        // Currencies without a rate are priced like USD: the numbers only need to look real.
        let usd_micros = scale.and_then(|s| {
            amount
                .checked_mul(rate(currency.code()).unwrap_or(1_000_000))
                .map(|v| v / s)
        });
        if currency.is_crypto() {
            return Quote {
                crypto_currency: currency.code().to_owned(),
                crypto_amount: Some(trim_decimal(Money::new(amount, currency).amount_string())),
                amount_in_usd: usd_micros.map(|u| decimal(u / 10_000, 2)),
            };
        }
        let cro_rate = rate(SETTLEMENT).unwrap_or(1_000_000);
        let crypto = usd_micros
            .and_then(|u| u.checked_mul(10i128.pow(CRYPTO_DECIMALS)))
            .map(|v| v / cro_rate);
        Quote {
            crypto_currency: SETTLEMENT.to_owned(),
            crypto_amount: crypto.map(|c| trim_decimal(decimal(c, CRYPTO_DECIMALS))),
            amount_in_usd: usd_micros.map(|u| decimal(u / 10_000, 2)),
        }
    }
}

fn decimal(value: i128, places: u32) -> String {
    let scale = 10i128.pow(places);
    format!(
        "{}.{:0width$}",
        value / scale,
        value % scale,
        width = places as usize
    )
}

/// "100.000" → "100.0", as the live sample writes crypto amounts.
fn trim_decimal(s: String) -> String {
    if !s.contains('.') {
        return format!("{s}.0");
    }
    let t = s.trim_end_matches('0');
    if t.ends_with('.') {
        format!("{t}0")
    } else {
        t.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            expired_at: None,
        }
    }

    #[test]
    fn a_new_payment_looks_like_the_live_one() {
        let mut s = Store::default();
        let (p, events) = s.create(usd(1250), &terms(), 1_000);
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
        let qr = base64::engine::general_purpose::STANDARD
            .decode(p.qr_code.unwrap())
            .unwrap();
        assert_eq!(
            qr,
            format!(r#"{{"type":"payment","id":"{}"}}"#, p.id).into_bytes()
        );
        assert_eq!(events[0].kind, EVENT_PAYMENT_CREATED);
        assert!(events[0].id.starts_with("evt_"));
    }

    #[test]
    fn crypto_priced_payments_quote_themselves() {
        let mut s = Store::default();
        let mut req = usd(100_000_000_000_000_000_000);
        req.currency = Currency::from_code("CRO").unwrap();
        let (p, _) = s.create(req, &terms(), 0);
        assert_eq!(p.crypto_amount.as_deref(), Some("100.0"));
        assert_eq!(p.amount_in_usd.as_deref(), Some("9.00"));
    }

    #[test]
    fn a_payment_expires_at_its_deadline_not_before() {
        let mut s = Store::default();
        let (p, _) = s.create(usd(100), &terms(), 1_000);
        assert_eq!(
            s.get(&p.id, 1_599).unwrap().0.status,
            PaymentStatus::Pending
        );
        let (late, _) = s.get(&p.id, 1_600).unwrap();
        assert_eq!(late.status, PaymentStatus::Expired);
        assert!(late.expired);
        assert_eq!(
            s.capture(&p.id, 1_600),
            Err(StoreError::NotPending("expired".into()))
        );
    }

    #[test]
    fn expired_at_overrides_the_time_window() {
        let mut s = Store::default();
        let mut req = usd(100);
        req.expired_at = Some(1_030);
        let (p, _) = s.create(req, &terms(), 1_000);
        assert_eq!(p.remaining_time.as_deref(), Some("0:30"));
        assert_eq!(
            s.get(&p.id, 1_030).unwrap().0.status,
            PaymentStatus::Expired
        );
    }

    #[test]
    fn every_change_bumps_the_version_and_reads_do_not() {
        let mut s = Store::default();
        let (p, _) = s.create(usd(100), &terms(), 0);
        let v1 = s.get(&p.id, 1).unwrap().1;
        assert_eq!(s.get(&p.id, 2).unwrap().1, v1);
        s.capture(&p.id, 3).unwrap();
        assert!(s.get(&p.id, 4).unwrap().1 > v1);
    }

    #[test]
    fn refunds_stop_at_the_captured_amount() {
        let mut s = Store::default();
        let (p, _) = s.create(usd(1000), &terms(), 0);
        let refund = |amount| NewRefund {
            payment_id: p.id.clone(),
            amount,
            currency: Some("usd".into()),
            reason: None,
            description: None,
        };
        assert_eq!(
            s.refund(refund(10), 1).unwrap_err(),
            StoreError::NotRefundable("pending".into())
        );
        s.capture(&p.id, 1).unwrap();
        let (r, events) = s.refund(refund(400), 2).unwrap();
        assert_eq!(r.status, RefundStatus::Succeeded);
        let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, [EVENT_REFUND_REQUESTED, EVENT_REFUND_TRANSFERRED]);
        assert_eq!(
            s.refund(refund(601), 3).unwrap_err(),
            StoreError::RefundTooLarge { available: 600 }
        );
        s.refund(refund(600), 3).unwrap();
        let (after, _) = s.get(&p.id, 4).unwrap();
        assert_eq!(after.amount_refunded, 1000);
        assert!(after.refunded);
    }

    #[test]
    fn lists_page_newest_first_and_filter_by_order() {
        let mut s = Store::default();
        let ids: Vec<String> = (0..5)
            .map(|i| {
                let mut req = usd(100 + i);
                req.order_id = Some(format!("o{}", i % 2));
                s.create(req, &terms(), i64::try_from(i).unwrap()).0.id
            })
            .collect();
        let page = s.list(None, 2, None, 10).unwrap();
        assert_eq!(
            page.data.iter().map(|p| &p.id).collect::<Vec<_>>(),
            [&ids[4], &ids[3]]
        );
        assert!(page.has_more);
        let next = s.list(None, 2, Some(&ids[3]), 10).unwrap();
        assert_eq!(next.data[0].id, ids[2]);
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
