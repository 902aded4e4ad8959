//! What the UI is shown: the till's status, payments, totals and connection as
//! display-ready views, in the cashier's words.
//!
//! Amounts are formatted here, in Rust, from integer minor units: JavaScript numbers cannot
//! hold a 10^20 crypto amount, so the webview never does arithmetic on money.

use base64::Engine;
use paydesk_core::config::{Mode, QrContent};
use paydesk_core::connection::ConnectionStatus;
use paydesk_core::explain;
use paydesk_core::journal::{CurrencySummary, HistoryEntry};
use paydesk_core::merge::RefundState;
use paydesk_core::money::{Currency, Money};
use paydesk_core::payment::RefundStatus;
use paydesk_core::sale::Receipt;
use paydesk_core::staff::{Action, Role, StaffKind};
use paydesk_core::till::{RunState, StaffStatus, TillStatus};
use paydesk_core::tracker::{Source, TrackedPayment, Tracker};
use paydesk_core::{Payment, PaymentStatus};
use serde::Serialize;

/// Amounts at or above this many whole units of the currency ask the cashier to confirm.
pub const CONFIRM_ABOVE_UNITS: i128 = 10_000;

/// The till as every window shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusView {
    /// starting | running | failed | stopped
    pub state: RunState,
    pub problem: Option<String>,
    /// demo | test | live, or null when the settings cannot be read.
    pub mode: Option<&'static str>,
    pub demo: bool,
    /// "DEMO", "TEST" or null: the marker every window shows.
    pub marker: Option<&'static str>,
    pub terminal_name: String,
    pub currency: String,
    pub connection: ConnectionView,
    pub active: Option<String>,
    pub notice: Option<String>,
    pub generation: u64,
    pub staff: StaffView,
}

/// Who may act at the till, as the header, the lock screen and the buttons show it. The
/// core decides every action itself; `may` only spares the cashier a button that would be
/// refused (and offers the override instead).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StaffView {
    /// Whether anyone is on the staff: without staff nothing asks for a PIN.
    pub required: bool,
    /// `till` or `demo` (the demo's own file, with its public PIN).
    pub kind: StaffKind,
    /// The demo owner's PIN, shown on the demo's lock screen.
    pub demo_pin: Option<&'static str>,
    /// Who is signed in; null with `required`: the lock screen.
    pub signed_in: Option<SignedInView>,
    /// The actions the signed-in person's role allows (every action without staff).
    pub may: Vec<Action>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignedInView {
    pub name: String,
    pub role: Role,
    /// When the till locks unless something happens (unix ms, local clock).
    pub locks_at_ms: Option<i64>,
}

impl From<&StaffStatus> for StaffView {
    fn from(s: &StaffStatus) -> Self {
        let role = s.signed_in.as_ref().map(|p| p.person.role);
        StaffView {
            required: s.required,
            kind: s.kind,
            demo_pin: s.demo_pin,
            signed_in: s.signed_in.as_ref().map(|p| SignedInView {
                name: p.person.name.clone(),
                role: p.person.role,
                locks_at_ms: p.locks_at_ms,
            }),
            may: Action::ALL
                .into_iter()
                .filter(|a| match (s.required, role) {
                    (false, _) => true,
                    (true, Some(r)) => r.may(*a),
                    (true, None) => false,
                })
                .collect(),
        }
    }
}

impl From<&TillStatus> for StatusView {
    fn from(s: &TillStatus) -> Self {
        StatusView {
            state: s.state,
            problem: s.problem.clone(),
            mode: s.mode.map(Mode::as_str),
            demo: s.mode == Some(Mode::Demo),
            marker: match s.mode {
                Some(Mode::Demo) => Some("DEMO"),
                Some(Mode::Test) => Some("TEST"),
                _ => None,
            },
            terminal_name: s.terminal_name.clone(),
            currency: s.currency.clone(),
            connection: ConnectionView::of(&s.connection, s.state),
            active: s.active.clone(),
            notice: s.notice.clone(),
            generation: s.generation,
            staff: StaffView::from(&s.staff),
        }
    }
}

/// How the till learns about payments, in words for the cashier.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectionView {
    /// The state as the core names it (`live`, `polling`, `offline`, …).
    pub state: &'static str,
    /// The badge: "Live", "Checking", "Connecting", "No connection".
    pub label: &'static str,
    /// What it means while a customer pays, in one sentence.
    pub advice: &'static str,
    /// Whether a payment shown as waiting may still be paid and seen: false when nothing
    /// reaches Crypto.com Pay.
    pub trustworthy: bool,
    /// When the terminal last heard from the relay or the API (unix ms, local clock).
    pub last_update_ms: Option<i64>,
    /// Why the push channel is down (for Settings and support, not the payment screen).
    pub detail: Option<String>,
}

impl ConnectionView {
    pub fn of(c: &ConnectionStatus, run: RunState) -> ConnectionView {
        let words = explain::connection(c.state, run == RunState::Running);
        ConnectionView {
            state: c.state.as_str(),
            label: words.label,
            advice: words.advice,
            trustworthy: words.trustworthy,
            last_update_ms: c.last_update_unix_ms,
            detail: c.detail.clone(),
        }
    }
}

/// One refund, as the cashier reads it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefundView {
    pub id: String,
    pub amount_display: String,
    /// requested | sent | failed
    pub state: &'static str,
    /// "Requested", "Sent", "Failed"
    pub label: &'static str,
    pub reason: Option<String>,
    /// What the customer will see.
    pub customer_sees: &'static str,
}

impl RefundView {
    fn of(r: &RefundState, p: &Payment) -> RefundView {
        let words = explain::refund(r, p);
        RefundView {
            id: r.id.clone(),
            amount_display: display(r.amount, &r.currency),
            state: words.state,
            label: words.label,
            reason: r.reason.clone(),
            customer_sees: words.customer_sees,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PaymentView {
    pub id: String,
    pub order_id: Option<String>,
    /// The cashier's note, sent as the payment's description.
    pub note: Option<String>,
    pub status: String,
    /// "12.50 EUR"
    pub amount_display: String,
    /// "≈ 13.20 CRO", once the service priced it.
    pub crypto_display: Option<String>,
    pub qr_data_url: Option<String>,
    pub payment_url: Option<String>,
    pub created_ms: i64,
    pub deadline_ms: Option<i64>,
    pub remaining_secs: Option<u64>,
    pub total_secs: Option<u64>,
    /// What confirmed the shown status: "api", "webhook", or null while unconfirmed.
    pub confirmed_by: Option<&'static str>,
    /// Sent refunds.
    pub refunded_display: Option<String>,
    /// Refunds asked for and not yet sent.
    pub refund_requested_display: Option<String>,
    pub refunds: Vec<RefundView>,
    /// What may still be refunded, as an amount the refund field accepts ("12.50").
    pub refundable: Option<String>,
    pub refundable_display: Option<String>,
    pub currency: String,
    /// Money reached the payment but did not settle it (late, underpaid, …): what to tell
    /// the customer. Never shown as paid.
    pub unresolved: Option<String>,
    pub can_cancel: bool,
    pub can_refund: bool,
    /// Who charged it, as the journal knows (null: unattended, or not charged here).
    pub cashier: Option<String>,
    /// What was rung up, as the receipt prints it: lines, tax per rate, tip, total.
    pub sale: Option<Receipt>,
    /// The tip inside the amount ("1.32 EUR"), when there is one.
    pub tip_display: Option<String>,
}

fn money(minor: i128, currency: &str) -> Option<Money> {
    Currency::from_code(currency)
        .ok()
        .map(|c| Money::new(minor, c))
}

pub fn display(minor: i128, currency: &str) -> String {
    money(minor, currency).map_or_else(
        || format!("{minor} {currency} (minor units)"),
        |m| m.to_string(),
    )
}

fn qr_data_url(content: &str) -> Option<String> {
    let svg = paydesk_core::qr::svg(content).ok()?;
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// A crypto amount as the service sent it ("172.22222222", "90.0"), shown the same way
/// for every coin: trailing zeros trimmed, at least two decimals, digits never rounded
/// (the customer pays exactly this).
pub fn crypto_amount(amount: &str) -> Option<String> {
    let amount = amount.trim();
    let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    let frac = format!("{frac:0<2}");
    let int = int.trim_start_matches('0');
    Some(format!("{}.{frac}", if int.is_empty() { "0" } else { int }))
}

impl PaymentView {
    /// A payment as the tracker holds it (the live one): with its QR and countdown.
    pub fn live(t: &TrackedPayment, server_now_ms: i64, qr_content: QrContent) -> PaymentView {
        let mut v = PaymentView::of(&t.payment, &t.status, &t.refunds, Some(t.source));
        if t.status == PaymentStatus::Pending {
            v.qr_data_url = qr_content.pick(&t.payment).and_then(|c| qr_data_url(&c));
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
    pub fn tracked(tracker: &Tracker, id: &str, qr_content: QrContent) -> Option<PaymentView> {
        tracker
            .get(id)
            .map(|t| PaymentView::live(&t, tracker.server_now_ms(), qr_content))
    }

    /// A payment from the journal (history).
    pub fn journaled(e: &HistoryEntry) -> PaymentView {
        let mut v = PaymentView::of(&e.payment, &e.status, &e.refunds, None);
        v.created_ms = e.created_at_ms;
        v.with_journal(e)
    }

    /// What only the journal knows of a payment: who charged it and what was rung up.
    pub fn with_journal(mut self, e: &HistoryEntry) -> PaymentView {
        self.cashier = e.cashier.clone();
        if let Some(sale) = &e.sale {
            let tip = sale.tip();
            self.tip_display = (tip.minor > 0).then(|| tip.to_string());
            self.sale = Some(sale.receipt());
        }
        self
    }

    fn of(
        p: &Payment,
        status: &PaymentStatus,
        refunds: &[RefundState],
        source: Option<Source>,
    ) -> PaymentView {
        let paid = *status == PaymentStatus::Succeeded;
        let requested: i128 = refunds
            .iter()
            .filter(|r| !matches!(r.status, RefundStatus::Succeeded | RefundStatus::Failed))
            .fold(0i128, |a, r| a.saturating_add(r.amount));
        let refunded = p.amount_refunded;
        let refundable = if paid {
            p.amount.saturating_sub(refunded).saturating_sub(requested)
        } else {
            0
        };
        let crypto_display = match (&p.crypto_amount, &p.crypto_currency) {
            (Some(a), Some(c)) if c != &p.currency => {
                crypto_amount(a).map(|a| format!("≈ {a} {c}"))
            }
            _ => None,
        };
        PaymentView {
            id: p.id.clone(),
            order_id: p.order_id.clone(),
            note: p.description.clone().filter(|d| !d.trim().is_empty()),
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
                Some(Source::CreateResponse | Source::ApiRead | Source::Reconciliation) => {
                    Some("api")
                }
                Some(Source::RelayedWebhook) => Some("webhook"),
                _ => None,
            },
            refunded_display: (refunded > 0).then(|| display(refunded, &p.currency)),
            refund_requested_display: (requested > 0).then(|| display(requested, &p.currency)),
            refunds: refunds.iter().map(|r| RefundView::of(r, p)).collect(),
            refundable: (refundable > 0)
                .then(|| money(refundable, &p.currency).map(|m| m.amount_string()))
                .flatten(),
            refundable_display: (refundable > 0).then(|| display(refundable, &p.currency)),
            currency: p.currency.clone(),
            unresolved: explain::unresolved(p, status),
            can_cancel: *status == PaymentStatus::Pending,
            can_refund: refundable > 0,
            cashier: None,
            sale: None,
            tip_display: None,
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

/// One currency's day, netted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TotalView {
    pub currency: String,
    pub paid_count: u64,
    pub paid_display: String,
    pub refunded_display: String,
    pub refund_requested_display: String,
    /// Paid minus refunds sent and requested.
    pub net_display: String,
    pub pending_count: u64,
    pub expired_count: u64,
    pub cancelled_count: u64,
}

impl From<&CurrencySummary> for TotalView {
    fn from(t: &CurrencySummary) -> Self {
        TotalView {
            currency: t.currency.clone(),
            paid_count: t.paid_count,
            paid_display: display(t.paid_minor, &t.currency),
            refunded_display: display(t.refunded_minor, &t.currency),
            refund_requested_display: display(t.refund_requested_minor, &t.currency),
            net_display: display(t.net_minor(), &t.currency),
            pending_count: t.pending_count,
            expired_count: t.expired_count,
            cancelled_count: t.cancelled_count,
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
    /// Large enough that the cashier must confirm it before charging.
    pub confirm: bool,
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
    // Currencies without minor units count in small units (1,000,000 JPY ≈ 10,000 USD).
    let (units, exponent) = match currency.exponent() {
        0 => (CONFIRM_ABOVE_UNITS.saturating_mul(100), 0),
        e => (CONFIRM_ABOVE_UNITS, u32::from(e)),
    };
    let confirm = 10i128
        .checked_pow(exponent)
        .is_none_or(|u| total.minor >= units.saturating_mul(u));
    Ok((
        total,
        Quote {
            total: total.amount_string(),
            display: total.to_string(),
            count: parts.len(),
            confirm,
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
        assert!(!q.confirm);
        assert!(quote(&["1.234".into()], "EUR").is_err());
        assert!(quote(&[], "EUR").is_err());
        assert!(quote(&["5".into()], "XYZ").is_err());
    }

    #[test]
    fn a_huge_amount_must_be_confirmed() {
        let (_, q) = quote(&["99999999999".into()], "USD").unwrap();
        assert!(q.confirm);
        let (_, q) = quote(&["9999.99".into()], "USD").unwrap();
        assert!(!q.confirm);
        let (_, q) = quote(&["10000".into()], "JPY").unwrap();
        assert!(!q.confirm);
        let (_, q) = quote(&["1000000".into()], "JPY").unwrap();
        assert!(q.confirm);
    }

    #[test]
    fn crypto_amounts_read_the_same_for_every_coin() {
        assert_eq!(crypto_amount("90.0").as_deref(), Some("90.00"));
        assert_eq!(
            crypto_amount("172.22222222").as_deref(),
            Some("172.22222222")
        );
        assert_eq!(crypto_amount("0.00012300").as_deref(), Some("0.000123"));
        assert_eq!(crypto_amount("7").as_deref(), Some("7.00"));
        assert_eq!(crypto_amount("1e5"), None);
    }
}
