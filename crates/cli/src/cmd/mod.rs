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
pub mod watch;

use anyhow::{Context as _, Result};
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

/// Starts the till's core (journal, tracker, session) as the app would.
pub async fn start_terminal(ctx: &Context, out: &mut Printer) -> Result<Terminal> {
    let setup = ctx.terminal_setup()?;
    if let Some(w) = ctx.relay_warning() {
        warn(out, &w);
    }
    let journal = ctx.open_journal()?;
    Terminal::start(setup, journal)
        .await
        .context("cannot start the till")
}
