//! What a payment's state means, in the cashier's words: shared by the app and the CLI, so
//! both say the same thing about a refund, money that did not settle a payment, or the
//! connection.

use crate::connection::ConnectionState;
use crate::merge::RefundState;
use crate::payment::{Payment, PaymentStatus, RefundStatus};

/// Whether the customer paid from an outside wallet (on-chain), not in the Crypto.com App.
pub fn paid_onchain(p: &Payment) -> bool {
    let says = |s: &Option<String>| {
        s.as_deref().is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("external") || v.contains("other wallet") || v.contains("onchain")
        })
    };
    says(&p.payment_source) || says(&p.pay_method)
}

/// A refund's state as the cashier reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RefundWords {
    /// `requested` | `sent` | `failed`
    pub state: &'static str,
    /// "Requested", "Sent", "Failed"
    pub label: &'static str,
    /// What the customer will see.
    pub customer_sees: &'static str,
}

pub fn refund(r: &RefundState, p: &Payment) -> RefundWords {
    let onchain = paid_onchain(p);
    let (state, label) = match r.status {
        RefundStatus::Succeeded => ("sent", "Sent"),
        RefundStatus::Failed => ("failed", "Failed"),
        _ => ("requested", "Requested"),
    };
    let customer_sees = match (state, onchain) {
        ("sent", false) => "The money is back in the customer's Crypto.com App balance.",
        ("sent", true) => "Crypto.com sent the money to the wallet address the customer gave.",
        ("failed", _) => "The refund failed: check it in the Crypto.com Pay dashboard.",
        (_, true) => {
            "Crypto.com e-mails the customer for a wallet address; the money is sent when \
             they answer (this can take days)."
        }
        _ => "The money goes back to the customer's Crypto.com App balance shortly.",
    };
    RefundWords {
        state,
        label,
        customer_sees,
    }
}

/// Words for money that reached a payment without settling it (late, underpaid, …):
/// never paid, and what to tell the customer.
pub fn unresolved(p: &Payment, status: &PaymentStatus) -> Option<String> {
    if *status == PaymentStatus::Succeeded {
        return None;
    }
    let fund = p.current_inbound_fund.as_ref()?;
    let reason = fund.mismatched_reason.as_deref()?.to_ascii_lowercase();
    let what = if reason.contains("late") || reason.contains("expire") {
        "The customer paid too late"
    } else if reason.contains("under") || reason.contains("insufficient") {
        "The customer paid too little"
    } else if reason.contains("multiple") || reason.contains("twice") || reason.contains("dup") {
        "The customer paid more than once"
    } else if reason.contains("currency") || reason.contains("coin") || reason.contains("token") {
        "The customer paid in the wrong coin"
    } else {
        "The customer's payment did not match"
    };
    Some(format!(
        "{what}; Crypto.com returns the money to them. Nothing was charged — charge again."
    ))
}

/// The connection in one short label and one sentence for the payment screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionWords {
    pub label: &'static str,
    pub advice: &'static str,
    /// Whether a payment shown as waiting can still be seen the moment it is paid.
    pub trustworthy: bool,
}

pub fn connection(state: ConnectionState, running: bool) -> ConnectionWords {
    let (label, advice, trustworthy) = match (running, state) {
        (false, _) | (_, ConnectionState::Closed) => (
            "Not running",
            "PayDesk is not connected to Crypto.com Pay.",
            false,
        ),
        (_, ConnectionState::Live) => (
            "Live",
            "Connected: a payment shows here the moment it arrives.",
            true,
        ),
        (_, ConnectionState::Polling) => (
            "Checking",
            "Checking with Crypto.com Pay every few seconds: a payment may take a moment to \
             show.",
            true,
        ),
        (_, ConnectionState::Connecting | ConnectionState::Reconnecting) => {
            ("Connecting", "Connecting to Crypto.com Pay…", true)
        }
        (_, ConnectionState::Offline) => (
            "No connection",
            "Crypto.com Pay cannot be reached. PayDesk keeps trying and shows the payment \
             once it can check.",
            false,
        ),
    };
    ConnectionWords {
        label,
        advice,
        trustworthy,
    }
}
