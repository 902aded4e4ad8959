//! Who is acting, for the gated commands: a PIN from `--pin`, else `PAYDESK_PIN`, else
//! typed on the terminal without echo when stdin is one. A till without staff asks for
//! none (the core journals the action as unattended). The PIN goes straight into a
//! `Secret` and then a `Pin`; it is never printed, logged or put in an error.
//!
//! Exit statuses (README): 5 a PIN is needed and none was given, 6 the PIN was refused
//! (wrong, locked out, PIN entry paused, not 4-6 digits), 7 the person's role does not
//! allow it.

use std::io::IsTerminal;

use anyhow::{Context as _, Result};
use paydesk_core::secrets::Secret;
use paydesk_core::staff::{self, Action, GateError, Pin, Staff};
use paydesk_core::terminal::TerminalError;

use crate::cli::{NewPinArg, PinArg};

pub const EXIT_PIN_NEEDED: u8 = 5;
pub const EXIT_PIN_REFUSED: u8 = 6;
pub const EXIT_NOT_ALLOWED: u8 = 7;
/// A new PIN for `staff add` / `set-pin`, for scripts.
pub const NEW_PIN_ENV: &str = "PAYDESK_NEW_PIN";

/// The PIN of the person acting, if they gave one (or typed one when asked). Asks only
/// when `staff` has someone on it and stdin is a terminal.
pub async fn acting(arg: &PinArg, staff: &Staff, action: Action) -> Result<Option<Pin>> {
    if let Some(secret) = given(arg) {
        return Ok(Some(staff::pin_of(secret)?));
    }
    if !std::io::stdin().is_terminal() || !staff.has_staff().await? {
        return Ok(None);
    }
    let prompt = format!("PIN to {}: ", action.phrase());
    let typed = ask(prompt).await?;
    Ok(Some(staff::pin_of(typed)?))
}

/// `--pin`, else `PAYDESK_PIN`.
pub fn given(arg: &PinArg) -> Option<Secret> {
    arg.pin
        .clone()
        .or_else(|| std::env::var(staff::PIN_ENV).ok().map(Secret::new))
        .filter(|s| !s.is_empty())
}

/// A new PIN for someone: `--new-pin`, else `PAYDESK_NEW_PIN`, else typed twice.
pub async fn new_pin(arg: &NewPinArg, whose: &str) -> Result<Pin> {
    let secret = arg
        .new_pin
        .clone()
        .or_else(|| std::env::var(NEW_PIN_ENV).ok().map(Secret::new))
        .filter(|s| !s.is_empty());
    if let Some(secret) = secret {
        return Ok(staff::pin_of(secret)?);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "give {whose} new PIN with --new-pin or {NEW_PIN_ENV}, or run this in a terminal \
             to type it"
        );
    }
    let first = staff::pin_of(ask(format!("New PIN for {whose}: ")).await?)?;
    let again = staff::pin_of(ask("The same PIN again: ".to_owned()).await?)?;
    if first != again {
        anyhow::bail!("the two PINs differ; nothing was changed");
    }
    Ok(first)
}

/// Reads a line from the terminal without echo, off the async threads.
async fn ask(prompt: String) -> Result<Secret> {
    tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt))
        .await
        .context("cannot read the PIN")?
        .map(Secret::new)
        .context("cannot read the PIN from the terminal")
}

/// The exit status for a gate's refusal somewhere in `e`'s chain, if it is one.
pub fn exit_code(e: &anyhow::Error) -> Option<u8> {
    let gate = e.chain().find_map(|c| {
        c.downcast_ref::<GateError>()
            .or_else(|| match c.downcast_ref::<TerminalError>() {
                Some(TerminalError::Gate(g)) => Some(g),
                _ => None,
            })
    })?;
    if matches!(gate, GateError::PinNeeded { .. }) {
        Some(EXIT_PIN_NEEDED)
    } else if gate.is_pin_refused() {
        Some(EXIT_PIN_REFUSED)
    } else if gate.is_not_allowed() {
        Some(EXIT_NOT_ALLOWED)
    } else {
        None
    }
}

/// The hint that goes with a missing PIN.
pub fn hint(e: &anyhow::Error) -> Option<&'static str> {
    (exit_code(e) == Some(EXIT_PIN_NEEDED))
        .then_some("give --pin PIN, set PAYDESK_PIN, or run the command in a terminal to type it")
}
