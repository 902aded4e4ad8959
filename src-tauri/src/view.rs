//! What the UI is shown: payments, totals and connection state as display-ready views.
//!
//! Amounts are formatted here, in Rust, from integer minor units: JavaScript numbers cannot
//! hold a 10^20 crypto amount, so the webview never does arithmetic on money.

use base64::Engine;
use paydesk_core::journal::{HistoryEntry, Total};
use paydesk_core::money::{Currency, Money};
use paydesk_core::realtime::ConnectionStatus;
use paydesk_core::tracker::{Source, TrackedPayment, Tracker};
use paydesk_core::{Payment, PaymentStatus};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PaymentView {
    pub id: String,
    pub order_id: Option<String>,
    pub note: Option<String>,
    pub status: String,
    /// "12.50 EUR"
    pub amount_display: String,
    /// "≈ 13.2 CRO", once the service priced it.
    pub crypto_display: Option<String>,
    pub qr_data_url: Option<String>,
    pub payment_url: Option<String>,
    pub created_ms: i64,
    pub deadline_ms: Option<i64>,
    pub remaining_secs: Option<u64>,
    pub total_secs: Option<u64>,
    /// What confirmed the shown status: "api", "webhook", or null while unconfirmed.
    pub confirmed_by: Option<&'static str>,
    pub refunded_display: Option<String>,
    /// What may still be refunded, as an amount the refund field accepts ("12.50").
    pub refundable: Option<String>,
    pub refundable_display: Option<String>,
    pub can_cancel: bool,
    pub can_refund: bool,
}

fn money(minor: i128, currency: &str) -> Option<Money> {
    Currency::from_code(currency)
        .ok()
        .map(|c| Money::new(minor, c))
}

fn display(minor: i128, currency: &str) -> String {
    money(minor, currency).map_or_else(
        || format!("{minor} {currency} (minor units)"),
        |m| m.to_string(),
    )
}

fn qr_data_url(url: &str) -> Option<String> {
    let svg = paydesk_core::qr::svg(url).ok()?;
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

impl PaymentView {
    /// A payment as the tracker holds it (the live one): with its QR and countdown.
    pub fn live(t: &TrackedPayment, server_now_ms: i64) -> PaymentView {
        let mut v = PaymentView::of(&t.payment, &t.status, t.refunded, Some(t.source));
        if t.status == PaymentStatus::Pending {
            v.qr_data_url = t.payment.payment_url.as_deref().and_then(qr_data_url);
        }
        v.deadline_ms = t.deadline_unix_ms;
        v.remaining_secs = t.deadline_unix_ms.map(|d| {
            // Whole seconds left, rounded up, as the countdown ticks show them.
            u64::try_from((d - server_now_ms).max(0))
                .unwrap_or(0)
                .div_ceil(1000)
        });
        v
    }

    /// The tracker's payment `id`, as it stands now.
    pub fn tracked(tracker: &Tracker, id: &str) -> Option<PaymentView> {
        tracker
            .get(id)
            .map(|t| PaymentView::live(&t, tracker.server_now_ms()))
    }

    /// A payment from the journal (history).
    pub fn journaled(e: &HistoryEntry) -> PaymentView {
        let mut v = PaymentView::of(&e.payment, &e.status, e.payment.amount_refunded, None);
        v.created_ms = e.created_at_ms;
        v
    }

    fn of(
        p: &Payment,
        status: &PaymentStatus,
        refunded: i128,
        source: Option<Source>,
    ) -> PaymentView {
        let paid = *status == PaymentStatus::Succeeded;
        let refundable = if paid {
            p.amount.saturating_sub(refunded)
        } else {
            0
        };
        let crypto_display = match (&p.crypto_amount, &p.crypto_currency) {
            (Some(a), Some(c)) if !a.is_empty() && c != &p.currency => Some(format!("≈ {a} {c}")),
            _ => None,
        };
        PaymentView {
            id: p.id.clone(),
            order_id: p.order_id.clone(),
            note: p.description.clone(),
            status: status.as_str().to_owned(),
            amount_display: display(p.amount, &p.currency),
            crypto_display,
            qr_data_url: None,
            payment_url: p.payment_url.clone(),
            created_ms: p.created.saturating_mul(1000),
            deadline_ms: p.deadline_unix().map(|s| s.saturating_mul(1000)),
            remaining_secs: None,
            total_secs: total_secs(p),
            confirmed_by: match source {
                Some(Source::CreateResponse | Source::ApiRead) => Some("api"),
                Some(Source::RelayedWebhook) => Some("webhook"),
                _ => None,
            },
            refunded_display: (refunded > 0).then(|| display(refunded, &p.currency)),
            refundable: (refundable > 0)
                .then(|| money(refundable, &p.currency).map(|m| m.amount_string()))
                .flatten(),
            refundable_display: (refundable > 0).then(|| display(refundable, &p.currency)),
            can_cancel: *status == PaymentStatus::Pending,
            can_refund: refundable > 0,
        }
    }
}

/// The payment's whole window in seconds (for the countdown ring).
pub fn total_secs(p: &Payment) -> Option<u64> {
    p.time_window
        .and_then(|w| u64::try_from(w).ok())
        .or_else(|| {
            p.expired_at
                .map(|e| u64::try_from(e - p.created).unwrap_or(0))
        })
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectionView {
    pub state: &'static str,
    /// When the terminal last heard from the relay or the API (unix ms, local clock).
    pub last_update_ms: Option<i64>,
    pub detail: Option<String>,
}

impl From<&ConnectionStatus> for ConnectionView {
    fn from(c: &ConnectionStatus) -> Self {
        ConnectionView {
            state: c.state.as_str(),
            last_update_ms: c.last_update_unix_ms,
            detail: c.detail.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TotalView {
    pub currency: String,
    pub status: String,
    pub count: u64,
    pub display: String,
}

impl From<&Total> for TotalView {
    fn from(t: &Total) -> Self {
        TotalView {
            currency: t.currency.clone(),
            status: t.status.as_str().to_owned(),
            count: t.count,
            display: display(t.sum_minor, &t.currency),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quote {
    /// The sum as the API will receive it, e.g. "12.50".
    pub total: String,
    /// "12.50 EUR"
    pub display: String,
    pub count: usize,
}

/// Sums what the cashier typed (one amount, or several added with "+").
pub fn quote(parts: &[String], currency: &str) -> Result<(Money, Quote), String> {
    let currency = Currency::from_code(currency).map_err(|e| e.to_string())?;
    let mut total = Money::new(0, currency);
    for part in parts {
        let m = Money::parse(part, currency).map_err(|e| e.to_string())?;
        total = total.checked_add(m).map_err(|e| e.to_string())?;
    }
    if total.minor <= 0 {
        return Err("enter an amount".into());
    }
    Ok((
        total,
        Quote {
            total: total.amount_string(),
            display: total.to_string(),
            count: parts.len(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_sum_several_amounts_exactly() {
        let (m, q) = quote(&["12.50".into(), "0,70".into(), "3".into()], "EUR").unwrap();
        assert_eq!(m.minor, 1620);
        assert_eq!(q.display, "16.20 EUR");
        assert_eq!(q.total, "16.20");
        assert!(quote(&["1.234".into()], "EUR").is_err());
        assert!(quote(&[], "EUR").is_err());
        assert!(quote(&["5".into()], "XYZ").is_err());
    }
}
