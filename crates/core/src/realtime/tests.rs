//! Session behaviour against a small paydesk.v1 server on loopback and an in-memory API.
//!
//! The whole-system tests in `tests/` run the real relay and sandbox; these pin down the
//! session's own rules (watchdog, 1012, resume, resync, 429, ETags, offline) quickly and
//! deterministically.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::*;
use crate::payment::{Payment, PaymentStatus, WebhookEvent};
use crate::secrets::Secret;
use crate::tracker::{NoJournal, Source, Subscription, Tracker, TrackerEvent, Transition};
use crate::wire::{self, EventMessage, Hello, Ping, Recovery, ServerMessage, TicketResponse};

const KEY: &str = "term_key_1_Zq8";
/// In every ticket the test relay issues, so a log search can find any of them.
const TICKET_MARK: &str = "Xk3tkt";
const WAIT: Duration = Duration::from_secs(10);

// ---------- the in-memory API ----------

#[derive(Clone, Default)]
struct MemoryApi {
    payments: Arc<Mutex<HashMap<String, Payment>>>,
    /// Scripted failures, served before real answers.
    faults: Arc<Mutex<VecDeque<ReadError>>>,
    reads: Arc<Mutex<Vec<(String, Instant, bool)>>>,
}

impl MemoryApi {
    fn put(&self, p: Payment) {
        self.payments.lock().unwrap().insert(p.id.clone(), p);
    }
    fn set_status(&self, id: &str, status: &str) {
        let mut ps = self.payments.lock().unwrap();
        let p = ps.get_mut(id).unwrap();
        p.status = PaymentStatus::parse(status);
        p.captured = status == "succeeded";
    }
    fn reads_of(&self, id: &str) -> usize {
        self.reads
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.0 == id)
            .count()
    }
    fn fail_next(&self, e: ReadError) {
        self.faults.lock().unwrap().push_back(e);
    }
}

impl PaymentReader for MemoryApi {
    async fn read_payment(&self, id: &str, etag: Option<&str>) -> Result<ReadOutcome, ReadError> {
        let fault = self.faults.lock().unwrap().pop_front();
        self.reads
            .lock()
            .unwrap()
            .push((id.to_owned(), Instant::now(), fault.is_some()));
        if let Some(e) = fault {
            return Err(e);
        }
        let p = self
            .payments
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or(ReadError::NotFound)?;
        let tag = format!("\"{}-{}\"", p.status, p.amount_refunded);
        if etag == Some(tag.as_str()) {
            return Ok(ReadOutcome::NotModified);
        }
        Ok(ReadOutcome::Modified {
            payment: p,
            etag: Some(tag),
        })
    }
}

fn pending(id: &str, expires_in_s: i64) -> Payment {
    let now = crate::clock::local_now_ms() / 1000;
    serde_json::from_str(&format!(
        r#"{{"id":"{id}","amount":1250,"currency":"USD","status":"pending","created":{now},"expired_at":{}}}"#,
        now + expires_in_s
    ))
    .unwrap()
}

// ---------- a small paydesk.v1 server ----------

#[derive(Clone, Debug)]
enum Cmd {
    Send(ServerMessage),
    Close(u16),
    /// Stop reading and writing, keep the socket: a half-open link.
    Freeze,
}

struct Ctl {
    tickets: Mutex<Vec<String>>,
    cmds: broadcast::Sender<Cmd>,
    /// Query strings of every upgrade request.
    queries: Mutex<Vec<HashMap<String, String>>>,
    offered: Mutex<Vec<String>>,
    recovery: Mutex<Recovery>,
    pongs: AtomicU64,
    upgrades: AtomicU64,
    /// Ticket requests still to refuse with 429 and `Retry-After: 1`.
    busy: AtomicU64,
    ticket_requests: Mutex<Vec<Instant>>,
    ping_every: Duration,
}

struct TestRelay {
    base: String,
    ctl: Arc<Ctl>,
    _server: tokio::task::JoinHandle<()>,
}

impl TestRelay {
    async fn start(ping_every: Duration) -> TestRelay {
        let (cmds, _) = broadcast::channel(64);
        let ctl = Arc::new(Ctl {
            tickets: Mutex::new(Vec::new()),
            cmds,
            queries: Mutex::new(Vec::new()),
            offered: Mutex::new(Vec::new()),
            recovery: Mutex::new(Recovery::Fresh),
            pongs: AtomicU64::new(0),
            upgrades: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            ticket_requests: Mutex::new(Vec::new()),
            ping_every,
        });
        let app = Router::new()
            .route(wire::TICKETS_PATH, post(ticket))
            .route(wire::WS_PATH, get(upgrade))
            .with_state(ctl.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestRelay {
            base,
            ctl,
            _server: server,
        }
    }

    fn send(&self, m: ServerMessage) {
        self.ctl.cmds.send(Cmd::Send(m)).unwrap();
    }

    fn push(&self, offset: u64, p: &Payment, kind: &str) {
        self.push_in("E1", offset, p, kind);
    }

    fn push_in(&self, epoch: &str, offset: u64, p: &Payment, kind: &str) {
        let body = format!(
            r#"{{"id":"evt_{offset}","type":"{kind}","data":{{"object":{}}}}}"#,
            serde_json::to_string(p).unwrap()
        );
        self.send(ServerMessage::Event(EventMessage {
            epoch: epoch.into(),
            offset,
            till: None,
            till_prev: None,
            event: WebhookEvent::from_json(body.as_bytes()).unwrap(),
        }));
    }
}

async fn ticket(State(ctl): State<Arc<Ctl>>, headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    ctl.ticket_requests.lock().unwrap().push(Instant::now());
    if auth != format!("Bearer {KEY}") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if ctl
        .busy
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response();
    }
    let t = format!("tkt{}{TICKET_MARK}", ctl.tickets.lock().unwrap().len());
    ctl.tickets.lock().unwrap().push(t.clone());
    Json(TicketResponse {
        ticket: t,
        expires_in_ms: 30_000,
    })
    .into_response()
}

async fn upgrade(
    State(ctl): State<Arc<Ctl>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    ctl.offered.lock().unwrap().push(offered.clone());
    ctl.queries.lock().unwrap().push(q.clone());
    let Some(t) = wire::ticket_from_protocols(&offered) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    {
        let mut ts = ctl.tickets.lock().unwrap();
        let Some(i) = ts.iter().position(|x| x == t) else {
            return StatusCode::UNAUTHORIZED.into_response();
        };
        ts.remove(i); // single use
    }
    ws.protocols([wire::SUBPROTOCOL])
        .on_upgrade(move |socket| serve(ctl, socket))
}

async fn serve(ctl: Arc<Ctl>, mut socket: WebSocket) {
    ctl.upgrades.fetch_add(1, Ordering::SeqCst);
    let mut cmds = ctl.cmds.subscribe();
    let hello = ServerMessage::Hello(Hello {
        session_id: "s".into(),
        merchant: "m".into(),
        terminal: "t".into(),
        server_time_ms: crate::clock::local_now_ms(),
        heartbeat_interval_ms: ctl.ping_every.as_millis() as u64,
        // Generous, so a loaded machine never starves a healthy link into a false "dead";
        // the watchdog tests set their own limits.
        heartbeat_timeout_ms: ctl.ping_every.as_millis() as u64 * 5,
        epoch: "E1".into(),
        offset: 0,
        recovery: *ctl.recovery.lock().unwrap(),
        replayed: 0,
        terminal_id: String::new(),
        scope: wire::Scope::Merchant,
    });
    if socket
        .send(Message::Text(hello.to_json().into()))
        .await
        .is_err()
    {
        return;
    }
    let mut ping = tokio::time::interval(ctl.ping_every);
    let mut seq = 0;
    loop {
        tokio::select! {
            _ = ping.tick() => {
                seq += 1;
                let m = ServerMessage::Ping(Ping { seq, server_time_ms: crate::clock::local_now_ms() });
                if socket.send(Message::Text(m.to_json().into())).await.is_err() { return; }
            }
            c = cmds.recv() => match c {
                Ok(Cmd::Send(m)) => { if socket.send(Message::Text(m.to_json().into())).await.is_err() { return; } }
                Ok(Cmd::Freeze) => {
                    let _hold = socket;
                    std::future::pending::<()>().await;
                    return;
                }
                Ok(Cmd::Close(code)) => {
                    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: "".into() }))).await;
                    return;
                }
                Err(_) => return,
            },
            m = socket.recv() => match m {
                Some(Ok(Message::Text(t))) => {
                    if t.as_str().contains("pong") { ctl.pongs.fetch_add(1, Ordering::SeqCst); }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

// ---------- helpers ----------

fn fast_config(relay: Option<&TestRelay>) -> SessionConfig {
    SessionConfig {
        relay: relay.map(|r| RelayEndpoint::new(r.base.clone(), Secret::new(KEY))),
        fallback_after: Duration::from_millis(300),
        poll_interval: Duration::from_millis(100),
        live_check_every: Duration::from_secs(60),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(400),
        restart_delay: (Duration::from_millis(50), Duration::from_millis(100)),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(1),
        ..SessionConfig::default()
    }
}

fn tracker() -> Tracker {
    Tracker::new(Arc::new(NoJournal::default()))
}

/// A session live on `relay` (polling held off for 30 s) tracking a pending payment per id.
async fn live_and_tracking(
    relay: &TestRelay,
    api: &MemoryApi,
    ids: &[&str],
) -> (Session, Subscription, Vec<Payment>) {
    let mut cfg = fast_config(Some(relay));
    cfg.fallback_after = Duration::from_secs(30);
    let session = Session::start(cfg, tracker(), api.clone());
    let mut sub = session.subscribe();
    until_state(&mut sub, ConnectionState::Live).await;
    let tracked: Vec<Payment> = ids.iter().map(|id| pending(id, 600)).collect();
    for p in &tracked {
        api.put(p.clone());
        session.track(p.clone()).await.unwrap();
    }
    (session, sub, tracked)
}

async fn until_state(sub: &mut Subscription, want: ConnectionState) {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(TrackerEvent::Connection(c)) = sub.recv().await {
                if c.state == want {
                    return;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never reached {want:?}"));
}

async fn until_transition(sub: &mut Subscription, id: &str) -> Transition {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(TrackerEvent::Transition(t)) = sub.recv().await {
                if t.payment_id == id && t.from.is_some() {
                    return t;
                }
            }
        }
    })
    .await
    .expect("no transition")
}

// ---------- polling without a relay (paused time) ----------

#[tokio::test(start_paused = true)]
async fn polling_finds_a_capture_without_any_relay() {
    let api = MemoryApi::default();
    api.put(pending("p1", 600));
    let session = Session::start(fast_config(None), tracker(), api.clone());
    let mut sub = session.subscribe();
    assert_eq!(session.status().state, ConnectionState::Polling);
    session.track(pending("p1", 600)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    api.set_status("p1", "succeeded");
    let t = until_transition(&mut sub, "p1").await;
    assert_eq!(t.to, PaymentStatus::Succeeded);
    assert_eq!(t.source, Source::ApiRead);
    // ETags: the unchanged reads before the capture were answered 304.
    assert!(
        session.stats().api_not_modified >= 1,
        "{:?}",
        session.stats()
    );
    // Settled: no more reads.
    let reads = api.reads_of("p1");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(api.reads_of("p1"), reads);
    session.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_every_read_for_retry_after() {
    let api = MemoryApi::default();
    for id in ["a", "b"] {
        api.put(pending(id, 600));
    }
    api.fail_next(ReadError::RateLimited {
        retry_after: Some(Duration::from_secs(7)),
    });
    let session = Session::start(fast_config(None), tracker(), api.clone());
    session.track(pending("a", 600)).await.unwrap();
    session.track(pending("b", 600)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let reads = api.reads.lock().unwrap().clone();
    let limited_at = reads.iter().find(|r| r.2).expect("a 429").1;
    let resumed = reads
        .iter()
        .filter(|r| !r.2 && r.1 > limited_at + Duration::from_millis(50))
        .map(|r| r.1)
        .min()
        .expect("reads resumed");
    assert!(
        resumed >= limited_at + Duration::from_secs(7),
        "read {:?} after a 429 asking for 7 s",
        resumed - limited_at
    );
    assert!(session.stats().api_rate_limited == 1);
    session.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn failing_reads_show_offline_then_polling_again() {
    let api = MemoryApi::default();
    api.put(pending("p1", 600));
    for _ in 0..3 {
        api.fail_next(ReadError::Transient("503".into()));
    }
    let session = Session::start(fast_config(None), tracker(), api.clone());
    let mut sub = session.subscribe();
    session.track(pending("p1", 600)).await.unwrap();
    until_state(&mut sub, ConnectionState::Offline).await;
    until_state(&mut sub, ConnectionState::Polling).await;
    api.set_status("p1", "succeeded");
    assert_eq!(
        until_transition(&mut sub, "p1").await.to,
        PaymentStatus::Succeeded
    );
    session.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_capture_in_the_last_second_is_found_at_expiry() {
    let api = MemoryApi::default();
    // Live checks far away, no polling: only the expiry read can find it.
    let mut cfg = fast_config(None);
    cfg.poll_interval = Duration::from_secs(3600);
    cfg.poll_jitter = 0.0;
    let p = pending("p1", 3);
    api.put(p.clone());
    let session = Session::start(cfg, tracker(), api.clone());
    let mut sub = session.subscribe();
    session.track(p).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(api.reads_of("p1"), 1, "the first poll");
    api.set_status("p1", "succeeded");
    let mut expired = false;
    let t = tokio::time::timeout(WAIT, async {
        loop {
            match sub.recv().await {
                Some(TrackerEvent::Expired { .. }) => expired = true,
                Some(TrackerEvent::Transition(t)) if t.from.is_some() => return t,
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    assert!(expired, "expiry fired before the read");
    assert_eq!(t.to, PaymentStatus::Succeeded);
    session.shutdown().await;
}

// ---------- the relay session (real time, loopback) ----------

#[tokio::test]
async fn a_push_reaches_the_tracker_over_a_ticketed_session() {
    let relay = TestRelay::start(Duration::from_millis(200)).await;
    let api = MemoryApi::default();
    let p = pending("p1", 600);
    api.put(p.clone());
    let session = Session::start(fast_config(Some(&relay)), tracker(), api.clone());
    let mut sub = session.subscribe();
    until_state(&mut sub, ConnectionState::Live).await;
    session.track(p.clone()).await.unwrap();
    let mut paid = p.clone();
    paid.status = PaymentStatus::Succeeded;
    paid.captured = true;
    relay.push(1, &paid, "payment.captured");
    let t = until_transition(&mut sub, "p1").await;
    assert_eq!(t.to, PaymentStatus::Succeeded);
    assert_eq!(t.source, Source::RelayedWebhook);
    // The ticket went in the subprotocol, beside the plain one, and nowhere in the URL.
    let offered = relay.ctl.offered.lock().unwrap()[0].clone();
    assert_eq!(offered, format!("paydesk.v1, ticket.tkt0{TICKET_MARK}"));
    assert!(relay.ctl.queries.lock().unwrap()[0].is_empty());
    // Heartbeats were answered.
    tokio::time::timeout(WAIT, async {
        while relay.ctl.pongs.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert!(session.relay_clock().estimate().is_some());
    session.shutdown().await;
}

#[tokio::test]
async fn a_silent_relay_is_declared_dead_and_polling_starts_at_once() {
    let relay = TestRelay::start(Duration::from_millis(150)).await;
    let api = MemoryApi::default();
    let p = pending("p1", 600);
    api.put(p.clone());
    let mut cfg = fast_config(Some(&relay));
    // Counted from the last message heard: by the time the watchdog (900 ms) finds the
    // link dead, this has long passed, so polling starts at once.
    cfg.fallback_after = Duration::from_millis(250);
    let session = Session::start(cfg, tracker(), api.clone());
    let mut sub = session.subscribe();
    until_state(&mut sub, ConnectionState::Live).await;
    session.track(p).await.unwrap();
    // Keep new sessions from succeeding so the state settles on polling.
    relay.ctl.tickets.lock().unwrap().clear();
    relay.ctl.cmds.send(Cmd::Freeze).unwrap();
    let silenced = Instant::now();
    until_state(&mut sub, ConnectionState::Polling).await;
    let noticed = silenced.elapsed();
    assert!(
        noticed < Duration::from_millis(900 + 600),
        "watchdog 900 ms, took {noticed:?}"
    );
    assert!(session.stats().watchdog_fired >= 1);
    api.set_status("p1", "succeeded");
    assert_eq!(
        until_transition(&mut sub, "p1").await.source,
        Source::ApiRead
    );
    session.shutdown().await;
}

#[tokio::test]
async fn close_1012_reconnects_and_resumes_from_the_last_offset() {
    let relay = TestRelay::start(Duration::from_millis(200)).await;
    let api = MemoryApi::default();
    let p = pending("p1", 600);
    let q = pending("p2", 600);
    api.put(p.clone());
    api.put(q.clone());
    let session = Session::start(fast_config(Some(&relay)), tracker(), api.clone());
    let mut sub = session.subscribe();
    until_state(&mut sub, ConnectionState::Live).await;
    session.track(p.clone()).await.unwrap();
    session.track(q.clone()).await.unwrap();
    let mut paid = p.clone();
    paid.status = PaymentStatus::Succeeded;
    relay.push(7, &paid, "payment.captured");
    until_transition(&mut sub, "p1").await;
    *relay.ctl.recovery.lock().unwrap() = Recovery::Recovered;
    relay.ctl.cmds.send(Cmd::Close(1012)).unwrap();
    until_state(&mut sub, ConnectionState::Live).await;
    let queries = relay.ctl.queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 2);
    assert_eq!(queries[1].get("epoch").map(String::as_str), Some("E1"));
    assert_eq!(queries[1].get("offset").map(String::as_str), Some("7"));
    // A replayed duplicate of offset 7 is skipped; offset 8 still applies.
    relay.push(7, &paid, "payment.captured");
    let mut cancelled = q.clone();
    cancelled.status = PaymentStatus::Cancelled;
    relay.push(8, &cancelled, "payment.cancelled");
    let t = until_transition(&mut sub, "p2").await;
    assert_eq!(t.to, PaymentStatus::Cancelled);
    session.shutdown().await;
}

#[tokio::test]
async fn not_recovered_resyncs_every_pending_payment_once() {
    let relay = TestRelay::start(Duration::from_millis(200)).await;
    let api = MemoryApi::default();
    let (session, mut sub, _) = live_and_tracking(&relay, &api, &["a", "b", "c"]).await;
    // Captured while the link was down; the relay lost the event.
    api.set_status("b", "succeeded");
    *relay.ctl.recovery.lock().unwrap() = Recovery::NotRecovered;
    relay.ctl.cmds.send(Cmd::Close(1001)).unwrap();
    let t = until_transition(&mut sub, "b").await;
    assert_eq!(t.to, PaymentStatus::Succeeded);
    assert_eq!(t.source, Source::ApiRead);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in ["a", "b", "c"] {
        assert_eq!(api.reads_of(id), 1, "one resync read of {id}");
    }
    session.shutdown().await;
}

#[tokio::test]
async fn a_gap_in_offsets_or_a_new_epoch_mid_session_resyncs_from_the_api() {
    let relay = TestRelay::start(Duration::from_millis(200)).await;
    let api = MemoryApi::default();
    let (session, mut sub, tracked) = live_and_tracking(&relay, &api, &["a", "b", "c"]).await;
    let c = &tracked[2];
    // The next offset after the hello's 0: applied, and nothing read.
    let mut c_paid = c.clone();
    c_paid.status = PaymentStatus::Succeeded;
    relay.push(1, &c_paid, "payment.captured");
    let t = until_transition(&mut sub, "c").await;
    assert_eq!(t.source, Source::RelayedWebhook);
    assert_eq!((api.reads_of("a"), api.reads_of("b")), (0, 0));

    // b is captured, but its event (offset 2) never reaches us; offset 3 does.
    api.set_status("b", "succeeded");
    relay.push(3, &c_paid, "payment.captured");
    let t = until_transition(&mut sub, "b").await;
    assert_eq!(t.to, PaymentStatus::Succeeded);
    assert_eq!(t.source, Source::ApiRead);

    // The relay's storage is replaced mid-session: a new epoch, and a again is only
    // learnt from the API.
    api.set_status("a", "cancelled");
    relay.push_in("E2", 1, &c_paid, "payment.captured");
    let t = until_transition(&mut sub, "a").await;
    assert_eq!(t.to, PaymentStatus::Cancelled);
    assert_eq!(t.source, Source::ApiRead);
    session.shutdown().await;
}

#[tokio::test]
async fn a_refused_terminal_key_is_explained_and_polling_covers() {
    let relay = TestRelay::start(Duration::from_millis(200)).await;
    let api = MemoryApi::default();
    let mut cfg = fast_config(Some(&relay));
    if let Some(r) = cfg.relay.as_mut() {
        r.terminal_key = Secret::new("wrong");
    }
    let session = Session::start(cfg, tracker(), api.clone());
    let mut sub = session.subscribe();
    until_state(&mut sub, ConnectionState::Polling).await;
    let status = session.status();
    assert_eq!(
        status.detail.as_deref(),
        Some("relay refused the terminal key")
    );
    assert_eq!(relay.ctl.upgrades.load(Ordering::SeqCst), 0);
    session.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_every_task_and_says_closed() {
    let relay = TestRelay::start(Duration::from_millis(200)).await;
    let tr = tracker();
    let session = Session::start(fast_config(Some(&relay)), tr.clone(), MemoryApi::default());
    let mut sub = session.subscribe();
    until_state(&mut sub, ConnectionState::Live).await;
    tokio::time::timeout(WAIT, session.shutdown())
        .await
        .expect("shutdown hangs");
    assert_eq!(tr.connection().state, ConnectionState::Closed);
    until_state(&mut sub, ConnectionState::Closed).await;
}

#[tokio::test]
async fn a_relay_with_slow_heartbeats_is_probed_and_still_caught_when_dead() {
    // The relay pings every 3 s (hello: dead after 18 s); the till allows 1.5 s of silence.
    let relay = TestRelay::start(Duration::from_secs(3)).await;
    let mut cfg = fast_config(Some(&relay));
    cfg.max_silence = Duration::from_millis(1500);
    cfg.fallback_after = Duration::from_millis(200);
    let session = Session::start(cfg, tracker(), MemoryApi::default());
    let mut sub = session.subscribe();
    until_state(&mut sub, ConnectionState::Live).await;
    let live_at = Instant::now();
    // Probes keep a healthy link live well past the 1.5 s allowance.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(session.status().state, ConnectionState::Live);
    assert_eq!(session.stats().watchdog_fired, 0);
    assert_eq!(
        session.stats().sessions,
        1,
        "no reconnect since {live_at:?}"
    );
    // Now the relay stops answering anything, without closing.
    relay.ctl.tickets.lock().unwrap().clear();
    relay.ctl.cmds.send(Cmd::Freeze).unwrap();
    let frozen = Instant::now();
    until_state(&mut sub, ConnectionState::Reconnecting).await;
    assert!(
        frozen.elapsed() < Duration::from_millis(1500 + 800),
        "noticed after {:?}",
        frozen.elapsed()
    );
    assert_eq!(session.stats().watchdog_fired, 1);
    session.shutdown().await;
}

/// Collects every log line in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_ticket_and_key_never_reach_a_log_line_even_at_trace() {
    let capture = Capture::default();
    let sink = capture.clone();
    // Global, with the `log` bridge: libraries' own logging (tungstenite, hyper, reqwest)
    // is captured too.
    let installed = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .try_init()
        .is_ok();
    assert!(
        installed,
        "another test installed a global subscriber first"
    );

    let relay = TestRelay::start(Duration::from_millis(100)).await;
    let api = MemoryApi::default();
    let p = pending("p1", 600);
    api.put(p.clone());
    let session = Session::start(fast_config(Some(&relay)), tracker(), api);
    let mut sub = session.subscribe();
    until_state(&mut sub, ConnectionState::Live).await;
    session.track(p.clone()).await.unwrap();
    let mut paid = p;
    paid.status = PaymentStatus::Succeeded;
    relay.push(1, &paid, "payment.captured");
    until_transition(&mut sub, "p1").await;
    // A reconnect, so more than one ticket goes by.
    relay.ctl.cmds.send(Cmd::Close(1012)).unwrap();
    until_state(&mut sub, ConnectionState::Live).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    session.shutdown().await;

    let text = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("ticket obtained"),
        "the capture saw the session"
    );
    assert!(text.contains("TRACE"), "trace level was on");
    assert!(relay.ctl.upgrades.load(Ordering::SeqCst) >= 2);
    assert!(!text.contains(TICKET_MARK), "a ticket reached the logs");
    assert!(!text.contains(KEY), "the terminal key reached the logs");
}

#[tokio::test]
async fn a_busy_relay_is_given_the_time_it_asks_for() {
    let relay = TestRelay::start(Duration::from_millis(200)).await;
    relay.ctl.busy.store(1, Ordering::SeqCst);
    let session = Session::start(fast_config(Some(&relay)), tracker(), MemoryApi::default());
    let mut sub = session.subscribe();
    until_state(&mut sub, ConnectionState::Live).await;
    let asked = relay.ctl.ticket_requests.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "one refused, one granted");
    assert!(
        asked[1] - asked[0] >= Duration::from_secs(1),
        "retried after {:?} despite Retry-After: 1",
        asked[1] - asked[0]
    );
    session.shutdown().await;
}
