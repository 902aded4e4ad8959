//! Shared test helpers: a real relay on 127.0.0.1:0, real HTTP and WebSocket clients.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod connect_proxy;
pub mod pki;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt as _, StreamExt as _};
use paydesk_protocol::signature;
use paydesk_protocol::wire::{self, ClientMessage, Pong, Scope, ServerMessage};
use paydesk_protocol::Secret;
use paydesk_relay::{generate_terminal_key, RelayConfig, RelayHandle};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SECRET_A: &str = "whsec_shop_a";
pub const SECRET_B: &str = "whsec_shop_b";
/// Upper bound on any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(10);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Keys {
    /// Merchant-scope terminals (back offices, monitors): every event of their merchant.
    pub a1: Secret,
    pub a2: Secret,
    pub b1: Secret,
    /// Tills of shop-a: the events of their own payments.
    pub t1: Secret,
    pub t2: Secret,
}

/// Two merchants; three merchant-scope terminals and two tills; `tweak` adjusts the config
/// before start.
pub fn config(tweak: impl FnOnce(RelayConfig) -> RelayConfig) -> (RelayConfig, Keys) {
    let keys = Keys {
        a1: generate_terminal_key(),
        a2: generate_terminal_key(),
        b1: generate_terminal_key(),
        t1: generate_terminal_key(),
        t2: generate_terminal_key(),
    };
    let c = RelayConfig::memory()
        .merchant("shop-a", SECRET_A)
        .merchant("shop-b", SECRET_B)
        .terminal_scoped("shop-a", "till-a1", &keys.a1, Scope::Merchant)
        .terminal_scoped("shop-a", "till-a2", &keys.a2, Scope::Merchant)
        .terminal_scoped("shop-b", "till-b1", &keys.b1, Scope::Merchant)
        .terminal("shop-a", "till-1", &keys.t1)
        .terminal("shop-a", "till-2", &keys.t2);
    (tweak(c), keys)
}

/// The id a till is routed by (what its hello says).
pub fn till_id(key: &Secret) -> String {
    paydesk_relay::terminals::derived_terminal_id(&paydesk_relay::hash_key(key))
}

pub async fn start(config: RelayConfig) -> RelayHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    paydesk_relay::spawn(listener, config).await.unwrap()
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A webhook body as Crypto.com Pay sends it for a captured payment.
pub fn event_body(event_id: &str, payment_id: &str, amount: i128) -> String {
    format!(
        r#"{{"id":"{event_id}","type":"payment.captured","created":1700000000,"data":{{"object":{{"id":"{payment_id}","amount":{amount},"currency":"USD","status":"succeeded","captured":true,"description":"coffee"}}}}}}"#
    )
}

/// A webhook body for an event of a payment created by the till `till` (its metadata
/// names the till, as PayDesk's tills write it).
pub fn till_event_body(event_id: &str, kind: &str, payment_id: &str, till: &str) -> String {
    format!(
        r#"{{"id":"{event_id}","type":"{kind}","created":1700000000,"data":{{"object":{{"id":"{payment_id}","amount":1250,"currency":"USD","status":"succeeded","captured":true,"metadata":{{"paydesk_till":"{till}","cashier":"ann"}}}}}}}}"#
    )
}

/// A refund event: the object names only its payment.
pub fn refund_body(event_id: &str, payment_id: &str) -> String {
    format!(
        r#"{{"id":"{event_id}","type":"payment.refund_transferred","created":1700000000,"data":{{"object":{{"id":"rf_{event_id}","payment_id":"{payment_id}","amount":1250,"currency":"USD","status":"succeeded"}}}}}}"#
    )
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(WAIT).build().unwrap()
}

/// Posts a webhook signed with `secret` at time `t`.
pub async fn post_webhook_at(url: &str, secret: &str, body: &str, t: i64) -> reqwest::Response {
    http()
        .post(url)
        .header("content-type", "application/json")
        .header(
            signature::HEADER,
            signature::sign(secret.as_bytes(), t, body.as_bytes()),
        )
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

pub async fn post_webhook(url: &str, secret: &str, body: &str) -> reqwest::Response {
    post_webhook_at(url, secret, body, now_unix()).await
}

pub async fn ticket_response(relay: &RelayHandle, key: &Secret) -> reqwest::Response {
    http()
        .post(format!("{}{}", relay.base_url(), wire::TICKETS_PATH))
        .bearer_auth(key.expose())
        .send()
        .await
        .unwrap()
}

pub async fn ticket(relay: &RelayHandle, key: &Secret) -> String {
    let res = ticket_response(relay, key).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<wire::TicketResponse>().await.unwrap().ticket
}

/// Opens a WebSocket offering `protocols` (none when `None`) to `/v1/ws?{query}`.
pub async fn open_raw(
    relay: &RelayHandle,
    protocols: Option<&str>,
    query: &str,
) -> Result<(Ws, tungstenite::handshake::client::Response), tungstenite::Error> {
    let url = if query.is_empty() {
        relay.ws_url()
    } else {
        format!("{}?{query}", relay.ws_url())
    };
    let mut req = url.into_client_request().unwrap();
    if let Some(p) = protocols {
        req.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
    }
    tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("connect timed out")
}

/// The HTTP status a refused upgrade got.
pub fn refused_status(
    r: Result<(Ws, tungstenite::handshake::client::Response), tungstenite::Error>,
) -> u16 {
    match r {
        Err(tungstenite::Error::Http(res)) => res.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, the upgrade succeeded"),
    }
}

/// Ticket, connect, read the hello.
pub async fn connect(relay: &RelayHandle, key: &Secret, query: &str) -> (Ws, wire::Hello) {
    let t = ticket(relay, key).await;
    let (mut ws, _) = open_raw(relay, Some(&wire::offered_protocols(&t)), query)
        .await
        .unwrap();
    let hello = match next(&mut ws).await {
        ServerMessage::Hello(h) => h,
        other => panic!("expected hello, got {other:?}"),
    };
    (ws, hello)
}

/// The next protocol message, skipping pings (answered) and failing on close.
pub async fn next(ws: &mut Ws) -> ServerMessage {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no message in time")
            .expect("socket ended")
            .expect("socket error");
        match msg {
            Message::Text(t) => match ServerMessage::from_json(&t).unwrap() {
                ServerMessage::Ping(p) => {
                    let pong = ClientMessage::Pong(Pong { seq: p.seq }).to_json();
                    ws.send(Message::Text(pong.into())).await.unwrap();
                }
                m => return m,
            },
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
}

pub async fn next_event(ws: &mut Ws) -> wire::EventMessage {
    match next(ws).await {
        ServerMessage::Event(e) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Reads until the server closes; returns the close code and how many events came first.
pub async fn read_until_close(ws: &mut Ws) -> (Option<u16>, usize) {
    let mut events = 0;
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no close in time")
        {
            None | Some(Err(_)) => return (None, events),
            Some(Ok(Message::Close(f))) => return (f.map(|f| u16::from(f.code)), events),
            Some(Ok(Message::Text(t))) => {
                if t.starts_with(r#"{"type":"event""#) {
                    events += 1;
                }
            }
            Some(Ok(_)) => {}
        }
    }
}

pub fn code(c: CloseCode) -> u16 {
    u16::from(c)
}
