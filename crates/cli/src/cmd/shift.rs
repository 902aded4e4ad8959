//! `shift open|close|status`: this till's shift. Opening and the status need only the
//! journal; closing reconciles the shift's payments with Crypto.com Pay (unless
//! `--no-reconcile`), then stores and shows the shift's final report. On a till with staff
//! each asks for a PIN (opening: any cashier; the status, an X report, and closing: a
//! supervisor), the shift is in that person's name, and the journal says who did what.

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use paydesk_core::day::{self, Period, Shift};
use paydesk_core::receipts::local_time;
use paydesk_core::staff::{Action, Operator};
use serde::Serialize;

use crate::cli::{Global, PrintArgs, ShiftArgs, ShiftCommand};
use crate::cmd::report::{gate, journal_handle, reconciler, record, show};
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

/// The name a shift is opened or closed in: the person whose PIN was given; `--by` names
/// someone only on a till without staff.
fn acting_name(by: &Operator, named: Option<&str>) -> Result<Option<String>> {
    let named = named.map(str::trim).filter(|n| !n.is_empty());
    match (by.person(), named) {
        (Some(p), Some(n)) if n != p.name => bail!(
            "this PIN is {}'s: the shift is in the name of the person whose PIN is given,              not --by {n}",
            p.name
        ),
        (Some(p), _) => Ok(Some(p.name.clone())),
        (None, n) => Ok(n.map(str::to_owned)),
    }
}

pub async fn run(global: &Global, args: &ShiftArgs, out: &mut Printer) -> Result<ExitCode> {
    match &args.command {
        ShiftCommand::Open(open) => {
            let ctx = Context::load_without_keys(global)?;
            let till = ctx.config.terminal_name.clone();
            let by = gate(&ctx, &open.who, Action::OpenShift, till.clone())
                .await
                .context("no shift was opened")?;
            let name = acting_name(&by, open.by.as_deref())?;
            let journal = journal_handle(&ctx)?;
            let shift = day::open_shift(&journal, &till, name).await?;
            record(
                &journal,
                by,
                Action::OpenShift,
                format!("shift {}", shift.id),
            )
            .await?;
            out.event(&Shown {
                kind: "shift",
                shift: Some(&shift),
            });
            out.line(format!("OPENED {}", describe(&shift)));
            Ok(ExitCode::SUCCESS)
        }
        ShiftCommand::Status(status) => {
            let ctx = Context::load_without_keys(global)?;
            let allowed = gate(
                &ctx,
                &status.who,
                Action::Report,
                ctx.config.terminal_name.clone(),
            )
            .await?;
            drop(allowed);
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
            let ctx = if close.no_reconcile {
                Context::load_without_keys(global)?
            } else {
                Context::load(global).await?
            };
            let till = ctx.config.terminal_name.clone();
            let by = gate(&ctx, &close.who, Action::CloseShift, till.clone())
                .await
                .context("the shift was not closed")?;
            let name = acting_name(&by, close.by.as_deref())?;
            let (journal, report) = if close.no_reconcile {
                let journal = journal_handle(&ctx)?;
                let report = day::close_shift(&journal, &till, name, None).await?;
                (journal, report)
            } else {
                let reconciler = reconciler(&ctx)?;
                let report =
                    day::close_shift(reconciler.journal(), &till, name, Some(&reconciler)).await?;
                (reconciler.journal().clone(), report)
            };
            let detail = match report.period {
                Period::Shift(id) => format!("shift {id}"),
                Period::Day(d) => d.to_string(),
            };
            record(&journal, by, Action::CloseShift, detail).await?;
            if let Some(shift) = &report.shift {
                out.line(format!("CLOSED {}", describe(shift)));
            }
            show(&ctx, &report, false, &close.print, out).await
        }
    }
}
