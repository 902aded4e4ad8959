//! `provision <file>`: apply a store provisioning file — the keys to the OS keychain, the
//! rest merged into the config file — and say what was stored, never the keys. A file
//! that holds keys and is readable by others is refused before anything is stored.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use paydesk_core::config::ConfigLayer;
use paydesk_core::provision::Provisioning;
use paydesk_core::secrets::Account;
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
}

pub fn run(global: &Global, args: &ProvisionArgs, out: &mut Printer) -> Result<ExitCode> {
    let provisioning = Provisioning::load(&args.file)?;
    let assembly = Assembly::from_env(global.config.clone(), overrides(global)?)?;
    let applied = provisioning
        .apply(assembly.keychain.as_ref(), &assembly.config_path)
        .with_context(|| format!("{} was not applied", args.file.display()))?;
    out.event(&Provisioned {
        kind: "provisioned",
        stored: &applied.stored,
        config_path: &applied.config_path,
        settings: &applied.settings,
    });
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
            "The file holds keys: delete it now that they are stored ({}).",
            args.file.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
