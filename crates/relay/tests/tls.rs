//! The relay terminating TLS itself: tickets, WebSocket and webhooks over TLS with a
//! certificate from a test CA; a reload swaps the certificate for new handshakes without
//! dropping open sessions, and a broken pair leaves the previous one in force.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::pki::TestCa;
use common::*;
use paydesk_protocol::wire::{self, Scope, ServerMessage};
use paydesk_relay::{RelayConfig, RelayHandle, TlsFiles};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::Connector;

/// Ticket and `wss://` session, trusting only `ca`.
async fn connect_tls(
    relay: &RelayHandle,
    ca: &TestCa,
    key: &paydesk_protocol::Secret,
) -> Result<Ws, String> {
    let res = ca
        .http()
        .post(format!("{}{}", relay.base_url(), wire::TICKETS_PATH))
        .bearer_auth(key.expose())
        .send()
        .await
        .map_err(|e| format!("ticket: {e:?}"))?;
    let t: wire::TicketResponse = res.json().await.map_err(|e| e.to_string())?;
    let mut req = relay.ws_url().into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&wire::offered_protocols(&t.ticket)).unwrap(),
    );
    let connector = Connector::Rustls(ca.client_config());
    let (mut ws, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async_tls_with_config(req, None, true, Some(connector)),
    )
    .await
    .expect("connect timed out")
    .map_err(|e| format!("websocket: {e}"))?;
    match next(&mut ws).await {
        ServerMessage::Hello(_) => Ok(ws),
        other => Err(format!("{other:?}")),
    }
}

async fn post_tls(relay: &RelayHandle, ca: &TestCa, body: &str) -> u16 {
    ca.http()
        .post(relay.webhook_url("shop"))
        .header(
            paydesk_protocol::signature::HEADER,
            paydesk_protocol::signature::sign(SECRET_A.as_bytes(), now_unix(), body.as_bytes()),
        )
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_relay_serves_over_its_own_tls_and_a_reload_swaps_the_certificate_without_dropping_sessions(
) {
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert_file: dir.path().join("fullchain.pem"),
        key_file: dir.path().join("privkey.pem"),
    };
    let first_ca = TestCa::new("PayDesk test CA 1");
    first_ca.issue_into(
        &["127.0.0.1", "localhost"],
        &files.cert_file,
        &files.key_file,
    );
    let office = paydesk_relay::generate_terminal_key();
    let mut cfg = RelayConfig::memory()
        .merchant("shop", SECRET_A)
        .terminal_scoped("shop", "office", &office, Scope::Merchant);
    cfg.tls = Some(files.clone());
    let relay = start(cfg).await;
    assert!(relay.base_url().starts_with("https://"));

    let mut ws = connect_tls(&relay, &first_ca, &office).await.unwrap();
    assert_eq!(
        post_tls(&relay, &first_ca, &event_body("e1", "p1", 1)).await,
        200
    );
    assert_eq!(next_event(&mut ws).await.event.id, "e1");
    // Plain HTTP on the TLS port gets nothing.
    assert!(http()
        .get(format!("http://{}/healthz", relay.local_addr()))
        .send()
        .await
        .is_err());

    // Renewed by another CA, then reloaded (what SIGHUP does).
    let second_ca = TestCa::new("PayDesk test CA 2");
    second_ca.issue_into(
        &["127.0.0.1", "localhost"],
        &files.cert_file,
        &files.key_file,
    );
    relay.reload();
    // The open session carries on over its connection.
    assert_eq!(
        post_tls(&relay, &second_ca, &event_body("e2", "p2", 2)).await,
        200
    );
    assert_eq!(next_event(&mut ws).await.event.id, "e2");
    // New handshakes get the new certificate: trusted by the second CA, not the first.
    let err = connect_tls(&relay, &first_ca, &office).await.unwrap_err();
    assert!(
        err.contains("certificate") || err.contains("Certificate"),
        "{err}"
    );
    let mut fresh = connect_tls(&relay, &second_ca, &office).await.unwrap();

    // A broken pair (a key that is not the certificate's) is refused; the last good one
    // stays in force.
    let (_, other_key) = second_ca.issue(&["127.0.0.1"]);
    std::fs::write(&files.key_file, other_key).unwrap();
    relay.reload();
    std::fs::write(&files.cert_file, "not a certificate").unwrap();
    relay.reload();
    let mut third = connect_tls(&relay, &second_ca, &office).await.unwrap();
    assert_eq!(
        post_tls(&relay, &second_ca, &event_body("e3", "p3", 3)).await,
        200
    );
    for ws in [&mut ws, &mut fresh, &mut third] {
        assert_eq!(next_event(ws).await.event.id, "e3");
    }
    assert!(relay.metrics().snapshot().rejects_for("tls_handshake") >= 1);
    relay.shutdown().await;
}

#[tokio::test]
async fn a_relay_whose_certificate_does_not_load_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert_file: dir.path().join("fullchain.pem"),
        key_file: dir.path().join("privkey.pem"),
    };
    let ca = TestCa::new("PayDesk test CA");
    let (cert, _) = ca.issue(&["localhost"]);
    let (_, wrong_key) = ca.issue(&["localhost"]);
    std::fs::write(&files.cert_file, cert).unwrap();
    std::fs::write(&files.key_file, &wrong_key).unwrap();
    let mut cfg = RelayConfig::memory().merchant("shop", SECRET_A);
    cfg.tls = Some(files.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = paydesk_relay::spawn(listener, cfg)
        .await
        .err()
        .expect("must not start");
    let text = err.to_string();
    assert!(text.contains("privkey.pem"), "{text}");
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains(&wrong_key[40..80]),
        "{text}"
    );
}
