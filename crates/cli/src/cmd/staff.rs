//! `staff add|list|remove|set-pin`: the till's people, through the same gate as the app.
//! Every change takes the owner's PIN (`--pin`, `PAYDESK_PIN`, or typed when asked) and
//! lands in the staff file's audit trail. On a till without staff, `staff add NAME --role
//! owner` sets its first owner and asks only for their new PIN.
//!
//! These commands always manage the till's own staff file, whatever the mode: the demo's
//! demo owner is not a person to manage.

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use chrono::TimeZone;
use paydesk_core::staff::{Action, Context as GateContext, Person, Role, Staff, StaffMember};
use serde::Serialize;

use crate::cli::{StaffAddArgs, StaffCommand, StaffRemoveArgs, StaffSetPinArgs};
use crate::cmd::operator;
use crate::context::Context;
use crate::output::Printer;

#[derive(Serialize)]
struct StaffEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    person: StaffMember,
    by: &'a str,
}

#[derive(Serialize)]
struct StaffList<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    people: &'a [StaffMember],
}

pub async fn run(ctx: &Context, command: &StaffCommand, out: &mut Printer) -> Result<ExitCode> {
    let plan = ctx.plan.clone();
    let staff = tokio::task::spawn_blocking(move || plan.open_till_staff())
        .await
        .context("cannot open the staff file")?
        .context("cannot open the staff file")?;
    match command {
        StaffCommand::Add(args) => add(&staff, args, out).await,
        StaffCommand::List(args) => list(&staff, &args.who, out).await,
        StaffCommand::Remove(args) => remove(&staff, args, out).await,
        StaffCommand::SetPin(args) => set_pin(&staff, args, out).await,
    }
}

fn show(out: &mut Printer, kind: &'static str, person: &Person, by: &str) {
    out.event(&StaffEvent {
        kind,
        person: StaffMember::from(person),
        by,
    });
}

async fn add(staff: &Staff, args: &StaffAddArgs, out: &mut Printer) -> Result<ExitCode> {
    let name = args.name.trim();
    if !staff.has_staff().await? {
        if args.role != Role::Owner {
            bail!(
                "this till has no staff yet: the first person is its owner (`paydesk-cli staff \
                 add \"{name}\" --role owner`)"
            );
        }
        let pin = crate::pin::new_pin(&args.new_pin, &format!("{name}'s")).await?;
        let owner = staff
            .provision_owner(name.to_owned(), pin)
            .await
            .context("the owner was not set")?;
        show(out, "staff-added", &owner, "provisioning");
        out.line(format!(
            "{} is the owner of this till. From now on charges, cancels, refunds and exports \
             need a staff PIN.",
            owner.name
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let by = operator(staff, &args.who, Action::Staff, GateContext::subject(name))
        .await
        .context("nobody was added")?;
    let by_name = by.name().to_owned();
    let pin = crate::pin::new_pin(&args.new_pin, &format!("{name}'s")).await?;
    let person = staff
        .add(by, name.to_owned(), args.role, pin)
        .await
        .context("nobody was added")?;
    show(out, "staff-added", &person, &by_name);
    out.line(format!(
        "Added {} as {} (number {}).",
        person.name, person.role, person.id
    ));
    Ok(ExitCode::SUCCESS)
}

async fn list(staff: &Staff, who: &crate::cli::PinArg, out: &mut Printer) -> Result<ExitCode> {
    if !staff.has_staff().await? {
        out.event(&StaffList {
            kind: "staff",
            people: &[],
        });
        out.line(
            "No staff on this till: nothing asks for a PIN, and every action is journaled as \
             unattended. Set the owner with `paydesk-cli staff add NAME --role owner`.",
        );
        return Ok(ExitCode::SUCCESS);
    }
    // The PIN proves the owner is asking; the list itself needs no grant.
    let _by = operator(staff, who, Action::Staff, GateContext::none()).await?;
    let people: Vec<StaffMember> = staff.list().await?.iter().map(StaffMember::from).collect();
    out.event(&StaffList {
        kind: "staff",
        people: &people,
    });
    for p in &people {
        let lock = p
            .locked_until_ms
            .and_then(|ms| chrono::Local.timestamp_millis_opt(ms).single())
            .map(|t| format!("  locked out until {}", t.format("%H:%M")))
            .unwrap_or_default();
        out.line(format!("{:>4}  {:<10}  {}{lock}", p.id, p.role, p.name));
    }
    Ok(ExitCode::SUCCESS)
}

async fn remove(staff: &Staff, args: &StaffRemoveArgs, out: &mut Printer) -> Result<ExitCode> {
    let name = args.name.trim();
    let by = operator(staff, &args.who, Action::Staff, GateContext::subject(name))
        .await
        .with_context(|| format!("{name} was not removed"))?;
    let by_name = by.name().to_owned();
    let person = staff.find(name.to_owned()).await?;
    let removed = staff
        .remove(by, person.id)
        .await
        .with_context(|| format!("{name} was not removed"))?;
    show(out, "staff-removed", &removed, &by_name);
    out.line(format!(
        "Removed {}: their PIN no longer works.",
        removed.name
    ));
    Ok(ExitCode::SUCCESS)
}

async fn set_pin(staff: &Staff, args: &StaffSetPinArgs, out: &mut Printer) -> Result<ExitCode> {
    let name = args.name.trim();
    let by = operator(staff, &args.who, Action::Staff, GateContext::subject(name))
        .await
        .with_context(|| format!("{name}'s PIN was not changed"))?;
    let by_name = by.name().to_owned();
    let person = staff.find(name.to_owned()).await?;
    let pin = crate::pin::new_pin(&args.new_pin, &format!("{}'s", person.name)).await?;
    let changed = staff
        .set_pin(by, person.id, pin)
        .await
        .with_context(|| format!("{name}'s PIN was not changed"))?;
    show(out, "pin-set", &changed, &by_name);
    out.line(format!("{} has a new PIN.", changed.name));
    Ok(ExitCode::SUCCESS)
}
