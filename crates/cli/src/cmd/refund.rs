//! `refund <payment-id> [--amount …]`: refund a paid payment, in full or in part. The
//! amount is read in the payment's own currency; the core checks what is refundable.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use paydesk_core::explain;
use paydesk_core::merge::RefundState;
use paydesk_core::payment::{Refund, RefundStatus};
use paydesk_core::staff::{Action, Pin};
use paydesk_core::{Currency, Money, Payment};
use serde::Serialize;

use crate::cli::RefundArgs;
use crate::cmd::start_terminal_with;
use crate::context::Context;
use crate::follow::money_text;
use crate::output::Printer;

#[derive(Serialize)]
struct Refunded<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payment_id: &'a str,
    refund: &'a Refund,
    payment: Option<&'a Payment>,
    /// `state` (requested | sent | failed), `label` and `customer_sees`.
    #[serde(flatten)]
    words: Option<explain::RefundWords>,
}

pub async fn run(ctx: &Context, args: &RefundArgs, out: &mut Printer) -> Result<ExitCode> {
    let id = args.payment_id.trim();
    let staff = ctx.open_staff().await?;
    let pin = crate::pin::acting(&args.who, &staff, Action::Refund).await?;
    let terminal = start_terminal_with(ctx, staff, out).await?;
    let result = refund(&terminal, id, args, pin).await;
    terminal.shutdown().await;
    let (refund, payment) = result?;
    let words = payment
        .as_ref()
        .map(|p| explain::refund(&RefundState::of(&refund), p));
    out.event(&Refunded {
        kind: "refund",
        payment_id: id,
        refund: &refund,
        payment: payment.as_ref(),
        words,
    });
    let amount = money_text(refund.amount, &refund.currency);
    if refund.status == RefundStatus::Succeeded {
        out.line(format!(
            "REFUNDED {amount} of payment {id} (refund {}, sent)",
            refund.id
        ));
    } else {
        out.line(format!(
            "REFUND REQUESTED {amount} of payment {id} (refund {}, not sent yet)",
            refund.id
        ));
    }
    if let Some(reason) = &refund.reason {
        out.line(format!("Reason: {reason}"));
    }
    if let Some(w) = words {
        out.line(w.customer_sees);
    }
    if let Some(p) = &payment {
        out.line(format!(
            "Refunded so far: {} of {}",
            money_text(p.amount_refunded, &p.currency),
            money_text(p.amount, &p.currency)
        ));
    }
    if refund.status == RefundStatus::Pending {
        out.line(format!(
            "History shows it as Requested until Crypto.com reports it sent; \
             `paydesk-cli watch {id}` waits for that."
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn refund(
    terminal: &paydesk_core::terminal::Terminal,
    id: &str,
    args: &RefundArgs,
    pin: Option<Pin>,
) -> Result<(Refund, Option<Payment>)> {
    let about = terminal.payment_context(id).await?;
    let by = terminal
        .authorize(pin, Action::Refund, about)
        .await
        .with_context(|| format!("payment {id} was not refunded"))?;
    let amount = match &args.amount {
        None => None,
        Some(text) => {
            let payment = terminal
                .refresh(id)
                .await
                .with_context(|| format!("cannot read payment {id}"))?;
            let currency = Currency::from_code(&payment.currency)?;
            Some(Money::parse(text, currency).with_context(|| format!("--amount {text}"))?)
        }
    };
    let refund = terminal
        .refund_as(by, id, amount, args.reason.clone())
        .await
        .with_context(|| format!("payment {id} was not refunded"))?;
    let lookup = id.to_owned();
    Ok((
        refund,
        terminal.journal().call(move |j| j.get(&lookup)).await?,
    ))
}
