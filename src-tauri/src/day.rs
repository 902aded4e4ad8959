//! The counter's day in the app: receipts on screen and on paper, shifts, and the shift
//! and close-of-day reports with their reconciliation.
//!
//! Thin like `cmd.rs`: every command asks the staff gate first (an approver's PIN typed on
//! the cashier's screen overrides it for one action), calls the core — `Terminal::receipt`
//! and its print service, `paydesk_core::day` — and returns display-ready views. Amounts
//! and words are made here, in Rust, from integer minor units; the webview only shows them.
//! A print's outcome arrives later as a `CoreEvent::Receipt` ([`PrintView`]); nothing here
//! waits for a printer, so a printer that is off never holds up a sale.

use std::path::PathBuf;

use base64::Engine;
use chrono::{Local, TimeZone};
use paydesk_core::config::{Config, Mode, PrinterLayer, ShopLayer};
use paydesk_core::day::{self, CurrencyTotals, Period, RepairKind, Report, Shift, ShiftId};
use paydesk_core::receipts::{PrintJob, PrintOutcome, ReceiptEvent, ReceiptView};
use paydesk_core::staff::{Action, Context as GateContext, Operator};
use paydesk_core::till::Till;
use paydesk_receipt::{Kind, Paper, PrinterSettings};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::cmd::{gate, parse_day, running};
use crate::state::AppState;
use crate::view::display;

type CmdResult<T> = Result<T, String>;

fn not_running() -> String {
    "PayDesk is not running".into()
}

/// "tcp://192.168.1.50:9100 · 80 mm": the printer as Settings and the screens name it.
fn printer_label(p: &PrinterSettings) -> String {
    let paper = match p.paper {
        Paper::Mm58 => "58 mm",
        Paper::Mm80 => "80 mm",
    };
    format!("{} · {paper}", p.url)
}

fn qr_data_url(content: &str) -> Option<String> {
    let svg = paydesk_core::qr::svg(content).ok()?;
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// The till's printer, as the screens need to know it.
#[derive(Clone, Debug, Serialize)]
pub struct PrintingView {
    /// The printer's address and paper; `None`: receipts are shown on screen only.
    pub printer: Option<String>,
    /// A sale's receipt prints by itself on Paid.
    pub auto_print: bool,
    /// "Prints on tcp://… · 80 mm.", or that receipts are shown on screen only.
    pub words: String,
}

const NO_PRINTER: &str = "No receipt printer is set up: receipts are shown on screen only \
                          (Settings → Receipts and printer).";

fn printing_of(till: &Till) -> PrintingView {
    let setup = till.terminal.printing().map(|p| p.setup());
    let printer = setup.and_then(|s| s.printer.as_ref()).map(printer_label);
    PrintingView {
        words: printer
            .as_ref()
            .map_or_else(|| NO_PRINTER.to_owned(), |p| format!("Prints on {p}.")),
        printer,
        auto_print: setup.is_some_and(|s| s.auto_print),
    }
}

#[tauri::command]
pub async fn printing_status(state: State<'_, AppState>) -> CmdResult<PrintingView> {
    let guard = running(&state.host).await?;
    let till = guard.as_ref().ok_or_else(not_running)?;
    Ok(printing_of(till))
}

/// A receipt to show: the slip as it prints, its QR drawn, and where it would print.
#[derive(Clone, Debug, Serialize)]
pub struct ReceiptShown {
    pub payment_id: String,
    pub refund_id: Option<String>,
    pub receipt: ReceiptView,
    /// The QR under the slip (the payment id), as an image.
    pub qr_data_url: Option<String>,
    pub printing: PrintingView,
}

async fn shown(till: &Till, id: &str, refund_id: Option<&str>) -> CmdResult<ReceiptShown> {
    let receipt = till
        .terminal
        .receipt(id, refund_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ReceiptShown {
        payment_id: id.to_owned(),
        refund_id: refund_id.map(str::to_owned),
        qr_data_url: receipt.qr.as_deref().and_then(qr_data_url),
        receipt,
        printing: printing_of(till),
    })
}

fn clean(id: Option<String>) -> Option<String> {
    id.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty())
}

/// A paid payment's receipt, or one refund's slip, on screen. Looking needs no PIN: the
/// same facts are in History.
#[tauri::command]
pub async fn receipt_view(
    state: State<'_, AppState>,
    id: String,
    refund_id: Option<String>,
) -> CmdResult<ReceiptShown> {
    let guard = running(&state.host).await?;
    let till = guard.as_ref().ok_or_else(not_running)?;
    shown(till, id.trim(), clean(refund_id).as_deref()).await
}

/// Prints (or prints again) a receipt or a refund slip: queued on the till's print service,
/// its outcome a `CoreEvent::Receipt`. Any cashier may (`Action::Reprint`); the journal
/// keeps who asked.
#[tauri::command]
pub async fn print_receipt(
    state: State<'_, AppState>,
    id: String,
    refund_id: Option<String>,
    approver_pin: Option<String>,
) -> CmdResult<ReceiptShown> {
    let id = id.trim().to_owned();
    let refund_id = clean(refund_id);
    let ctx = {
        let guard = running(&state.host).await?;
        let till = guard.as_ref().ok_or_else(not_running)?;
        till.terminal
            .payment_context(&id)
            .await
            .map_err(|e| e.to_string())?
    };
    let by = gate(&state.host, Action::Reprint, ctx, approver_pin).await?;
    let guard = running(&state.host).await?;
    let till = guard.as_ref().ok_or_else(not_running)?;
    // The receipt first: a payment that is not paid, or not this till's, says so now.
    let view = shown(till, &id, refund_id.as_deref()).await?;
    if view.printing.printer.is_none() {
        return Err("No receipt printer is set up: add one in Settings.".into());
    }
    let printing = till.terminal.printing().ok_or("printing has stopped")?;
    let (job, detail) = match &refund_id {
        Some(r) => (
            PrintJob::Refund {
                payment_id: id.clone(),
                refund_id: r.clone(),
            },
            format!("the slip of refund {r}"),
        ),
        None => (
            PrintJob::Sale {
                payment_id: id.clone(),
            },
            "the receipt".to_owned(),
        ),
    };
    printing.print(job).map_err(|e| e.to_string())?;
    record(till, by, Action::Reprint, detail).await;
    Ok(view)
}

/// Journals what `by` did; a failure to journal is logged, never shown as the action's.
async fn record(till: &Till, by: Operator, action: Action, detail: String) {
    if let Err(e) = till
        .terminal
        .record_operation(by, action, Some(detail))
        .await
    {
        tracing::warn!(error = %e, %action, "the operation was not journaled");
    }
}

/// A print's outcome, in the cashier's words.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PrintView {
    /// `sale`, `refund` or `report`.
    pub kind: Kind,
    pub payment_id: Option<String>,
    pub refund_id: Option<String>,
    /// Printed on Paid by itself.
    pub automatic: bool,
    pub printed: bool,
    /// Why not (`unreachable`, `out_of_paper`, `stalled`, …).
    pub code: Option<String>,
    /// "Printed" or "Not printed".
    pub title: &'static str,
    /// The whole story: what printed, or what to check and that nothing else is affected.
    pub message: String,
}

impl PrintView {
    pub fn of(e: &ReceiptEvent) -> PrintView {
        let what = match e.job.kind {
            Kind::Sale => "The receipt",
            Kind::Refund => "The refund slip",
            Kind::Report => "The report",
        };
        let (printed, code, title, message) = match &e.outcome {
            PrintOutcome::Printed { paper_low } => {
                let mut m = format!("{what} printed.");
                if *paper_low {
                    m.push_str(" The paper is running low: load a new roll soon.");
                }
                (true, None, "Printed", m)
            }
            PrintOutcome::Failed {
                code,
                message,
                partly_printed,
            } => {
                let mut m = format!("{what} did not print: {message}.");
                if *partly_printed {
                    m.push_str(" Part of it may have printed: printing again makes a second copy.");
                }
                if e.job.kind == Kind::Sale {
                    m.push_str(" The sale is paid all the same.");
                }
                (false, Some(code.clone()), "Not printed", m)
            }
        };
        PrintView {
            kind: e.job.kind,
            payment_id: e.job.payment_id.clone(),
            refund_id: e.job.refund_id.clone(),
            automatic: e.job.automatic,
            printed,
            code,
            title,
            message,
        }
    }
}

// ----- Shifts ------------------------------------------------------------------------

/// "09:12" today, "Mon 27 Nov 09:12" before.
fn since(ms: i64) -> String {
    let Some(at) = Local.timestamp_millis_opt(ms).single() else {
        return String::new();
    };
    if at.date_naive() == Local::now().date_naive() {
        at.format("%H:%M").to_string()
    } else {
        at.format("%a %-d %b %H:%M").to_string()
    }
}

/// One shift, as the Day screen names it.
#[derive(Clone, Debug, Serialize)]
pub struct ShiftView {
    pub id: i64,
    pub open: bool,
    /// "Shift 3 open since 09:12, by Cara".
    pub label: String,
}

impl ShiftView {
    fn of(s: &Shift) -> ShiftView {
        let mut label = match s.closed_at_ms {
            None => format!("Shift {} open since {}", s.id, since(s.opened_at_ms)),
            Some(to) => format!("Shift {}: {} to {}", s.id, since(s.opened_at_ms), since(to)),
        };
        if let Some(by) = &s.opened_by {
            label.push_str(&format!(", by {by}"));
        }
        ShiftView {
            id: s.id.0,
            open: s.is_open(),
            label,
        }
    }
}

/// The Day screen's head: this till's shift, today, and the printer.
#[derive(Clone, Debug, Serialize)]
pub struct DayView {
    pub till: String,
    /// The local day, `YYYY-MM-DD`.
    pub today: String,
    pub shift: Option<ShiftView>,
    /// The shift's label, or "No shift is open on Till 1."
    pub shift_words: String,
    pub printing: PrintingView,
}

async fn day_view(till: &Till) -> CmdResult<DayView> {
    let name = till.terminal.name().to_owned();
    let shift = day::current_shift(till.terminal.journal(), &name)
        .await
        .map_err(|e| e.to_string())?
        .map(|s| ShiftView::of(&s));
    Ok(DayView {
        shift_words: shift.as_ref().map_or_else(
            || format!("No shift is open on {name}."),
            |s| s.label.clone(),
        ),
        till: name,
        today: Local::now().date_naive().to_string(),
        shift,
        printing: printing_of(till),
    })
}

#[tauri::command]
pub async fn day_status(state: State<'_, AppState>) -> CmdResult<DayView> {
    let guard = running(&state.host).await?;
    let till = guard.as_ref().ok_or_else(not_running)?;
    day_view(till).await
}

/// Opens a shift on this till, in the name of the person signed in (or approving).
#[tauri::command]
pub async fn open_shift(
    state: State<'_, AppState>,
    approver_pin: Option<String>,
) -> CmdResult<DayView> {
    let till_name = state.host.status().terminal_name;
    let by = gate(
        &state.host,
        Action::OpenShift,
        GateContext::subject(till_name),
        approver_pin,
    )
    .await?;
    let guard = running(&state.host).await?;
    let till = guard.as_ref().ok_or_else(not_running)?;
    let name = by.person().map(|p| p.name.clone());
    let shift = day::open_shift(till.terminal.journal(), till.terminal.name(), name)
        .await
        .map_err(|e| e.to_string())?;
    record(
        till,
        by,
        Action::OpenShift,
        subject(Period::Shift(shift.id)),
    )
    .await;
    day_view(till).await
}

/// Closes this till's shift: reconciles its payments with Crypto.com Pay, stores the final
/// report and returns it.
#[tauri::command]
pub async fn close_shift(
    state: State<'_, AppState>,
    approver_pin: Option<String>,
) -> CmdResult<ReportView> {
    let till_name = state.host.status().terminal_name;
    let by = gate(
        &state.host,
        Action::CloseShift,
        GateContext::subject(till_name),
        approver_pin,
    )
    .await?;
    let guard = running(&state.host).await?;
    let till = guard.as_ref().ok_or_else(not_running)?;
    let name = by.person().map(|p| p.name.clone());
    let reconciler = till.terminal.reconciler();
    let report = day::close_shift(
        till.terminal.journal(),
        till.terminal.name(),
        name,
        Some(&reconciler),
    )
    .await
    .map_err(|e| e.to_string())?;
    record(till, by, Action::CloseShift, subject(report.period)).await;
    Ok(ReportView::of(&report, till))
}

// ----- Reports -----------------------------------------------------------------------

/// The period a Day screen button names: a shift, else a day (today when neither).
fn period(day: Option<String>, shift: Option<i64>) -> CmdResult<Period> {
    match (shift, day.filter(|d| !d.trim().is_empty())) {
        (Some(id), _) => Ok(Period::Shift(ShiftId(id))),
        (None, Some(d)) => Ok(Period::Day(parse_day(&d)?)),
        (None, None) => Ok(Period::Day(Local::now().date_naive())),
    }
}

fn subject(p: Period) -> String {
    match p {
        Period::Day(d) => d.to_string(),
        Period::Shift(id) => format!("shift {id}"),
    }
}

/// One currency's sums, formatted.
#[derive(Clone, Debug, Serialize)]
pub struct TotalsView {
    pub currency: String,
    pub paid_count: u64,
    pub gross: String,
    pub refunds_sent: String,
    pub refunds_requested: String,
    /// Both in one: "4.00 EUR", or "4.00 EUR + 1.50 EUR requested".
    pub refunds: String,
    pub net: String,
    pub pending_count: u64,
    pub expired_count: u64,
    pub cancelled_count: u64,
    pub other_count: u64,
    /// `None`: no sale of the period carried tips (or tax).
    pub tips: Option<String>,
    pub tax: Option<String>,
}

impl TotalsView {
    fn of(t: &CurrencyTotals) -> TotalsView {
        let c = &t.currency;
        TotalsView {
            currency: c.clone(),
            paid_count: t.paid_count,
            gross: display(t.gross_minor, c),
            refunds_sent: display(t.refunded_minor, c),
            refunds_requested: display(t.refund_requested_minor, c),
            refunds: if t.refund_requested_minor == 0 {
                display(t.refunded_minor, c)
            } else {
                format!(
                    "{} + {} requested",
                    display(t.refunded_minor, c),
                    display(t.refund_requested_minor, c)
                )
            },
            net: display(t.net_minor, c),
            pending_count: t.pending_count,
            expired_count: t.expired_count,
            cancelled_count: t.cancelled_count,
            other_count: t.other_count,
            tips: t.tips_minor.map(|m| display(m, c)),
            tax: t.tax_minor.map(|m| display(m, c)),
        }
    }
}

/// A till's or a cashier's sums.
#[derive(Clone, Debug, Serialize)]
pub struct GroupView {
    pub name: String,
    pub totals: Vec<TotalsView>,
}

/// One repair reconciliation made, in words.
#[derive(Clone, Debug, Serialize)]
pub struct RepairView {
    pub payment_id: String,
    pub order_id: Option<String>,
    pub kind: RepairKind,
    /// "Status repaired", "Refund repaired", "Found at Crypto.com Pay".
    pub label: &'static str,
    /// The core's account: what the till had and what Crypto.com Pay says.
    pub words: String,
}

/// A shift's or a day's report, ready to show, with the slip as it prints.
#[derive(Clone, Debug, Serialize)]
pub struct ReportView {
    pub period: Period,
    /// "SHIFT 3 REPORT", "Z REPORT", "X REPORT".
    pub title: String,
    /// "Shift 3 on Till 1: 09:12 to 17:40, by Cara" or "Thursday 28 November 2026, every till".
    pub heading: String,
    pub closed: bool,
    /// Final and stored, or the numbers so far.
    pub state_words: String,
    /// `complete`, `incomplete` or `none`.
    pub reconciled: &'static str,
    pub reconciliation_words: String,
    /// What could not be checked, and why.
    pub unchecked: Vec<String>,
    pub payments: usize,
    /// "DEMO — not real payments", "TEST — not real payments", or null for live.
    pub book: Option<&'static str>,
    pub totals: Vec<TotalsView>,
    pub tills: Vec<GroupView>,
    pub cashiers: Vec<GroupView>,
    pub repairs: Vec<RepairView>,
    /// The report as the printer lays it out.
    pub paper: ReceiptView,
}

impl ReportView {
    pub fn of(r: &Report, till: &Till) -> ReportView {
        let setup = till.terminal.printing().map(|p| p.setup());
        let shop = setup.map_or_else(|| till.plan.config.shop.clone(), |s| s.shop.clone());
        let paper = ReceiptView::of(&r.receipt(&shop), setup.and_then(|s| s.printer.as_ref()));
        let heading = match (&r.period, &r.shift) {
            (Period::Shift(_), Some(s)) => {
                let mut h = format!("Shift {} on {}: {}", s.id, s.till, since(s.opened_at_ms));
                match s.closed_at_ms {
                    Some(to) => h.push_str(&format!(" to {}", since(to))),
                    None => h.push_str(" until now"),
                }
                if let Some(by) = &s.opened_by {
                    h.push_str(&format!(", opened by {by}"));
                }
                if let Some(by) = &s.closed_by {
                    h.push_str(&format!(", closed by {by}"));
                }
                h
            }
            (Period::Shift(id), None) => format!("Shift {id}"),
            (Period::Day(d), _) => format!("{}, every till", d.format("%A %-d %B %Y")),
        };
        let state_words = if r.closed {
            format!(
                "Final: stored at {}. It prints again exactly like this.",
                since(r.generated_at_ms)
            )
        } else {
            format!(
                "The numbers so far, at {}: not final until the {} is closed.",
                since(r.generated_at_ms),
                match r.period {
                    Period::Day(_) => "day",
                    Period::Shift(_) => "shift",
                }
            )
        };
        let (reconciled, reconciliation_words, unchecked) = match &r.reconciliation {
            None if r.closed => (
                "none",
                "Not reconciled with Crypto.com Pay: closed from the till's journal alone."
                    .to_owned(),
                Vec::new(),
            ),
            None => (
                "none",
                "Not reconciled yet: closing asks Crypto.com Pay about each payment.".to_owned(),
                Vec::new(),
            ),
            Some(rec) if rec.complete() => (
                "complete",
                format!(
                    "Reconciled with Crypto.com Pay at {}: {} checked{}, {}.",
                    since(rec.at_ms),
                    payments(rec.checked),
                    match rec.found {
                        0 => String::new(),
                        n => format!(", {} found that the till did not have", payments(n)),
                    },
                    match r.repairs.len() {
                        0 => "nothing to repair".to_owned(),
                        1 => "1 repair".to_owned(),
                        n => format!("{n} repairs"),
                    }
                ),
                Vec::new(),
            ),
            Some(rec) => (
                "incomplete",
                format!(
                    "Reconciliation incomplete: {} could not be checked. Close again when \
                     the network is back.",
                    match rec.unchecked.len() {
                        1 => "1 payment".to_owned(),
                        n => format!("{n} payments"),
                    }
                ),
                rec.unchecked
                    .iter()
                    .map(|u| match &u.payment_id {
                        Some(p) => format!("{p}: {}", u.reason),
                        None => format!("This till's orders: {}", u.reason),
                    })
                    .collect(),
            ),
        };
        let groups = |gs: &[day::Group], none: &str| {
            gs.iter()
                .map(|g| GroupView {
                    name: if g.name.is_empty() {
                        none.to_owned()
                    } else {
                        g.name.clone()
                    },
                    totals: g.totals.iter().map(TotalsView::of).collect(),
                })
                .collect()
        };
        ReportView {
            period: r.period,
            title: r.title(),
            heading,
            closed: r.closed,
            state_words,
            reconciled,
            reconciliation_words,
            unchecked,
            payments: r.payments,
            book: match r.book {
                Mode::Live => None,
                Mode::Test => Some("TEST — not real payments"),
                Mode::Demo => Some("DEMO — not real payments"),
            },
            totals: r.totals.iter().map(TotalsView::of).collect(),
            tills: groups(&r.tills, "(no till)"),
            cashiers: groups(&r.cashiers, "(nobody named)"),
            repairs: r
                .repairs
                .iter()
                .map(|x| RepairView {
                    payment_id: x.payment_id.clone(),
                    order_id: x.order_id.clone(),
                    kind: x.kind,
                    label: match x.kind {
                        RepairKind::Found => "Found at Crypto.com Pay",
                        RepairKind::Status => "Status repaired",
                        RepairKind::Refund => "Refund repaired",
                    },
                    words: x.describe(),
                })
                .collect(),
            paper,
        }
    }
}

fn payments(n: usize) -> String {
    match n {
        1 => "1 payment".to_owned(),
        n => format!("{n} payments"),
    }
}

/// A day's or a shift's report: the stored one once closed, else the numbers so far.
#[tauri::command]
pub async fn show_report(
    state: State<'_, AppState>,
    day: Option<String>,
    shift: Option<i64>,
    approver_pin: Option<String>,
) -> CmdResult<ReportView> {
    let period = period(day, shift)?;
    let allowed = gate(
        &state.host,
        Action::Report,
        GateContext::subject(subject(period)),
        approver_pin,
    )
    .await?;
    drop(allowed);
    let guard = running(&state.host).await?;
    let till = guard.as_ref().ok_or_else(not_running)?;
    let report = day::report(till.terminal.journal(), period)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ReportView::of(&report, till))
}

/// Closes a day (the Z report): reconciles its payments with Crypto.com Pay, repairs the
/// journal, stores the final report and returns it. Closing again makes a new final one.
#[tauri::command]
pub async fn close_day(
    state: State<'_, AppState>,
    day: Option<String>,
    approver_pin: Option<String>,
) -> CmdResult<ReportView> {
    let date = match period(day, None)? {
        Period::Day(d) => d,
        Period::Shift(_) => return Err("a day, not a shift".into()),
    };
    let by = gate(
        &state.host,
        Action::Report,
        GateContext::subject(date.to_string()),
        approver_pin,
    )
    .await?;
    let guard = running(&state.host).await?;
    let till = guard.as_ref().ok_or_else(not_running)?;
    let reconciler = till.terminal.reconciler();
    let report = day::close_day(till.terminal.journal(), date, Some(&reconciler))
        .await
        .map_err(|e| e.to_string())?;
    record(
        till,
        by,
        Action::Report,
        format!("closed the day {date} (Z report)"),
    )
    .await;
    Ok(ReportView::of(&report, till))
}

/// Prints a report on the till's printer; the outcome arrives as a `CoreEvent::Receipt`.
#[tauri::command]
pub async fn print_report(
    state: State<'_, AppState>,
    day: Option<String>,
    shift: Option<i64>,
    approver_pin: Option<String>,
) -> CmdResult<()> {
    let period = period(day, shift)?;
    let by = gate(
        &state.host,
        Action::Report,
        GateContext::subject(subject(period)),
        approver_pin,
    )
    .await?;
    let guard = running(&state.host).await?;
    let till = guard.as_ref().ok_or_else(not_running)?;
    let printing = till.terminal.printing().ok_or("printing has stopped")?;
    if printing.setup().printer.is_none() {
        return Err("No receipt printer is set up: add one in Settings.".into());
    }
    let report = day::report(till.terminal.journal(), period)
        .await
        .map_err(|e| e.to_string())?;
    printing
        .print(PrintJob::Receipt(Box::new(
            report.receipt(&printing.setup().shop),
        )))
        .map_err(|e| e.to_string())?;
    record(
        till,
        by,
        Action::Report,
        format!("printed the {}", report.title()),
    )
    .await;
    Ok(())
}

#[derive(Clone, Debug, Serialize)]
pub struct SavedReport {
    pub path: String,
    /// "Saved the Z report to /home/ana/Downloads/paydesk-z-2026-11-28.csv".
    pub message: String,
}

/// Saves a report as CSV in the Downloads folder (beside the journal without one).
#[tauri::command]
pub async fn save_report_csv(
    state: State<'_, AppState>,
    day: Option<String>,
    shift: Option<i64>,
    approver_pin: Option<String>,
) -> CmdResult<SavedReport> {
    let period = period(day, shift)?;
    let by = gate(
        &state.host,
        Action::Report,
        GateContext::subject(subject(period)),
        approver_pin,
    )
    .await?;
    let guard = running(&state.host).await?;
    let till = guard.as_ref().ok_or_else(not_running)?;
    let report = day::report(till.terminal.journal(), period)
        .await
        .map_err(|e| e.to_string())?;
    let dir = crate::cmd::save_dir(till)?;
    let what = match period {
        Period::Day(d) if report.closed => format!("z-{d}"),
        Period::Day(d) => format!("x-{d}"),
        Period::Shift(id) => format!("shift-{id}"),
    };
    // Test and demo books never share a file name with the real one.
    let name = match till.mode() {
        Mode::Live => format!("paydesk-{what}.csv"),
        other => format!("paydesk-{other}-{what}.csv"),
    };
    let path: PathBuf = dir.join(name);
    let target = path.clone();
    let title = report.title();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let file = std::fs::File::create(&target)?;
        report.write_csv(std::io::BufWriter::new(file))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    record(
        till,
        by,
        Action::Report,
        format!("saved the {title} as CSV"),
    )
    .await;
    Ok(SavedReport {
        message: format!("Saved the {title} to {}", path.display()),
        path: path.display().to_string(),
    })
}

// ----- Settings ----------------------------------------------------------------------

/// The receipt part of Settings: the shop's header and the printer.
#[derive(Clone, Debug, Serialize)]
pub struct ReceiptSettings {
    pub shop_name: String,
    pub shop_address: Vec<String>,
    /// Empty: no printer.
    pub printer_url: String,
    /// `58mm` or `80mm`.
    pub paper: Paper,
    pub auto_print: bool,
    /// One line for the folded section: "Café Müller · tcp://… · 80 mm, prints on Paid".
    pub summary: String,
}

impl ReceiptSettings {
    pub fn of(config: &Config) -> ReceiptSettings {
        let printer = match &config.printer {
            Some(p) if config.auto_print => format!("{}, prints on Paid", printer_label(p)),
            Some(p) => printer_label(p),
            None => "no printer".to_owned(),
        };
        ReceiptSettings {
            summary: format!("{} · {printer}", config.shop.name),
            shop_name: config.shop.name.clone(),
            shop_address: config.shop.address.clone(),
            printer_url: config
                .printer
                .as_ref()
                .map(|p| p.url.clone())
                .unwrap_or_default(),
            paper: config.printer.as_ref().map(|p| p.paper).unwrap_or_default(),
            auto_print: config.auto_print,
        }
    }
}

/// What Save sends for receipts.
#[derive(Clone, Debug, Deserialize)]
pub struct ReceiptSettingsUpdate {
    /// Blank keeps the saved name.
    pub shop_name: Option<String>,
    /// One line each; blank lines are dropped.
    #[serde(default)]
    pub shop_address: Vec<String>,
    /// Blank: no printer.
    #[serde(default)]
    pub printer_url: String,
    pub paper: Option<Paper>,
    #[serde(default)]
    pub auto_print: bool,
}

impl ReceiptSettingsUpdate {
    /// The `[shop]` and `[printer]` sections Save writes (checked with the rest of the
    /// settings by `ConfigLayer::validate`).
    pub fn layers(self) -> (Option<ShopLayer>, Option<PrinterLayer>) {
        let shop = ShopLayer {
            name: clean(self.shop_name),
            address: Some(
                self.shop_address
                    .iter()
                    .map(|l| l.trim().to_owned())
                    .filter(|l| !l.is_empty())
                    .collect(),
            ),
        };
        let printer = PrinterLayer {
            url: Some(self.printer_url.trim().to_owned()),
            paper: self.paper,
            auto_print: Some(self.auto_print),
            ..PrinterLayer::default()
        };
        (Some(shop), Some(printer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use paydesk_core::receipts::JobView;

    fn event(kind: Kind, outcome: PrintOutcome) -> ReceiptEvent {
        ReceiptEvent {
            job: JobView {
                kind,
                payment_id: Some("pay_1".into()),
                refund_id: None,
                automatic: true,
            },
            outcome,
        }
    }

    #[test]
    fn a_failed_print_says_what_to_check_and_that_the_sale_stands() {
        let v = PrintView::of(&event(
            Kind::Sale,
            PrintOutcome::Failed {
                code: "unreachable".into(),
                message: "tcp://10.0.0.5:9100 does not answer — check it is on and connected"
                    .into(),
                partly_printed: true,
            },
        ));
        assert!(!v.printed);
        assert_eq!(v.title, "Not printed");
        assert_eq!(v.code.as_deref(), Some("unreachable"));
        assert_eq!(
            v.message,
            "The receipt did not print: tcp://10.0.0.5:9100 does not answer — check it is on \
             and connected. Part of it may have printed: printing again makes a second copy. \
             The sale is paid all the same."
        );
    }

    #[test]
    fn a_printed_report_mentions_low_paper() {
        let v = PrintView::of(&event(
            Kind::Report,
            PrintOutcome::Printed { paper_low: true },
        ));
        assert!(v.printed);
        assert_eq!(
            v.message,
            "The report printed. The paper is running low: load a new roll soon."
        );
    }

    #[test]
    fn receipt_settings_become_the_shop_and_printer_sections() {
        let (shop, printer) = ReceiptSettingsUpdate {
            shop_name: Some("  ".into()),
            shop_address: vec!["Hauptstraße 1".into(), " ".into(), "Berlin ".into()],
            printer_url: " tcp://10.0.0.5 ".into(),
            paper: Some(Paper::Mm58),
            auto_print: true,
        }
        .layers();
        let shop = shop.unwrap();
        assert_eq!(shop.name, None, "a blank name keeps the saved one");
        assert_eq!(
            shop.address.unwrap(),
            ["Hauptstraße 1".to_owned(), "Berlin".to_owned()]
        );
        let printer = printer.unwrap();
        assert_eq!(printer.url.as_deref(), Some("tcp://10.0.0.5"));
        assert_eq!(printer.paper, Some(Paper::Mm58));
        assert_eq!(printer.auto_print, Some(true));
    }

    #[test]
    fn periods_are_a_shift_else_a_day_else_today() {
        assert_eq!(
            period(Some("2026-11-28".into()), Some(3)).unwrap(),
            Period::Shift(ShiftId(3))
        );
        assert_eq!(
            period(Some("2026-11-28".into()), None).unwrap(),
            Period::Day(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap())
        );
        assert_eq!(
            period(Some(" ".into()), None).unwrap(),
            Period::Day(Local::now().date_naive())
        );
        assert!(period(Some("28/11".into()), None).is_err());
    }
}
