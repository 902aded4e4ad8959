//! One till, assembled: settings + keychain + keys → a running till. The app, the CLI and
//! the doctor all start here, so every `PAYDESK_*` variable and every setting means the
//! same in each of them.
//!
//! [`Assembly`] knows where things are (the config file and the flags or Settings over it,
//! the keychain service, the data folder); [`Assembly::plan`] reads them — the file and the
//! keychain on a blocking thread, never on an async worker — into a [`TillPlan`]: the merged
//! settings, the mode, and each key with where it came from. [`Till::start`] turns a plan
//! into a running [`Terminal`] (starting the demo shop first in demo mode), and
//! [`TillPlan::doctor_setup`] gives the doctor exactly what the till would use.
//!
//! The staff file sits beside the journal and is opened with it ([`TillPlan::open_staff`]:
//! the till's own, or the demo's in demo mode on a till without staff, see
//! [`crate::staff`]); the terminal puts it in front of every charge, cancel and refund.
//!
//! The keychain is only asked when the settings need it: a till set to demo, or with no
//! mode set (Settings and provisioning write the mode together with the keys, so such a
//! till has none), or with its secret key in the environment, never wakes (or waits on) a
//! locked keychain. A till set to test or live whose keychain cannot be read says how to
//! unlock it.

mod host;

pub use host::{HostEvent, HostSubscription, RunState, StaffStatus, TillHost, TillStatus};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::config::{self, Config, ConfigError, ConfigLayer, Mode};
use crate::doctor::{DoctorSetup, KeychainCheck};
use crate::journal::{self, Journal, JournalError};
use crate::realtime::{RelayEndpoint, SessionConfig};
use crate::sale::Catalog;
use crate::secrets::{self, Account, Keychain, Secret, SecretSource, SecretStore, SecretsError};
use crate::staff::{Policy, Staff, StaffError};
use crate::terminal::{normalize_relay_url, Terminal, TerminalError, TerminalSetup};

/// Names the keychain service (default `paydesk`), to keep two tills' keys apart.
pub const KEYCHAIN_SERVICE_ENV: &str = "PAYDESK_KEYCHAIN_SERVICE";
/// Seconds a demo payment stays payable (default 600).
pub const DEMO_TIME_WINDOW_ENV: &str = "PAYDESK_DEMO_TIME_WINDOW";
/// `0` keeps the demo checkout page on loopback.
pub const DEMO_LAN_ENV: &str = "PAYDESK_DEMO_LAN";

/// Why a till could not be planned or started, in words for the cashier; never a secret.
#[derive(Debug, thiserror::Error)]
pub enum TillError {
    #[error("settings: {0}")]
    Config(#[from] ConfigError),
    #[error("keychain: {0}")]
    Secrets(#[from] SecretsError),
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("staff: {0}")]
    Staff(#[from] StaffError),
    #[error("demo mode: {0}")]
    Demo(String),
    #[error("{0}")]
    Terminal(#[from] TerminalError),
    #[error("{mode} mode needs a terminal key for the relay: save one in Settings, run `paydesk-cli provision`, or set PAYDESK_TERMINAL_KEY")]
    NoTerminalKey { mode: Mode },
    #[error(
        "the OS keychain could not be read ({cause}). Unlock it — log in to the desktop \
         session, or run `gnome-keyring-daemon --unlock` — or set PAYDESK_SECRET_KEY and \
         PAYDESK_TERMINAL_KEY, then restart PayDesk"
    )]
    KeychainLocked { cause: String },
    #[error("a background task failed: {0}")]
    Join(String),
    /// The plan itself says the till cannot run (a live key in test mode, say).
    #[error("{0}")]
    Plan(String),
}

/// A key and where it came from (safe to print; the key is not).
#[derive(Clone, Debug)]
pub struct Key {
    pub secret: Secret,
    pub source: KeySource,
}

/// Where a key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    Env(&'static str),
    Keychain,
    /// The in-process demo shop's own keys.
    Demo,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env(var) => write!(f, "environment variable {var}"),
            KeySource::Keychain => f.write_str("OS keychain"),
            KeySource::Demo => f.write_str("demo shop"),
        }
    }
}

/// The outcome of looking one key up.
#[derive(Clone, Debug)]
pub enum KeyLookup {
    Found(Key),
    Missing,
    /// Not looked up: the settings did not need it (demo mode).
    NotAsked,
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
            KeyLookup::NotAsked => "not needed".into(),
            KeyLookup::Failed(e) => format!("unreadable: {e}"),
        }
    }

    fn of(result: Result<Option<secrets::Resolved>, SecretsError>) -> KeyLookup {
        match result {
            Ok(Some(r)) => KeyLookup::Found(Key {
                secret: r.secret,
                source: match r.source {
                    SecretSource::Env(var) => KeySource::Env(var),
                    SecretSource::Keychain => KeySource::Keychain,
                },
            }),
            Ok(None) => KeyLookup::Missing,
            Err(e) => KeyLookup::Failed(e.to_string()),
        }
    }
}

/// The keychain service this process uses: `PAYDESK_KEYCHAIN_SERVICE`, else `paydesk`.
pub fn keychain_service() -> String {
    match std::env::var(KEYCHAIN_SERVICE_ENV) {
        Ok(service) if !service.trim().is_empty() => service.trim().to_owned(),
        _ => Keychain::SERVICE.to_owned(),
    }
}

/// The keychain this process uses (see [`keychain_service`]).
pub fn keychain_from_env() -> Keychain {
    Keychain::with_service(keychain_service())
}

/// Where a till's pieces are. Cheap to clone.
#[derive(Clone)]
pub struct Assembly {
    /// The config file this till reads (and Settings writes).
    pub config_path: PathBuf,
    /// The strongest layer: the CLI's flags. The environment sits between it and the file.
    pub overrides: ConfigLayer,
    pub keychain: Arc<dyn SecretStore>,
    /// Where the journal lives; `None`: `PAYDESK_DATA_DIR`, else the OS data folder.
    pub journal_path: Option<PathBuf>,
}

impl std::fmt::Debug for Assembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembly")
            .field("config_path", &self.config_path)
            .field("journal_path", &self.journal_path)
            .finish_non_exhaustive()
    }
}

impl Assembly {
    /// The till as this machine has it: `config_path` (else `PAYDESK_CONFIG`, else the OS
    /// config file), the environment, `overrides`, the keychain named by
    /// `PAYDESK_KEYCHAIN_SERVICE`.
    pub fn from_env(
        config_path: Option<PathBuf>,
        overrides: ConfigLayer,
    ) -> Result<Assembly, TillError> {
        Ok(Assembly {
            config_path: match config_path {
                Some(p) => p,
                None => config::default_path()?,
            },
            overrides,
            keychain: Arc::new(keychain_from_env()),
            journal_path: None,
        })
    }

    /// The folder the journal and the staff file live in.
    pub fn data_dir(&self) -> Result<PathBuf, TillError> {
        let journal = match &self.journal_path {
            Some(p) => p.clone(),
            None => journal::default_path()?,
        };
        Ok(data_dir_of(&journal))
    }

    /// Reads the settings (file, environment, overrides) without touching the keychain.
    pub fn settings(&self) -> Result<Config, TillError> {
        Ok(Config::load_from(
            &self.config_path,
            |v| std::env::var(v).ok(),
            self.overrides.clone(),
        )?)
    }

    /// Reads the settings and, when they need them, the keys: on a blocking thread.
    pub async fn plan(&self) -> Result<TillPlan, TillError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.plan_blocking())
            .await
            .map_err(|e| TillError::Join(e.to_string()))?
    }

    /// [`Assembly::plan`] for code already off the async threads.
    pub fn plan_blocking(&self) -> Result<TillPlan, TillError> {
        let config = self.settings()?;
        let journal_path = match &self.journal_path {
            Some(p) => p.clone(),
            None => journal::default_path()?,
        };
        let notice = None;
        let mut problem = None;
        let env_secret = env_key(Account::SecretKey);
        let (mode, secret_key, terminal_key) = match (config.mode, env_secret) {
            (Some(Mode::Demo), _) => (Mode::Demo, KeyLookup::NotAsked, KeyLookup::NotAsked),
            // No mode in the settings and no key in the environment: this till has no
            // keys (Settings and provisioning write the mode with them), so the demo —
            // without asking, or waking, a keychain that may be locked.
            (None, KeyLookup::NotAsked) => (Mode::Demo, KeyLookup::NotAsked, KeyLookup::NotAsked),
            (explicit, from_env) => {
                let secret = match from_env {
                    KeyLookup::NotAsked => {
                        KeyLookup::of(secrets::resolve(self.keychain.as_ref(), Account::SecretKey))
                    }
                    found => found,
                };
                if let KeyLookup::Failed(cause) = &secret {
                    return Err(TillError::KeychainLocked {
                        cause: cause.clone(),
                    });
                }
                let mode = match config.effective_mode(secret.key().map(|k| &k.secret)) {
                    Ok(mode) => mode,
                    Err(e) => {
                        problem = Some(e.to_string());
                        explicit.unwrap_or(Mode::Test)
                    }
                };
                let terminal = if mode == Mode::Demo {
                    KeyLookup::NotAsked
                } else {
                    KeyLookup::of(secrets::resolve(
                        self.keychain.as_ref(),
                        Account::TerminalKey,
                    ))
                };
                (mode, secret, terminal)
            }
        };
        Ok(TillPlan {
            catalog: Arc::new(config.catalog()?),
            config,
            mode,
            secret_key,
            terminal_key,
            journal_path,
            notice,
            problem,
        })
    }

    /// The settings and the keys the environment holds, never the keychain (for commands
    /// that only read the journal: they must not wake, or wait on, a locked keychain).
    /// The book is the settings' mode, else the environment key's kind, else the book the
    /// till last ran on, else demo.
    pub fn plan_without_keychain(&self) -> Result<TillPlan, TillError> {
        let config = self.settings()?;
        let journal_path = match &self.journal_path {
            Some(p) => p.clone(),
            None => journal::default_path()?,
        };
        let secret_key = env_key(Account::SecretKey);
        let terminal_key = env_key(Account::TerminalKey);
        let mode = match config.mode {
            Some(m) => m,
            None => match config.effective_mode(secret_key.key().map(|k| &k.secret)) {
                Ok(m) if m != Mode::Demo => m,
                _ => Journal::last_book(&journal_path)?.unwrap_or(Mode::Demo),
            },
        };
        Ok(TillPlan {
            catalog: Arc::new(config.catalog()?),
            config,
            mode,
            secret_key,
            terminal_key,
            journal_path,
            notice: None,
            problem: None,
        })
    }
}

/// A key from the environment (`PAYDESK_SECRET_KEY`, `PAYDESK_TERMINAL_KEY`), which wins
/// over the keychain; `NotAsked` when the variable is unset.
fn env_key(account: Account) -> KeyLookup {
    match std::env::var(account.env_var()) {
        Ok(v) if !v.trim().is_empty() => KeyLookup::Found(Key {
            secret: Secret::new(v.trim()),
            source: KeySource::Env(account.env_var()),
        }),
        _ => KeyLookup::NotAsked,
    }
}

/// Everything a till needs to start, read and resolved.
#[derive(Clone, Debug)]
pub struct TillPlan {
    pub config: Config,
    /// The quick keys, tax rates and tip settings, checked in the till's currency.
    pub catalog: Arc<Catalog>,
    pub mode: Mode,
    pub secret_key: KeyLookup,
    pub terminal_key: KeyLookup,
    pub journal_path: PathBuf,
    /// Something the cashier should read even though the till starts.
    pub notice: Option<String>,
    /// Why this till cannot run as planned (it does not start; the doctor reports it).
    pub problem: Option<String>,
}

impl TillPlan {
    /// The relay to listen to, when both its URL and the terminal key are known.
    pub fn relay(&self) -> Option<RelayEndpoint> {
        let url = self.config.relay_url.as_deref()?;
        let key = self.terminal_key.key()?;
        let endpoint = RelayEndpoint::new(normalize_relay_url(url), key.secret.clone());
        Some(match &self.config.relay_ca_file {
            Some(ca) => endpoint.with_ca_file(ca),
            None => endpoint,
        })
    }

    /// Why there is no relay session, if there is none.
    pub fn relay_warning(&self) -> Option<String> {
        match (&self.config.relay_url, &self.terminal_key) {
            (None, _) => Some(
                "no relay configured (--relay-url or PAYDESK_RELAY_URL): payments are polled"
                    .into(),
            ),
            (Some(_), KeyLookup::Found(_)) => None,
            (Some(_), KeyLookup::Missing | KeyLookup::NotAsked) => Some(
                "a relay is configured but there is no terminal key (PAYDESK_TERMINAL_KEY or \
                 `paydesk-cli provision`): payments are polled"
                    .into(),
            ),
            (Some(_), KeyLookup::Failed(e)) => Some(format!(
                "the terminal key is unreadable, payments are polled: {e}"
            )),
        }
    }

    /// The session's timings as the settings say.
    pub fn session_config(&self) -> SessionConfig {
        let mut session = SessionConfig::default();
        if let Some(t) = self.config.heartbeat_timeout {
            session.watchdog_override = Some(t);
        }
        if let Some(f) = self.config.fallback_after {
            session.fallback_after = f;
        }
        if let Some(p) = self.config.poll_interval {
            session.poll_interval = p;
        }
        session
    }

    /// The secret API key, or why the till cannot take payments without one.
    pub fn require_secret_key(&self) -> Result<&Key, TillError> {
        match &self.secret_key {
            KeyLookup::Found(k) => Ok(k),
            KeyLookup::Failed(cause) => Err(TillError::KeychainLocked {
                cause: cause.clone(),
            }),
            KeyLookup::Missing | KeyLookup::NotAsked => {
                Err(TillError::Config(ConfigError::MissingKey {
                    mode: match self.mode {
                        Mode::Demo => Mode::Test,
                        m => m,
                    },
                }))
            }
        }
    }

    /// The terminal as the core runs it, against the real API (not the demo shop).
    pub fn terminal_setup(&self) -> Result<TerminalSetup, TillError> {
        let key = self.require_secret_key()?;
        let mut setup = TerminalSetup::new(
            self.config.terminal_name.clone(),
            self.config.api_url.clone(),
            key.secret.clone(),
        );
        setup.session = self.session_config();
        setup.order_prefix = self.config.order_prefix.clone();
        setup.receipts = Some(crate::receipts::ReceiptSetup::from_config(
            &self.config,
            self.mode,
        ));
        if self.config.relay_url.is_some() {
            match self.relay() {
                Some(relay) => setup = setup.relay(relay.base_url, relay.terminal_key),
                None if matches!(self.terminal_key, KeyLookup::Failed(_)) => {
                    // The warning says so; the till still takes payments by polling.
                }
                None => return Err(TillError::NoTerminalKey { mode: self.mode }),
            }
        }
        Ok(setup)
    }

    /// The plan pointed at a demo shop: its URLs and keys, in demo mode.
    pub fn with_demo(mut self, shop: &DemoEndpoints) -> TillPlan {
        self.mode = Mode::Demo;
        self.config.mode = Some(Mode::Demo);
        self.config.api_url = shop.api_url.clone();
        self.config.relay_url = Some(shop.relay_url.clone());
        self.secret_key = KeyLookup::Found(Key {
            secret: shop.secret_key.clone(),
            source: KeySource::Demo,
        });
        self.terminal_key = KeyLookup::Found(Key {
            secret: shop.terminal_key.clone(),
            source: KeySource::Demo,
        });
        self
    }

    /// Where this till's keys come from when not from the OS keychain: the demo shop's
    /// own, or the environment for every key it needs (a headless till, on purpose).
    /// `None`: the keys depend on the keychain (or are still to be put there).
    pub fn keys_beside_keychain(&self) -> Option<KeySource> {
        let source = |k: &KeyLookup| k.key().map(|k| k.source);
        match (source(&self.secret_key), source(&self.terminal_key)) {
            (Some(KeySource::Demo), _) => Some(KeySource::Demo),
            (Some(s @ KeySource::Env(_)), _) if self.config.relay_url.is_none() => Some(s),
            (Some(s @ KeySource::Env(_)), Some(KeySource::Env(_))) => Some(s),
            _ => None,
        }
    }

    /// What the doctor checks: exactly what this till would use. The keychain is probed
    /// only when the keys depend on it ([`TillPlan::keys_beside_keychain`]).
    pub fn doctor_setup(&self, keychain: Option<Arc<dyn SecretStore>>) -> DoctorSetup {
        let mut setup = DoctorSetup::new(
            self.config.api_url.clone(),
            self.secret_key.key().map(|k| k.secret.clone()),
        );
        setup.relay = self.relay();
        setup.keychain = match (keychain, self.keys_beside_keychain()) {
            (Some(keychain), None) => KeychainCheck::Probe(keychain),
            (Some(_), Some(KeySource::Env(_))) => KeychainCheck::NotNeeded,
            _ => KeychainCheck::Skip,
        };
        setup.mode = Some(self.mode);
        setup.relay_configured = self.config.relay_url.clone();
        setup
    }

    /// Every key value this plan knows, so output written for others (a support bundle)
    /// can be checked against them.
    pub fn known_secrets(&self) -> Vec<Secret> {
        [&self.secret_key, &self.terminal_key]
            .into_iter()
            .filter_map(|k| k.key().map(|k| k.secret.clone()))
            .collect()
    }

    /// Opens this plan's journal on the book of its mode.
    pub fn open_journal(&self) -> Result<Journal, TillError> {
        Ok(Journal::open_book(&self.journal_path, self.mode)?)
    }

    /// The folder the journal and the staff file live in.
    pub fn data_dir(&self) -> PathBuf {
        data_dir_of(&self.journal_path)
    }

    /// Opens the staff file this plan's mode uses (see [`crate::staff`]). Blocks.
    pub fn open_staff(&self) -> Result<Staff, TillError> {
        Ok(Staff::open(&self.data_dir(), self.mode, Policy::default())?)
    }

    /// Opens the till's own staff file, whatever the mode (see [`Staff::open_till`]).
    pub fn open_till_staff(&self) -> Result<Staff, TillError> {
        Ok(Staff::open_till(&self.data_dir(), Policy::default())?)
    }
}

/// The journal's folder (the current one for a bare file name).
fn data_dir_of(journal: &std::path::Path) -> PathBuf {
    match journal.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Where a demo shop listens and the keys it accepts.
#[derive(Clone, Debug)]
pub struct DemoEndpoints {
    pub api_url: String,
    pub relay_url: String,
    pub secret_key: Secret,
    pub terminal_key: Secret,
}

/// What a demo shop is asked for.
#[derive(Clone, Debug)]
pub struct DemoSettings {
    pub terminal_name: String,
    /// How long a demo payment stays payable.
    pub time_window: Duration,
    /// Whether a phone on the same network may open the checkout page.
    pub lan: bool,
}

impl DemoSettings {
    /// From `PAYDESK_DEMO_TIME_WINDOW` and `PAYDESK_DEMO_LAN`.
    pub fn from_env(terminal_name: &str) -> DemoSettings {
        let time_window = std::env::var(DEMO_TIME_WINDOW_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map_or(Duration::from_secs(600), Duration::from_secs);
        let lan = std::env::var(DEMO_LAN_ENV).map_or(true, |v| v.trim() != "0");
        DemoSettings {
            terminal_name: terminal_name.to_owned(),
            time_window,
            lan,
        }
    }
}

/// How the demo customer pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoPayment {
    /// In the Crypto.com App: refunds go back at once.
    App,
    /// From an outside wallet: a refund waits for the customer's address.
    Onchain,
}

/// A running demo shop (the sandbox and the relay in-process), owned by the till.
pub trait DemoShop: Send + Sync {
    fn endpoints(&self) -> DemoEndpoints;
    /// The demo customer pays; "Paid" still arrives the real way (webhook → relay → push).
    fn simulate_payment<'a>(
        &'a self,
        payment_id: &'a str,
        how: DemoPayment,
    ) -> BoxFuture<'a, Result<(), String>>;
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// Starts demo shops (`paydesk-demo` implements it; the core cannot depend on it).
pub trait DemoLauncher: Send + Sync {
    fn launch(&self, settings: DemoSettings) -> BoxFuture<'_, Result<Box<dyn DemoShop>, String>>;
}

/// A running till: the terminal, and the demo shop it talks to in demo mode.
pub struct Till {
    pub terminal: Terminal,
    pub demo: Option<Box<dyn DemoShop>>,
    pub plan: TillPlan,
}

impl std::fmt::Debug for Till {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Till")
            .field("mode", &self.plan.mode)
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

impl Till {
    /// Starts the till the plan describes, with the staff file its mode uses: in demo mode
    /// the demo shop first.
    pub async fn start(plan: TillPlan, demo: &dyn DemoLauncher) -> Result<Till, TillError> {
        let opener = plan.clone();
        let staff = tokio::task::spawn_blocking(move || opener.open_staff())
            .await
            .map_err(|e| TillError::Join(e.to_string()))??;
        Till::start_with(plan, staff, demo).await
    }

    /// [`Till::start`] with the staff gate already open (the host keeps one across runs).
    pub async fn start_with(
        plan: TillPlan,
        staff: Staff,
        demo: &dyn DemoLauncher,
    ) -> Result<Till, TillError> {
        if let Some(problem) = &plan.problem {
            return Err(TillError::Plan(problem.clone()));
        }
        let (plan, shop) = if plan.mode == Mode::Demo {
            let shop = demo
                .launch(DemoSettings::from_env(&plan.config.terminal_name))
                .await
                .map_err(TillError::Demo)?;
            (plan.with_demo(&shop.endpoints()), Some(shop))
        } else {
            (plan, None)
        };
        let started = async {
            let mut setup = plan.terminal_setup()?;
            setup.staff = staff;
            let path = plan.journal_path.clone();
            let mode = plan.mode;
            let journal = tokio::task::spawn_blocking(move || Journal::open_book(path, mode))
                .await
                .map_err(|e| TillError::Join(e.to_string()))??;
            Ok::<_, TillError>(Terminal::start(setup, Arc::new(journal)).await?)
        }
        .await;
        match started {
            Ok(terminal) => {
                tracing::info!(mode = %plan.mode, terminal = %plan.config.terminal_name, "till running");
                Ok(Till {
                    terminal,
                    demo: shop,
                    plan,
                })
            }
            Err(e) => {
                if let Some(shop) = shop {
                    shop.shutdown().await;
                }
                Err(e)
            }
        }
    }

    pub fn mode(&self) -> Mode {
        self.plan.mode
    }

    /// Stops the terminal, then the demo shop.
    pub async fn shutdown(self) {
        self.terminal.shutdown().await;
        if let Some(shop) = self.demo {
            shop.shutdown().await;
        }
    }
}

/// A launcher for builds without a demo shop: demo mode cannot start.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDemo;

impl DemoLauncher for NoDemo {
    fn launch(&self, _: DemoSettings) -> BoxFuture<'_, Result<Box<dyn DemoShop>, String>> {
        Box::pin(async { Err("this build has no demo shop".to_owned()) })
    }
}
