//! The relay's configuration: built in code (demo mode, tests) or read from a TOML file
//! with `PAYDESK_RELAY_*` environment overrides (the binary).
//!
//! Secrets never live in the file: webhook secrets come from an environment variable or a
//! secrets file named by the config, terminal keys are stored only as SHA-256 hashes, and a
//! Redis URL with a password comes from `PAYDESK_RELAY_REDIS_URL`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use paydesk_protocol::wire::Scope;
use paydesk_protocol::Secret;
use serde::Deserialize;

use crate::terminals::{hash_key, KeyHash, TerminalRecord, Terminals, TerminalsBuilder};
pub use crate::tls::TlsFiles;

/// Which event-stream backend holds events, offsets, tickets and replay memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendConfig {
    /// One process: everything in memory; the epoch changes on restart.
    Memory,
    /// Several instances share one Redis (streams, tickets, replay set).
    Redis { url: Secret },
}

/// A token bucket: `burst` requests at once, refilled at `per_minute`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct RateLimit {
    pub burst: u32,
    pub per_minute: u32,
}

#[derive(Clone, Debug)]
pub struct MerchantConfig {
    /// Every secret currently valid for `Pay-Signature` (more than one while rotating).
    pub webhook_secrets: Vec<Secret>,
}

/// Everything [`crate::run`] needs. Fields are public; the builder methods cover the
/// common cases (`RelayConfig::memory().merchant("demo", secret).terminal(..)`).
#[derive(Clone, Debug)]
pub struct RelayConfig {
    pub merchants: BTreeMap<String, MerchantConfig>,
    /// Terminals registered in code; those of `terminals_file` are added at start and on
    /// every reload (SIGHUP).
    pub terminals: Vec<TerminalRecord>,
    pub terminals_file: Option<PathBuf>,
    pub backend: BackendConfig,
    /// The server pings this often; Engine.IO's default.
    pub heartbeat_interval: Duration,
    /// Silence beyond interval + timeout closes the session (4000).
    pub heartbeat_timeout: Duration,
    pub ticket_ttl: Duration,
    pub history_max_events: usize,
    pub history_max_age: Duration,
    /// How far `t` in `Pay-Signature` may be from our clock.
    pub signature_tolerance: Duration,
    /// How long an event id is remembered (at least twice the tolerance).
    pub replay_window: Duration,
    pub replay_max_entries: usize,
    pub webhook_body_limit: usize,
    /// Upper bound on receiving a webhook body or HTTP headers.
    pub request_timeout: Duration,
    pub max_connections: usize,
    /// Open HTTP connections (not upgraded) beyond which new sockets are closed at once.
    pub max_http_connections: usize,
    /// Messages queued for one session beyond which it is closed as a slow consumer (4001).
    pub send_queue: usize,
    /// Per-merchant fan-out ring for merchant-scope sessions; a session lagging further
    /// behind is a slow consumer.
    pub fanout_capacity: usize,
    /// Per-till fan-out ring (a till gets only its own payments' events).
    pub till_fanout_capacity: usize,
    /// Payments per merchant whose till the in-memory backend remembers, to route their
    /// refunds (a refund names only its payment).
    pub route_memory_payments: usize,
    /// How long the Redis backend remembers a payment's till.
    pub route_memory_ttl: Duration,
    pub ws_read_buffer: usize,
    pub ws_max_message: usize,
    /// How long a closing session may take to flush its close frame.
    pub close_timeout: Duration,
    pub ticket_rate_per_key: RateLimit,
    pub ticket_rate_per_addr: RateLimit,
    pub max_outstanding_tickets: usize,
    /// Take the client address from the last `X-Forwarded-For` entry (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Terminate TLS here (certificate chain and key PEM files, re-read on SIGHUP).
    pub tls: Option<TlsFiles>,
}

impl RelayConfig {
    /// An in-memory relay with the production defaults and no merchants yet.
    pub fn memory() -> Self {
        RelayConfig {
            merchants: BTreeMap::new(),
            terminals: Vec::new(),
            terminals_file: None,
            backend: BackendConfig::Memory,
            // 10 + 5: a dead link is noticed within 15 s (Socket.IO's 25 + 20 took 45 s),
            // and a ping every 10 s keeps proxies that drop idle sockets at 60 s happy.
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(5),
            ticket_ttl: Duration::from_secs(30),
            history_max_events: 1000,
            history_max_age: Duration::from_secs(15 * 60),
            signature_tolerance: Duration::from_secs(300),
            replay_window: Duration::from_secs(600),
            replay_max_entries: 100_000,
            webhook_body_limit: 32 * 1024,
            request_timeout: Duration::from_secs(10),
            max_connections: 18_000,
            max_http_connections: 1_500,
            send_queue: 64,
            fanout_capacity: 128,
            till_fanout_capacity: 8,
            route_memory_payments: 10_000,
            route_memory_ttl: Duration::from_secs(30 * 24 * 3600),
            ws_read_buffer: 1024,
            ws_max_message: 4096,
            close_timeout: Duration::from_secs(2),
            ticket_rate_per_key: RateLimit {
                burst: 10,
                per_minute: 60,
            },
            ticket_rate_per_addr: RateLimit {
                burst: 100,
                per_minute: 1200,
            },
            max_outstanding_tickets: 100_000,
            trust_forwarded_for: false,
            tls: None,
        }
    }

    /// The same, sharing state through the Redis at `url`.
    pub fn redis(url: impl Into<Secret>) -> Self {
        RelayConfig {
            backend: BackendConfig::Redis { url: url.into() },
            ..RelayConfig::memory()
        }
    }

    /// Adds a merchant, or another webhook secret for one (rotation).
    pub fn merchant(mut self, id: impl Into<String>, webhook_secret: impl Into<Secret>) -> Self {
        self.merchants
            .entry(id.into())
            .or_insert_with(|| MerchantConfig {
                webhook_secrets: Vec::new(),
            })
            .webhook_secrets
            .push(webhook_secret.into());
        self
    }

    /// Registers a till-scope terminal by its key; only the key's hash is kept. Its id is
    /// derived from the hash ([`crate::terminals::derived_terminal_id`]).
    pub fn terminal(self, merchant: &str, name: &str, key: &Secret) -> Self {
        self.terminal_scoped(merchant, name, key, Scope::Till)
    }

    /// Registers a terminal of the given scope by its key.
    pub fn terminal_scoped(
        mut self,
        merchant: &str,
        name: &str,
        key: &Secret,
        scope: Scope,
    ) -> Self {
        self.terminals
            .push(TerminalRecord::new(merchant, name, hash_key(key), scope));
        self
    }

    /// Registers a till-scope terminal by a key hash (as stored in the terminals file).
    pub fn terminal_hash(mut self, merchant: &str, name: &str, key_hash: KeyHash) -> Self {
        self.terminals
            .push(TerminalRecord::new(merchant, name, key_hash, Scope::Till));
        self
    }

    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout;
        self
    }

    pub fn history(mut self, max_events: usize, max_age: Duration) -> Self {
        self.history_max_events = max_events;
        self.history_max_age = max_age;
        self
    }

    /// Checks the combination before anything starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (id, m) in &self.merchants {
            if !valid_merchant_id(id) {
                return Err(ConfigError::Invalid(format!(
                    "merchant id '{id}' must be 1-64 of A-Z a-z 0-9 _ -"
                )));
            }
            if m.webhook_secrets.is_empty() || m.webhook_secrets.iter().any(Secret::is_empty) {
                return Err(ConfigError::Invalid(format!(
                    "merchant '{id}' has no (or an empty) webhook secret"
                )));
            }
        }
        self.check_terminals(&self.terminals)?;
        let checks = [
            (self.heartbeat_interval.is_zero(), "heartbeat interval is 0"),
            (self.heartbeat_timeout.is_zero(), "heartbeat timeout is 0"),
            (self.ticket_ttl.is_zero(), "ticket ttl is 0"),
            (self.history_max_events == 0, "history max_events is 0"),
            (self.send_queue == 0, "send_queue is 0"),
            (self.fanout_capacity == 0, "fanout_capacity is 0"),
            (self.till_fanout_capacity == 0, "till_fanout_capacity is 0"),
            (
                self.route_memory_payments == 0,
                "routing payments_per_merchant is 0",
            ),
            (
                self.route_memory_ttl.is_zero(),
                "routing payment_ttl_secs is 0",
            ),
            (self.max_connections == 0, "max_connections is 0"),
            (
                self.ws_read_buffer == 0 || self.ws_read_buffer > 8192,
                "ws_read_buffer must be 1..=8192 bytes",
            ),
            (
                self.ws_max_message < 64 || self.ws_max_message > 65536,
                "ws_max_message must be 64..=65536 bytes",
            ),
            (
                self.webhook_body_limit < 256,
                "webhook_body_limit below 256 bytes",
            ),
            (
                self.replay_window < self.signature_tolerance * 2,
                "replay_window must be at least twice the signature tolerance",
            ),
            (
                self.ticket_rate_per_key.burst == 0 || self.ticket_rate_per_addr.burst == 0,
                "a rate limit burst is 0",
            ),
        ];
        for (bad, what) in checks {
            if bad {
                return Err(ConfigError::Invalid(what.to_owned()));
            }
        }
        Ok(())
    }
}

impl RelayConfig {
    /// Every terminal must belong to a configured merchant.
    pub fn check_terminals(&self, terminals: &[TerminalRecord]) -> Result<(), ConfigError> {
        for t in terminals {
            if !self.merchants.contains_key(&t.merchant) {
                return Err(ConfigError::Invalid(format!(
                    "terminal '{}' belongs to unknown merchant '{}'",
                    t.name, t.merchant
                )));
            }
        }
        Ok(())
    }

    /// The terminals in force: those registered in code plus those of the terminals file,
    /// indexed. The records are dropped once indexed: only the index stays in memory.
    pub fn load_terminals(&self) -> Result<Terminals, ConfigError> {
        self.check_terminals(&self.terminals)?;
        let mut index = CheckedBuilder {
            config: self,
            inner: TerminalsBuilder::default(),
        };
        for t in &self.terminals {
            index.inner.push(t.clone()).map_err(ConfigError::Invalid)?;
        }
        if let Some(path) = &self.terminals_file {
            crate::terminals::read_file(path, &mut index)?;
        }
        index.inner.finish().map_err(ConfigError::Invalid)
    }
}

/// Indexes terminals straight from the file, refusing any of an unknown merchant.
struct CheckedBuilder<'a> {
    config: &'a RelayConfig,
    inner: TerminalsBuilder,
}

impl crate::terminals::Sink for CheckedBuilder<'_> {
    fn push(&mut self, record: TerminalRecord) -> Result<(), String> {
        if !self.config.merchants.contains_key(&record.merchant) {
            return Err(format!(
                "terminal '{}' belongs to unknown merchant '{}'",
                record.name, record.merchant
            ));
        }
        self.inner.push(record)
    }

    fn clear(&mut self) {
        self.inner = TerminalsBuilder::default();
        for t in &self.config.terminals {
            // Checked already when first pushed.
            let _ = self.inner.push(t.clone());
        }
    }
}

pub fn valid_merchant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid relay TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error(transparent)]
    Terminals(#[from] crate::terminals::TerminalsError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// The TOML file, as written by an operator. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub terminals_file: Option<PathBuf>,
    #[serde(default)]
    pub heartbeat: HeartbeatSection,
    #[serde(default)]
    pub history: HistorySection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub backend: BackendSection,
    #[serde(default)]
    pub trust_forwarded_for: Option<bool>,
    #[serde(default)]
    pub routing: RoutingSection,
    #[serde(default)]
    pub tls: Option<TlsSection>,
    #[serde(default, rename = "merchant")]
    pub merchants: Vec<MerchantSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSection {
    /// In-memory backend: payments per merchant whose till is remembered (for refunds).
    pub payments_per_merchant: Option<usize>,
    /// Redis backend: how long a payment's till is remembered.
    pub payment_ttl_secs: Option<u64>,
}

/// `[tls]`: terminate TLS in the relay (no reverse proxy).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM: the server certificate first, then its intermediates.
    pub cert_file: Option<PathBuf>,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatSection {
    pub interval_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySection {
    pub max_events: Option<usize>,
    pub max_age_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub max_connections: Option<usize>,
    pub max_http_connections: Option<usize>,
    pub send_queue: Option<usize>,
    pub fanout_capacity: Option<usize>,
    pub till_fanout_capacity: Option<usize>,
    pub webhook_body_bytes: Option<usize>,
    pub ws_read_buffer_bytes: Option<usize>,
    pub ws_max_message_bytes: Option<usize>,
    pub ticket_ttl_secs: Option<u64>,
    pub ticket_rate_per_key: Option<RateLimit>,
    pub ticket_rate_per_addr: Option<RateLimit>,
    pub replay_window_secs: Option<u64>,
    pub replay_max_entries: Option<usize>,
    pub request_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSection {
    /// "memory" (default) or "redis".
    pub kind: Option<String>,
    /// A Redis URL without a password; one with a password belongs in
    /// `PAYDESK_RELAY_REDIS_URL`.
    pub redis_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantSection {
    pub id: String,
    /// Environment variable holding the webhook secret(s), comma-separated while rotating.
    /// Defaults to `PAYDESK_RELAY_SECRET_<ID>` (upper case, `-` as `_`).
    pub secrets_env: Option<String>,
    /// A file holding the webhook secret(s), one a line.
    pub secrets_file: Option<PathBuf>,
}

/// What the binary runs: the listen address and the relay configuration.
#[derive(Debug)]
pub struct LoadedConfig {
    pub listen: SocketAddr,
    pub relay: RelayConfig,
    pub terminals_file: Option<PathBuf>,
}

/// Reads an environment variable through `env` (tests pass a map instead of the process
/// environment).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

fn env_parse<T: std::str::FromStr>(env: &dyn Env, name: &str) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.var(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|e| ConfigError::Env {
                name: name.to_owned(),
                message: e.to_string(),
            }),
    }
}

pub fn default_secret_env(merchant: &str) -> String {
    format!(
        "PAYDESK_RELAY_SECRET_{}",
        merchant.to_ascii_uppercase().replace('-', "_")
    )
}

impl LoadedConfig {
    /// Reads `path` (if any), applies `PAYDESK_RELAY_*` overrides from `env`, resolves
    /// secrets and loads the terminals file.
    pub fn load(path: Option<&Path>, env: &dyn Env) -> Result<LoadedConfig, ConfigError> {
        let file: FileConfig = match path {
            None => FileConfig::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: p.to_owned(),
                    message: e.to_string(),
                })?
            }
        };
        let mut c = RelayConfig::memory();
        let listen = env_parse::<SocketAddr>(env, "PAYDESK_RELAY_LISTEN")?
            .or(file.listen)
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8787)));
        let terminals_file = env
            .var("PAYDESK_RELAY_TERMINALS_FILE")
            .map(PathBuf::from)
            .or(file.terminals_file);

        let ms = |v: u64| Duration::from_millis(v);
        let secs = Duration::from_secs;
        if let Some(v) =
            env_parse(env, "PAYDESK_RELAY_HEARTBEAT_INTERVAL_MS")?.or(file.heartbeat.interval_ms)
        {
            c.heartbeat_interval = ms(v);
        }
        if let Some(v) =
            env_parse(env, "PAYDESK_RELAY_HEARTBEAT_TIMEOUT_MS")?.or(file.heartbeat.timeout_ms)
        {
            c.heartbeat_timeout = ms(v);
        }
        if let Some(v) =
            env_parse(env, "PAYDESK_RELAY_HISTORY_MAX_EVENTS")?.or(file.history.max_events)
        {
            c.history_max_events = v;
        }
        if let Some(v) =
            env_parse(env, "PAYDESK_RELAY_HISTORY_MAX_AGE_SECS")?.or(file.history.max_age_secs)
        {
            c.history_max_age = secs(v);
        }
        let l = &file.limits;
        if let Some(v) = env_parse(env, "PAYDESK_RELAY_MAX_CONNECTIONS")?.or(l.max_connections) {
            c.max_connections = v;
        }
        if let Some(v) =
            env_parse(env, "PAYDESK_RELAY_MAX_HTTP_CONNECTIONS")?.or(l.max_http_connections)
        {
            c.max_http_connections = v;
        }
        if let Some(v) = env_parse(env, "PAYDESK_RELAY_SEND_QUEUE")?.or(l.send_queue) {
            c.send_queue = v;
        }
        if let Some(v) = l.fanout_capacity {
            c.fanout_capacity = v;
        }
        if let Some(v) = l.till_fanout_capacity {
            c.till_fanout_capacity = v;
        }
        if let Some(v) = file.routing.payments_per_merchant {
            c.route_memory_payments = v;
        }
        if let Some(v) = file.routing.payment_ttl_secs {
            c.route_memory_ttl = secs(v);
        }
        let tls_section = file.tls.as_ref();
        let cert = env
            .var("PAYDESK_RELAY_TLS_CERT_FILE")
            .map(PathBuf::from)
            .or_else(|| tls_section.and_then(|t| t.cert_file.clone()));
        let key = env
            .var("PAYDESK_RELAY_TLS_KEY_FILE")
            .map(PathBuf::from)
            .or_else(|| tls_section.and_then(|t| t.key_file.clone()));
        c.tls = match (cert, key) {
            (None, None) => None,
            (Some(cert_file), Some(key_file)) => Some(TlsFiles {
                cert_file,
                key_file,
            }),
            _ => {
                return Err(ConfigError::Invalid(
                    "tls needs both cert_file and key_file".into(),
                ))
            }
        };
        if let Some(v) =
            env_parse(env, "PAYDESK_RELAY_WEBHOOK_BODY_BYTES")?.or(l.webhook_body_bytes)
        {
            c.webhook_body_limit = v;
        }
        if let Some(v) = l.ws_read_buffer_bytes {
            c.ws_read_buffer = v;
        }
        if let Some(v) = l.ws_max_message_bytes {
            c.ws_max_message = v;
        }
        if let Some(v) = env_parse(env, "PAYDESK_RELAY_TICKET_TTL_SECS")?.or(l.ticket_ttl_secs) {
            c.ticket_ttl = secs(v);
        }
        if let Some(v) = l.ticket_rate_per_key {
            c.ticket_rate_per_key = v;
        }
        if let Some(v) = l.ticket_rate_per_addr {
            c.ticket_rate_per_addr = v;
        }
        if let Some(v) = l.replay_window_secs {
            c.replay_window = secs(v);
        }
        if let Some(v) = l.replay_max_entries {
            c.replay_max_entries = v;
        }
        if let Some(v) = l.request_timeout_secs {
            c.request_timeout = secs(v);
        }
        if let Some(v) =
            env_parse(env, "PAYDESK_RELAY_TRUST_FORWARDED_FOR")?.or(file.trust_forwarded_for)
        {
            c.trust_forwarded_for = v;
        }

        let kind = env
            .var("PAYDESK_RELAY_BACKEND")
            .or(file.backend.kind.clone())
            .unwrap_or_else(|| "memory".to_owned());
        c.backend = match kind.as_str() {
            "memory" => BackendConfig::Memory,
            "redis" => {
                let url = env
                    .var("PAYDESK_RELAY_REDIS_URL")
                    .or(file.backend.redis_url.clone())
                    .ok_or_else(|| {
                        ConfigError::Invalid(
                            "backend redis needs PAYDESK_RELAY_REDIS_URL or backend.redis_url"
                                .into(),
                        )
                    })?;
                BackendConfig::Redis {
                    url: Secret::new(url),
                }
            }
            other => {
                return Err(ConfigError::Invalid(format!(
                    "backend kind '{other}' is neither memory nor redis"
                )))
            }
        };

        for m in &file.merchants {
            let secrets = merchant_secrets(m, env)?;
            for s in secrets {
                c = c.merchant(m.id.clone(), s);
            }
            if !c.merchants.contains_key(&m.id) {
                return Err(ConfigError::Invalid(format!(
                    "merchant '{}' has no webhook secret",
                    m.id
                )));
            }
        }

        c.terminals_file = terminals_file.clone();
        c.validate()?;
        // Read once now so a broken file stops the start with a clear error (the relay
        // reads it again as it starts; this copy is dropped).
        drop(c.load_terminals()?);
        if let Some(files) = &c.tls {
            crate::tls::load(files)?;
        }
        Ok(LoadedConfig {
            listen,
            relay: c,
            terminals_file,
        })
    }
}

fn merchant_secrets(m: &MerchantSection, env: &dyn Env) -> Result<Vec<Secret>, ConfigError> {
    if let Some(path) = &m.secrets_file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        return Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(Secret::new)
            .collect());
    }
    let name = m
        .secrets_env
        .clone()
        .unwrap_or_else(|| default_secret_env(&m.id));
    let value = env.var(&name).ok_or_else(|| ConfigError::Env {
        name: name.clone(),
        message: format!("not set (webhook secret of merchant '{}')", m.id),
    })?;
    Ok(value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_env_combine_and_secrets_stay_out_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(
            &path,
            r#"
listen = "0.0.0.0:9000"
[heartbeat]
interval_ms = 10000
[history]
max_events = 50
[[merchant]]
id = "shop-1"
"#,
        )
        .unwrap();
        let mut env = BTreeMap::new();
        env.insert(
            "PAYDESK_RELAY_SECRET_SHOP_1".to_owned(),
            "new, old".to_owned(),
        );
        env.insert(
            "PAYDESK_RELAY_LISTEN".to_owned(),
            "127.0.0.1:9001".to_owned(),
        );
        let loaded = LoadedConfig::load(Some(&path), &env).unwrap();
        assert_eq!(loaded.listen, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(loaded.relay.heartbeat_interval, Duration::from_secs(10));
        assert_eq!(loaded.relay.history_max_events, 50);
        let secrets = &loaded.relay.merchants["shop-1"].webhook_secrets;
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets[1].expose(), "old");
        assert!(!format!("{loaded:?}").contains("old"));
    }

    #[test]
    fn a_merchant_without_a_secret_or_with_a_bad_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(&path, "[[merchant]]\nid = \"m\"\n").unwrap();
        let err = LoadedConfig::load(Some(&path), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("PAYDESK_RELAY_SECRET_M"), "{err}");
        let bad = RelayConfig::memory().merchant("a b", "s");
        assert!(bad.validate().is_err());
        std::fs::write(&path, "listen = 5\n").unwrap();
        assert!(matches!(
            LoadedConfig::load(Some(&path), &BTreeMap::new()),
            Err(ConfigError::Parse { .. })
        ));
    }
}
