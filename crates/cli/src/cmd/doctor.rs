//! `doctor [--bundle FILE]`: the core's checks (API key, clock, polling path, relay,
//! heartbeat, keychain) against this till's real settings, as a pass/fail table. Exits 1
//! when any check fails. `--bundle` also writes the support bundle.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use paydesk_core::doctor::{self, Check, DoctorSetup, Report, CHECK_API_KEY, CHECK_RELAY};
use serde::Serialize;

use crate::cmd::bundle;
use crate::context::{Context, KeyLookup};
use crate::follow::EXIT_ERROR;
use crate::output::Printer;

#[derive(Serialize)]
struct DoctorEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ok: bool,
    checks: &'a [Check],
}

#[derive(Serialize)]
struct BundleEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    path: &'a Path,
    files: &'a [String],
}

/// Runs every check and fills in what only the CLI knows (where keys came from).
pub async fn check(ctx: &Context, relay_wait: Duration) -> Report {
    let mut setup: DoctorSetup = ctx.plan.doctor_setup(ctx.keychain.clone());
    setup.relay_wait = relay_wait;
    let mut report = doctor::run(setup).await;
    let mode_error = ctx.plan.problem.clone();
    for c in &mut report.checks {
        if c.name == CHECK_API_KEY {
            if let KeyLookup::Failed(_) = ctx.secret_key {
                c.detail = "the secret key could not be read from the OS keychain (see \
                            Keychain); or set PAYDESK_SECRET_KEY"
                    .into();
            } else if let Some(e) = &mode_error {
                c.ok = false;
                c.detail = e.clone();
            }
        }
        if c.name == CHECK_RELAY && ctx.config.relay_url.is_some() && ctx.relay().is_none() {
            if let Some(w) = ctx.relay_warning() {
                c.detail = w;
            }
        }
    }
    report
}

pub async fn run(
    ctx: &Context,
    relay_wait: Duration,
    bundle_path: Option<&Path>,
    out: &mut Printer,
) -> Result<ExitCode> {
    out.line(format!(
        "Checking {} (API {}, relay {}) …",
        ctx.config.terminal_name,
        ctx.config.api_url,
        ctx.config.relay_url.as_deref().unwrap_or("none")
    ));
    let report = check(ctx, relay_wait).await;
    out.event(&DoctorEvent {
        kind: "doctor",
        ok: report.ok(),
        checks: &report.checks,
    });
    out.block(&report.table());
    let failed: Vec<&str> = report.failed().map(|c| c.name).collect();
    if failed.is_empty() {
        out.line("All checks passed.");
    } else {
        out.line(format!("Failed: {}", failed.join(", ")));
    }
    if let Some(path) = bundle_path {
        let files = bundle::write(path, ctx, &report)?;
        out.event(&BundleEvent {
            kind: "bundle",
            path,
            files: &files,
        });
        out.line(format!(
            "Support bundle written to {} ({} files, no keys). Send it to support.",
            path.display(),
            files.len()
        ));
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ERROR)
    })
}
