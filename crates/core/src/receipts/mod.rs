//! Receipts from the journal: a journaled payment or refund → a `paydesk_receipt::Receipt`.
//!
//! Place in the flow: the tracker journals a payment as Paid → the print service
//! ([`PrintService`], `service.rs`) or a reprint from History asks here for the receipt →
//! paydesk-receipt lays it out for the screen or a printer. Everything printed comes from
//! the journal's copy of the payment (the API's own object, merged), never from what a
//! screen shows, so a reprint a week later says what the first print said.
//!
//! What a sale's receipt holds: the shop (settings), the till, the time, the fiat amount,
//! the crypto amount and coin once Crypto.com Pay reports them, the payment and order ids,
//! the cashier (as the journal names them), and who
//! confirmed it — Crypto.com Pay, or DEMO / TEST by the journal's book — and, for a sale
//! rung up from the catalog, its lines, the tip and the tax per rate as the journal kept
//! them with the payment.

mod service;

pub use service::{PrintJob, PrintService, ServiceError, DEFAULT_QUEUE};
// What a print did lives below the tracker, which carries it to subscribers.

pub use crate::print_events::{JobView, PrintOutcome, ReceiptEvent};

use chrono::TimeZone;
use paydesk_receipt::{
    CodePage, Confirmation, Item, Kind, Layout, PrintError, Printed, Printer, PrinterSettings,
    Receipt, RefundSlip, Sale, SettingsError, Shop, TaxLine, Timeouts, Total,
};
use serde::Serialize;

use crate::config::{Config, Mode};
use crate::journal::{HistoryEntry, JournalError};
use crate::money::{Currency, Money, MoneyError};
use crate::payment::{PaymentStatus, RefundStatus};

/// Columns of an on-screen receipt when no printer says otherwise (80 mm paper).
const SCREEN_COLUMNS: usize = 48;

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("payment {0} is not in this till's journal")]
    UnknownPayment(String),
    #[error("payment {payment_id} has no refund {refund_id}")]
    UnknownRefund {
        payment_id: String,
        refund_id: String,
    },
    #[error("payment {payment_id} is {status}, not paid: there is no receipt to print")]
    NotPaid {
        payment_id: String,
        status: PaymentStatus,
    },
    #[error("{0}")]
    Money(#[from] MoneyError),
    #[error(
        "no receipt printer is set up: add one in Settings (or [printer] url in the settings file)"
    )]
    NoPrinter,
    #[error("the printer settings are wrong: {0}")]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    Print(#[from] PrintError),
    #[error("the journal failed: {0}")]
    Journal(#[from] JournalError),
}

impl ReceiptError {
    /// A stable name for the UI ("unreachable", "out_of_paper", "no_printer", …).
    pub fn code(&self) -> &'static str {
        match self {
            ReceiptError::Print(e) => e.code(),
            ReceiptError::UnknownPayment(_) => "unknown_payment",
            ReceiptError::UnknownRefund { .. } => "unknown_refund",
            ReceiptError::NotPaid { .. } => "not_paid",
            ReceiptError::Money(_) => "money",
            ReceiptError::NoPrinter => "no_printer",
            ReceiptError::Settings(_) => "printer_settings",
            ReceiptError::Journal(_) => "journal",
        }
    }
}

/// Who confirmed the payments of a book, as the foot of a slip says it.
pub fn confirmation(book: Mode) -> Confirmation {
    match book {
        Mode::Live => Confirmation::Live,
        Mode::Test => Confirmation::Test,
        Mode::Demo => Confirmation::Demo,
    }
}

/// What a till needs to print: the shop, the printer, whether Paid prints by itself, and
/// whose payments they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptSetup {
    pub shop: Shop,
    pub printer: Option<PrinterSettings>,
    pub auto_print: bool,
    pub confirmation: Confirmation,
    /// The till's name, for payments the journal holds without one.
    pub till: String,
    /// The printer's deadlines (connect, status, write).
    pub timeouts: Timeouts,
}

impl ReceiptSetup {
    /// From the merged settings and the mode the till runs in.
    pub fn from_config(config: &Config, mode: Mode) -> ReceiptSetup {
        ReceiptSetup {
            shop: config.shop.clone(),
            printer: config.printer.clone(),
            auto_print: config.auto_print && config.printer.is_some(),
            confirmation: confirmation(mode),
            till: config.terminal_name.clone(),
            timeouts: Timeouts::default(),
        }
    }

    /// A printer for these settings; [`ReceiptError::NoPrinter`] when none is set.
    pub fn printer(&self) -> Result<Printer, ReceiptError> {
        let settings = self.printer.as_ref().ok_or(ReceiptError::NoPrinter)?;
        Ok(Printer::new(settings)?.with_timeouts(self.timeouts))
    }

    /// The customer's receipt for a journaled, paid payment.
    pub fn sale(&self, entry: &HistoryEntry) -> Result<Receipt, ReceiptError> {
        sale(&self.shop, entry, self.confirmation, &self.till)
    }

    /// The slip for one refund of a journaled payment.
    pub fn refund(&self, entry: &HistoryEntry, refund_id: &str) -> Result<Receipt, ReceiptError> {
        refund(&self.shop, entry, refund_id, self.confirmation, &self.till)
    }

    /// The receipt as the screen shows it: this printer's width, full Unicode.
    pub fn screen(&self, receipt: &Receipt) -> ReceiptView {
        ReceiptView::of(receipt, self.printer.as_ref())
    }
}

/// A receipt for the app to show: the laid-out text and the QR payload beneath it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptView {
    pub kind: Kind,
    pub title: String,
    /// Monospaced lines, as the printer would lay them out.
    pub text: String,
    pub columns: usize,
    /// Draw this as a QR code under the text (the payment id).
    pub qr: Option<String>,
}

impl ReceiptView {
    pub fn of(receipt: &Receipt, printer: Option<&PrinterSettings>) -> ReceiptView {
        let columns = printer
            .and_then(|p| Printer::new(p).ok())
            .map_or(SCREEN_COLUMNS, |p| p.columns());
        let layout = Layout::new(receipt, columns, None::<CodePage>);
        ReceiptView {
            kind: receipt.kind,
            title: receipt.title.clone(),
            text: layout.text(),
            columns: layout.columns(),
            qr: receipt.qr.clone(),
        }
    }
}

/// `2026-11-28 14:05`, local time.
pub fn local_time(unix_ms: i64) -> String {
    chrono::Local
        .timestamp_millis_opt(unix_ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn cashier(entry: &HistoryEntry) -> Option<String> {
    entry.cashier.clone()
}

/// What a sale rang up, as the receipt prints it: a line per item (with the letter of its
/// tax rate), the subtotal, tax added on top and the tip above the TOTAL, and one line per
/// rate ("A VAT 20% incl.") below it. A plain charge prints none of these.
type Itemised = (Vec<Item>, Vec<Total>, Vec<TaxLine>);

fn itemised(entry: &HistoryEntry) -> Itemised {
    let Some(sale) = &entry.sale else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let t = sale.totals();
    // A, B, C … in the order the rates first appear.
    let letter = |id: &str| {
        t.taxes
            .iter()
            .position(|r| r.id == id)
            .and_then(|i| u8::try_from(i).ok())
            .filter(|i| *i < 26)
            .map(|i| char::from(b'A' + i).to_string())
    };
    let items = t
        .lines
        .iter()
        .map(|l| {
            let item = Item::new(l.name.clone(), l.quantity.to_string(), l.unit, l.amount);
            match l.tax.as_deref().and_then(letter) {
                Some(tag) => item.with_tax(tag),
                None => item,
            }
        })
        .collect();
    let mut subtotals = Vec::new();
    let added: Vec<_> = t
        .taxes
        .iter()
        .filter(|r| r.kind == crate::sale::TaxKind::Additive)
        .collect();
    if !added.is_empty() || t.tip.minor > 0 {
        subtotals.push(Total::new("Subtotal", t.subtotal));
    }
    for r in &added {
        subtotals.push(Total::new(r.label.clone(), r.tax));
    }
    if t.tip.minor > 0 {
        subtotals.push(Total::new("Tip", t.tip));
    }
    let taxes = t
        .taxes
        .iter()
        .map(|r| {
            let incl = if r.kind == crate::sale::TaxKind::Inclusive {
                " incl."
            } else {
                ""
            };
            let tag = letter(&r.id).unwrap_or_default();
            TaxLine::new(
                format!("{tag} {}{incl}", r.label).trim().to_owned(),
                r.net,
                r.tax,
            )
        })
        .collect();
    (items, subtotals, taxes)
}

/// The crypto side once Crypto.com Pay reported it, in a coin this build knows.
fn crypto(entry: &HistoryEntry) -> Option<Money> {
    let p = &entry.payment;
    let coin = Currency::from_code(p.crypto_currency.as_deref()?).ok()?;
    Money::parse(p.crypto_amount.as_deref()?, coin).ok()
}

/// The customer's receipt for a journaled payment that is paid.
pub fn sale(
    shop: &Shop,
    entry: &HistoryEntry,
    confirmation: Confirmation,
    till: &str,
) -> Result<Receipt, ReceiptError> {
    let p = &entry.payment;
    if entry.status != PaymentStatus::Succeeded {
        return Err(ReceiptError::NotPaid {
            payment_id: p.id.clone(),
            status: entry.status.clone(),
        });
    }
    let (items, subtotals, taxes) = itemised(entry);
    Ok(Receipt::sale(
        shop,
        &Sale {
            till: entry.terminal.clone().unwrap_or_else(|| till.to_owned()),
            time: local_time(entry.created_at_ms),
            amount: p.money()?,
            crypto: crypto(entry),
            payment_id: p.id.clone(),
            order_id: p.order_id.clone(),
            cashier: cashier(entry),
            items,
            subtotals,
            taxes,
            confirmation,
        },
    ))
}

/// The slip for refund `refund_id` of a journaled payment.
pub fn refund(
    shop: &Shop,
    entry: &HistoryEntry,
    refund_id: &str,
    confirmation: Confirmation,
    till: &str,
) -> Result<Receipt, ReceiptError> {
    let p = &entry.payment;
    let r = entry
        .refunds
        .iter()
        .find(|r| r.id == refund_id)
        .ok_or_else(|| ReceiptError::UnknownRefund {
            payment_id: p.id.clone(),
            refund_id: refund_id.to_owned(),
        })?;
    let currency = Currency::from_code(&r.currency)?;
    let status = match r.status {
        RefundStatus::Succeeded => "Sent",
        RefundStatus::Failed => "Failed",
        RefundStatus::Pending => "Requested",
        RefundStatus::Unknown(_) => "Unknown",
    };
    let time = if r.created > 0 {
        local_time(r.created.saturating_mul(1000))
    } else {
        local_time(entry.updated_at_ms)
    };
    Ok(Receipt::refund(
        shop,
        &RefundSlip {
            till: entry.terminal.clone().unwrap_or_else(|| till.to_owned()),
            time,
            refund_id: r.id.clone(),
            payment_id: p.id.clone(),
            order_id: p.order_id.clone(),
            amount: Money::new(r.amount, currency),
            status: status.to_owned(),
            reason: r.reason.clone(),
            cashier: cashier(entry),
            confirmation,
        },
    ))
}

impl PrintOutcome {
    pub fn of(result: &Result<Printed, ReceiptError>) -> PrintOutcome {
        match result {
            Ok(printed) => PrintOutcome::Printed {
                paper_low: printed.paper_low(),
            },
            Err(e) => PrintOutcome::Failed {
                code: e.code().to_owned(),
                message: e.to_string(),
                partly_printed: matches!(e, ReceiptError::Print(p) if p.maybe_partly_printed()),
            },
        }
    }
}
