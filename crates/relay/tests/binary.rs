//! The `paydesk-relay` binary as an operator runs it: `terminal add` prints a key once and
//! stores only its hash; `serve --config` takes secrets from the environment, serves a
//! terminal, says goodbye with 1012 on SIGTERM, and never logs a secret, key or ticket.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;

use common::*;
use futures_util::StreamExt as _;
use paydesk_protocol::wire::{self, ServerMessage};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_paydesk-relay");

#[tokio::test]
async fn the_binary_serves_from_a_config_file_and_keeps_secrets_out_of_its_logs() {
    let dir = tempfile::tempdir().unwrap();
    let terminals = dir.path().join("terminals.toml");
    let out = Command::new(BIN)
        .args([
            "terminal",
            "add",
            "--merchant",
            "shop",
            "--name",
            "till-1",
            "--store",
        ])
        .arg(&terminals)
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("pdk_"), "{key}");
    assert!(!std::fs::read_to_string(&terminals).unwrap().contains(&key));
    let again = Command::new(BIN)
        .args([
            "terminal",
            "add",
            "--merchant",
            "shop",
            "--name",
            "till-1",
            "--store",
        ])
        .arg(&terminals)
        .output()
        .await
        .unwrap();
    assert!(!again.status.success(), "a duplicate terminal is refused");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\nterminals_file = \"{}\"\n[[merchant]]\nid = \"shop\"\n",
            terminals.display()
        ),
    )
    .unwrap();
    let secret = "whsec_binary_test_secret";
    let mut relay = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("PAYDESK_RELAY_SECRET_SHOP", secret)
        .env("PAYDESK_RELAY_LOG", "debug")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut logs = BufReader::new(relay.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = logs.next_line().await.unwrap() {
            let ready = line.contains("relay listening");
            seen.push(line);
            if ready {
                return;
            }
        }
        panic!("relay exited: {seen:?}");
    })
    .await
    .expect("relay did not start");

    let base = format!("http://127.0.0.1:{port}");
    let t: wire::TicketResponse = http()
        .post(format!("{base}{}", wire::TICKETS_PATH))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ws = open_ws(port, &t.ticket).await;
    assert!(matches!(next(&mut ws).await, ServerMessage::Hello(_)));
    let body = event_body("evt_bin", "pay_bin", 4200);
    let res = post_webhook(&format!("{base}/webhooks/shop"), secret, &body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(next_event(&mut ws).await.event.id, "evt_bin");
    let pid = relay.id().unwrap().to_string();

    // A new till: `terminal add`, then SIGHUP; its key works without a restart.
    let out = Command::new(BIN)
        .args([
            "terminal",
            "add",
            "--merchant",
            "shop",
            "--name",
            "till-2",
            "--store",
        ])
        .arg(&terminals)
        .output()
        .await
        .unwrap();
    let key2 = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    hangup_and_wait_for_reload(&pid, &mut logs, &mut seen).await;
    let t2 = get_ticket(&base, &key2).await;
    let mut ws2 = open_ws(port, &t2).await;
    assert!(matches!(next(&mut ws2).await, ServerMessage::Hello(_)));

    // A removed till: its open session is closed (1008) and its key gets no ticket.
    let out = Command::new(BIN)
        .args([
            "terminal",
            "remove",
            "--merchant",
            "shop",
            "--name",
            "till-1",
            "--store",
        ])
        .arg(&terminals)
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    hangup_and_wait_for_reload(&pid, &mut logs, &mut seen).await;
    assert_eq!(read_until_close(&mut ws).await.0, Some(wire::close::POLICY));
    let refused = http()
        .post(format!("{base}{}", wire::TICKETS_PATH))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let mut ws = ws2;

    // SIGTERM: every session gets 1012, the process exits cleanly.
    assert!(std::process::Command::new("kill")
        .arg(&pid)
        .status()
        .unwrap()
        .success());
    let close = tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                other => panic!("no close frame: {other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(close, Some(wire::close::SERVICE_RESTART));
    let status = tokio::time::timeout(WAIT, relay.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    while let Some(line) = logs.next_line().await.unwrap() {
        seen.push(line);
    }
    let all = seen.join("\n");
    for secret_text in [
        secret,
        key.as_str(),
        key2.as_str(),
        t.ticket.as_str(),
        t2.as_str(),
    ] {
        assert!(!all.contains(secret_text), "a secret leaked into the logs");
    }
    assert!(all.contains("event stored"), "{all}");
}

async fn get_ticket(base: &str, key: &str) -> String {
    let t: wire::TicketResponse = http()
        .post(format!("{base}{}", wire::TICKETS_PATH))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t.ticket
}

async fn open_ws(port: u16, ticket: &str) -> Ws {
    let mut req = format!("ws://127.0.0.1:{port}{}", wire::WS_PATH)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&wire::offered_protocols(ticket)).unwrap(),
    );
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// Sends SIGHUP and waits for the relay to log that it reloaded (no sleeping).
async fn hangup_and_wait_for_reload(
    pid: &str,
    logs: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    seen: &mut Vec<String>,
) {
    assert!(std::process::Command::new("kill")
        .args(["-HUP", pid])
        .status()
        .unwrap()
        .success());
    tokio::time::timeout(WAIT, async {
        while let Some(line) = logs.next_line().await.unwrap() {
            let done = line.contains("terminals reloaded");
            seen.push(line);
            if done {
                return;
            }
        }
        panic!("relay exited");
    })
    .await
    .expect("no reload");
}
