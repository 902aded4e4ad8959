//! What every command starts from: the core's till assembly (`paydesk_core::till`) with
//! this run's flags as the strongest settings layer. The app starts the same assembly, so
//! `charge`, `watch`, `cancel` and `refund` run exactly the till the app would run, and
//! every `PAYDESK_*` variable means the same here as there.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use paydesk_core::config::{self, ConfigLayer, Mode};
use paydesk_core::journal::{self, Journal};
use paydesk_core::secrets::{Secret, SecretStore};
use paydesk_core::terminal::TerminalSetup;
use paydesk_core::till::{Assembly, DemoEndpoints, TillPlan};
use paydesk_core::Currency;

use crate::cli::Global;

pub use paydesk_core::till::KeyLookup;

/// Settings, keys and journal location for one run.
pub struct Context {
    pub plan: TillPlan,
    /// The keychain behind the keys; `None` in the demo.
    pub keychain: Option<Arc<dyn SecretStore>>,
    /// Demo runs journal into a folder that goes away with them.
    _scratch: Option<tempfile::TempDir>,
}

impl std::ops::Deref for Context {
    type Target = TillPlan;
    fn deref(&self) -> &TillPlan {
        &self.plan
    }
}

/// The flags as a config layer (the last and strongest one).
pub fn overrides(global: &Global) -> Result<ConfigLayer> {
    let default_currency = global
        .currency
        .as_deref()
        .map(|c| Currency::from_code(c.trim()).with_context(|| format!("--currency {c}")))
        .transpose()?;
    let layer = ConfigLayer {
        api_url: global.api_url.clone(),
        relay_url: global.relay_url.clone(),
        terminal_name: global.terminal_name.clone(),
        default_currency,
        ..ConfigLayer::default()
    };
    layer.validate("command line")?;
    Ok(layer)
}

fn assembly(global: &Global) -> Result<Assembly> {
    Ok(Assembly::from_env(
        global.config.clone(),
        overrides(global)?,
    )?)
}

impl Context {
    /// The real till's context: config file, environment, flags, keychain.
    pub async fn load(global: &Global) -> Result<Context> {
        let assembly = assembly(global)?;
        let plan = assembly.plan().await.context("cannot load the settings")?;
        Ok(Context {
            plan,
            keychain: Some(assembly.keychain),
            _scratch: None,
        })
    }

    /// Settings and journal only, for commands that never use a key (`history`): they
    /// must not wake, or wait on, a locked keychain.
    pub fn load_without_keys(global: &Global) -> Result<Context> {
        let assembly = assembly(global)?;
        let plan = assembly
            .plan_without_keychain()
            .context("cannot load the settings")?;
        Ok(Context {
            plan,
            keychain: None,
            _scratch: None,
        })
    }

    /// The settings a demo run uses (the till's catalog and currency from its file, then
    /// the environment and the flags), to check the input before a demo shop starts.
    pub fn demo_settings(global: &Global) -> Result<paydesk_core::config::Config> {
        let layer = demo_file_layer(global)?
            .overlaid(ConfigLayer::from_env(|v| std::env::var(v).ok())?)
            .overlaid(overrides(global)?);
        Ok(paydesk_core::config::Config::from_layer(
            layer,
            std::path::Path::new(config::FILE_NAME),
        )?)
    }

    /// A context pointing at a demo shop: its URLs and keys, and a journal of its own
    /// (the demo's payments die with it, so they must not sit pending in the till's).
    pub fn demo(global: &Global, shop: &DemoEndpoints) -> Result<Context> {
        let scratch = tempfile::Builder::new()
            .prefix("paydesk-demo-")
            .tempdir()
            .context("cannot create a folder for the demo journal")?;
        // The till's catalog and currency as the demo's file: below the environment and
        // the flags, as on the till.
        let config_path = scratch.path().join(config::FILE_NAME);
        demo_file_layer(global)?.save(&config_path)?;
        let layer = overrides(global)?.overlaid(ConfigLayer {
            mode: Some(Mode::Demo),
            ..ConfigLayer::default()
        });
        let assembly = Assembly {
            config_path,
            overrides: layer,
            keychain: Arc::new(paydesk_core::secrets::MemoryStore::new()),
            journal_path: Some(scratch.path().join(journal::FILE_NAME)),
        };
        let plan = assembly
            .plan_without_keychain()
            .context("cannot load the settings")?
            .with_demo(shop);
        Ok(Context {
            plan,
            keychain: None,
            _scratch: Some(scratch),
        })
    }

    /// This till's journal, on the book of its mode.
    pub fn open_journal(&self) -> Result<Arc<Journal>> {
        let journal = self.plan.open_journal().with_context(|| {
            format!(
                "cannot open the journal {}",
                self.plan.journal_path.display()
            )
        })?;
        Ok(Arc::new(journal))
    }

    /// This till's staff gate (the demo's in demo mode on a till without staff).
    pub async fn open_staff(&self) -> Result<paydesk_core::staff::Staff> {
        let plan = self.plan.clone();
        tokio::task::spawn_blocking(move || plan.open_staff())
            .await
            .context("cannot open the staff file")?
            .context("cannot open the staff file")
    }

    /// The secret API key, or why the till cannot take payments without one.
    pub fn require_secret_key(&self) -> Result<&paydesk_core::till::Key> {
        if let Some(problem) = &self.plan.problem {
            bail!("{problem}");
        }
        if self.plan.mode == Mode::Demo && self.keychain.is_some() {
            if self.plan.config.mode == Some(Mode::Demo) {
                bail!(
                    "this till is set to demo mode; run `paydesk-cli demo …` to try \
                     PayDesk, or set mode to test or live"
                );
            }
            bail!(
                "no secret API key: run `paydesk-cli provision <file>`, or set \
                 PAYDESK_SECRET_KEY (to try PayDesk without one: `paydesk-cli demo charge \
                 --amount 5 --currency EUR`)"
            );
        }
        Ok(self.plan.require_secret_key()?)
    }

    /// The till as the core runs it.
    pub fn terminal_setup(&self) -> Result<TerminalSetup> {
        self.require_secret_key()?;
        Ok(self.plan.terminal_setup()?)
    }

    /// Every key value this run knows, so output written for others (the support bundle)
    /// can be checked against them.
    pub fn known_secrets(&self) -> Vec<Secret> {
        self.plan.known_secrets()
    }
}

/// What a demo takes from the till's config file: its catalog and the currency its prices
/// are in, so the quick keys can be tried without keys or money. Nothing else: the demo
/// shop has its own URLs, keys and journal.
fn demo_file_layer(global: &Global) -> Result<ConfigLayer> {
    let path = match &global.config {
        Some(p) => p.clone(),
        None => config::default_path()?,
    };
    let file = ConfigLayer::load(&path)?;
    Ok(ConfigLayer {
        catalog: file.catalog,
        default_currency: file.default_currency,
        ..ConfigLayer::default()
    })
}

/// Seconds from a flag, refusing zero.
pub fn seconds(value: u64, flag: &str) -> Result<Duration> {
    if value == 0 {
        bail!("{flag} must be at least 1 second");
    }
    Ok(Duration::from_secs(value))
}
