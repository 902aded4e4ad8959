//! One file per command, each a thin layer over the core: parse, call, show.

pub mod bundle;
pub mod cancel;
pub mod charge;
pub mod demo;
pub mod doctor;
pub mod history;
pub mod provision;
pub mod receipt;
pub mod refund;
pub mod report;
pub mod shift;
pub mod staff;
pub mod watch;

use anyhow::{Context as _, Result};
use paydesk_core::staff::{Action, Context as GateContext, Operator, Staff};
use paydesk_core::terminal::Terminal;
use serde::Serialize;

use crate::context::Context;
use crate::output::Printer;

#[derive(Serialize)]
struct Warning<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

/// A warning the person should see: on stderr, and as a JSON event with `--json`.
pub fn warn(out: &mut Printer, message: &str) {
    out.settle();
    out.event(&Warning {
        kind: "warning",
        message,
    });
    eprintln!("warning: {message}");
}

/// Starts the till's core (journal, tracker, session, staff gate) as the app would.
pub async fn start_terminal(ctx: &Context, out: &mut Printer) -> Result<Terminal> {
    let staff = ctx.open_staff().await?;
    start_terminal_with(ctx, staff, out).await
}

/// [`start_terminal`] with the staff gate already open (the command asked it first).
pub async fn start_terminal_with(
    ctx: &Context,
    staff: Staff,
    out: &mut Printer,
) -> Result<Terminal> {
    let mut setup = ctx.terminal_setup()?;
    setup.staff = staff;
    if let Some(w) = ctx.relay_warning() {
        warn(out, &w);
    }
    let journal = ctx.open_journal()?;
    Terminal::start(setup, journal)
        .await
        .context("cannot start the till")
}

/// The gate for a command: the PIN given (or asked) for `action` about `about`.
pub async fn operator(
    staff: &Staff,
    who: &crate::cli::PinArg,
    action: Action,
    about: GateContext,
) -> Result<Operator> {
    let pin = crate::pin::acting(who, staff, action).await?;
    Ok(staff.authorize(pin, action, about).await?)
}
