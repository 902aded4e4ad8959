//! `watch <payment-id>`: follow an existing payment — one from an interrupted `charge`, or
//! one created elsewhere — with the same output and exit statuses as `charge`.
//!
//! The API is asked first (it is the source of truth); the journal is the fallback when
//! the API cannot be reached, so a till offline still follows what it knows. A paid
//! payment with a refund still requested (an on-chain refund waits for the customer's
//! address) is followed until Crypto.com reports the refund sent.

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use paydesk_core::gateway::GatewayError;
use paydesk_core::terminal::TerminalError;
use paydesk_core::tracker::Source;
use paydesk_core::PaymentStatus;
use serde::Serialize;

use crate::cli::WatchArgs;
use crate::cmd::{start_terminal, warn};
use crate::context::Context;
use crate::follow::{self, Ending, Stop};
use crate::output::Printer;

#[derive(Serialize)]
struct Watching<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payment_id: &'a str,
    payment: &'a paydesk_core::Payment,
}

pub async fn run(ctx: &Context, args: &WatchArgs, out: &mut Printer) -> Result<ExitCode> {
    let id = args.payment_id.trim();
    if id.is_empty() {
        bail!("give a payment id");
    }
    // Used only if `c` is typed; never asked for up front (watching needs no PIN).
    let pin = crate::pin::given(&args.who)
        .map(paydesk_core::staff::pin_of)
        .transpose()?;
    let mut stop = Stop::listen().context("cannot listen for Ctrl-C")?;
    let terminal = start_terminal(ctx, out).await?;
    let mut events = terminal.subscribe();
    let result = watch(&terminal, &mut events, id, out, &mut stop, pin.as_ref()).await;
    terminal.shutdown().await;
    result
}

/// The journal's copy of a payment.
async fn journaled(
    terminal: &paydesk_core::terminal::Terminal,
    id: &str,
) -> Result<Option<paydesk_core::Payment>> {
    let lookup = id.to_owned();
    Ok(terminal.journal().call(move |j| j.get(&lookup)).await?)
}

async fn watch(
    terminal: &paydesk_core::terminal::Terminal,
    events: &mut paydesk_core::tracker::Subscription,
    id: &str,
    out: &mut Printer,
    stop: &mut Stop,
    pin: Option<&paydesk_core::staff::Pin>,
) -> Result<ExitCode> {
    let payment =
        match terminal.refresh(id).await {
            Ok(p) => p,
            Err(TerminalError::Gateway(GatewayError::NotFound)) => {
                bail!("Crypto.com Pay does not know payment {id}; check the id")
            }
            // Only an unreachable API is worth waiting out; a refused key is not.
            Err(TerminalError::Gateway(e)) if e.is_transient() => {
                match journaled(terminal, id).await? {
                    Some(p) => {
                        warn(
                    out,
                    &format!("cannot ask the payment API now ({e}); following the journal's copy"),
                );
                        p
                    }
                    None => bail!("cannot read payment {id}: {e}"),
                }
            }
            Err(e) => bail!("cannot read payment {id}: {e}"),
        };
    let current = terminal.tracker().get(id);
    let shown = current.as_ref().map_or(&payment, |t| &t.payment);
    out.event(&Watching {
        kind: "watching",
        payment_id: id,
        payment: shown,
    });
    out.line(format!(
        "Payment {id}: {} {}",
        follow::money_text(shown.amount, &shown.currency),
        shown.effective_status()
    ));
    if let Some(url) = &shown.payment_url {
        out.line(format!("Checkout: {url}"));
    }
    let mut waiting_refund = false;
    if current.is_none() {
        let status = payment.effective_status();
        if status == PaymentStatus::Succeeded {
            // A refund still requested (an on-chain one waits for the customer's address)
            // is followed until Crypto.com reports it sent.
            let lookup = id.to_owned();
            let refunds = terminal
                .journal()
                .call(move |j| j.state(&lookup))
                .await?
                .map(|s| s.refunds.into_values().collect::<Vec<_>>())
                .unwrap_or_default();
            let waiting = follow::refunds_waiting(&payment, &refunds);
            for r in &waiting {
                let update = follow::RefundUpdate::new(&payment, r);
                out.event(&update);
                out.line(update.line());
            }
            waiting_refund = !waiting.is_empty();
        }
        if status.is_terminal() && !waiting_refund {
            return Ok(follow::finish(out, &payment));
        }
        if waiting_refund {
            out.line(
                "Waiting for Crypto.com to report the refund sent (pushed by the relay); \
                 Ctrl-C stops watching and changes nothing.",
            );
        }
        terminal.tracker().track(payment, Source::ApiRead).await?;
    }
    Ok(
        match follow::follow(terminal, events, id, out, stop, None, pin).await? {
            Ending::Finished(p) => follow::finish(out, &p),
            Ending::Interrupted if waiting_refund => follow::interrupted_refund(out, id),
            Ending::Interrupted => follow::interrupted(out, id),
        },
    )
}
