//! The whole system on loopback, for the realtime tests and the benchmark.
//!
//! A [`Stack`] runs the real sandbox (in-process, real HTTP), the real relay as a separate
//! `paydesk-relay` process (so it can be killed and restarted like a deployed one), and a
//! [`FaultProxy`] between the terminal and the relay. The sandbox signs webhooks to the
//! relay directly; the terminal reaches the relay only through the proxy. A [`Recorder`]
//! keeps every event a terminal's tracker publishes, so tests can assert on the whole
//! history of each payment: its final status, no false paid, nothing lost or doubled.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::e2e::free_port;
use anyhow::{anyhow, bail, Context, Result};
use paydesk_core::clock::{LocalClock, ServerClock};
use paydesk_core::gateway::{Gateway, GatewayConfig};
use paydesk_core::payment::{CreatePayment, Payment, PaymentStatus};
use paydesk_core::realtime::{ConnectionState, RelayEndpoint, SessionConfig};
use paydesk_core::secrets::Secret;
use paydesk_core::tracker::{Subscription, Tracker, TrackerEvent, Transition, TransitionKind};
use paydesk_protocol::wire::Scope;
use paydesk_sandbox::{SandboxConfig, SandboxHandle};
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::proxy::FaultProxy;

pub const MERCHANT: &str = "shop";
pub const WEBHOOK_SECRET: &str = "whsec_system";
pub const SECRET_KEY: &str = "sk_test_system";

/// Relay heartbeats for a stack.
#[derive(Clone, Copy, Debug)]
pub struct StackOptions {
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
    /// The sandbox's payment window.
    pub time_window: Duration,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            // A 2 s watchdog: short for fast tests, long enough that a loaded CI machine
            // does not starve a healthy link into a false "dead".
            heartbeat_interval: Duration::from_millis(1000),
            heartbeat_timeout: Duration::from_millis(1000),
            time_window: Duration::from_secs(600),
        }
    }
}

/// A `paydesk-relay serve` process on a fixed loopback port.
pub struct RelayProcess {
    child: Option<Child>,
    port: u16,
    config: PathBuf,
}

impl RelayProcess {
    /// Writes a config into `dir` (heartbeats, one merchant, the terminals file) and starts
    /// the relay; returns once it accepts connections.
    pub async fn start(dir: &Path, opts: &StackOptions) -> Result<RelayProcess> {
        let port = free_port()?;
        let config = dir.join("relay.toml");
        let terminals = dir.join("terminals.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\nterminals_file = {terminals:?}\n\
                 [heartbeat]\ninterval_ms = {}\ntimeout_ms = {}\n\
                 [[merchant]]\nid = \"{MERCHANT}\"\n",
                opts.heartbeat_interval.as_millis(),
                opts.heartbeat_timeout.as_millis(),
            ),
        )
        .context("writing the relay config")?;
        let mut relay = RelayProcess {
            child: None,
            port,
            config,
        };
        relay.spawn().await?;
        Ok(relay)
    }

    async fn spawn(&mut self) -> Result<()> {
        let bin = sibling_binary("paydesk-relay")?;
        let child = Command::new(bin)
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env(
                paydesk_relay::config::default_secret_env(MERCHANT),
                WEBHOOK_SECRET,
            )
            .env("PAYDESK_RELAY_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting paydesk-relay")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if tokio::net::TcpStream::connect(self.addr()).await.is_ok() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Some(status) = c.try_wait()? {
                    bail!("paydesk-relay exited at start: {status}");
                }
            }
            if Instant::now() > deadline {
                bail!("paydesk-relay did not listen within 15 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn webhook_url(&self) -> String {
        format!("http://{}/webhooks/{MERCHANT}", self.addr())
    }

    /// SIGKILL: no close frames, no goodbye.
    pub async fn kill(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill().await.context("killing the relay")?;
        }
        Ok(())
    }

    /// SIGTERM: the relay closes every session with 1012 and exits.
    pub async fn terminate(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            let pid = c.id().ok_or_else(|| anyhow!("relay already gone"))?;
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await?;
            if !status.success() {
                bail!("kill -TERM failed");
            }
            tokio::time::timeout(Duration::from_secs(10), c.wait())
                .await
                .context("relay did not exit after SIGTERM")??;
        }
        Ok(())
    }

    /// Starts it again on the same port (a fresh in-memory stream: a new epoch).
    pub async fn restart(&mut self) -> Result<()> {
        self.kill().await?;
        self.spawn().await
    }
}

/// A binary of this workspace built in the same profile as the running executable: beside
/// it (a bench in `target/release/`) or one level up (a test in `target/debug/deps/`).
pub fn sibling_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the running executable")?;
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&file))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "{file} is not built next to {}; run `cargo build -p {name} --bins` in the same profile",
                exe.display()
            )
        })
}

/// Sandbox + relay process + proxy.
pub struct Stack {
    pub sandbox: SandboxHandle,
    pub relay: RelayProcess,
    /// Between the terminal and the relay.
    pub relay_proxy: FaultProxy,
    pub terminal_key: Secret,
    pub options: StackOptions,
    control: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Stack {
    pub async fn start(options: StackOptions) -> Result<Stack> {
        paydesk_core::init_tls();
        let dir = tempfile::tempdir()?;
        let mut store = paydesk_relay::TerminalStore::default();
        // These tests create payments with the gateway itself, without the routing
        // metadata a till writes: a merchant-wide terminal receives all of them.
        let terminal_key = store
            .add_with(MERCHANT, "till-1", Scope::Merchant, unix_now_s())
            .context("adding a terminal")?
            .key;
        store.save(&dir.path().join("terminals.toml"))?;
        let relay = RelayProcess::start(dir.path(), &options).await?;
        let mut sandbox_config =
            SandboxConfig::new(Secret::new(SECRET_KEY), Secret::new(WEBHOOK_SECRET));
        sandbox_config.webhook_urls = vec![relay.webhook_url()];
        sandbox_config.time_window = options.time_window;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sandbox = paydesk_sandbox::spawn(listener, sandbox_config).await?;
        let relay_proxy = FaultProxy::start(relay.addr()).await?;
        Ok(Stack {
            sandbox,
            relay,
            relay_proxy,
            terminal_key,
            options,
            control: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            _dir: dir,
        })
    }

    /// Where the sandbox listens (to put a proxy in front of its API).
    pub fn sandbox_addr(&self) -> Result<SocketAddr> {
        let base = self.sandbox.base_url();
        base.trim_start_matches("http://")
            .parse()
            .with_context(|| format!("sandbox URL {base}"))
    }

    /// A gateway to the sandbox for one terminal (its own clock, as a till has).
    pub fn gateway(&self, clock: ServerClock) -> Result<Gateway> {
        self.gateway_at(&self.sandbox.base_url(), clock)
    }

    /// A gateway to a sandbox reached at `base_url` (e.g. through a proxy).
    pub fn gateway_at(&self, base_url: &str, clock: ServerClock) -> Result<Gateway> {
        self.gateway_on(base_url, clock, LocalClock::system())
    }

    /// A gateway measuring the API's clock against a till clock that may be wrong.
    pub fn gateway_on(
        &self,
        base_url: &str,
        clock: ServerClock,
        local_clock: LocalClock,
    ) -> Result<Gateway> {
        let mut cfg = GatewayConfig::new(format!("{base_url}/api"), Secret::new(SECRET_KEY));
        cfg.local_clock = local_clock;
        cfg.request_timeout = Duration::from_secs(3);
        cfg.connect_timeout = Duration::from_secs(2);
        Ok(Gateway::new(cfg, clock)?)
    }

    /// Fast timings, the relay through the proxy.
    pub fn session_config(&self) -> SessionConfig {
        SessionConfig {
            relay: Some(RelayEndpoint::new(
                self.relay_proxy.base_url(),
                self.terminal_key.clone(),
            )),
            fallback_after: Duration::from_millis(800),
            poll_interval: Duration::from_millis(200),
            live_check_every: Duration::from_secs(60),
            expiry_recheck: Duration::from_millis(250),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(800),
            restart_delay: (Duration::from_millis(100), Duration::from_millis(300)),
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(2),
            ..SessionConfig::default()
        }
    }

    pub async fn create(&self, gateway: &Gateway, amount: i128) -> Result<Payment> {
        Ok(gateway
            .create_payment(&CreatePayment {
                amount,
                currency: "USD".into(),
                description: Some("system test".into()),
                order_id: Some(format!("ord-{}", rand::random::<u64>())),
                ..CreatePayment::default()
            })
            .await?)
    }

    /// A payment created directly with an explicit server-side deadline.
    pub async fn create_expiring(
        &self,
        gateway: &Gateway,
        amount: i128,
        expired_at: i64,
    ) -> Result<Payment> {
        Ok(gateway
            .create_payment(&CreatePayment {
                amount,
                currency: "USD".into(),
                expired_at: Some(expired_at),
                ..CreatePayment::default()
            })
            .await?)
    }

    async fn control_post(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value> {
        let url = format!("{}/sandbox{path}", self.sandbox.base_url());
        let r = self.control.post(&url).json(&body).send().await?;
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
        if !status.is_success() {
            bail!("{path}: {status} {v}");
        }
        Ok(v)
    }

    /// The customer pays (captured at the sandbox, webhook sent to the relay).
    pub async fn pay(&self, id: &str) -> Result<()> {
        self.control_post(&format!("/payments/{id}/pay"), serde_json::json!({}))
            .await
            .map(|_| ())
    }

    pub async fn set_faults(&self, faults: serde_json::Value) -> Result<()> {
        self.control_post("/faults", faults).await.map(|_| ())
    }

    pub async fn clear_faults(&self) -> Result<()> {
        let url = format!("{}/sandbox/faults", self.sandbox.base_url());
        self.control.delete(&url).send().await?.error_for_status()?;
        Ok(())
    }

    pub async fn stats(&self) -> Result<paydesk_sandbox::StatsSnapshot> {
        let url = format!("{}/sandbox/stats", self.sandbox.base_url());
        Ok(self.control.get(&url).send().await?.json().await?)
    }

    pub async fn shutdown(mut self) {
        let _ = self.relay.kill().await;
        self.relay_proxy.shutdown().await;
        self.sandbox.shutdown().await;
    }
}

pub fn unix_now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Everything a tracker published, kept for assertions.
#[derive(Clone)]
pub struct Recorder {
    events: Arc<Mutex<Vec<(Instant, TrackerEvent)>>>,
    changed: Arc<Notify>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Recorder {
    /// Subscribes to `tracker` now.
    pub fn start(tracker: &Tracker) -> Recorder {
        Recorder::from_subscription(tracker.subscribe())
    }

    pub fn from_subscription(mut sub: Subscription) -> Recorder {
        let events = Arc::new(Mutex::new(Vec::new()));
        let changed = Arc::new(Notify::new());
        let (e, c) = (events.clone(), changed.clone());
        let task = tokio::spawn(async move {
            while let Some(ev) = sub.recv().await {
                e.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((Instant::now(), ev));
                c.notify_waiters();
            }
        });
        Recorder {
            events,
            changed,
            task: Arc::new(task),
        }
    }

    pub fn events(&self) -> Vec<(Instant, TrackerEvent)> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn transitions_of(&self, id: &str) -> Vec<Transition> {
        self.events()
            .into_iter()
            .filter_map(|(_, e)| match e {
                TrackerEvent::Transition(t) if t.payment_id == id => Some(t),
                _ => None,
            })
            .collect()
    }

    pub fn states(&self) -> Vec<(Instant, ConnectionState)> {
        self.events()
            .into_iter()
            .filter_map(|(at, e)| match e {
                TrackerEvent::Connection(c) => Some((at, c.state)),
                _ => None,
            })
            .collect()
    }

    /// Waits until `pred` holds over the events, up to `within`.
    pub async fn wait_for<T>(
        &self,
        within: Duration,
        what: &str,
        mut pred: impl FnMut(&[(Instant, TrackerEvent)]) -> Option<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = pred(&self.events()) {
                return Ok(v);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                bail!("{what}: not within {within:?}");
            }
        }
    }

    /// Waits for `id` to reach `status`; returns the transition and when it was seen.
    pub async fn wait_status(
        &self,
        id: &str,
        status: PaymentStatus,
        within: Duration,
    ) -> Result<(Instant, Transition)> {
        self.wait_for(within, &format!("{id} → {status}"), |evs| {
            evs.iter().find_map(|(at, e)| match e {
                TrackerEvent::Transition(t) if t.payment_id == id && t.to == status => {
                    Some((*at, t.clone()))
                }
                _ => None,
            })
        })
        .await
    }

    /// Waits for the connection state to become `state` after `since`.
    pub async fn wait_state(
        &self,
        state: ConnectionState,
        since: Instant,
        within: Duration,
    ) -> Result<Instant> {
        self.wait_for(within, &format!("state {state:?}"), |evs| {
            evs.iter().find_map(|(at, e)| match e {
                TrackerEvent::Connection(c) if c.state == state && *at >= since => Some(*at),
                _ => None,
            })
        })
        .await
    }

    /// The payment's history is exactly: tracked pending, then (if `paid`) one move to
    /// succeeded from a confirming source, or (if not) no move to succeeded at all.
    pub fn assert_history(&self, id: &str, paid: bool) -> Result<()> {
        let ts = self.transitions_of(id);
        let first = ts.first().ok_or_else(|| anyhow!("{id}: never tracked"))?;
        if first.kind != TransitionKind::Tracked || first.to != PaymentStatus::Pending {
            bail!("{id}: first transition {first:?}");
        }
        let moves: Vec<_> = ts.iter().skip(1).collect();
        let succeeded: Vec<_> = moves
            .iter()
            .filter(|t| t.to == PaymentStatus::Succeeded)
            .collect();
        if paid {
            if moves.len() != 1 || succeeded.len() != 1 {
                bail!(
                    "{id}: expected exactly one move to succeeded, got {:?}",
                    moves
                        .iter()
                        .map(|t| (&t.from, &t.to, t.source))
                        .collect::<Vec<_>>()
                );
            }
            if !succeeded[0].source.confirms() {
                bail!(
                    "{id}: paid from an unconfirmed source {:?}",
                    succeeded[0].source
                );
            }
        } else if !succeeded.is_empty() {
            bail!("{id}: FALSE PAID: {:?}", succeeded[0]);
        }
        // Sequence numbers strictly increase: nothing replayed twice.
        if ts.windows(2).any(|w| w[1].seq <= w[0].seq) {
            bail!("{id}: transitions out of order");
        }
        Ok(())
    }

    /// Every event but ticks, one a line, timed from `t0`: for failure messages.
    pub fn dump(&self, t0: Instant) -> String {
        let mut out = String::new();
        for (at, e) in self.events() {
            if matches!(e, TrackerEvent::Tick(_)) {
                continue;
            }
            let ms = at.saturating_duration_since(t0).as_millis();
            let json = serde_json::to_string(&e).unwrap_or_default();
            out.push_str(&format!(
                "{ms:>6} ms {}\n",
                json.chars().take(200).collect::<String>()
            ));
        }
        out
    }

    /// Whether the subscriber ever lagged (then its history could have gaps).
    pub fn lagged(&self) -> bool {
        self.events()
            .iter()
            .any(|(_, e)| matches!(e, TrackerEvent::Resnapshot { .. }))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}
