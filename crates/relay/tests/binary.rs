//! The `paydesk-relay` binary as an operator runs it: `terminal add` prints a key once and
//! stores only its hash; `serve --config` takes secrets from the environment, serves a
//! terminal, reloads terminals on SIGHUP (a rotated or removed key is cut off, whatever
//! its name), says goodbye with 1012 on SIGTERM, and never logs a secret, key or ticket.
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
    let till_1 = id_of("till-1", &terminals).await;
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
    match next(&mut ws).await {
        ServerMessage::Hello(h) => assert_eq!(h.terminal_id, till_1),
        other => panic!("{other:?}"),
    }
    let body = till_event_body("evt_bin", "payment.captured", "pay_bin", &till_1);
    let res = post_webhook(&format!("{base}/webhooks/shop"), secret, &body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(next_event(&mut ws).await.event.id, "evt_bin");
    let pid = relay.id().unwrap().to_string();

    // A new till: `terminal add`, then SIGHUP; its key works without a restart.
    let (_, key2) = terminal_cmd(
        &["add", "--merchant", "shop", "--name", "till-2"],
        &terminals,
    )
    .await;
    hangup_and_wait_for_reload(&pid, &mut logs, &mut seen).await;
    let t2 = get_ticket(&base, &key2).await;
    let mut ws2 = open_ws(port, &t2).await;
    assert!(matches!(next(&mut ws2).await, ServerMessage::Hello(_)));

    // Rotation: a ticket bought with the old key before the reload, the old key's open
    // session, and the old key itself are all cut off; the new key keeps the id.
    let unused = get_ticket(&base, &key).await;
    let (ok, rotated) = terminal_cmd(
        &["rotate", "--merchant", "shop", "--name", "till-1"],
        &terminals,
    )
    .await;
    assert!(ok && rotated.starts_with("pdk_") && rotated != key);
    assert_eq!(
        id_of("till-1", &terminals).await,
        till_1,
        "rotation keeps the id"
    );
    hangup_and_wait_for_reload(&pid, &mut logs, &mut seen).await;
    assert_eq!(read_until_close(&mut ws).await.0, Some(wire::close::POLICY));
    let spent = open_ws_raw(port, &unused).await;
    assert_eq!(spent, 401, "a ticket of the rotated key opens nothing");
    let refused = http()
        .post(format!("{base}{}", wire::TICKETS_PATH))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let t3 = get_ticket(&base, &rotated).await;
    let mut ws = open_ws(port, &t3).await;
    match next(&mut ws).await {
        ServerMessage::Hello(h) => assert_eq!(h.terminal_id, till_1),
        other => panic!("{other:?}"),
    }
    let body = till_event_body("evt_after_rotation", "payment.captured", "pay_2", &till_1);
    assert_eq!(
        post_webhook(&format!("{base}/webhooks/shop"), secret, &body)
            .await
            .status(),
        200
    );
    assert_eq!(next_event(&mut ws).await.event.id, "evt_after_rotation");

    // Removed and added back under the same name: the old key's session is closed too.
    let (ok, _) = terminal_cmd(
        &["remove", "--merchant", "shop", "--name", "till-2"],
        &terminals,
    )
    .await;
    assert!(ok);
    let (ok, key2b) = terminal_cmd(
        &["add", "--merchant", "shop", "--name", "till-2"],
        &terminals,
    )
    .await;
    assert!(ok);
    hangup_and_wait_for_reload(&pid, &mut logs, &mut seen).await;
    assert_eq!(
        read_until_close(&mut ws2).await.0,
        Some(wire::close::POLICY)
    );
    let t4 = get_ticket(&base, &key2b).await;
    let mut ws2 = open_ws(port, &t4).await;
    assert!(matches!(next(&mut ws2).await, ServerMessage::Hello(_)));
    drop(ws2);

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
        rotated.as_str(),
        key2b.as_str(),
        t.ticket.as_str(),
        t2.as_str(),
        unused.as_str(),
        t3.as_str(),
        t4.as_str(),
    ] {
        assert!(!all.contains(secret_text), "a secret leaked into the logs");
    }
    assert!(all.contains("event stored"), "{all}");
}

/// Runs `paydesk-relay terminal <args> --store <file>`; its stdout (a key, or the list).
async fn terminal_cmd(args: &[&str], store: &std::path::Path) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("terminal")
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
    )
}

/// A terminal's id, from `terminal list`.
async fn id_of(name: &str, store: &std::path::Path) -> String {
    let (ok, list) = terminal_cmd(&["list"], store).await;
    assert!(ok);
    list.lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|f| f[1] == name)
        .map(|f| f[2].to_owned())
        .unwrap_or_else(|| panic!("{name} not in {list}"))
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

/// Tries to open a session with `ticket`; the HTTP status of the refusal.
async fn open_ws_raw(port: u16, ticket: &str) -> u16 {
    let mut req = format!("ws://127.0.0.1:{port}{}", wire::WS_PATH)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&wire::offered_protocols(ticket)).unwrap(),
    );
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => res.status().as_u16(),
        Err(e) => panic!("{e}"),
        Ok(_) => 101,
    }
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

/// Starts `paydesk-relay serve` with `terminals` registered; its resident memory once it
/// listens (before any till connects), in KiB.
async fn rss_at_start_kib(terminals: usize) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("terminals.toml");
    let store = paydesk_relay::TerminalStore {
        terminals: (0..terminals)
            .map(|i| {
                let key = paydesk_relay::generate_terminal_key();
                paydesk_relay::TerminalRecord::new(
                    "chain",
                    &format!("store-{:05}-till-{}", i / 4, i % 4),
                    paydesk_relay::hash_key(&key),
                    wire::Scope::Till,
                )
            })
            .collect(),
    };
    store.save(&store_path).unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nterminals_file = \"{}\"\n[[merchant]]\nid = \"chain\"\n",
            store_path.display()
        ),
    )
    .unwrap();
    let mut relay = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("PAYDESK_RELAY_SECRET_CHAIN", "whsec_memory")
        .env("PAYDESK_RELAY_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut logs = BufReader::new(relay.stderr.take().unwrap()).lines();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = logs.next_line().await.unwrap() {
            if line.contains("relay listening") {
                return;
            }
        }
        panic!("relay exited");
    })
    .await
    .expect("relay did not start");
    let pid = relay.id().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let _ = relay.kill().await;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn ten_thousand_terminals_cost_the_relay_about_their_size_not_kilobytes_each() {
    let empty = rss_at_start_kib(0).await;
    let chain = rss_at_start_kib(10_000).await;
    let per_terminal = (chain.saturating_sub(empty) * 1024) / 10_000;
    // A terminal is a 32-byte key hash, a ~12-byte id and a ~20-byte name; reading the
    // file as one TOML document left ~2.8 KiB a terminal resident (27 MiB for 10,000).
    assert!(
        per_terminal < 512,
        "{per_terminal} bytes a terminal ({empty} KiB empty, {chain} KiB with 10,000)"
    );
}
