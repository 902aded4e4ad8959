//! `shift open|close|status`: this till's shift. Opening and the status need only the
//! journal; closing reconciles the shift's payments with Crypto.com Pay (unless
//! `--no-reconcile`), then stores and shows the shift's final report.

use std::process::ExitCode;

use anyhow::Result;
use paydesk_core::day::{self, Period, Shift};
use paydesk_core::receipts::local_time;
use serde::Serialize;

use crate::cli::{Global, PrintArgs, ShiftArgs, ShiftCommand};
use crate::cmd::report::{journal_handle, reconciler, show};
use crate::context::Context;
use crate::output::Printer;

#[derive(Serialize)]
struct Shown<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    shift: Option<&'a Shift>,
}

fn describe(s: &Shift) -> String {
    let mut line = format!(
        "shift {} on {}: opened {}",
        s.id,
        s.till,
        local_time(s.opened_at_ms)
    );
    if let Some(by) = &s.opened_by {
        line.push_str(&format!(" by {by}"));
    }
    if let Some(at) = s.closed_at_ms {
        line.push_str(&format!(", closed {}", local_time(at)));
        if let Some(by) = &s.closed_by {
            line.push_str(&format!(" by {by}"));
        }
    }
    line
}

pub async fn run(global: &Global, args: &ShiftArgs, out: &mut Printer) -> Result<ExitCode> {
    match &args.command {
        ShiftCommand::Open(open) => {
            let ctx = Context::load_without_keys(global)?;
            let journal = journal_handle(&ctx)?;
            let shift =
                day::open_shift(&journal, &ctx.config.terminal_name, open.by.clone()).await?;
            out.event(&Shown {
                kind: "shift",
                shift: Some(&shift),
            });
            out.line(format!("OPENED {}", describe(&shift)));
            Ok(ExitCode::SUCCESS)
        }
        ShiftCommand::Status => {
            let ctx = Context::load_without_keys(global)?;
            let journal = journal_handle(&ctx)?;
            let shift = day::current_shift(&journal, &ctx.config.terminal_name).await?;
            out.event(&Shown {
                kind: "shift",
                shift: shift.as_ref(),
            });
            match shift {
                None => {
                    out.line(format!(
                        "{} has no open shift (open one with `paydesk-cli shift open`)",
                        ctx.config.terminal_name
                    ));
                    Ok(ExitCode::SUCCESS)
                }
                Some(shift) => {
                    out.line(format!("OPEN {}", describe(&shift)));
                    let report = day::report(&journal, Period::Shift(shift.id)).await?;
                    show(
                        &ctx,
                        &report,
                        false,
                        &PrintArgs {
                            print: false,
                            printer: None,
                        },
                        out,
                    )
                    .await
                }
            }
        }
        ShiftCommand::Close(close) => {
            let (ctx, report) = if close.no_reconcile {
                let ctx = Context::load_without_keys(global)?;
                let journal = journal_handle(&ctx)?;
                let till = ctx.config.terminal_name.clone();
                let report = day::close_shift(&journal, &till, close.by.clone(), None).await?;
                (ctx, report)
            } else {
                let ctx = Context::load(global).await?;
                let reconciler = reconciler(&ctx)?;
                let till = ctx.config.terminal_name.clone();
                let report = day::close_shift(
                    reconciler.journal(),
                    &till,
                    close.by.clone(),
                    Some(&reconciler),
                )
                .await?;
                (ctx, report)
            };
            if let Some(shift) = &report.shift {
                out.line(format!("CLOSED {}", describe(shift)));
            }
            show(&ctx, &report, false, &close.print, out).await
        }
    }
}
