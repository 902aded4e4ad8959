//! paydesk-relay: signed Crypto.com Pay webhooks in, authenticated WebSocket pushes out.
//!
//! Data flow: Crypto.com Pay → `POST /webhooks/{merchant}` ([`webhook`]: verify, route,
//! de-duplicate, store) → the event-stream [`stream::Backend`] (memory or Redis Streams) →
//! the local [`stream::hub::Hub`] (one ring per till, one per merchant) → one [`session`]
//! task per WebSocket → the terminal. Terminals authenticate with a key ([`terminals`])
//! exchanged for a single-use ticket ([`http`]); the relay speaks plain HTTP behind a proxy
//! or terminates TLS itself ([`tls`]).
//!
//! Start it with [`run`] (a listener, a config, a shutdown future) or [`spawn`] (tests, the
//! demo mode); the `paydesk-relay` binary wraps `run` with a TOML config.

pub mod config;
pub mod http;
pub mod metrics;
pub mod ratelimit;
pub mod server;
pub mod session;
pub mod stream;
pub mod terminals;
pub mod tls;
pub mod webhook;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub use config::{BackendConfig, LoadedConfig, RateLimit, RelayConfig};
pub use metrics::{Metrics, MetricsSnapshot};
pub use terminals::{generate_terminal_key, hash_key, TerminalRecord, TerminalStore};
pub use tls::TlsFiles;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("cannot reach the event-stream backend: {0}")]
    Backend(#[from] stream::BackendError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the relay on `listener` until `shutdown` resolves, then closes every session with
/// 1012 (service restart) and returns.
pub async fn run(
    listener: TcpListener,
    config: RelayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    let relay = server::Relay::build(config).await?;
    relay.serve(listener, shutdown).await
}

/// A relay running in the background (tests, demo mode).
pub struct RelayHandle {
    addr: SocketAddr,
    tls: bool,
    state: Arc<server::AppState>,
    metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RelayError>>,
}

/// Starts the relay on `listener` in a background task.
pub async fn spawn(listener: TcpListener, config: RelayConfig) -> Result<RelayHandle, RelayError> {
    let addr = listener.local_addr()?;
    let tls = config.tls.is_some();
    let relay = server::Relay::build(config).await?;
    let metrics = relay.metrics();
    let state = relay.state();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(relay.serve(listener, async move {
        let _ = stopped.await;
    }));
    Ok(RelayHandle {
        addr,
        tls,
        state,
        metrics,
        stop: Some(stop),
        task,
    })
}

impl RelayHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` when the relay terminates TLS).
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT/v1/ws` (`wss://` with TLS).
    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!(
            "{scheme}://{}{}",
            self.addr,
            paydesk_protocol::wire::WS_PATH
        )
    }

    /// Where Crypto.com Pay (or the sandbox) posts the merchant's webhooks.
    pub fn webhook_url(&self, merchant: &str) -> String {
        format!("{}/webhooks/{merchant}", self.base_url())
    }

    /// What SIGHUP does to a relay process: re-reads the terminals file and the TLS
    /// certificate (tests and embedders call it directly).
    pub fn reload(&self) {
        self.state.reload();
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Closes every session with 1012 and waits (bounded by the close timeout) for the
    /// relay to stop. Failures are logged: there is nothing left for the caller to do.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "relay stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "relay task failed"),
        }
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        // Dropped without `shutdown`: stop anyway, so no relay outlives its owner.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
