//! The accept loop and the shared state: one HTTP/1 connection task per socket (TLS first
//! when the relay terminates it, bounded header reads, a cap on open HTTP connections),
//! reloads on SIGHUP (terminals, certificate), graceful shutdown that closes every
//! WebSocket with 1012 and waits for the tasks it owns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;
use tracing::{info, warn};

use crate::config::{BackendConfig, ConfigError, RelayConfig};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::stream::hub::Hub;
use crate::stream::memory::MemoryBackend;
use crate::stream::redis::RedisBackend;
use crate::stream::Backend;
use crate::terminals::{KeyHash, Terminals};
use crate::tls::Certificates;
use crate::RelayError;

/// Everything the handlers and sessions share.
pub struct AppState {
    pub config: RelayConfig,
    /// Swapped whole on reload; readers take a cheap `Arc` clone.
    terminals: RwLock<Arc<Terminals>>,
    /// Bumped after every reload, so sessions of removed or rotated keys close themselves.
    pub terminals_revision: watch::Sender<u64>,
    /// The certificate, when the relay terminates TLS itself.
    pub tls: Option<Arc<Certificates>>,
    pub backend: Arc<dyn Backend>,
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    pub key_limiter: RateLimiter<KeyHash>,
    pub addr_limiter: RateLimiter<std::net::IpAddr>,
    pub sessions: Arc<Semaphore>,
    /// Fires on shutdown; sessions answer with 1012.
    pub cancel: CancellationToken,
    /// Owns every session and background task.
    pub tracker: TaskTracker,
}

/// A built relay, not yet serving.
pub struct Relay {
    state: Arc<AppState>,
}

impl Relay {
    pub async fn build(config: RelayConfig) -> Result<Relay, RelayError> {
        config.validate()?;
        let terminals = config.load_terminals()?;
        let tls = match &config.tls {
            Some(files) => Some(Certificates::load(files.clone()).map_err(ConfigError::from)?),
            None => None,
        };
        let hub = Arc::new(Hub::new(
            config.merchants.keys(),
            config.fanout_capacity,
            config.till_fanout_capacity,
        ));
        let backend: Arc<dyn Backend> = match &config.backend {
            BackendConfig::Memory => Arc::new(MemoryBackend::new(
                hub.clone(),
                config.merchants.keys().cloned(),
                config.history_max_events,
                config.history_max_age,
                config.max_outstanding_tickets,
                config.replay_max_entries,
                config.route_memory_payments,
            )),
            BackendConfig::Redis { url } => Arc::new(
                RedisBackend::connect(
                    url,
                    hub.clone(),
                    config.merchants.keys().cloned().collect(),
                    config.history_max_events,
                    config.history_max_age,
                    config.route_memory_ttl,
                )
                .await?,
            ),
        };
        let state = AppState {
            terminals: RwLock::new(Arc::new(terminals)),
            terminals_revision: watch::channel(0).0,
            tls,
            backend,
            hub,
            metrics: Arc::new(Metrics::default()),
            key_limiter: RateLimiter::new(config.ticket_rate_per_key, 100_000),
            addr_limiter: RateLimiter::new(config.ticket_rate_per_addr, 100_000),
            sessions: Arc::new(Semaphore::new(config.max_connections)),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            config,
        };
        Ok(Relay {
            state: Arc::new(state),
        })
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.state.metrics.clone()
    }

    pub(crate) fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves; then stops accepting, closes sessions with 1012
    /// and waits (bounded) for every task it started.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RelayError> {
        let app = self.state;
        let router = crate::http::router(app.clone());
        let http_cap = Arc::new(Semaphore::new(app.config.max_http_connections));
        let acceptor = match &app.tls {
            Some(certs) => Some(certs.acceptor().map_err(ConfigError::from)?),
            None => None,
        };
        app.backend.start(app.cancel.clone(), &app.tracker);
        #[cfg(unix)]
        if app.config.terminals_file.is_some() || app.tls.is_some() {
            app.tracker.spawn(reload_on_hangup(app.clone()));
        }
        info!(
            addr = %listener.local_addr()?,
            tls = acceptor.is_some(),
            merchants = app.config.merchants.len(),
            terminals = app.terminals().len(),
            "relay listening"
        );
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = app.cancel.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((socket, peer)) => {
                        let Ok(permit) = http_cap.clone().try_acquire_owned() else {
                            app.metrics.reject("http", "http_connection_cap");
                            drop(socket);
                            continue;
                        };
                        app.tracker.spawn(accept_connection(app.clone(), router.clone(), acceptor.clone(), socket, peer, permit));
                    }
                    Err(e) => {
                        // Out of file descriptors, usually: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                            _ = app.cancel.cancelled() => break,
                        }
                    }
                }
            }
        }
        info!("relay shutting down: closing sessions with 1012");
        drop(listener);
        app.cancel.cancel();
        app.tracker.close();
        let grace = app.config.close_timeout + Duration::from_secs(1);
        if tokio::time::timeout(grace, app.tracker.wait())
            .await
            .is_err()
        {
            warn!(
                left = app.tracker.len(),
                "tasks still running after the grace period"
            );
        }
        Ok(())
    }
}

impl AppState {
    pub fn terminals(&self) -> Arc<Terminals> {
        match self.terminals.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the terminals file: new keys work at once, removed or rotated keys stop
    /// issuing tickets, their unused tickets are refused, and their open sessions are
    /// closed (1008). Returns the count.
    pub fn reload_terminals(&self) -> Result<usize, ConfigError> {
        let fresh = Arc::new(self.config.load_terminals()?);
        let n = fresh.len();
        match self.terminals.write() {
            Ok(mut t) => *t = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        self.terminals_revision.send_modify(|r| *r += 1);
        Ok(n)
    }

    /// What SIGHUP does: the terminals file and the TLS certificate are read again; a
    /// part that fails to load is reported and its previous version stays in force.
    pub fn reload(&self) {
        if self.config.terminals_file.is_some() {
            match self.reload_terminals() {
                Ok(n) => info!(terminals = n, "terminals reloaded"),
                Err(e) => warn!(error = %e, "terminals reload failed; keeping the previous set"),
            }
        }
        if let Some(certs) = &self.tls {
            match certs.reload() {
                Ok(()) => info!("TLS certificate reloaded"),
                Err(e) => {
                    warn!(error = %e, "TLS certificate reload failed; keeping the previous one")
                }
            }
        }
    }
}

/// SIGHUP reloads the terminals file (`paydesk-relay terminal add|rotate|remove`, then
/// `kill -HUP`) and the certificate, so neither a new till nor a renewed certificate
/// restarts the relay.
#[cfg(unix)]
async fn reload_on_hangup(app: Arc<AppState>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        warn!("cannot listen for SIGHUP; terminals and certificate reload only on restart");
        return;
    };
    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => return,
            got = hup.recv() => {
                if got.is_none() {
                    return;
                }
                app.reload();
            }
        }
    }
}

/// TLS first (bounded by the request timeout), when the relay terminates it.
async fn accept_connection(
    app: Arc<AppState>,
    router: Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    socket: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    let _ = socket.set_nodelay(true);
    let Some(acceptor) = acceptor else {
        return serve_connection(app, router, socket, peer, permit).await;
    };
    let handshake = tokio::select! {
        r = tokio::time::timeout(app.config.request_timeout, acceptor.accept(socket)) => r,
        _ = app.cancel.cancelled() => return,
    };
    match handshake {
        Ok(Ok(tls)) => serve_connection(app, router, tls, peer, permit).await,
        Ok(Err(e)) => {
            app.metrics.reject("http", "tls_handshake");
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
        }
        Err(_) => {
            app.metrics.reject("http", "tls_handshake");
            tracing::debug!(%peer, "TLS handshake timed out");
        }
    }
}

async fn serve_connection<S>(
    app: Arc<AppState>,
    router: Router,
    socket: S,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    app.metrics.gauge(&app.metrics.http_connections, 1);
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req.map(Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(app.config.request_timeout)
        .max_buf_size(16 * 1024)
        .serve_connection(TokioIo::new(socket), svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "http connection ended with an error");
            }
        }
        _ = app.cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(app.config.close_timeout, conn).await;
        }
    }
    app.metrics.gauge(&app.metrics.http_connections, -1);
}
