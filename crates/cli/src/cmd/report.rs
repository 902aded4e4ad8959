//! `report [--date D | --shift S] [--csv] [--print] [--reconcile]`: the report of a day
//! (every till of this book) or a shift, from the journal. `--reconcile` first asks
//! Crypto.com Pay about the period, repairs the journal and stores the result as the
//! period's final report (the day's Z report); without it, a closed period shows its
//! stored report and an open one its numbers so far. Only `--reconcile` needs keys.

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use paydesk_core::day::{self, Period, Reconciler, Report, ShiftId};
use paydesk_core::journal::JournalHandle;
use paydesk_core::receipts::ReceiptView;
use serde::Serialize;

use crate::cli::{Global, PrintArgs, ReportArgs};
use crate::cmd::history::parse_day;
use crate::cmd::receipt::{print, printer_settings, show_outcome};
use crate::context::Context;
use crate::output::Printer;

/// Reconciliation could not check everything; the report says what.
pub const EXIT_UNRECONCILED: u8 = 9;

#[derive(Serialize)]
struct Shown<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    report: &'a Report,
}

/// The journal on its own thread, for commands that need no keys.
pub fn journal_handle(ctx: &Context) -> Result<JournalHandle> {
    Ok(JournalHandle::spawn(ctx.open_journal()?)?)
}

/// A reconciler against the till's API (needs the secret key), without a running till.
pub fn reconciler(ctx: &Context) -> Result<Reconciler> {
    let setup = ctx.terminal_setup()?;
    let journal = ctx.open_journal()?;
    setup
        .headless_reconciler(journal)
        .context("cannot reach the payment API")
}

pub async fn run(global: &Global, args: &ReportArgs, out: &mut Printer) -> Result<ExitCode> {
    let period = match args.shift {
        Some(id) => Period::Shift(ShiftId(id)),
        None => Period::Day(parse_day(args.date.as_deref())?),
    };
    let (ctx, report) = if args.reconcile {
        let ctx = Context::load(global).await?;
        let reconciler = reconciler(&ctx)?;
        let journal = reconciler.journal().clone();
        let report = match period {
            Period::Day(d) => day::close_day(&journal, d, Some(&reconciler)).await?,
            Period::Shift(id) => {
                let shift = journal
                    .call(move |j| j.shift(id))
                    .await?
                    .with_context(|| format!("shift {id} does not exist"))?;
                if shift.is_open() {
                    bail!(
                        "shift {id} is still open: close it with `paydesk-cli shift close`, \
                         which reconciles it"
                    );
                }
                day::reclose(&journal, period, Some(&reconciler)).await?
            }
        };
        (ctx, report)
    } else {
        let ctx = Context::load_without_keys(global)?;
        let journal = journal_handle(&ctx)?;
        let report = day::report(&journal, period).await?;
        (ctx, report)
    };
    show(&ctx, &report, args.csv, &args.print, out).await
}

/// Shows a report (text, JSON or CSV), prints it if asked; the exit status says whether
/// the printer and the reconciliation did all they should.
pub async fn show(
    ctx: &Context,
    report: &Report,
    csv: bool,
    print_args: &PrintArgs,
    out: &mut Printer,
) -> Result<ExitCode> {
    let receipt = report.receipt(&ctx.config.shop);
    let printer = printer_settings(ctx, print_args.printer.as_deref());
    if csv {
        let stdout = std::io::stdout();
        report
            .write_csv(stdout.lock())
            .context("cannot write the CSV")?;
    } else {
        out.event(&Shown {
            kind: "report",
            report,
        });
        let view = ReceiptView::of(&receipt, printer.as_ref());
        out.block(&view.text);
    }
    let mut code = ExitCode::SUCCESS;
    if print_args.print {
        let Some(settings) = printer else {
            bail!(
                "no receipt printer is set up: use --printer URL, PAYDESK_PRINTER or [printer] url"
            );
        };
        let outcome = print(&settings, &receipt).await?;
        if !csv {
            out.event(&serde_json::json!({ "type": "printed", "outcome": outcome }));
        }
        code = show_outcome(out, &outcome, "the report", &settings.url);
    }
    if code == ExitCode::SUCCESS {
        if let Some(rec) = &report.reconciliation {
            if !rec.complete() {
                for u in &rec.unchecked {
                    eprintln!(
                        "warning: not reconciled{}: {}",
                        u.payment_id
                            .as_deref()
                            .map(|p| format!(" (payment {p})"))
                            .unwrap_or_default(),
                        u.reason
                    );
                }
                code = ExitCode::from(EXIT_UNRECONCILED);
            }
        }
    }
    Ok(code)
}
