//! `receipt <payment-id> [--refund ID] [--printer URL]`: print (or reprint) a journaled
//! payment's receipt, or one refund's slip, on the settings' printer or the one named;
//! with no printer at all, show it here. Needs no keys and no network but the printer's.
//! Printing is a reprint (`Action::Reprint`: any cashier's PIN on a till with staff, and the
//! journal keeps who printed what); showing needs no PIN.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use paydesk_core::receipts::{PrintOutcome, ReceiptError, ReceiptSetup, ReceiptView};
use paydesk_core::staff::Action;
use paydesk_receipt::{Printer, PrinterSettings, Receipt};
use serde::Serialize;

use crate::cli::ReceiptArgs;
use crate::context::Context;
use crate::output::Printer as Output;

/// The printer failed; what was to be printed is kept and can be printed again.
pub const EXIT_PRINTER: u8 = 8;

#[derive(Serialize)]
struct Shown<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payment_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_id: Option<&'a str>,
    receipt: &'a ReceiptView,
    /// `None`: no printer, shown only.
    #[serde(skip_serializing_if = "Option::is_none")]
    printed: Option<PrintOutcome>,
}

/// The settings' printer, or `url` in its place (keeping the settings' paper and code
/// page); `None` when there is neither.
pub fn printer_settings(ctx: &Context, url: Option<&str>) -> Option<PrinterSettings> {
    match (
        url.map(str::trim).filter(|u| !u.is_empty()),
        &ctx.config.printer,
    ) {
        (Some(url), Some(settings)) => Some(PrinterSettings {
            url: url.to_owned(),
            ..settings.clone()
        }),
        (Some(url), None) => Some(PrinterSettings::new(url)),
        (None, settings) => settings.clone(),
    }
}

/// Prints `receipt`, within the printer's deadlines.
pub async fn print(settings: &PrinterSettings, receipt: &Receipt) -> Result<PrintOutcome> {
    let printer = Printer::new(settings).context("the printer address is not usable")?;
    let result = printer.print(receipt).await.map_err(ReceiptError::from);
    Ok(PrintOutcome::of(&result))
}

/// Says how a print went; the exit status for it.
pub fn show_outcome(
    out: &mut Output,
    outcome: &PrintOutcome,
    what: &str,
    printer: &str,
) -> ExitCode {
    match outcome {
        PrintOutcome::Printed { paper_low } => {
            out.line(format!("PRINTED {what} on {printer}"));
            if *paper_low {
                out.line("The paper is running low: load a new roll soon.");
            }
            ExitCode::SUCCESS
        }
        PrintOutcome::Failed {
            message,
            partly_printed,
            ..
        } => {
            out.line(format!("NOT PRINTED {what}: {message}"));
            if *partly_printed {
                out.line("Part of it may have printed; a reprint is a second copy.");
            }
            eprintln!("error: {what} was not printed: {message}");
            ExitCode::from(EXIT_PRINTER)
        }
    }
}

pub async fn run(ctx: &Context, args: &ReceiptArgs, out: &mut Output) -> Result<ExitCode> {
    let id = args.payment_id.trim();
    let journal = ctx.open_journal()?;
    let lookup = id.to_owned();
    let entry = tokio::task::spawn_blocking(move || journal.entry(&lookup))
        .await
        .context("the journal's thread failed")??
        .ok_or_else(|| ReceiptError::UnknownPayment(id.to_owned()))?;
    let printer = printer_settings(ctx, args.printer.as_deref());
    let mut setup = ReceiptSetup::from_config(&ctx.config, ctx.mode);
    setup.printer = printer.clone();
    let receipt = match &args.refund {
        Some(refund) => setup.refund(&entry, refund.trim())?,
        None => setup.sale(&entry)?,
    };
    let view = setup.screen(&receipt);
    let what = match &args.refund {
        Some(r) => format!("the slip of refund {r}"),
        None => format!("the receipt of payment {id}"),
    };
    let Some(settings) = printer else {
        out.event(&Shown {
            kind: "receipt",
            payment_id: id,
            refund_id: args.refund.as_deref(),
            receipt: &view,
            printed: None,
        });
        out.block(&view.text);
        if let Some(qr) = &view.qr {
            out.line(format!("[QR: {qr}]"));
        }
        out.line("No receipt printer is set up ([printer] url, PAYDESK_PRINTER or --printer): shown here only.");
        return Ok(ExitCode::SUCCESS);
    };
    let by = crate::cmd::report::gate(ctx, &args.who, Action::Reprint, id.to_owned())
        .await
        .context("nothing was printed")?;
    let outcome = print(&settings, &receipt).await?;
    let journal = crate::cmd::report::journal_handle(ctx)?;
    crate::cmd::report::record(&journal, by, Action::Reprint, what.clone()).await?;
    out.event(&Shown {
        kind: "receipt",
        payment_id: id,
        refund_id: args.refund.as_deref(),
        receipt: &view,
        printed: Some(outcome.clone()),
    });
    Ok(show_outcome(out, &outcome, &what, &settings.url))
}
