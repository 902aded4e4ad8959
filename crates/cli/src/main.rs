//! `paydesk-cli`: PayDesk's core without a window — for installers, for support, and for
//! testing the whole system. Parses the command line, sets up logging (to files; stdout
//! is for people and scripts) and runs one command from `cmd/`.
//!
//! Exit status: 0 success / paid, 1 error (or a failed doctor check), 3 expired,
//! 4 cancelled, 5 a PIN is needed, 6 the PIN was refused, 7 the role does not allow it,
//! 8 the printer failed, 9 reconciliation incomplete, 130 interrupted while following a
//! payment.

mod cli;
mod cmd;
mod context;
mod follow;
mod output;
mod pin;

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Parser;
use serde::Serialize;

use crate::cli::{Cli, Command};
use crate::context::{seconds, Context};
use crate::output::Printer;

#[derive(Serialize)]
struct ErrorEvent {
    #[serde(rename = "type")]
    kind: &'static str,
    message: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    paydesk_core::init_tls();
    let log_dir = paydesk_core::logging::default_log_dir();
    // A till whose log folder is unwritable still takes payments; it says so once.
    let _guard = match paydesk_core::logging::Logs::new("cli")
        .dir(log_dir.as_deref())
        .files_only()
        .init()
    {
        Ok(g) => g,
        Err(e) => {
            eprintln!("warning: logging is off: {e}");
            None
        }
    };
    let mut out = Printer::new(cli.global.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
    {
        Ok(r) => r,
        Err(e) => return fail(&mut out, &e),
    };
    let result = runtime.block_on(run(&cli, &mut out));
    // A stdin read blocks its thread until a line comes; do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(code) => code,
        Err(e) => fail(&mut out, &e),
    }
}

fn fail(out: &mut Printer, e: &anyhow::Error) -> ExitCode {
    tracing::error!(error = %format!("{e:#}"), "command failed");
    out.settle();
    out.event(&ErrorEvent {
        kind: "error",
        message: format!("{e:#}"),
    });
    eprintln!("error: {e:#}");
    if let Some(hint) = pin::hint(e) {
        eprintln!("hint: {hint}");
    }
    ExitCode::from(pin::exit_code(e).unwrap_or(follow::EXIT_ERROR))
}

async fn run(cli: &Cli, out: &mut Printer) -> Result<ExitCode> {
    let global = &cli.global;
    tracing::info!(
        command = cli.command.name(),
        version = env!("CARGO_PKG_VERSION"),
        "paydesk-cli started"
    );
    match &cli.command {
        Command::Charge(args) => {
            let ctx = Context::load(global).await?;
            cmd::charge::run(&ctx, args, out, None).await
        }
        Command::Watch(args) => cmd::watch::run(&Context::load(global).await?, args, out).await,
        Command::Cancel(args) => cmd::cancel::run(&Context::load(global).await?, args, out).await,
        Command::Refund(args) => cmd::refund::run(&Context::load(global).await?, args, out).await,
        Command::History(args) => {
            cmd::history::run(&Context::load_without_keys(global)?, args, out).await
        }
        Command::Doctor(args) => {
            let ctx = Context::load(global).await?;
            let wait = seconds(args.relay_wait, "--relay-wait")?;
            cmd::doctor::run(&ctx, wait, args.bundle.as_deref(), out).await
        }
        Command::Provision(args) => cmd::provision::run(global, args, out),
        Command::Demo(args) => cmd::demo::run(global, args, out).await,
        Command::Shift(args) => cmd::shift::run(global, args, out).await,
        Command::Report(args) => cmd::report::run(global, args, out).await,
        Command::Receipt(args) => {
            cmd::receipt::run(&Context::load_without_keys(global)?, args, out).await
        }
        Command::Staff(command) => {
            cmd::staff::run(&Context::load_without_keys(global)?, command, out).await
        }
    }
}
