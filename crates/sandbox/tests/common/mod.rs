//! Shared pieces for the contract tests: a sandbox on port 0, a gateway pointed at it,
//! the control API, and a real webhook receiver.
#![allow(dead_code)] // each test binary uses a different part
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic: that is a failed test

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use paydesk_core::clock::ServerClock;
use paydesk_core::gateway::{Gateway, GatewayConfig};
use paydesk_core::payment::{CreatePayment, Payment};
use paydesk_core::secrets::Secret;
use paydesk_sandbox::{SandboxConfig, SandboxHandle, StatsSnapshot};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const KEY: &str = "sk_test_contract";
pub const WHSEC: &str = "whsec_contract";
/// Upper bound for anything a test waits on.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn start() -> SandboxHandle {
    start_with(|_| {}).await
}

pub async fn start_with(adjust: impl FnOnce(&mut SandboxConfig)) -> SandboxHandle {
    let mut config = SandboxConfig::new(Secret::new(KEY), Secret::new(WHSEC));
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    paydesk_sandbox::spawn(listener, config).await.unwrap()
}

/// Quick retries so tests that go through several attempts stay fast.
pub fn config(sb: &SandboxHandle) -> GatewayConfig {
    let mut c = GatewayConfig::new(sb.api_url(), Secret::new(KEY));
    c.backoff_base = Duration::from_millis(5);
    c.backoff_cap = Duration::from_millis(40);
    c.request_timeout = Duration::from_secs(5);
    c
}

pub fn gateway(sb: &SandboxHandle) -> Gateway {
    Gateway::new(config(sb), ServerClock::new()).unwrap()
}

pub fn usd(amount: i128) -> CreatePayment {
    CreatePayment {
        amount,
        currency: "USD".into(),
        description: Some("2 coffees".into()),
        ..Default::default()
    }
}

/// The `/sandbox/` control API.
pub struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    pub fn new(sb: &SandboxHandle) -> Self {
        Control {
            http: reqwest::Client::new(),
            base: format!("{}/sandbox", sb.base_url()),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `POST /sandbox/payments/{id}/pay` with a body; the answer as it came.
    pub async fn pay_with(&self, id: &str, body: Value) -> (StatusCode, Value) {
        self.post(&format!("/payments/{id}/pay"), body).await
    }

    pub async fn faults(&self, faults: Value) {
        let (status, body) = self.post("/faults", faults).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub async fn clear_faults(&self) {
        let r = self
            .http
            .delete(format!("{}/faults", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    pub async fn stats(&self) -> StatsSnapshot {
        self.http
            .get(format!("{}/stats", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn pay(&self, id: &str) -> Payment {
        let (status, body) = self.post(&format!("/payments/{id}/pay"), Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    pub async fn skew_clock(&self, offset_ms: i64) {
        let (status, body) = self
            .post("/clock", serde_json::json!({ "offset_ms": offset_ms }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

impl StatsRoutes for StatsSnapshot {
    fn route(&self, key: &str) -> u64 {
        self.by_route.get(key).copied().unwrap_or(0)
    }
    fn status(&self, code: u16) -> u64 {
        self.by_status.get(&code).copied().unwrap_or(0)
    }
}

pub trait StatsRoutes {
    fn route(&self, key: &str) -> u64;
    fn status(&self, code: u16) -> u64;
}

/// One webhook as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub signature: Option<String>,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A real HTTP server that takes webhooks; it refuses the first `fail_first` with a 500.
pub struct Receiver {
    pub url: String,
    pub events: mpsc::Receiver<Received>,
    fail_first: Arc<AtomicU32>,
    pub attempts: Arc<AtomicU32>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ReceiverState {
    tx: mpsc::Sender<Received>,
    fail_first: Arc<AtomicU32>,
    attempts: Arc<AtomicU32>,
}

async fn take(State(s): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    s.attempts.fetch_add(1, Ordering::SeqCst);
    let failing = s
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let signature = headers
        .get("pay-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = s.tx.send(Received { signature, body }).await;
    StatusCode::OK
}

impl Receiver {
    pub async fn start(fail_first: u32) -> Receiver {
        let (tx, events) = mpsc::channel(64);
        let fail_first = Arc::new(AtomicU32::new(fail_first));
        let attempts = Arc::new(AtomicU32::new(0));
        let state = ReceiverState {
            tx,
            fail_first: Arc::clone(&fail_first),
            attempts: Arc::clone(&attempts),
        };
        let app = Router::new().route("/hook", post(take)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .unwrap();
        });
        Receiver {
            url,
            events,
            fail_first,
            attempts,
            stop,
            task,
        }
    }

    pub fn fail_next(&self, n: u32) {
        self.fail_first.store(n, Ordering::SeqCst);
    }

    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(PATIENCE, self.events.recv())
            .await
            .expect("no webhook arrived in time")
            .expect("receiver closed")
    }

    /// The next event of the given type, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Received {
        loop {
            let r = self.next().await;
            if r.json()["type"] == kind {
                return r;
            }
        }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}
