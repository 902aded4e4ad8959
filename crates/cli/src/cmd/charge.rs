//! `charge`: create a payment, show its QR code and id, follow it to its end.
//!
//! A plain `--amount` is charged as it is. With `--item` or `--tip` the charge is a sale,
//! rung up by the core (`paydesk_core::sale`) from the till's catalog: its lines, tax and
//! tip are shown first, the payment's description and metadata carry them, and the journal
//! keeps them for History and the day's report.
//!
//! The core journals the charge before the create call leaves and the payment before its
//! id is printed, so a CLI killed at any point leaves a payment `watch` can pick up.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use paydesk_core::config::Config;
use paydesk_core::payment::Payment;
use paydesk_core::sale::{
    AmountTax, Cart, CartError, Catalog, ItemSpec, Receipt, Sale, SaleRequest, Tip, TipBy, Totals,
};
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

#[derive(Serialize)]
struct SaleEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The payment's description.
    description: &'a str,
    /// As printed: lines, subtotal, tax per rate, tip, total.
    receipt: &'a Receipt,
    /// Exact: every amount in minor units.
    totals: &'a Totals,
    tip_by: Option<TipBy>,
}

/// What `charge` asks for.
#[derive(Debug)]
pub enum Charge {
    /// `--amount` alone.
    Amount(Money),
    /// Items, a typed amount as a line, a tip.
    Sale(Sale),
}

impl Charge {
    pub fn money(&self) -> Money {
        match self {
            Charge::Amount(m) => *m,
            Charge::Sale(s) => s.amount(),
        }
    }
}

/// What to charge, in the currency the settings or `--currency` chose (never a silent
/// default), rung up from `catalog` when there are items or a tip.
pub fn charge_of(config: &Config, catalog: &Arc<Catalog>, args: &ChargeArgs) -> Result<Charge> {
    if !config.currency_chosen {
        bail!(
            "say which currency: --currency EUR (or set default_currency in the settings, or \
             PAYDESK_CURRENCY)"
        );
    }
    let currency = config.default_currency;
    let amount = args
        .amount
        .as_deref()
        .map(|a| Money::parse(a, currency).with_context(|| format!("--amount {a}")))
        .transpose()?;
    if args.items.is_empty() && args.tip.is_none() {
        return amount
            .map(Charge::Amount)
            .context("say what to charge: --amount, or --item");
    }
    let tip = args
        .tip
        .as_deref()
        .map(|t| Tip::parse(t, currency).with_context(|| format!("--tip {t}")))
        .transpose()?;
    let mut cart = Cart::new(Arc::clone(catalog));
    for item in &args.items {
        let spec: ItemSpec = item.parse().with_context(|| format!("--item {item}"))?;
        cart.add_item(&spec.sku, spec.quantity)
            .map_err(|e| unknown_item_hint(e, catalog))
            .with_context(|| format!("--item {item}"))?;
    }
    if let Some(amount) = amount {
        cart.add_amount(amount, None, AmountTax::Default)
            .context("--amount")?;
    }
    let tip_by = tip.as_ref().map(|_| TipBy::Cashier);
    let sale =
        Sale::ring_up(&cart, &tip.unwrap_or_default(), tip_by).with_context(|| {
            match &args.tip {
                Some(t) => format!("cannot ring up the sale with --tip {t}"),
                None => "cannot ring up the sale".to_owned(),
            }
        })?;
    Ok(Charge::Sale(sale))
}

/// An unknown SKU says what the catalog has (or that there is none).
fn unknown_item_hint(e: CartError, catalog: &Catalog) -> anyhow::Error {
    match e {
        CartError::UnknownSku(_) if catalog.items().is_empty() => anyhow::anyhow!(
            "{e}: this till has no catalog; add [catalog] items to its settings (see \
             docs/sale.md) or provision them"
        ),
        CartError::UnknownSku(_) => {
            const SHOWN: usize = 12;
            let mut skus: Vec<&str> = catalog
                .quick_keys()
                .iter()
                .map(|i| i.sku.as_str())
                .take(SHOWN)
                .collect();
            if catalog.items().len() > SHOWN {
                skus.push("…");
            }
            anyhow::anyhow!("{e} (the catalog has: {})", skus.join(", "))
        }
        other => other.into(),
    }
}

/// The sale's lines, tax and tip, before the QR code.
fn show_sale(out: &mut Printer, sale: &Sale, description: &str) {
    let receipt = sale.receipt();
    out.event(&SaleEvent {
        kind: "sale",
        description,
        receipt: &receipt,
        totals: sale.totals(),
        tip_by: sale.tip_by(),
    });
    let mut rows: Vec<[String; 3]> = receipt
        .lines
        .iter()
        .map(|l| {
            let name = match &l.detail {
                Some(detail) => format!("{}  {detail}", l.name),
                None => l.name.clone(),
            };
            [name, l.amount.clone(), l.tax.clone().unwrap_or_default()]
        })
        .collect();
    rows.push(["Subtotal".into(), receipt.subtotal.clone(), String::new()]);
    for t in &receipt.taxes {
        rows.push([t.label.clone(), t.tax.clone(), String::new()]);
    }
    if let Some(tip) = &receipt.tip {
        rows.push(["Tip".into(), tip.clone(), String::new()]);
    }
    rows.push(["Total".into(), receipt.total.clone(), String::new()]);
    let name_width = rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0);
    let amount_width = rows.iter().map(|r| r[1].chars().count()).max().unwrap_or(0);
    for [name, amount, tax] in rows {
        let pad = |s: &str, w: usize| " ".repeat(w.saturating_sub(s.chars().count()));
        let line = format!(
            "  {name}{}  {}{amount}  {tax}",
            pad(&name, name_width),
            pad(&amount, amount_width)
        );
        out.line(line.trim_end());
    }
}

/// Runs `charge`.
pub async fn run(
    ctx: &Context,
    args: &ChargeArgs,
    out: &mut Printer,
    customer: Option<&DemoCustomer>,
) -> Result<ExitCode> {
    ctx.require_secret_key()?;
    let charge = charge_of(&ctx.config, &ctx.catalog, args)?;
    let money = charge.money();
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
    let created = match charge {
        Charge::Amount(money) => {
            out.line(format!(
                "Charging {money} on {} ({}) …",
                terminal.name(),
                by.name()
            ));
            let mut request = ChargeRequest::new(money);
            request.description = args.description.clone();
            request.order_id = args.order_id.clone();
            terminal.charge_as(by, request).await
        }
        Charge::Sale(sale) => {
            let mut request = SaleRequest::new(sale);
            request.description = args.description.clone();
            request.order_id = args.order_id.clone();
            let summary = request.sale.summary();
            let description = request
                .description
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .unwrap_or(&summary.description);
            show_sale(out, &request.sale, description);
            out.line(format!(
                "Charging {money} on {} ({}) …",
                terminal.name(),
                by.name()
            ));
            terminal.charge_sale_as(by, request).await
        }
    };
    let payment = match created {
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
