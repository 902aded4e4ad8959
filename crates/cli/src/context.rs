//! What every command starts from: the merged settings (config file → environment →
//! flags), the two keys (environment → OS keychain) and where the journal lives. Also
//! turns them into the core's [`TerminalSetup`], so `charge`, `watch`, `cancel` and
//! `refund` run exactly the till the app would run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use paydesk_core::config::{self, Config, ConfigLayer, Mode};
use paydesk_core::journal::{self, Journal};
use paydesk_core::realtime::{RelayEndpoint, SessionConfig};
use paydesk_core::secrets::{self, Account, Keychain, Secret, SecretSource, SecretStore};
use paydesk_core::terminal::{normalize_relay_url, TerminalSetup};
use paydesk_core::Currency;

use crate::cli::Global;

/// A key and where it came from (safe to print; the key is not).
#[derive(Clone, Debug)]
pub struct Key {
    pub secret: Secret,
    pub source: String,
    /// True when it came from the environment (or the demo), not the keychain.
    pub from_env: bool,
}

/// The outcome of looking one key up: found, absent, or the keychain failed.
#[derive(Clone, Debug)]
pub enum KeyLookup {
    Found(Key),
    Missing,
    /// The keychain could not be read; the message says how to proceed.
    Failed(String),
}

impl KeyLookup {
    pub fn key(&self) -> Option<&Key> {
        match self {
            KeyLookup::Found(k) => Some(k),
            _ => None,
        }
    }

    /// Where the key comes from, for people: never the key.
    pub fn describe(&self) -> String {
        match self {
            KeyLookup::Found(k) => format!("from the {}", k.source),
            KeyLookup::Missing => "not set".into(),
            KeyLookup::Failed(e) => format!("unreadable: {e}"),
        }
    }
}

/// Settings, keys and journal location for one run.
pub struct Context {
    pub config: Config,
    pub secret_key: KeyLookup,
    pub terminal_key: KeyLookup,
    /// Whether a keychain stands behind the keys (false in the demo).
    pub uses_keychain: bool,
    pub journal_path: PathBuf,
    /// Demo runs journal into a folder that goes away with them.
    _scratch: Option<tempfile::TempDir>,
}

/// The flags as a config layer (the last and strongest one).
pub fn overrides(global: &Global) -> Result<ConfigLayer> {
    let default_currency = global
        .currency
        .as_deref()
        .map(|c| Currency::from_code(c.trim()).with_context(|| format!("--currency {c}")))
        .transpose()?;
    Ok(ConfigLayer {
        api_url: global.api_url.clone(),
        relay_url: global.relay_url.clone(),
        terminal_name: global.terminal_name.clone(),
        default_currency,
        ..ConfigLayer::default()
    })
}

/// The config file this run reads: `--config`, else `PAYDESK_CONFIG`, else the OS one.
pub fn config_path(global: &Global) -> Result<PathBuf> {
    match &global.config {
        Some(p) => Ok(p.clone()),
        None => Ok(config::default_path()?),
    }
}

fn lookup(store: &dyn SecretStore, account: Account) -> KeyLookup {
    match secrets::resolve(store, account) {
        Ok(Some(r)) => KeyLookup::Found(Key {
            secret: r.secret,
            from_env: matches!(r.source, SecretSource::Env(_)),
            source: r.source.to_string(),
        }),
        Ok(None) => KeyLookup::Missing,
        Err(e) => KeyLookup::Failed(e.to_string()),
    }
}

impl Context {
    /// The real till's context: config file, environment, flags, keychain.
    pub fn load(global: &Global) -> Result<Context> {
        let mut ctx = Context::load_without_keys(global)?;
        let keychain = Keychain::new();
        ctx.secret_key = lookup(&keychain, Account::SecretKey);
        ctx.terminal_key = lookup(&keychain, Account::TerminalKey);
        Ok(ctx)
    }

    /// Settings and journal only, for commands that never use a key (`history`): they
    /// must not wake, or wait on, a locked keychain.
    pub fn load_without_keys(global: &Global) -> Result<Context> {
        let path = config_path(global)?;
        let config = Config::load_from(&path, |v| std::env::var(v).ok(), overrides(global)?)
            .context("cannot load the settings")?;
        Ok(Context {
            config,
            secret_key: KeyLookup::Missing,
            terminal_key: KeyLookup::Missing,
            uses_keychain: true,
            journal_path: journal::default_path()?,
            _scratch: None,
        })
    }

    /// A context pointing at a demo shop: its URLs and keys, and a journal of its own
    /// (the demo's payments die with it, so they must not sit pending in the till's).
    pub fn demo(
        global: &Global,
        api_url: String,
        relay_url: String,
        secret_key: Secret,
        terminal_key: Secret,
    ) -> Result<Context> {
        let layer = overrides(global)?.overlaid(ConfigLayer {
            mode: Some(Mode::Demo),
            api_url: Some(api_url),
            relay_url: Some(relay_url),
            ..ConfigLayer::default()
        });
        let scratch = tempfile::Builder::new()
            .prefix("paydesk-demo-")
            .tempdir()
            .context("cannot create a folder for the demo journal")?;
        let config = Config::from_layer(layer, &scratch.path().join(config::FILE_NAME))?;
        let demo_key = |secret| {
            KeyLookup::Found(Key {
                secret,
                source: "demo shop".into(),
                from_env: true,
            })
        };
        Ok(Context {
            config,
            secret_key: demo_key(secret_key),
            terminal_key: demo_key(terminal_key),
            uses_keychain: false,
            journal_path: scratch.path().join(journal::FILE_NAME),
            _scratch: Some(scratch),
        })
    }

    pub fn open_journal(&self) -> Result<Arc<Journal>> {
        let journal = Journal::open(&self.journal_path)
            .with_context(|| format!("cannot open the journal {}", self.journal_path.display()))?;
        Ok(Arc::new(journal))
    }

    /// The relay to listen to, when both its URL and the terminal key are known.
    pub fn relay(&self) -> Option<RelayEndpoint> {
        let url = self.config.relay_url.as_deref()?;
        let key = self.terminal_key.key()?;
        Some(RelayEndpoint {
            base_url: normalize_relay_url(url),
            terminal_key: key.secret.clone(),
        })
    }

    /// Why there is no relay session, if there is none: said once, on stderr.
    pub fn relay_warning(&self) -> Option<String> {
        match (&self.config.relay_url, &self.terminal_key) {
            (None, _) => Some(
                "no relay configured (--relay-url or PAYDESK_RELAY_URL): payments are polled"
                    .into(),
            ),
            (Some(_), KeyLookup::Found(_)) => None,
            (Some(_), KeyLookup::Missing) => Some(
                "a relay is configured but there is no terminal key (PAYDESK_TERMINAL_KEY or \
                 `paydesk-cli provision`): payments are polled"
                    .into(),
            ),
            (Some(_), KeyLookup::Failed(e)) => Some(format!(
                "the terminal key is unreadable, payments are polled: {e}"
            )),
        }
    }

    /// The secret API key, or why the till cannot take payments without one.
    pub fn require_secret_key(&self) -> Result<&Key> {
        match &self.secret_key {
            KeyLookup::Found(k) => {
                let mode = self.config.effective_mode(Some(&k.secret))?;
                if mode == Mode::Demo && self.uses_keychain {
                    bail!(
                        "this till is set to demo mode; run `paydesk-cli demo …` to try \
                         PayDesk, or set mode to test or live"
                    );
                }
                Ok(k)
            }
            KeyLookup::Missing => bail!(
                "no secret API key: run `paydesk-cli provision <file>`, or set \
                 PAYDESK_SECRET_KEY (to try PayDesk without one: `paydesk-cli demo charge \
                 --amount 5`)"
            ),
            KeyLookup::Failed(e) => bail!("{e}"),
        }
    }

    /// The till as the core runs it.
    pub fn terminal_setup(&self) -> Result<TerminalSetup> {
        let key = self.require_secret_key()?;
        let mut session = SessionConfig::default();
        if let Some(t) = self.config.heartbeat_timeout {
            session.watchdog_override = Some(t);
        }
        if let Some(p) = self.config.poll_interval {
            session.poll_interval = p;
        }
        let mut setup = TerminalSetup::new(
            self.config.terminal_name.clone(),
            self.config.api_url.clone(),
            key.secret.clone(),
        );
        setup.session = session;
        if let Some(relay) = self.relay() {
            setup = setup.relay(relay.base_url, relay.terminal_key);
        }
        Ok(setup)
    }

    /// Every key value this run knows, so output written for others (the support bundle)
    /// can be checked against them.
    pub fn known_secrets(&self) -> Vec<Secret> {
        [&self.secret_key, &self.terminal_key]
            .into_iter()
            .filter_map(|k| k.key().map(|k| k.secret.clone()))
            .collect()
    }
}

/// Seconds from a flag, refusing zero.
pub fn seconds(value: u64, flag: &str) -> Result<Duration> {
    if value == 0 {
        bail!("{flag} must be at least 1 second");
    }
    Ok(Duration::from_secs(value))
}
