//! `demo …`: the demo shop (sandbox + relay, `paydesk-demo`) in this process, with the
//! command pointed at it — for installers trying a machine, and for showing PayDesk
//! without keys or money. Its payments go to a journal of their own that ends with it.
//! While a demo charge runs, typing `p` and Enter makes the demo customer pay.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use paydesk_core::till::DemoShop;
use paydesk_demo::{Demo, DemoConfig};
use serde::Serialize;

use crate::cli::{DemoArgs, DemoCommand, Global};
use crate::cmd::charge::DemoCustomer;
use crate::cmd::{charge, doctor};
use crate::context::{seconds, Context};
use crate::output::Printer;

#[derive(Serialize)]
struct DemoStarted<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    api_url: &'a str,
    relay_url: &'a str,
    sandbox_url: &'a str,
}

pub async fn run(global: &Global, args: &DemoArgs, out: &mut Printer) -> Result<ExitCode> {
    let time_window = seconds(args.time_window, "--time-window")?;
    // The input first: a bad amount must not start (and tear down) a demo shop.
    let settings = Context::demo_settings(global)?;
    if let DemoCommand::Charge(c) = &args.command {
        let catalog = std::sync::Arc::new(settings.catalog()?);
        charge::charge_of(&settings, &catalog, &c.charge)?;
    }
    let demo = Demo::start(DemoConfig {
        time_window,
        terminal_name: global
            .terminal_name
            .clone()
            .unwrap_or_else(|| "demo-till".into()),
        ..DemoConfig::default()
    })
    .await
    .context("the demo shop did not start")?;
    let demo = Arc::new(demo);
    out.event(&DemoStarted {
        kind: "demo",
        api_url: &demo.api_url(),
        relay_url: &demo.relay_url(),
        sandbox_url: &demo.sandbox_url(),
    });
    out.line(format!(
        "DEMO — no real money. Sandbox {} · relay {}",
        demo.sandbox_url(),
        demo.relay_url()
    ));
    let ctx = Context::demo(global, &DemoShop::endpoints(demo.as_ref()))?;
    let result = match &args.command {
        DemoCommand::Charge(c) => {
            let customer = DemoCustomer {
                demo: Arc::clone(&demo),
                pay_after: c.pay_after.map(Duration::from_secs),
            };
            charge::run(&ctx, &c.charge, out, Some(&customer)).await
        }
        DemoCommand::Doctor(d) => {
            let wait = seconds(d.relay_wait, "--relay-wait")?;
            doctor::run(&ctx, wait, None, out).await
        }
    };
    match Arc::try_unwrap(demo) {
        Ok(demo) => demo.shutdown().await,
        Err(_) => tracing::warn!("the demo shop is still in use; not shut down cleanly"),
    }
    result
}
