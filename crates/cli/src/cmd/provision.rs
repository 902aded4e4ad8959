//! `provision <file>`: apply a store provisioning file — the keys to the OS keychain, the
//! owner (`owner_name`, `owner_pin`) to the staff file, the rest merged into the config
//! file, and with `kiosk` the autostart entry — and say what was stored, never the keys or
//! the PIN. A file that holds keys or a PIN and is readable by others is refused before
//! anything is stored, and so is an owner for a till that already has staff.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use paydesk_core::config::ConfigLayer;
use paydesk_core::kiosk::{self, autostart};
use paydesk_core::provision::Provisioning;
use paydesk_core::secrets::Account;
use paydesk_core::staff::{Policy, Staff, StaffMember};
use paydesk_core::till::Assembly;
use serde::Serialize;

use crate::cli::{Global, ProvisionArgs};
use crate::context::overrides;
use crate::output::Printer;

#[derive(Serialize)]
struct Provisioned<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    stored: &'a [Account],
    config_path: &'a std::path::Path,
    settings: &'a ConfigLayer,
    owner: Option<StaffMember>,
    /// Whether PayDesk starts at login, when the file set `kiosk`.
    starts_at_login: Option<bool>,
}

pub fn run(global: &Global, args: &ProvisionArgs, out: &mut Printer) -> Result<ExitCode> {
    let provisioning = Provisioning::load(&args.file)?;
    let assembly = Assembly::from_env(global.config.clone(), overrides(global)?)?;
    let not_applied = || format!("{} was not applied", args.file.display());
    // The owner is checked before anything is stored: a till with staff keeps its owner.
    let staff = match &provisioning.owner {
        Some(_) => Some(Staff::open_till(&assembly.data_dir()?, Policy::default())?),
        None => None,
    };
    let store = staff.as_ref().and_then(Staff::store);
    if let Some(store) = store {
        provisioning.check_owner(store).with_context(not_applied)?;
    }
    let applied = provisioning
        .apply(assembly.keychain.as_ref(), &assembly.config_path)
        .with_context(not_applied)?;
    let owner = match store {
        Some(store) => provisioning.apply_owner(store).with_context(not_applied)?,
        None => None,
    };
    let starts_at_login = match provisioning.settings.kiosk {
        Some(on) => {
            let entry = autostart::app_executable().and_then(autostart::for_this_platform);
            let entry = entry.context("kiosk mode: cannot set PayDesk to start at login")?;
            kiosk::apply(on, entry.as_ref())
                .context("kiosk mode: cannot set PayDesk to start at login")?;
            out.line(if on {
                format!(
                    "Kiosk mode: PayDesk starts at login ({}).",
                    entry.location()
                )
            } else {
                "Kiosk mode is off: PayDesk no longer starts at login.".to_owned()
            });
            Some(on)
        }
        None => None,
    };
    out.event(&Provisioned {
        kind: "provisioned",
        stored: &applied.stored,
        config_path: &applied.config_path,
        settings: &applied.settings,
        owner: owner.as_ref().map(StaffMember::from),
        starts_at_login,
    });
    if let Some(owner) = &owner {
        out.line(format!(
            "{} is the owner of this till (their PIN is kept as a hash only).",
            owner.name
        ));
    }
    if applied.stored.is_empty() {
        out.line("No keys in the file; the keychain was not touched.");
    } else {
        let names: Vec<String> = applied.stored.iter().map(ToString::to_string).collect();
        out.line(format!(
            "Stored in the OS keychain (service \"{}\"): {}",
            paydesk_core::till::keychain_service(),
            names.join(", ")
        ));
    }
    out.line(format!(
        "Settings written to {}:",
        applied.config_path.display()
    ));
    let text = toml::to_string_pretty(&applied.settings).context("cannot show the settings")?;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        out.line(format!("  {line}"));
    }
    if provisioning.has_keys() {
        out.line(format!(
            "The file holds keys or a PIN: delete it now that they are stored ({}).",
            args.file.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
