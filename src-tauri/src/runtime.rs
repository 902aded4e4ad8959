//! The running till behind the window: the core's `Terminal` (and, in demo mode, the
//! in-process sandbox and relay), started from the configuration and the keychain, and
//! restarted when Settings change.

use std::sync::Arc;
use std::time::Duration;

use paydesk_core::config::{Config, ConfigLayer, Mode};
use paydesk_core::journal::Journal;
use paydesk_core::realtime::SessionConfig;
use paydesk_core::secrets::{self, Account, SecretSource, SecretStore};
use paydesk_core::terminal::{Terminal, TerminalSetup};
use paydesk_demo::{Demo, DemoConfig};

/// What the UI says when the till cannot start; never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("settings: {0}")]
    Config(#[from] paydesk_core::config::ConfigError),
    #[error("keychain: {0}")]
    Secrets(#[from] paydesk_core::secrets::SecretsError),
    #[error("journal: {0}")]
    Journal(#[from] paydesk_core::journal::JournalError),
    #[error("demo mode: {0}")]
    Demo(#[from] paydesk_demo::DemoError),
    #[error("{0}")]
    Terminal(#[from] paydesk_core::terminal::TerminalError),
    #[error("{mode} mode needs a terminal key for the relay; save one in Settings")]
    NoTerminalKey { mode: Mode },
}

/// Where a key came from, for Settings (the key itself never leaves Rust).
#[derive(Clone, Debug, Default)]
pub struct KeySources {
    pub secret_key: Option<SecretSource>,
    pub terminal_key: Option<SecretSource>,
}

pub struct Running {
    pub terminal: Terminal,
    pub demo: Option<Demo>,
    pub config: Config,
    pub mode: Mode,
    pub keys: KeySources,
}

impl Running {
    pub async fn shutdown(self) {
        self.terminal.shutdown().await;
        if let Some(demo) = self.demo {
            demo.shutdown().await;
        }
    }
}

fn demo_config(terminal_name: &str) -> DemoConfig {
    let time_window = std::env::var("PAYDESK_DEMO_TIME_WINDOW")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(Duration::from_secs(600), Duration::from_secs);
    let lan = std::env::var("PAYDESK_DEMO_LAN").map_or(true, |v| v.trim() != "0");
    DemoConfig {
        time_window,
        lan,
        terminal_name: terminal_name.to_owned(),
        heartbeat: None,
    }
}

fn session_config(config: &Config) -> SessionConfig {
    let mut session = SessionConfig::default();
    if let Some(t) = config.heartbeat_timeout {
        session.watchdog_override = Some(t);
    }
    if let Some(p) = config.poll_interval {
        session.poll_interval = p;
    }
    session
}

/// Starts the till as configured: demo mode when no key is configured.
pub async fn start(
    keychain: &dyn SecretStore,
    journal: Arc<Journal>,
) -> Result<Running, StartError> {
    let config = Config::load(ConfigLayer::default())?;
    let secret_key = secrets::resolve(keychain, Account::SecretKey).or_else(|e| {
        // No keychain on this machine: demo mode still works, and env keys were tried first.
        if e.is_unavailable() {
            Ok(None)
        } else {
            Err(e)
        }
    })?;
    let mode = config.effective_mode(secret_key.as_ref().map(|r| &r.secret))?;
    if mode == Mode::Demo {
        let demo = Demo::start(demo_config(&config.terminal_name)).await?;
        let setup = TerminalSetup::new(
            &config.terminal_name,
            demo.api_url(),
            demo.secret_key().clone(),
        )
        .relay(demo.relay_url(), demo.terminal_key().clone());
        let setup = TerminalSetup {
            session: session_config(&config),
            ..setup
        };
        let terminal = Terminal::start(setup, journal).await?;
        return Ok(Running {
            terminal,
            demo: Some(demo),
            config,
            mode,
            keys: KeySources::default(),
        });
    }
    let secret_key = secret_key.ok_or(paydesk_core::config::ConfigError::MissingKey { mode })?;
    let terminal_key = secrets::resolve(keychain, Account::TerminalKey)?;
    let mut setup = TerminalSetup::new(
        &config.terminal_name,
        &config.api_url,
        secret_key.secret.clone(),
    );
    setup.session = session_config(&config);
    if let Some(relay_url) = &config.relay_url {
        let key = terminal_key
            .as_ref()
            .ok_or(StartError::NoTerminalKey { mode })?;
        setup = setup.relay(relay_url.clone(), key.secret.clone());
    }
    let terminal = Terminal::start(setup, journal).await?;
    Ok(Running {
        terminal,
        demo: None,
        config,
        mode,
        keys: KeySources {
            secret_key: Some(secret_key.source),
            terminal_key: terminal_key.map(|k| k.source),
        },
    })
}
