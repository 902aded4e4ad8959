//! `charge`: create a payment, show its QR code and id, follow it to its end.
//!
//! The core journals the charge before the create call leaves and the payment before its
//! id is printed, so a CLI killed at any point leaves a payment `watch` can pick up.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use paydesk_core::payment::Payment;
use paydesk_core::staff::{self, Action, Context as GateContext, Pin, StaffKind};
use paydesk_core::terminal::{ChargeRequest, TerminalError};
use paydesk_core::{qr, Money};
use paydesk_demo::Demo;
use serde::Serialize;

use crate::cli::ChargeArgs;
use crate::cmd::{start_terminal_with, warn};
use crate::context::Context;
use crate::follow::{self, Ending, Stop};
use crate::output::Printer;

#[derive(Serialize)]
struct Created<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payment_id: &'a str,
    payment: &'a Payment,
}

/// The demo shop's customer, when charging in the demo.
pub struct DemoCustomer {
    pub demo: Arc<Demo>,
    /// Pays this long after the payment is created; else only when `p` is typed.
    pub pay_after: Option<Duration>,
}

/// The amount to charge, in the currency the settings or `--currency` chose: never a
/// silent default.
pub fn money_of(config: &paydesk_core::config::Config, args: &ChargeArgs) -> Result<Money> {
    if !config.currency_chosen {
        anyhow::bail!(
            "say which currency: --currency EUR (or set default_currency in the settings, or \
             PAYDESK_CURRENCY)"
        );
    }
    Money::parse(&args.amount, config.default_currency)
        .with_context(|| format!("--amount {}", args.amount))
}

/// Runs `charge`.
pub async fn run(
    ctx: &Context,
    args: &ChargeArgs,
    out: &mut Printer,
    customer: Option<&DemoCustomer>,
) -> Result<ExitCode> {
    ctx.require_secret_key()?;
    let money = money_of(&ctx.config, args)?;
    let staff = ctx.open_staff().await?;
    let pin = match crate::pin::acting(&args.who, &staff, Action::Charge).await? {
        // The demo's own owner acts when nobody says otherwise: its PIN is public.
        None if customer.is_some() && staff.kind() == StaffKind::Demo => {
            out.line(format!(
                "Demo: charging as {} (PIN {})",
                staff::DEMO_OWNER_NAME,
                staff::DEMO_OWNER_PIN
            ));
            Some(staff::DEMO_OWNER_PIN.parse::<Pin>()?)
        }
        pin => pin,
    };
    let by = staff
        .authorize(pin.clone(), Action::Charge, GateContext::none())
        .await
        .context("the payment was not created")?;
    let mut stop = Stop::listen().context("cannot listen for Ctrl-C")?;
    let terminal = start_terminal_with(ctx, staff, out).await?;
    // Subscribed before the create call, so no change of the new payment can be missed.
    let mut events = terminal.subscribe();
    for earlier in terminal.snapshot().payments {
        warn(
            out,
            &format!(
                "payment {} from an earlier run is still pending; follow it with \
                 `paydesk-cli watch {}`",
                earlier.payment.id, earlier.payment.id
            ),
        );
    }
    out.line(format!(
        "Charging {money} on {} ({}) …",
        terminal.name(),
        by.name()
    ));
    let mut request = ChargeRequest::new(money);
    request.description = args.description.clone();
    request.order_id = args.order_id.clone();
    let payment = match terminal.charge_as(by, request).await {
        Ok(p) => p,
        Err(TerminalError::Gateway(e)) if e.is_ambiguous() => {
            terminal.shutdown().await;
            let order = args
                .order_id
                .as_deref()
                .map(|o| format!(" (order {o})"))
                .unwrap_or_default();
            anyhow::bail!(
                "{} Whether the payment was created is unknown. The charge{order} is \
                 journaled: a later `paydesk-cli charge` or `watch` (a minute or more from \
                 now) looks it up at Crypto.com Pay by its order id. Check the merchant \
                 dashboard before charging the customer again.",
                e.cashier_message()
            );
        }
        Err(e) => {
            terminal.shutdown().await;
            return Err(e).context("the payment was not created");
        }
    };
    show_created(out, &payment);
    let paying = customer.and_then(|c| {
        c.pay_after
            .map(|after| tokio::spawn(pay_later(Arc::clone(&c.demo), payment.id.clone(), after)))
    });
    let demo = customer.map(|c| c.demo.as_ref());
    let ending = follow::follow(
        &terminal,
        &mut events,
        &payment.id,
        out,
        &mut stop,
        demo,
        pin.as_ref(),
    )
    .await;
    if let Some(task) = paying {
        task.abort();
        let _ = task.await;
    }
    terminal.shutdown().await;
    Ok(match ending? {
        Ending::Finished(p) => follow::finish(out, &p),
        Ending::Interrupted => follow::interrupted(out, &payment.id),
    })
}

/// The demo customer pays `after` the payment was created.
async fn pay_later(demo: Arc<Demo>, payment_id: String, after: Duration) {
    tokio::time::sleep(after).await;
    if let Err(e) = demo.simulate_payment(&payment_id).await {
        tracing::warn!(payment = %payment_id, error = %e, "the demo customer could not pay");
        eprintln!("warning: the demo customer could not pay: {e}");
    }
}

fn show_created(out: &mut Printer, payment: &Payment) {
    out.event(&Created {
        kind: "created",
        payment_id: &payment.id,
        payment,
    });
    if let Some(url) = &payment.payment_url {
        match qr::terminal(url) {
            Ok(code) => out.block(&code),
            Err(e) => out.line(format!("(no QR code: {e})")),
        }
        out.line(format!("Scan to pay, or open: {url}"));
    }
    out.line(format!("Payment id: {}", payment.id));
    if let Some(order) = &payment.order_id {
        out.line(format!("Order id: {order}"));
    }
}
