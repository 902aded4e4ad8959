//! The in-memory relay over real sockets: webhooks in, pushes out, every refusal, resume,
//! slow consumers, heartbeats, shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use paydesk_protocol::payment::WebhookEvent;
use paydesk_protocol::wire::{self, close, Recovery, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn webhook_reaches_every_terminal_of_its_merchant_and_no_other() {
    let (cfg, keys) = config(|c| c);
    let relay = start(cfg).await;
    let (mut a1, h1) = connect(&relay, &keys.a1, "").await;
    let (mut a2, _) = connect(&relay, &keys.a2, "").await;
    let (mut b1, hb) = connect(&relay, &keys.b1, "").await;
    assert_eq!(h1.recovery, Recovery::Fresh);
    assert_eq!(
        (h1.merchant.as_str(), h1.terminal.as_str()),
        ("shop-a", "till-a1")
    );
    assert_eq!(hb.merchant, "shop-b");
    assert_eq!(h1.offset, 0);

    let body = event_body("evt_a_1", "pay_1", 100_000_000_000_000_000_000);
    let res = post_webhook(&relay.webhook_url("shop-a"), SECRET_A, &body).await;
    assert_eq!(res.status(), 200);

    let sent = WebhookEvent::from_json(body.as_bytes()).unwrap();
    for ws in [&mut a1, &mut a2] {
        let e = next_event(ws).await;
        assert_eq!(e.offset, 1);
        assert_eq!(e.epoch, h1.epoch);
        assert_eq!(e.event, sent, "the event arrives exactly as signed");
    }

    // shop-b's terminal: its first event is its own merchant's, so it got nothing before.
    let body_b = event_body("evt_b_1", "pay_b", 5);
    assert_eq!(
        post_webhook(&relay.webhook_url("shop-b"), SECRET_B, &body_b)
            .await
            .status(),
        200
    );
    let e = next_event(&mut b1).await;
    assert_eq!((e.offset, e.event.id.as_str()), (1, "evt_b_1"));
    let m = relay.metrics().snapshot();
    assert_eq!(m.events_in, 2);
    assert_eq!(m.pushes_out, 3);
    relay.shutdown().await;
}

#[tokio::test]
async fn every_bad_webhook_is_refused_and_nothing_is_published() {
    let (cfg, keys) = config(|c| {
        let mut c = c.merchant("shop-a", "whsec_shop_a_previous");
        c.webhook_body_limit = 1024;
        c
    });
    let relay = start(cfg).await;
    let (mut ws, _) = connect(&relay, &keys.a1, "").await;
    let url = relay.webhook_url("shop-a");
    let now = now_unix();

    let good = event_body("evt_1", "pay_1", 100);
    let cases: Vec<(&str, reqwest::Response, u16)> = vec![
        (
            "wrong secret",
            post_webhook(&url, "whsec_wrong", &event_body("evt_x", "p", 1)).await,
            401,
        ),
        (
            "stale timestamp",
            post_webhook_at(&url, SECRET_A, &event_body("evt_y", "p", 1), now - 301).await,
            401,
        ),
        (
            "future timestamp",
            post_webhook_at(&url, SECRET_A, &event_body("evt_z", "p", 1), now + 301).await,
            401,
        ),
        (
            "malformed body",
            post_webhook(
                &url,
                SECRET_A,
                r#"{"id":"evt_m","type":"payment.captured"}"#,
            )
            .await,
            400,
        ),
        (
            "oversized body",
            post_webhook(
                &url,
                SECRET_A,
                &format!("{{\"pad\":\"{}\"}}", "x".repeat(2000)),
            )
            .await,
            413,
        ),
        (
            "unknown merchant",
            post_webhook(&relay.webhook_url("shop-zzz"), SECRET_A, &good).await,
            404,
        ),
        (
            "no signature",
            http()
                .post(&url)
                .body(event_body("evt_n", "p", 1))
                .send()
                .await
                .unwrap(),
            401,
        ),
        (
            "tampered body",
            http()
                .post(&url)
                .header(
                    paydesk_protocol::signature::HEADER,
                    paydesk_protocol::signature::sign(SECRET_A.as_bytes(), now, good.as_bytes()),
                )
                .body(good.replace("100", "1"))
                .send()
                .await
                .unwrap(),
            401,
        ),
    ];
    for (what, res, want) in cases {
        assert_eq!(res.status().as_u16(), want, "{what}");
    }
    // Accepted once (signed with the previous secret: rotation); a repeat is acknowledged
    // as the duplicate it is and not stored again.
    assert_eq!(
        post_webhook(&url, "whsec_shop_a_previous", &good)
            .await
            .status(),
        200
    );
    let again = post_webhook(&url, SECRET_A, &good).await;
    assert_eq!(again.status(), 200, "a retry is never refused");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["offset"], 1, "where the first copy was stored");

    // The server is unaffected, and the terminal's only events are the good ones.
    let last = event_body("evt_2", "pay_2", 200);
    assert_eq!(post_webhook(&url, SECRET_A, &last).await.status(), 200);
    let e = next_event(&mut ws).await;
    assert_eq!((e.offset, e.event.id.as_str()), (1, "evt_1"));
    let e = next_event(&mut ws).await;
    assert_eq!((e.offset, e.event.id.as_str()), (2, "evt_2"));

    let m = relay.metrics().snapshot();
    assert_eq!(m.events_in, 2);
    for reason in [
        "signature_mismatch",
        "signature_stale",
        "malformed",
        "oversized",
        "unknown_merchant",
        "signature_missing",
    ] {
        assert!(m.rejects_for(reason) >= 1, "{reason} counted: {m:?}");
    }
    assert_eq!(m.duplicate_events, 1);
    let text = http()
        .get(format!("{}/metrics", relay.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("paydesk_relay_duplicate_events_total 1\n"));
    assert!(
        text.contains(r#"paydesk_relay_rejects_total{endpoint="webhook",reason="malformed"} 1"#)
    );
    assert!(!text.contains(SECRET_A));
    relay.shutdown().await;
}

#[tokio::test]
async fn bad_tickets_are_refused_before_the_upgrade() {
    let (cfg, keys) = config(|c| c);
    let relay = start(cfg).await;

    // Reused: the first use succeeds, the second is refused.
    let t = ticket(&relay, &keys.a1).await;
    let offered = wire::offered_protocols(&t);
    let (ws, res) = open_raw(&relay, Some(&offered), "").await.unwrap();
    assert_eq!(
        res.headers().get("sec-websocket-protocol").unwrap(),
        "paydesk.v1",
        "echoes the plain subprotocol, never the ticket"
    );
    drop(ws);
    assert_eq!(
        refused_status(open_raw(&relay, Some(&offered), "").await),
        401
    );

    // Unknown, absent, no header at all.
    let unknown = wire::offered_protocols(&"A".repeat(43));
    assert_eq!(
        refused_status(open_raw(&relay, Some(&unknown), "").await),
        401
    );
    assert_eq!(
        refused_status(open_raw(&relay, Some("paydesk.v1"), "").await),
        401
    );
    assert_eq!(refused_status(open_raw(&relay, None, "").await), 401);
    // A ticket without the plain subprotocol beside it.
    let t = ticket(&relay, &keys.a1).await;
    assert_eq!(
        refused_status(open_raw(&relay, Some(&format!("ticket.{t}")), "").await),
        401
    );

    // In the query string: refused even alongside a valid ticket, which stays unspent.
    let t = ticket(&relay, &keys.a1).await;
    let offered = wire::offered_protocols(&t);
    assert_eq!(
        refused_status(open_raw(&relay, Some(&offered), &format!("ticket={t}")).await),
        400
    );
    assert!(open_raw(&relay, Some(&offered), "").await.is_ok());

    // Keys: unknown or absent keys get no ticket.
    let res = ticket_response(&relay, &paydesk_relay::generate_terminal_key()).await;
    assert_eq!(res.status(), 401);
    let res = http()
        .post(format!("{}{}", relay.base_url(), wire::TICKETS_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let m = relay.metrics().snapshot();
    assert_eq!(
        m.sessions_total, 2,
        "only the two good tickets opened sessions"
    );
    assert!(m.rejects_for("ticket_invalid") >= 2);
    assert!(m.rejects_for("ticket_missing") >= 3);
    assert_eq!(m.rejects_for("ticket_in_query"), 1);
    relay.shutdown().await;
}

#[tokio::test]
async fn an_expired_ticket_is_refused() {
    let (cfg, keys) = config(|mut c| {
        c.ticket_ttl = Duration::from_micros(1);
        c
    });
    let relay = start(cfg).await;
    let res = ticket_response(&relay, &keys.a1).await;
    let t: wire::TicketResponse = res.json().await.unwrap();
    assert_eq!(t.expires_in_ms, 0);
    let offered = wire::offered_protocols(&t.ticket);
    assert_eq!(
        refused_status(open_raw(&relay, Some(&offered), "").await),
        401
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn ticket_issuance_is_rate_limited_per_key_and_per_address() {
    let (cfg, keys) = config(|mut c| {
        c.ticket_rate_per_key = paydesk_relay::RateLimit {
            burst: 2,
            per_minute: 1,
        };
        c.ticket_rate_per_addr = paydesk_relay::RateLimit {
            burst: 4,
            per_minute: 1,
        };
        c
    });
    let relay = start(cfg).await;
    assert_eq!(ticket_response(&relay, &keys.a1).await.status(), 200);
    assert_eq!(ticket_response(&relay, &keys.a1).await.status(), 200);
    let limited = ticket_response(&relay, &keys.a1).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    // Another key still works until the address runs out.
    assert_eq!(ticket_response(&relay, &keys.a2).await.status(), 200);
    assert_eq!(ticket_response(&relay, &keys.b1).await.status(), 429);
    relay.shutdown().await;
}

#[tokio::test]
async fn resume_after_a_disconnect_delivers_exactly_the_missed_events_in_order() {
    let (cfg, keys) = config(|c| c);
    let relay = start(cfg).await;
    let url = relay.webhook_url("shop-a");
    let (mut ws, hello) = connect(&relay, &keys.a1, "").await;
    post_webhook(&url, SECRET_A, &event_body("evt_1", "p1", 1)).await;
    let first = next_event(&mut ws).await;
    assert_eq!(first.offset, 1);
    ws.close(None).await.unwrap();
    drop(ws);

    for i in 2..=4 {
        let r = post_webhook(&url, SECRET_A, &event_body(&format!("evt_{i}"), "p", i)).await;
        assert_eq!(r.status(), 200);
    }
    let query = format!("epoch={}&offset={}", hello.epoch, first.offset);
    let (mut ws, again) = connect(&relay, &keys.a1, &query).await;
    assert_eq!(again.recovery, Recovery::Recovered);
    assert_eq!((again.offset, again.replayed), (4, 3));
    assert_eq!(again.epoch, hello.epoch);
    assert_ne!(again.session_id, hello.session_id);
    for want in 2..=4u64 {
        let e = next_event(&mut ws).await;
        assert_eq!(e.offset, want);
        assert_eq!(e.event.id, format!("evt_{want}"));
    }
    // Then live events, with no duplicate of the replayed ones.
    post_webhook(&url, SECRET_A, &event_body("evt_5", "p", 5)).await;
    assert_eq!(next_event(&mut ws).await.offset, 5);

    // Up to date: recovered with nothing to replay.
    let query = format!("epoch={}&offset=5", hello.epoch);
    let (_ws2, h) = connect(&relay, &keys.a2, &query).await;
    assert_eq!((h.recovery, h.replayed), (Recovery::Recovered, 0));

    let m = relay.metrics().snapshot();
    assert_eq!((m.resumes, m.resumes_recovered), (2, 2));
    relay.shutdown().await;
}

#[tokio::test]
async fn history_overflow_or_another_epoch_reports_not_recovered() {
    let (cfg, keys) = config(|c| c.history(2, Duration::from_secs(60)));
    let relay = start(cfg).await;
    let url = relay.webhook_url("shop-a");
    let (_ws, hello) = connect(&relay, &keys.a1, "").await;
    for i in 1..=3 {
        post_webhook(&url, SECRET_A, &event_body(&format!("evt_{i}"), "p", i)).await;
    }
    let (mut ws, h) = connect(&relay, &keys.a2, &format!("epoch={}&offset=0", hello.epoch)).await;
    assert_eq!(
        (h.recovery, h.replayed, h.offset),
        (Recovery::NotRecovered, 0, 3)
    );
    // Still a working session: live events flow.
    post_webhook(&url, SECRET_A, &event_body("evt_4", "p", 4)).await;
    assert_eq!(next_event(&mut ws).await.offset, 4);

    let (_ws3, h) = connect(&relay, &keys.a2, &format!("epoch={}&offset=3", hello.epoch)).await;
    assert_eq!(
        (h.recovery, h.replayed),
        (Recovery::Recovered, 1),
        "offset 4 is kept"
    );
    let (_ws4, h) = connect(&relay, &keys.a2, "epoch=someotherepoch&offset=3").await;
    assert_eq!(h.recovery, Recovery::NotRecovered);
    let (_ws5, h) = connect(
        &relay,
        &keys.a2,
        &format!("epoch={}&offset=99", hello.epoch),
    )
    .await;
    assert_eq!(
        h.recovery,
        Recovery::NotRecovered,
        "an offset from the future"
    );
    assert_eq!(relay.metrics().snapshot().resumes_not_recovered, 3);
    relay.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_closed_as_a_slow_consumer() {
    let (cfg, keys) = config(|mut c| {
        c.send_queue = 2;
        c.webhook_body_limit = 60 * 1024;
        c
    });
    let relay = start(cfg).await;
    let (mut slow, _) = connect(&relay, &keys.a1, "").await;
    let (mut fast, _) = connect(&relay, &keys.a2, "").await;
    let url = relay.webhook_url("shop-a");
    let pad = "x".repeat(50 * 1024);
    let mut sent = 0;
    // Posts until the relay gives up on the reader that never reads (bounded).
    while relay.metrics().snapshot().slow_consumers_closed == 0 {
        assert!(sent < 2000, "the slow consumer was never closed");
        sent += 1;
        let body = event_body(&format!("evt_{sent}"), "p", 1).replace("coffee", &pad);
        assert_eq!(post_webhook(&url, SECRET_A, &body).await.status(), 200);
        // The reading terminal keeps up and is never cut off.
        assert_eq!(next_event(&mut fast).await.offset, sent);
    }
    let (code, events) = read_until_close(&mut slow).await;
    assert_eq!(code, Some(close::SLOW_CONSUMER));
    assert!(events < sent as usize, "{events} of {sent}");
    assert_eq!(relay.metrics().snapshot().slow_consumers_closed, 1);
    relay.shutdown().await;
}

#[tokio::test]
async fn heartbeats_arrive_and_a_silent_client_is_closed() {
    let (cfg, keys) =
        config(|c| c.heartbeat(Duration::from_millis(150), Duration::from_millis(250)));
    let relay = start(cfg).await;
    let (mut talker, hello) = connect(&relay, &keys.a1, "").await;
    assert_eq!(
        (hello.heartbeat_interval_ms, hello.heartbeat_timeout_ms),
        (150, 250)
    );
    let (mut silent, _) = connect(&relay, &keys.a2, "").await;

    // The talker answers every ping and outlives several timeouts, meanwhile.
    let talker_task = tokio::spawn(async move {
        let mut last_seq = 0;
        let mut last_time = 0;
        for _ in 0..6 {
            let msg = talker.next().await.unwrap().unwrap();
            let Message::Text(t) = msg else {
                panic!("{msg:?}")
            };
            let ServerMessage::Ping(p) = ServerMessage::from_json(&t).unwrap() else {
                panic!("{t}")
            };
            assert_eq!(p.seq, last_seq + 1);
            assert!(p.server_time_ms >= last_time);
            (last_seq, last_time) = (p.seq, p.server_time_ms);
            let pong = wire::ClientMessage::Pong(wire::Pong { seq: p.seq }).to_json();
            talker.send(Message::Text(pong.into())).await.unwrap();
        }
        talker
    });
    // The silent one reads pings but never answers: closed with 4000.
    let silent_task = tokio::spawn(async move {
        let mut pings = 0;
        loop {
            match silent.next().await {
                Some(Ok(Message::Text(t))) => {
                    assert!(matches!(
                        ServerMessage::from_json(&t),
                        Ok(ServerMessage::Ping(_))
                    ));
                    pings += 1;
                }
                Some(Ok(Message::Close(f))) => return (f.map(|f| code(f.code)), pings),
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    let (closed_with, pings) = tokio::time::timeout(WAIT, silent_task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed_with, Some(close::HEARTBEAT_TIMEOUT));
    assert!(pings >= 1);
    let _talker = tokio::time::timeout(WAIT, talker_task)
        .await
        .unwrap()
        .unwrap();
    let m = relay.metrics().snapshot();
    assert_eq!(m.heartbeat_timeouts, 1);
    assert_eq!(m.connections, 1);
    relay.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_session_with_1012() {
    let (cfg, keys) = config(|c| c);
    let relay = start(cfg).await;
    let mut readers = Vec::new();
    for key in [&keys.a1, &keys.a2, &keys.b1] {
        let (mut ws, _) = connect(&relay, key, "").await;
        readers.push(tokio::spawn(
            async move { read_until_close(&mut ws).await.0 },
        ));
    }
    relay.shutdown().await;
    for r in readers {
        assert_eq!(r.await.unwrap(), Some(close::SERVICE_RESTART));
    }
}

#[tokio::test]
async fn the_connection_cap_answers_503_before_the_upgrade() {
    let (cfg, keys) = config(|mut c| {
        c.max_connections = 1;
        c
    });
    let relay = start(cfg).await;
    let (_ws, _) = connect(&relay, &keys.a1, "").await;
    let t = ticket(&relay, &keys.a2).await;
    let offered = wire::offered_protocols(&t);
    assert_eq!(
        refused_status(open_raw(&relay, Some(&offered), "").await),
        503
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn oversized_or_unknown_client_messages_close_the_session() {
    let (cfg, keys) = config(|c| c);
    let relay = start(cfg).await;
    let (mut ws, _) = connect(&relay, &keys.a1, "").await;
    // A frame larger than the 1 KiB read buffer but under the 4 KiB limit is fine.
    let padded = format!(r#"{{"type":"pong","seq":0,"pad":"{}"}}"#, "p".repeat(3000));
    ws.send(Message::Text(padded.into())).await.unwrap();
    let body = event_body("evt_after_pad", "p", 1);
    assert_eq!(
        post_webhook(&relay.webhook_url("shop-a"), SECRET_A, &body)
            .await
            .status(),
        200
    );
    assert_eq!(next_event(&mut ws).await.event.id, "evt_after_pad");
    ws.send(Message::Text("x".repeat(10_000).into()))
        .await
        .unwrap();
    assert_eq!(read_until_close(&mut ws).await.0, Some(close::TOO_BIG));
    let (mut ws, _) = connect(&relay, &keys.a1, "").await;
    ws.send(Message::Text(r#"{"type":"subscribe"}"#.into()))
        .await
        .unwrap();
    assert_eq!(read_until_close(&mut ws).await.0, Some(close::POLICY));
    let ok = http()
        .get(format!("{}/healthz", relay.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    relay.shutdown().await;
}

#[tokio::test]
async fn silent_or_idle_http_connections_are_closed_after_the_request_timeout() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (cfg, _) = config(|mut c| {
        c.request_timeout = Duration::from_millis(300);
        c
    });
    let relay = start(cfg).await;
    // Connects and never sends a byte.
    let mut silent = tokio::net::TcpStream::connect(relay.local_addr())
        .await
        .unwrap();
    // Sends one request, then idles on the kept-alive connection.
    let mut idle = tokio::net::TcpStream::connect(relay.local_addr())
        .await
        .unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    for sock in [&mut silent, &mut idle] {
        let closed = tokio::time::timeout(WAIT, async {
            loop {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the relay kept a silent connection open");
    }
    relay.shutdown().await;
}

#[tokio::test]
async fn a_webhook_body_that_never_finishes_is_refused_with_408() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (cfg, keys) = config(|mut c| {
        c.request_timeout = Duration::from_millis(300);
        c
    });
    let relay = start(cfg).await;
    let (mut ws, _) = connect(&relay, &keys.a1, "").await;
    let mut slow = tokio::net::TcpStream::connect(relay.local_addr())
        .await
        .unwrap();
    slow.write_all(
        b"POST /webhooks/shop-a HTTP/1.1\r\nHost: relay\r\nContent-Length: 500\r\n\r\n{\"id\":",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(WAIT, slow.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"));
    // Nothing was published: the next event the terminal sees is the next good one.
    let body = event_body("evt_ok", "p", 1);
    assert_eq!(
        post_webhook(&relay.webhook_url("shop-a"), SECRET_A, &body)
            .await
            .status(),
        200
    );
    assert_eq!(next_event(&mut ws).await.event.id, "evt_ok");
    assert_eq!(relay.metrics().snapshot().rejects_for("body_timeout"), 1);
    relay.shutdown().await;
}

#[tokio::test]
async fn sockets_beyond_the_http_connection_cap_are_closed_at_once() {
    use tokio::io::AsyncReadExt as _;
    let (cfg, _) = config(|mut c| {
        c.max_http_connections = 2;
        c
    });
    let relay = start(cfg).await;
    let held_1 = tokio::net::TcpStream::connect(relay.local_addr())
        .await
        .unwrap();
    let held_2 = tokio::net::TcpStream::connect(relay.local_addr())
        .await
        .unwrap();
    // Both are counted before the third arrives.
    tokio::time::timeout(
        WAIT,
        relay.metrics().wait_until(|m| m.http_connections == 2),
    )
    .await
    .unwrap();
    let mut third = tokio::net::TcpStream::connect(relay.local_addr())
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(WAIT, third.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)), "closed without an answer");
    assert_eq!(
        relay
            .metrics()
            .snapshot()
            .rejects_for("http_connection_cap"),
        1
    );
    drop((held_1, held_2));
    relay.shutdown().await;
}

/// A session opened by hand over a raw socket, to send frames no WebSocket library would.
async fn raw_session(
    relay: &paydesk_relay::RelayHandle,
    key: &paydesk_protocol::Secret,
) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let t = ticket(relay, key).await;
    let mut s = tokio::net::TcpStream::connect(relay.local_addr())
        .await
        .unwrap();
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: {}\r\n\r\n",
        wire::WS_PATH,
        wire::offered_protocols(&t)
    );
    s.write_all(req.as_bytes()).await.unwrap();
    // The 101 head, then the hello frame: read up to the end of the hello's JSON.
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, async {
        while !String::from_utf8_lossy(&buf).contains(r#""scope""#) {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed during the handshake");
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("no hello");
    assert!(buf.starts_with(b"HTTP/1.1 101"));
    s
}

/// A masked client frame (mask 0, so the payload goes as is).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

/// Reads server frames until a close frame; its code (`None`: the TCP connection ended
/// without one).
async fn close_code(s: &mut tokio::net::TcpStream) -> Option<u16> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, async {
        loop {
            // Parse complete frames from the front.
            while buf.len() >= 2 {
                let len = (buf[1] & 0x7f) as usize;
                let (len, start) = match len {
                    126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
                    126 | 127 => break,
                    n => (n, 2),
                };
                if buf.len() < start + len {
                    break;
                }
                if buf[0] & 0x0f == 8 {
                    return (len >= 2).then(|| u16::from_be_bytes([buf[start], buf[start + 1]]));
                }
                buf.drain(..start + len);
            }
            let mut chunk = [0u8; 1024];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .expect("the relay neither closed nor answered")
}

#[tokio::test]
async fn frames_that_break_rfc_6455_get_its_close_code_not_a_dropped_connection() {
    use tokio::io::AsyncWriteExt as _;
    let (cfg, keys) = config(|c| c);
    let relay = start(cfg).await;
    let close_with = |code: u16, reason: &[u8]| {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason);
        client_frame(8, &p)
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "text that is not UTF-8",
            client_frame(1, b"{\"type\":\"pong\xff\xfe\"}"),
            1007,
        ),
        (
            "a close reason that is not UTF-8",
            close_with(1000, b"bye\xff"),
            1007,
        ),
        (
            "close code 1005, which no endpoint may send",
            close_with(1005, b""),
            1002,
        ),
        ("close code 999", close_with(999, b""), 1002),
        ("close code 2999 (reserved)", close_with(2999, b""), 1002),
        ("a one-byte close payload", client_frame(8, &[3]), 1002),
        ("an unknown opcode", client_frame(3, b"x"), 1002),
    ];
    for (what, frame, want) in cases {
        let mut s = raw_session(&relay, &keys.a1).await;
        s.write_all(&frame).await.unwrap();
        assert_eq!(close_code(&mut s).await, Some(want), "{what}");
    }
    // A well-formed close still gets its echo, and the server is unharmed.
    let mut s = raw_session(&relay, &keys.a1).await;
    s.write_all(&close_with(1000, b"bye")).await.unwrap();
    assert_eq!(close_code(&mut s).await, Some(1000));
    let (mut ws, _) = connect(&relay, &keys.a1, "").await;
    let body = event_body("evt_ok", "p", 1);
    assert_eq!(
        post_webhook(&relay.webhook_url("shop-a"), SECRET_A, &body)
            .await
            .status(),
        200
    );
    assert_eq!(next_event(&mut ws).await.event.id, "evt_ok");
    relay.shutdown().await;
}
