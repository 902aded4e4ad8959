//! `history [--date YYYY-MM-DD] [--csv]`: one local day of this till's journal — every
//! payment with its latest status, tip, refunds (sent and requested) and who charged it,
//! then totals by currency and status, the refunds sent and requested, the tips and tax
//! per rate of the paid sales, and the payments left unresolved — or the same day as CSV on
//! stdout for a spreadsheet. Needs no keys and no network. The CSV is an export: on a till
//! with staff it takes the owner's PIN, and the journal records who exported what.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use chrono::{Local, NaiveDate, TimeZone};
use paydesk_core::explain;
use paydesk_core::journal::{self, CurrencySummary, HistoryEntry, Total};
use paydesk_core::payment::RefundStatus;
use paydesk_core::sale::TaxKind;
use paydesk_core::staff::{Action, Context as GateContext};
use serde::Serialize;

use crate::cli::HistoryArgs;
use crate::context::Context;
use crate::follow::money_text;
use crate::output::Printer;

#[derive(Serialize)]
struct History<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    date: NaiveDate,
    payments: &'a [HistoryEntry],
    totals: &'a [Total],
    /// Per currency, netted, with the tips and tax of paid sales.
    summary: &'a [CurrencySummary],
}

pub fn parse_day(text: Option<&str>) -> Result<NaiveDate> {
    match text {
        None => Ok(Local::now().date_naive()),
        Some(t) => NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
            .with_context(|| format!("--date {t}: expected YYYY-MM-DD")),
    }
}

pub async fn run(ctx: &Context, args: &HistoryArgs, out: &mut Printer) -> Result<ExitCode> {
    let day = parse_day(args.date.as_deref())?;
    if args.csv {
        let staff = ctx.open_staff().await?;
        let by = crate::cmd::operator(
            &staff,
            &args.who,
            Action::Export,
            GateContext::subject(day.to_string()),
        )
        .await
        .context("nothing was exported")?;
        let journal = ctx.open_journal()?;
        let rows = {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            journal.export_csv(day, &Local, &mut lock)?
        };
        let done = by.done(Action::Export)?;
        journal.record_operation(
            done.action,
            done.subject.as_deref(),
            Some(&format!("{rows} payments as CSV")),
            &done.who,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let journal = ctx.open_journal()?;
    let entries = journal.history(day, &Local)?;
    let totals = journal.totals(day, &Local)?;
    let summary = journal::summarize(&entries)?;
    out.event(&History {
        kind: "history",
        date: day,
        payments: &entries,
        totals: &totals,
        summary: &summary,
    });
    if out.json() {
        return Ok(ExitCode::SUCCESS);
    }
    out.line(format!("Payments on {day} ({})", journal.path().display()));
    if entries.is_empty() {
        out.line("  none");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 8]> = entries
        .iter()
        .map(|e| {
            let p = &e.payment;
            let time = Local
                .timestamp_millis_opt(e.created_at_ms)
                .single()
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_default();
            let refunded = refunded_text(e);
            let tip = e
                .sale
                .as_ref()
                .map(|s| s.tip())
                .filter(|t| t.minor > 0)
                .map(|t| t.to_string())
                .unwrap_or_default();
            [
                time,
                p.id.clone(),
                money_text(p.amount, &p.currency),
                tip,
                e.status.to_string(),
                refunded,
                e.terminal.clone().unwrap_or_default(),
                e.cashier.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        out,
        [
            "TIME", "PAYMENT", "AMOUNT", "TIP", "STATUS", "REFUNDED", "TILL", "CASHIER",
        ],
        &rows,
    );
    out.line("");
    out.line("Totals");
    let rows: Vec<[String; 5]> = totals
        .iter()
        .map(|t| {
            [
                t.currency.clone(),
                t.status.to_string(),
                t.count.to_string(),
                money_text(t.sum_minor, &t.currency),
                if t.refunded_minor > 0 {
                    format!("refunded {}", money_text(t.refunded_minor, &t.currency))
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    table(out, ["CURRENCY", "STATUS", "COUNT", "AMOUNT", ""], &rows);
    show_refunds(out, &summary);
    show_sales(out, &summary);
    show_unresolved(out, &entries);
    Ok(ExitCode::SUCCESS)
}

/// What was refunded of one payment: sent, and asked for but not sent yet (an on-chain
/// refund waits for the customer's address).
fn refunded_text(e: &HistoryEntry) -> String {
    let p = &e.payment;
    let requested = e
        .refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Pending)
        .fold(0i128, |acc, r| acc.saturating_add(r.amount));
    match (p.amount_refunded > 0, requested > 0) {
        (false, false) => String::new(),
        (true, false) => money_text(p.amount_refunded, &p.currency),
        (false, true) => format!("{} requested", money_text(requested, &p.currency)),
        (true, true) => format!(
            "{} + {} requested",
            money_text(p.amount_refunded, &p.currency),
            money_text(requested, &p.currency)
        ),
    }
}

/// Refunds per currency, sent and requested apart, and what the day nets.
fn show_refunds(out: &mut Printer, summary: &[CurrencySummary]) {
    let refunded: Vec<&CurrencySummary> = summary
        .iter()
        .filter(|s| s.refunded_minor > 0 || s.refund_requested_minor > 0)
        .collect();
    if refunded.is_empty() {
        return;
    }
    out.line("");
    out.line("Refunds");
    let rows: Vec<[String; 5]> = refunded
        .iter()
        .map(|s| {
            [
                s.currency.clone(),
                money_text(s.paid_minor, &s.currency),
                money_text(s.refunded_minor, &s.currency),
                money_text(s.refund_requested_minor, &s.currency),
                money_text(s.net_minor(), &s.currency),
            ]
        })
        .collect();
    table(out, ["CURRENCY", "PAID", "SENT", "REQUESTED", "NET"], &rows);
}

/// Payments that money reached without paying them (late, short): never paid, and what
/// the customer was told.
fn show_unresolved(out: &mut Printer, entries: &[HistoryEntry]) {
    let notes: Vec<String> = entries
        .iter()
        .filter_map(|e| {
            explain::unresolved(&e.payment, &e.status)
                .map(|words| format!("  {}: {words}", e.payment.id))
        })
        .collect();
    if notes.is_empty() {
        return;
    }
    out.line("");
    out.line("Unresolved (not paid; Crypto.com returns the money)");
    for n in notes {
        out.line(n);
    }
}

/// The tips and the tax per rate of the day's paid sales, when there were any.
fn show_sales(out: &mut Printer, summary: &[CurrencySummary]) {
    let sold: Vec<&CurrencySummary> = summary.iter().filter(|s| s.sales_count > 0).collect();
    if sold.is_empty() {
        return;
    }
    out.line("");
    out.line("Paid sales");
    let rows: Vec<[String; 4]> = sold
        .iter()
        .map(|s| {
            [
                s.currency.clone(),
                s.sales_count.to_string(),
                money_text(s.tips_minor, &s.currency),
                money_text(s.tax_minor, &s.currency),
            ]
        })
        .collect();
    table(out, ["CURRENCY", "SALES", "TIPS", "TAX"], &rows);
    let rows: Vec<[String; 4]> = sold
        .iter()
        .flat_map(|s| {
            s.taxes.iter().map(|t| {
                let label = match t.kind {
                    TaxKind::Inclusive => format!("{} incl.", t.label),
                    TaxKind::Additive => t.label.clone(),
                };
                [
                    s.currency.clone(),
                    label,
                    money_text(t.net_minor, &s.currency),
                    money_text(t.tax_minor, &s.currency),
                ]
            })
        })
        .collect();
    if !rows.is_empty() {
        out.line("");
        out.line("Tax per rate");
        table(out, ["CURRENCY", "RATE", "NET", "TAX"], &rows);
    }
}

/// Left-aligned columns, two spaces apart.
fn table<const N: usize>(out: &mut Printer, header: [&str; N], rows: &[[String; N]]) {
    let mut width = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let mut line = String::new();
        for (cell, w) in cells.iter().zip(width) {
            line.push_str(cell);
            line.push_str(&" ".repeat(w - cell.chars().count() + 2));
        }
        line.trim_end().to_owned()
    };
    out.line(format!("  {}", render(header.to_vec())));
    for row in rows {
        out.line(format!(
            "  {}",
            render(row.iter().map(String::as_str).collect())
        ));
    }
}
