//! `cancel <payment-id>`: cancel a pending payment at Crypto.com Pay, as the person whose
//! PIN is given (a cashier their own payments, a supervisor any). The answer is journaled
//! like any other read; exit 0 only when the payment is now cancelled.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use paydesk_core::staff::Action;
use paydesk_core::PaymentStatus;
use serde::Serialize;

use crate::cli::PaymentArg;
use crate::cmd::start_terminal_with;
use crate::context::Context;
use crate::follow::{money_text, EXIT_ERROR};
use crate::output::Printer;

#[derive(Serialize)]
struct Cancelled<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payment_id: &'a str,
    status: PaymentStatus,
    payment: &'a paydesk_core::Payment,
}

pub async fn run(ctx: &Context, args: &PaymentArg, out: &mut Printer) -> Result<ExitCode> {
    let id = args.payment_id.trim();
    let staff = ctx.open_staff().await?;
    let pin = crate::pin::acting(&args.who, &staff, Action::CancelOwn).await?;
    let terminal = start_terminal_with(ctx, staff, out).await?;
    let result = async {
        let about = terminal.payment_context(id).await?;
        let by = terminal.authorize(pin, Action::CancelOwn, about).await?;
        terminal.cancel_as(by, id).await
    }
    .await;
    terminal.shutdown().await;
    let payment = result.with_context(|| format!("payment {id} was not cancelled"))?;
    let status = payment.effective_status();
    out.event(&Cancelled {
        kind: "cancel",
        payment_id: id,
        status: status.clone(),
        payment: &payment,
    });
    let amount = money_text(payment.amount, &payment.currency);
    if status == PaymentStatus::Cancelled {
        out.line(format!("CANCELLED {amount} (payment {id})"));
        Ok(ExitCode::SUCCESS)
    } else {
        out.line(format!(
            "payment {id} ({amount}) was not cancelled: it is {status}"
        ));
        Ok(ExitCode::from(EXIT_ERROR))
    }
}
