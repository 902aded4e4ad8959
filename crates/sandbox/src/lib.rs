//! paydesk-sandbox: a Crypto.com Pay stand-in, faithful enough that the client cannot tell.
//!
//! It serves the payment API under `/api` (same paths, auth schemes, bodies, objects,
//! error bodies and status codes), sends signed webhooks to configured URLs, hosts a
//! checkout page at each `payment_url`, and adds a control API under `/sandbox/` for
//! tests and the demo: pay (in the App, on chain, late or short), expire, transfer a
//! refund, inject faults, read counters. In the data flow it
//! stands where Crypto.com Pay stands: the till's gateway calls it, and its webhooks go to
//! the relay. See `docs/sandbox.md` for what it mirrors and what is unverified.
//!
//! Start it with [`run`] (a listener, a config, a shutdown future) or [`spawn`] (returns a
//! [`SandboxHandle`]); both own every task they start and stop them on shutdown.

mod api;
mod checkout;
mod control;
mod error;
mod faults;
mod object;
mod params;
mod server;
mod state;
mod store;
mod webhooks;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use paydesk_protocol::payment::{Payment, Refund};
use paydesk_protocol::Secret;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use error::ApiError;
pub use faults::{Faults, StatsSnapshot};
use state::AppState;
pub use store::Payer;

/// The default payment time window: 10 minutes, as in the live sample.
pub const DEFAULT_TIME_WINDOW: Duration = Duration::from_secs(600);
/// How long a refund of an App payment stays pending by default: "quickly", not at once.
pub const DEFAULT_APP_REFUND_DELAY: Duration = Duration::from_secs(1);
/// Request bodies above this are refused with 413.
const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// The secret key clients must present (Basic user name or Bearer token).
    pub secret_key: Secret,
    /// Where webhooks go; more can be added at run time.
    pub webhook_urls: Vec<String>,
    /// Signs `Pay-Signature`.
    pub webhook_secret: Secret,
    /// How long a payment stays payable when the create names no `expired_at`.
    pub time_window: Duration,
    /// The base of `payment_url` (e.g. `http://192.168.1.20:8080` so a phone on the LAN
    /// can open the checkout page); the listening address when None.
    pub public_base_url: Option<String>,
    /// The legacy expiry form, for testing clients against it: an expired payment says
    /// `status: "expired"` as well as `expired: true`. Crypto.com keeps the status
    /// `pending` (the default, false).
    pub expired_status: bool,
    /// How long a refund of a payment made in the App stays `pending` before it is
    /// transferred; zero transfers it before the refund request is answered. (An on-chain
    /// payment's refund waits for `POST /sandbox/refunds/{id}/transfer`.)
    pub app_refund_delay: Duration,
}

impl SandboxConfig {
    pub fn new(secret_key: Secret, webhook_secret: Secret) -> Self {
        SandboxConfig {
            secret_key,
            webhook_urls: Vec::new(),
            webhook_secret,
            time_window: DEFAULT_TIME_WINDOW,
            public_base_url: None,
            expired_status: false,
            app_refund_delay: DEFAULT_APP_REFUND_DELAY,
        }
    }
}

/// Demo-friendly keys (`sk_test_sandbox`, `whsec_sandbox`), the default time window.
impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig::new(Secret::new("sk_test_sandbox"), Secret::new("whsec_sandbox"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot read the listener's address: {0}")]
    Listener(#[source] std::io::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A sandbox running in the background.
#[derive(Debug)]
pub struct SandboxHandle {
    base_url: String,
    app: Arc<AppStateHandle>,
    stop: CancellationToken,
    /// Taken by `shutdown`; a handle dropped without it still stops the sandbox.
    task: Option<JoinHandle<Result<(), SandboxError>>>,
}

/// Keeps `AppState` out of the public API while letting the handle reach it.
struct AppStateHandle(Arc<AppState>);

impl std::fmt::Debug for AppStateHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppState")
    }
}

impl SandboxHandle {
    /// `http://ip:port`, where the sandbox listens.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The API root to give the gateway: `base_url() + "/api"`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.base_url)
    }

    /// Sends future webhooks to `url` as well (the demo adds its relay once both run).
    pub fn add_webhook_url(&self, url: impl Into<String>) -> Result<(), SandboxError> {
        let url = url.into();
        check_webhook_url(&url)?;
        self.app.0.add_webhook_url(url);
        Ok(())
    }

    /// The customer pays now in the Crypto.com App (what `POST /sandbox/payments/{id}/pay`
    /// does without a body), for the demo's "simulate customer payment" control.
    pub fn pay(&self, payment_id: &str) -> Result<Payment, ApiError> {
        self.pay_as(payment_id, Payer::App)
    }

    /// The customer pays now, as `payer` says: in the App, on chain, or short on chain.
    pub fn pay_as(&self, payment_id: &str, payer: Payer) -> Result<Payment, ApiError> {
        control::pay_now(&self.app.0, payment_id, payer).map(object::Served::into_payment)
    }

    /// The payment expires now.
    pub fn expire(&self, payment_id: &str) -> Result<Payment, ApiError> {
        let app = &self.app.0;
        let served = state::lock(&app.store).expire(payment_id, app.now())?;
        Ok(served.into_payment())
    }

    /// A refund as it is now (the real API's way to read one is unknown).
    pub fn refund(&self, refund_id: &str) -> Result<Refund, ApiError> {
        Ok(state::lock(&self.app.0.store).get_refund(refund_id)?)
    }

    /// The customer gave a wallet address: the pending refund is transferred now.
    pub fn transfer_refund(&self, refund_id: &str) -> Result<Refund, ApiError> {
        control::transfer_now(&self.app.0, refund_id)
    }

    /// The counters `GET /sandbox/stats` serves.
    pub fn stats(&self) -> StatsSnapshot {
        let app = &self.app.0;
        let payments = state::lock(&app.store).payment_count();
        app.stats
            .snapshot(u64::try_from(payments).unwrap_or(u64::MAX))
    }

    /// Stops serving, stops the deliverer and the delayed payments, and waits for them.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        let Some(task) = self.task.take() else {
            return;
        };
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "sandbox stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "sandbox task failed"),
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the sandbox on `listener` in the background.
pub async fn spawn(
    listener: TcpListener,
    config: SandboxConfig,
) -> Result<SandboxHandle, SandboxError> {
    let addr = listener.local_addr().map_err(SandboxError::Listener)?;
    let base_url = base_url_for(addr);
    let (app, rx) = build_state(&config, &base_url)?;
    let stop = CancellationToken::new();
    let shutdown = stop.clone().cancelled_owned();
    let task = tokio::spawn(serve(listener, Arc::clone(&app), rx, shutdown));
    Ok(SandboxHandle {
        base_url,
        app: Arc::new(AppStateHandle(app)),
        stop,
        task: Some(task),
    })
}

/// Serves until `shutdown` resolves, then stops everything it started.
pub async fn run(
    listener: TcpListener,
    config: SandboxConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SandboxError> {
    let addr = listener.local_addr().map_err(SandboxError::Listener)?;
    let (app, rx) = build_state(&config, &base_url_for(addr))?;
    serve(listener, app, rx, shutdown).await
}

/// `http://ip:port` for an address; an unspecified IP (0.0.0.0, ::) becomes loopback,
/// which is where a local client can reach it.
pub fn base_url_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// This machine's address on its local network, as a phone on the same Wi-Fi would reach
/// it, or None without a network. Connecting a UDP socket sends nothing; it only asks the
/// OS which interface would route to a public address.
pub fn guess_lan_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // 192.0.2.1 is TEST-NET-1: never routed anywhere, so nothing can answer.
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

pub(crate) fn check_webhook_url(url: &str) -> Result<(), SandboxError> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(SandboxError::Config(format!(
            "webhook URL {url:?} is not an http(s) URL"
        ))),
    }
}

fn build_state(
    config: &SandboxConfig,
    base_url: &str,
) -> Result<(Arc<AppState>, mpsc::Receiver<webhooks::Outgoing>), SandboxError> {
    if config.secret_key.is_empty() {
        return Err(SandboxError::Config("the secret key is empty".into()));
    }
    if config.webhook_secret.is_empty() {
        return Err(SandboxError::Config("the webhook secret is empty".into()));
    }
    for url in &config.webhook_urls {
        check_webhook_url(url)?;
    }
    let time_window_secs = i64::try_from(config.time_window.as_secs())
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| SandboxError::Config("the time window must be at least 1 s".into()))?;
    let public_base_url = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| base_url.to_owned())
        .trim_end_matches('/')
        .to_owned();
    let (tx, rx) = mpsc::channel(webhooks::QUEUE_CAPACITY);
    let app = Arc::new(AppState {
        secret_key: config.secret_key.clone(),
        webhook_secret: config.webhook_secret.clone(),
        terms: store::Terms {
            time_window_secs,
            public_base_url,
        },
        store: Mutex::new(store::Store::new(config.expired_status)),
        app_refund_delay: config.app_refund_delay,
        faults: Mutex::default(),
        stats: faults::Stats::default(),
        webhook_urls: RwLock::new(config.webhook_urls.clone()),
        webhooks: tx,
        clock_offset_ms: AtomicI64::new(0),
        tasks: TaskTracker::new(),
        cancel: CancellationToken::new(),
    });
    Ok((app, rx))
}

async fn serve(
    listener: TcpListener,
    app: Arc<AppState>,
    rx: mpsc::Receiver<webhooks::Outgoing>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SandboxError> {
    let deliverer = tokio::spawn(webhooks::run(
        Arc::clone(&app),
        rx,
        webhooks::RetryPolicy::DEFAULT,
    ));
    let cancel = app.cancel.clone();
    let serving = server::serve(listener, router(Arc::clone(&app)), cancel.clone());
    tokio::pin!(serving);
    tokio::select! {
        () = &mut serving => {}
        () = shutdown => {
            // Also wakes handlers sleeping on injected latency, so connections can close.
            cancel.cancel();
            serving.await;
        }
    }
    app.cancel.cancel();
    app.tasks.close();
    app.tasks.wait().await;
    if let Err(e) = deliverer.await {
        tracing::warn!(error = %e, "webhook deliverer failed");
    }
    tracing::info!("sandbox stopped");
    Ok(())
}

/// Every route the sandbox serves.
fn router(app: Arc<AppState>) -> Router {
    let api = Router::new()
        .route(
            "/payments",
            post(api::create_payment).get(api::list_payments),
        )
        .route("/payments/{id}", get(api::retrieve_payment))
        .route(
            "/payments/{id}/cancel",
            post(api::cancel_payment).get(api::cancel_payment),
        )
        .route("/refunds", post(api::create_refund))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            faults::api_gate,
        ));
    let control = Router::new()
        .route("/payments/{id}/pay", post(control::pay))
        .route("/payments/{id}/expire", post(control::expire))
        .route("/payments/{id}/fulfill", post(control::fulfill))
        .route("/refunds/{id}", get(control::get_refund))
        .route("/refunds/{id}/transfer", post(control::transfer))
        .route(
            "/faults",
            get(control::get_faults)
                .post(control::set_faults)
                .delete(control::clear_faults),
        )
        .route("/stats", get(control::stats))
        .route("/clock", get(control::get_clock).post(control::set_clock))
        .route(
            "/webhooks",
            get(control::list_webhooks).post(control::add_webhook),
        );
    Router::new()
        .nest("/api", api)
        .nest("/sandbox", control)
        .route("/checkout/{id}", get(checkout::page))
        .route("/checkout/{id}/pay", post(checkout::pay))
        .route("/sdk/payments/{id}", get(checkout::data))
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            date_header,
        ))
        .with_state(app)
}

/// Stamps `Date` from the sandbox's (possibly skewed) clock; hyper keeps a `Date` that is
/// already set.
async fn date_header(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let ms = u64::try_from(app.now_ms()).unwrap_or(0);
    let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms));
    if let Ok(v) = HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, v);
    }
    response.into_response()
}
