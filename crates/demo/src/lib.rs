//! Demo mode: the sandbox and the relay in-process on loopback, wired exactly as a shop's
//! would be — the sandbox signs webhooks to the relay's merchant endpoint, the terminal
//! gets a terminal key for the relay and a secret key for the sandbox. Nothing is faked:
//! a demo payment reaches "Paid" through the same webhook → relay → WebSocket path as a
//! real one. Used by the app (the default when no keys are configured) and `paydesk-cli demo`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::future::BoxFuture;
use paydesk_core::secrets::Secret;
use paydesk_core::till::{DemoEndpoints, DemoLauncher, DemoPayment, DemoSettings, DemoShop};
use paydesk_relay::{RelayConfig, RelayHandle};
use paydesk_sandbox::{SandboxConfig, SandboxHandle};
use tokio::net::TcpListener;

/// The demo shop's merchant id on the relay.
pub const MERCHANT: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot open a loopback port: {0}")]
    Bind(#[from] std::io::Error),
    #[error("the demo relay did not start: {0}")]
    Relay(#[from] paydesk_relay::RelayError),
    #[error("the demo sandbox did not start: {0}")]
    Sandbox(#[from] paydesk_sandbox::SandboxError),
    #[error("the sandbox did not accept the simulated payment: {0}")]
    Simulate(String),
}

#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// How long a demo payment stays payable.
    pub time_window: Duration,
    /// Serve the sandbox's checkout page on the LAN so a phone can scan the QR and pay.
    pub lan: bool,
    /// The terminal's name on the relay.
    pub terminal_name: String,
    /// The relay's heartbeat interval and timeout (`None`: the relay's defaults).
    pub heartbeat: Option<(Duration, Duration)>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            time_window: Duration::from_secs(600),
            lan: false,
            terminal_name: "demo-till".into(),
            heartbeat: None,
        }
    }
}

fn random_secret(prefix: &str) -> Secret {
    let bytes: [u8; 24] = rand::random();
    Secret::new(format!("{prefix}{}", hex::encode(bytes)))
}

/// A running demo shop.
pub struct Demo {
    sandbox: SandboxHandle,
    relay: RelayHandle,
    secret_key: Secret,
    terminal_key: Secret,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("api_url", &self.api_url())
            .field("relay_url", &self.relay_url())
            .finish_non_exhaustive()
    }
}

impl Demo {
    /// Starts the relay, then the sandbox with its webhooks pointed at the relay.
    pub async fn start(config: DemoConfig) -> Result<Demo, DemoError> {
        paydesk_core::init_tls();
        let secret_key = random_secret("sk_test_demo_");
        let webhook_secret = random_secret("whsec_demo_");
        let terminal_key = paydesk_relay::generate_terminal_key();

        let mut relay_config = RelayConfig::memory()
            .merchant(MERCHANT, webhook_secret.clone())
            .terminal(MERCHANT, &config.terminal_name, &terminal_key);
        if let Some((interval, timeout)) = config.heartbeat {
            relay_config = relay_config.heartbeat(interval, timeout);
        }
        let relay_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let relay = paydesk_relay::spawn(relay_listener, relay_config).await?;

        let lan = if config.lan {
            paydesk_sandbox::guess_lan_ip()
        } else {
            None
        };
        let bind_ip = if lan.is_some() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        let sandbox_listener = TcpListener::bind(SocketAddr::new(bind_ip, 0)).await?;
        let port = sandbox_listener.local_addr()?.port();
        let mut sandbox_config = SandboxConfig::new(secret_key.clone(), webhook_secret);
        sandbox_config.webhook_urls = vec![relay.webhook_url(MERCHANT)];
        sandbox_config.time_window = config.time_window;
        sandbox_config.public_base_url =
            lan.map(|ip| format!("http://{}", SocketAddr::new(ip, port)));
        let sandbox = paydesk_sandbox::spawn(sandbox_listener, sandbox_config).await?;
        tracing::info!(api = %sandbox.api_url(), relay = %relay.base_url(), "demo shop started");
        Ok(Demo {
            sandbox,
            relay,
            secret_key,
            terminal_key,
        })
    }

    /// The payment API the terminal talks to.
    pub fn api_url(&self) -> String {
        loopback(&self.sandbox.api_url())
    }

    /// The sandbox itself (its control API lives under `/sandbox/`).
    pub fn sandbox_url(&self) -> String {
        loopback(&self.sandbox.base_url())
    }

    pub fn relay_url(&self) -> String {
        self.relay.base_url()
    }

    pub fn secret_key(&self) -> &Secret {
        &self.secret_key
    }

    pub fn terminal_key(&self) -> &Secret {
        &self.terminal_key
    }

    /// The customer pays: the sandbox captures the payment and sends the signed webhook,
    /// which reaches the terminal through the relay like any real capture.
    pub async fn simulate_payment(&self, payment_id: &str) -> Result<(), DemoError> {
        self.simulate_payment_by(payment_id, DemoPayment::App).await
    }

    /// [`Demo::simulate_payment`] in the Crypto.com App or from an outside wallet.
    pub async fn simulate_payment_by(
        &self,
        payment_id: &str,
        how: DemoPayment,
    ) -> Result<(), DemoError> {
        let payer = match how {
            DemoPayment::App => paydesk_sandbox::Payer::App,
            DemoPayment::Onchain => paydesk_sandbox::Payer::Onchain,
        };
        self.sandbox
            .pay_as(payment_id, payer)
            .map(|_| ())
            .map_err(|e| DemoError::Simulate(e.message))
    }

    /// An on-chain refund the demo customer answered: the sandbox sends the money.
    pub async fn transfer_refund(&self, refund_id: &str) -> Result<(), DemoError> {
        self.sandbox
            .transfer_refund(refund_id)
            .map(|_| ())
            .map_err(|e| DemoError::Simulate(e.message))
    }

    /// Stops the sandbox and the relay (which closes its sockets with 1012).
    pub async fn shutdown(self) {
        self.sandbox.shutdown().await;
        self.relay.shutdown().await;
    }
}

/// The sandbox may listen on every interface; the terminal on this machine uses loopback.
fn loopback(url: &str) -> String {
    url.replace("http://0.0.0.0:", "http://127.0.0.1:")
}

/// Starts demo shops for the till assembly (`paydesk_core::till::Till::start`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Launcher;

impl DemoLauncher for Launcher {
    fn launch(&self, settings: DemoSettings) -> BoxFuture<'_, Result<Box<dyn DemoShop>, String>> {
        Box::pin(async move {
            let demo = Demo::start(DemoConfig {
                time_window: settings.time_window,
                lan: settings.lan,
                terminal_name: settings.terminal_name,
                heartbeat: None,
            })
            .await
            .map_err(|e| e.to_string())?;
            Ok(Box::new(demo) as Box<dyn DemoShop>)
        })
    }
}

impl DemoShop for Demo {
    fn endpoints(&self) -> DemoEndpoints {
        DemoEndpoints {
            api_url: self.api_url(),
            relay_url: self.relay_url(),
            secret_key: self.secret_key.clone(),
            terminal_key: self.terminal_key.clone(),
        }
    }

    fn simulate_payment<'a>(
        &'a self,
        payment_id: &'a str,
        how: DemoPayment,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            Demo::simulate_payment_by(self, payment_id, how)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(Demo::shutdown(*self))
    }
}
