//! The report of a shift or a day: what the journal holds, summed, with every repair
//! reconciliation made, for the screen (serde), the printer ([`Report::receipt`]) and a
//! spreadsheet ([`Report::write_csv`]).
//!
//! The sums are the journal's own ([`crate::journal::summarize`], the same rule History's
//! totals use): per currency, paid count and gross, refunds requested (not sent yet) and
//! sent, net = gross − sent − requested, and the pending, expired, cancelled and unknown
//! counts. A payment counts in the period it was created in, its refunds with it. The same
//! sums are given per till and per cashier (as the journal names them: the charge's own record, else the
//! payment's `paydesk_cashier` metadata).
//! Tips and tax are fields of every total, still empty: the journal keeps each sale's tip and
//! tax (`journal::summarize` sums them for History), but the report does not read them yet.

use std::io::Write;

use paydesk_receipt::{Amount, Field, Receipt, Shop, Total};
use serde::{Deserialize, Serialize};

use crate::config::Mode;
use crate::journal::export::{amount_text, write_row, Field as Cell};
use crate::journal::{
    summarize, CurrencySummary, HistoryEntry, JournalError, Period, RecordedTransition, Shift,
};
use crate::merge::{Source, TransitionKind};
use crate::money::{Currency, Money};
use crate::payment::PaymentStatus;
use crate::receipts::local_time;

/// One currency's sums.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyTotals {
    pub currency: String,
    pub paid_count: u64,
    /// Everything paid, before refunds (minor units).
    pub gross_minor: i128,
    /// Refunds asked for and not sent yet (an on-chain refund waits for the customer).
    pub refund_requested_minor: i128,
    /// Refunds sent back.
    pub refunded_minor: i128,
    /// Gross minus every refund, sent or requested.
    pub net_minor: i128,
    pub pending_count: u64,
    pub expired_count: u64,
    pub cancelled_count: u64,
    /// Payments in a status this build does not know.
    pub other_count: u64,
    /// Tips in the gross, once sales carry them (`None`: not known).
    #[serde(default)]
    pub tips_minor: Option<i128>,
    /// Tax in the gross, once sales carry it (`None`: not known).
    #[serde(default)]
    pub tax_minor: Option<i128>,
}

impl From<&CurrencySummary> for CurrencyTotals {
    fn from(s: &CurrencySummary) -> CurrencyTotals {
        CurrencyTotals {
            currency: s.currency.clone(),
            paid_count: s.paid_count,
            gross_minor: s.paid_minor,
            refund_requested_minor: s.refund_requested_minor,
            refunded_minor: s.refunded_minor,
            net_minor: s.net_minor(),
            pending_count: s.pending_count,
            expired_count: s.expired_count,
            cancelled_count: s.cancelled_count,
            other_count: s.other_count,
            tips_minor: None,
            tax_minor: None,
        }
    }
}

/// The sums of one till or one cashier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The till's or the cashier's name ("" for payments that name none).
    pub name: String,
    pub totals: Vec<CurrencyTotals>,
}

/// What a repair changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairKind {
    /// The API had a payment of this till that the journal did not.
    Found,
    /// The API's status differed (paid, expired or cancelled while the till was away).
    Status,
    /// The API had refunded more (a refund made in the dashboard or by another till).
    Refund,
}

/// One difference between the journal and the API, and what the journal now holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repair {
    pub payment_id: String,
    pub order_id: Option<String>,
    pub till: Option<String>,
    pub currency: String,
    pub kind: RepairKind,
    /// The status the till had; `None` when it did not know the payment.
    pub till_had: Option<PaymentStatus>,
    /// The status the API reported.
    pub api_says: PaymentStatus,
    pub refunded_before_minor: i128,
    pub refunded_after_minor: i128,
    /// When reconciliation made it (unix ms).
    pub at_ms: i64,
}

impl Repair {
    /// The repairs one reconciliation transition stands for (a payment paid and refunded
    /// while the till was away is one transition and two repairs).
    pub fn of(entry: &HistoryEntry, t: &RecordedTransition) -> Vec<Repair> {
        if t.source != Source::Reconciliation {
            return Vec::new();
        }
        let repair = |kind| Repair {
            payment_id: t.payment_id.clone(),
            order_id: entry.payment.order_id.clone(),
            till: entry.terminal.clone(),
            currency: entry.payment.currency.clone(),
            kind,
            till_had: t.from.clone(),
            api_says: t.to.clone(),
            refunded_before_minor: t.refunded_before_minor,
            refunded_after_minor: t.refunded_after_minor,
            at_ms: t.recorded_at_ms,
        };
        let mut out = Vec::new();
        match t.kind {
            TransitionKind::Tracked => out.push(repair(RepairKind::Found)),
            TransitionKind::Status => out.push(repair(RepairKind::Status)),
            TransitionKind::Refund | TransitionKind::Details => {}
        }
        if t.refund_grew() && t.kind != TransitionKind::Tracked {
            out.push(repair(RepairKind::Refund));
        }
        out
    }

    /// In the cashier's words: "paid while the till was away (the till had pending)".
    pub fn describe(&self) -> String {
        let money = |minor| amount_words(minor, &self.currency);
        match self.kind {
            RepairKind::Found => format!(
                "not in the journal; Crypto.com Pay has it {}{}",
                self.api_says,
                if self.refunded_after_minor > 0 {
                    format!(", refunded {}", money(self.refunded_after_minor))
                } else {
                    String::new()
                }
            ),
            RepairKind::Status => format!(
                "the till had it {}, Crypto.com Pay says {}",
                self.till_had
                    .as_ref()
                    .map_or("unknown", PaymentStatus::as_str),
                self.api_says
            ),
            RepairKind::Refund => format!(
                "refunded {} behind the till's back (the till had {} refunded)",
                money(
                    self.refunded_after_minor
                        .saturating_sub(self.refunded_before_minor)
                ),
                money(self.refunded_before_minor)
            ),
        }
    }
}

fn amount_words(minor: i128, currency: &str) -> String {
    match Currency::from_code(currency) {
        Ok(c) => Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} (minor units) {currency}"),
    }
}

/// A payment reconciliation could not check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unchecked {
    /// The payment, or `None` for the listing of this till's orders.
    pub payment_id: Option<String>,
    pub reason: String,
}

/// How the close's reconciliation went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub at_ms: i64,
    /// Payments of the period read from the API.
    pub checked: usize,
    /// Payments the API had with this till's order ids that the journal did not.
    pub found: usize,
    /// Whether the API's payment list was searched for this till's order ids (the real
    /// API's listing is unverified; the sandbox's works).
    pub listed: bool,
    /// What could not be checked, and why; empty when everything was.
    pub unchecked: Vec<Unchecked>,
}

impl Reconciliation {
    pub fn complete(&self) -> bool {
        self.unchecked.is_empty()
    }
}

/// A shift's or a day's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub period: Period,
    pub book: Mode,
    /// The shift, for a shift's report.
    pub shift: Option<Shift>,
    /// The payments created in `[from_ms, to_ms)` are counted (a shift's are the ones
    /// charged in it).
    pub from_ms: i64,
    pub to_ms: i64,
    pub generated_at_ms: i64,
    /// Final: made at a close and stored; a reprint shows it as it was.
    pub closed: bool,
    /// `None`: the journal alone, not checked against the API.
    pub reconciliation: Option<Reconciliation>,
    pub payments: usize,
    pub totals: Vec<CurrencyTotals>,
    pub tills: Vec<Group>,
    pub cashiers: Vec<Group>,
    /// Every repair reconciliation made to this period's payments, oldest first.
    pub repairs: Vec<Repair>,
}

/// The parts a report is built from (read from the journal by `day::compute`).
#[derive(Debug)]
pub struct ReportInput {
    pub period: Period,
    pub book: Mode,
    pub shift: Option<Shift>,
    pub from_ms: i64,
    pub to_ms: i64,
    pub entries: Vec<HistoryEntry>,
    /// Each entry's transitions made by reconciliation.
    pub reconciled: Vec<(usize, RecordedTransition)>,
    pub now_ms: i64,
}

impl Report {
    pub fn build(input: ReportInput) -> Result<Report, JournalError> {
        let ReportInput {
            period,
            book,
            shift,
            from_ms,
            to_ms,
            entries,
            reconciled,
            now_ms,
        } = input;
        let totals = totals(&entries)?;
        let tills = groups(&entries, |e| e.terminal.clone().unwrap_or_default())?;
        let cashiers = groups(&entries, |e| e.cashier.clone().unwrap_or_default())?;
        let mut repairs: Vec<Repair> = reconciled
            .iter()
            .filter_map(|(i, t)| entries.get(*i).map(|e| Repair::of(e, t)))
            .flatten()
            .collect();
        repairs.sort_by_key(|r| r.at_ms);
        Ok(Report {
            period,
            book,
            shift,
            from_ms,
            to_ms,
            generated_at_ms: now_ms,
            closed: false,
            reconciliation: None,
            payments: entries.len(),
            totals,
            tills,
            // Only worth a section when someone is named.
            cashiers: if cashiers.iter().all(|g| g.name.is_empty()) {
                Vec::new()
            } else {
                cashiers
            },
            repairs,
        })
    }

    /// "Z REPORT" (a closed day), "SHIFT 3 REPORT", or "X REPORT" (not closed: a look
    /// at the numbers so far).
    pub fn title(&self) -> String {
        match (self.closed, &self.period) {
            (true, Period::Day(_)) => "Z REPORT".to_owned(),
            (true, Period::Shift(id)) => format!("SHIFT {id} REPORT"),
            (false, _) => "X REPORT".to_owned(),
        }
    }

    /// The report as a slip for the printer (and the screen).
    pub fn receipt(&self, shop: &Shop) -> Receipt {
        let mut r = Receipt::report(shop, self.title());
        let book = match self.book {
            Mode::Live => None,
            Mode::Test => Some("TEST — not real payments"),
            Mode::Demo => Some("DEMO — not real payments"),
        };
        match (&self.period, &self.shift) {
            (Period::Shift(id), Some(s)) => {
                r.fields.push(Field::new("Shift", id.to_string()));
                r.fields.push(Field::new("Till", &s.till));
                r.fields
                    .push(Field::new("Opened", local_time(s.opened_at_ms)));
                if let Some(by) = &s.opened_by {
                    r.fields.push(Field::new("Opened by", by));
                }
                if let Some(at) = s.closed_at_ms {
                    r.fields.push(Field::new("Closed", local_time(at)));
                }
                if let Some(by) = &s.closed_by {
                    r.fields.push(Field::new("Closed by", by));
                }
            }
            (Period::Day(day), _) => r.fields.push(Field::new("Day", day.to_string())),
            (Period::Shift(id), None) => r.fields.push(Field::new("Shift", id.to_string())),
        }
        r.fields
            .push(Field::new("Printed", local_time(self.generated_at_ms)));
        r.fields
            .push(Field::new("Payments", self.payments.to_string()));
        for t in &self.totals {
            push_totals(&mut r, "", t);
        }
        if self.tills.len() > 1 {
            for g in &self.tills {
                for t in &g.totals {
                    let name = if g.name.is_empty() {
                        "(no till)"
                    } else {
                        &g.name
                    };
                    push_money(
                        &mut r,
                        &format!("{name} {} net", t.currency),
                        t.net_minor,
                        &t.currency,
                        false,
                    );
                }
            }
        }
        for g in self.cashiers.iter().filter(|g| !g.name.is_empty()) {
            for t in &g.totals {
                push_money(
                    &mut r,
                    &format!("{} {} net", g.name, t.currency),
                    t.net_minor,
                    &t.currency,
                    false,
                );
            }
        }
        match &self.reconciliation {
            None => r
                .footer
                .push("Not reconciled with Crypto.com Pay".to_owned()),
            Some(rec) if rec.complete() => r.footer.push(format!(
                "Reconciled with Crypto.com Pay {} ({} checked)",
                local_time(rec.at_ms),
                rec.checked
            )),
            Some(rec) => r.footer.push(format!(
                "Reconciliation INCOMPLETE: {} not checked",
                rec.unchecked.len()
            )),
        }
        if self.repairs.is_empty() {
            r.footer.push("Repairs: none".to_owned());
        } else {
            r.footer.push(format!("Repairs: {}", self.repairs.len()));
            for repair in &self.repairs {
                r.footer.push(format!(
                    "REPAIRED {}: {}",
                    repair.payment_id,
                    repair.describe()
                ));
            }
        }
        if let Some(book) = book {
            r.footer.push(book.to_owned());
        }
        r
    }

    /// The report as CSV (RFC 4180, the journal export's quoting): one row per currency
    /// for the period, then per till and per cashier, then one row per repair.
    pub fn write_csv<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        write_row(&mut out, CSV_HEADER.iter().map(|h| Cell::Plain(h)))?;
        let rows = self
            .totals
            .iter()
            .map(|t| ("total", "", t))
            .chain(
                self.tills
                    .iter()
                    .flat_map(|g| g.totals.iter().map(move |t| ("till", g.name.as_str(), t))),
            )
            .chain(self.cashiers.iter().flat_map(|g| {
                g.totals
                    .iter()
                    .map(move |t| ("cashier", g.name.as_str(), t))
            }));
        for (section, name, t) in rows {
            let c = &t.currency;
            let money = |m: i128| amount_text(m, c);
            let opt = |m: Option<i128>| m.map(money).unwrap_or_default();
            let cells = [
                money(t.gross_minor),
                money(t.refund_requested_minor),
                money(t.refunded_minor),
                money(t.net_minor),
                opt(t.tips_minor),
                opt(t.tax_minor),
            ];
            let counts = [
                t.paid_count,
                t.pending_count,
                t.expired_count,
                t.cancelled_count,
                t.other_count,
            ]
            .map(|n| n.to_string());
            write_row(
                &mut out,
                [
                    Cell::Plain(section),
                    Cell::Text(name),
                    Cell::Text(c),
                    Cell::Plain(&counts[0]),
                    Cell::Plain(&cells[0]),
                    Cell::Plain(&cells[1]),
                    Cell::Plain(&cells[2]),
                    Cell::Plain(&cells[3]),
                    Cell::Plain(&counts[1]),
                    Cell::Plain(&counts[2]),
                    Cell::Plain(&counts[3]),
                    Cell::Plain(&counts[4]),
                    Cell::Plain(&cells[4]),
                    Cell::Plain(&cells[5]),
                    Cell::Plain(""),
                ]
                .into_iter(),
            )?;
        }
        for r in &self.repairs {
            let note = r.describe();
            let kind = match r.kind {
                RepairKind::Found => "repair:found",
                RepairKind::Status => "repair:status",
                RepairKind::Refund => "repair:refund",
            };
            let mut cells = vec![
                Cell::Plain(kind),
                Cell::Text(&r.payment_id),
                Cell::Text(&r.currency),
            ];
            cells.extend(std::iter::repeat_with(|| Cell::Plain("")).take(11));
            cells.push(Cell::Text(&note));
            write_row(&mut out, cells.into_iter())?;
        }
        out.flush()
    }
}

/// The CSV's columns.
pub const CSV_HEADER: &[&str] = &[
    "Section",
    "Name",
    "Currency",
    "Paid Count",
    "Gross",
    "Refunds Requested",
    "Refunds Sent",
    "Net",
    "Pending",
    "Expired",
    "Cancelled",
    "Other",
    "Tips",
    "Tax",
    "Note",
];

fn totals(entries: &[HistoryEntry]) -> Result<Vec<CurrencyTotals>, JournalError> {
    Ok(summarize(entries)?
        .iter()
        .map(CurrencyTotals::from)
        .collect())
}

/// Sums per name (till, cashier), sorted by name.
fn groups(
    entries: &[HistoryEntry],
    name: impl Fn(&HistoryEntry) -> String,
) -> Result<Vec<Group>, JournalError> {
    let mut names: Vec<String> = entries.iter().map(&name).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| {
            let of: Vec<HistoryEntry> = entries.iter().filter(|e| name(e) == n).cloned().collect();
            Ok(Group {
                name: n,
                totals: totals(&of)?,
            })
        })
        .collect()
}

fn push_money(r: &mut Receipt, label: &str, minor: i128, currency: &str, emphasis: bool) {
    let Ok(c) = Currency::from_code(currency) else {
        r.fields.push(Field::new(
            label,
            format!("{minor} (minor units) {currency}"),
        ));
        return;
    };
    let value = Money::new(minor, c);
    r.totals.push(if emphasis {
        Total::emphasised(label, value)
    } else {
        Total::new(label, value)
    });
}

fn push_totals(r: &mut Receipt, prefix: &str, t: &CurrencyTotals) {
    let c = &t.currency;
    push_money(
        r,
        &format!("{prefix}{c} paid ({})", t.paid_count),
        t.gross_minor,
        c,
        false,
    );
    if let Ok(cur) = Currency::from_code(c) {
        r.totals.push(Total::new(
            format!("{prefix}{c} refunds sent"),
            Amount::negated(Money::new(t.refunded_minor, cur)),
        ));
        r.totals.push(Total::new(
            format!("{prefix}{c} refunds requested"),
            Amount::negated(Money::new(t.refund_requested_minor, cur)),
        ));
    }
    push_money(r, &format!("{prefix}{c} NET"), t.net_minor, c, true);
    for (label, n) in [
        ("pending", t.pending_count),
        ("expired", t.expired_count),
        ("cancelled", t.cancelled_count),
        ("other", t.other_count),
    ] {
        if n > 0 || label == "expired" || label == "cancelled" {
            r.fields
                .push(Field::new(format!("{prefix}{c} {label}"), n.to_string()));
        }
    }
}
