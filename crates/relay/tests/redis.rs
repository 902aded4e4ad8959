//! Two relay instances on one real `redis-server` (started here, on a free port, without
//! persistence, and killed at the end): events, tickets, replay memory and resume are
//! shared, so a terminal may land on either instance.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use paydesk_protocol::wire::{self, Recovery};
use paydesk_relay::{RelayConfig, RelayHandle};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// A private redis-server; killed when dropped.
struct RedisServer {
    child: Child,
    url: String,
    port: u16,
}

async fn redis_server() -> RedisServer {
    // A free port: bind, read it, release it for redis-server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    redis_server_on(port).await
}

async fn redis_server_on(port: u16) -> RedisServer {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server is installed (/usr/bin/redis-server)");
    // Ready when it says so: no polling, no sleeping.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("Ready to accept connections") {
                return;
            }
        }
        panic!("redis-server exited before it was ready");
    })
    .await
    .expect("redis-server did not start");
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    RedisServer {
        child,
        url: format!("redis://127.0.0.1:{port}/"),
        port,
    }
}

/// The same merchants and terminals on two instances sharing `redis`.
async fn two_relays(redis: &RedisServer, history: usize) -> (RelayHandle, RelayHandle, Keys) {
    let (base, keys) = config(|c| c.history(history, Duration::from_secs(600)));
    let shared = |c: &RelayConfig| RelayConfig {
        backend: paydesk_relay::BackendConfig::Redis {
            url: redis.url.as_str().into(),
        },
        ..c.clone()
    };
    let a = start(shared(&base)).await;
    let b = start(shared(&base)).await;
    (a, b, keys)
}

#[tokio::test]
async fn two_instances_share_events_tickets_replays_and_resume() {
    let redis = redis_server().await;
    let (a, b, keys) = two_relays(&redis, 100).await;

    // A ticket from A opens a session on B; instances agree on the epoch.
    let t = ticket(&a, &keys.a1).await;
    let (mut on_b, res) = open_raw(&b, Some(&wire::offered_protocols(&t)), "")
        .await
        .unwrap();
    assert_eq!(
        res.headers().get("sec-websocket-protocol").unwrap(),
        "paydesk.v1"
    );
    let hello_b = match next(&mut on_b).await {
        wire::ServerMessage::Hello(h) => h,
        other => panic!("{other:?}"),
    };
    // Spent on B, so A refuses it too.
    assert_eq!(
        refused_status(open_raw(&a, Some(&wire::offered_protocols(&t)), "").await),
        401
    );
    let (mut on_a, hello_a) = connect(&a, &keys.a2, "").await;
    let (mut other_merchant, _) = connect(&a, &keys.b1, "").await;
    assert_eq!(hello_a.epoch, hello_b.epoch);
    assert_eq!(hello_a.recovery, Recovery::Fresh);

    // A webhook received by A reaches the terminal on B, and the one on A.
    let body = event_body("evt_1", "pay_1", 100_000_000_000_000_000_000);
    assert_eq!(
        post_webhook(&a.webhook_url("shop-a"), SECRET_A, &body)
            .await
            .status(),
        200
    );
    let e = next_event(&mut on_b).await;
    assert_eq!((e.offset, e.event.id.as_str()), (1, "evt_1"));
    assert_eq!(e.event.payment_id(), "pay_1");
    assert_eq!(next_event(&mut on_a).await.offset, 1);

    // The same event again at B is not stored twice: the replay memory is shared, and
    // the repeat is acknowledged with where the first copy went.
    let again = post_webhook(&b.webhook_url("shop-a"), SECRET_A, &body).await;
    assert_eq!(again.status(), 200);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(
        (again["duplicate"].as_bool(), again["offset"].as_u64()),
        (Some(true), Some(1))
    );

    // The terminal on B drops; events arrive through both instances meanwhile.
    drop(on_b);
    for (i, relay) in [(2, &a), (3, &b), (4, &a)] {
        let body = event_body(&format!("evt_{i}"), "p", i);
        let r = post_webhook(&relay.webhook_url("shop-a"), SECRET_A, &body).await;
        assert_eq!(r.status(), 200);
    }
    // It comes back on A and resumes from offset 1: exactly 2, 3, 4, in order.
    let query = format!("epoch={}&offset=1", hello_b.epoch);
    let (mut back, h) = connect(&a, &keys.a1, &query).await;
    assert_eq!(
        (h.recovery, h.offset, h.replayed),
        (Recovery::Recovered, 4, 3)
    );
    for want in 2..=4u64 {
        let e = next_event(&mut back).await;
        assert_eq!(
            (e.offset, e.event.id.clone()),
            (want, format!("evt_{want}"))
        );
    }
    // Then live, from either instance, without duplicates.
    post_webhook(
        &b.webhook_url("shop-a"),
        SECRET_A,
        &event_body("evt_5", "p", 5),
    )
    .await;
    assert_eq!(next_event(&mut back).await.offset, 5);
    for want in 2..=5u64 {
        assert_eq!(next_event(&mut on_a).await.offset, want);
    }

    // The other merchant saw none of it: its first event is its own.
    post_webhook(
        &b.webhook_url("shop-b"),
        SECRET_B,
        &event_body("evt_b", "pb", 1),
    )
    .await;
    let e = next_event(&mut other_merchant).await;
    assert_eq!((e.offset, e.event.id.as_str()), (1, "evt_b"));

    // Shutdown of one instance leaves the other serving.
    a.shutdown().await;
    let (mut again, h) = connect(&b, &keys.a1, &format!("epoch={}&offset=5", h.epoch)).await;
    assert_eq!((h.recovery, h.replayed), (Recovery::Recovered, 0));
    post_webhook(
        &b.webhook_url("shop-a"),
        SECRET_A,
        &event_body("evt_6", "p", 6),
    )
    .await;
    assert_eq!(next_event(&mut again).await.offset, 6);
    b.shutdown().await;
}

#[tokio::test]
async fn redis_history_overflow_reports_not_recovered_on_every_instance() {
    let redis = redis_server().await;
    let (a, b, keys) = two_relays(&redis, 2).await;
    let (_ws, hello) = connect(&a, &keys.a1, "").await;
    for i in 1..=3 {
        let body = event_body(&format!("evt_{i}"), "p", i);
        assert_eq!(
            post_webhook(&a.webhook_url("shop-a"), SECRET_A, &body)
                .await
                .status(),
            200
        );
    }
    for relay in [&a, &b] {
        let (_ws, h) = connect(relay, &keys.a2, &format!("epoch={}&offset=0", hello.epoch)).await;
        assert_eq!(
            (h.recovery, h.replayed, h.offset),
            (Recovery::NotRecovered, 0, 3)
        );
        let (_ws, h) = connect(relay, &keys.a2, &format!("epoch={}&offset=1", hello.epoch)).await;
        assert_eq!((h.recovery, h.replayed), (Recovery::Recovered, 2));
        let (_ws, h) = connect(relay, &keys.a2, "epoch=0000&offset=1").await;
        assert_eq!(h.recovery, Recovery::NotRecovered);
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn losing_redis_refuses_webhooks_then_a_new_epoch_tells_terminals_to_resync() {
    let mut redis = redis_server().await;
    let (base, keys) = config(|c| c);
    let relay = start(RelayConfig {
        backend: paydesk_relay::BackendConfig::Redis {
            url: redis.url.as_str().into(),
        },
        ..base
    })
    .await;
    let url = relay.webhook_url("shop-a");
    let (mut ws, hello) = connect(&relay, &keys.a1, "").await;
    let body = event_body("evt_1", "p", 1);
    assert_eq!(post_webhook(&url, SECRET_A, &body).await.status(), 200);
    assert_eq!(next_event(&mut ws).await.offset, 1);

    // Redis dies (and, without persistence, forgets everything).
    redis.child.kill().await.unwrap();
    let res = post_webhook(&url, SECRET_A, &event_body("evt_2", "p", 2)).await;
    assert_eq!(res.status(), 503, "the sender must retry, nothing is lost");
    assert!(
        relay
            .metrics()
            .snapshot()
            .rejects_for("backend_unavailable")
            >= 1
    );

    // It comes back empty on the same port; the sender's retry is accepted.
    let _redis = redis_server_on(redis.port).await;
    let mut accepted = false;
    for _ in 0..20 {
        let r = post_webhook(&url, SECRET_A, &event_body("evt_2", "p", 2)).await;
        if r.status() == 200 {
            accepted = true;
            break;
        }
        assert_eq!(r.status(), 503);
    }
    assert!(accepted, "the retried webhook was never accepted");
    // The open session gets it, marked with the new epoch: resync.
    let e = next_event(&mut ws).await;
    assert_eq!((e.offset, e.event.id.as_str()), (1, "evt_2"));
    assert_ne!(e.epoch, hello.epoch);
    // And resuming from the old epoch says so plainly.
    let (_ws, h) = connect(&relay, &keys.a2, &format!("epoch={}&offset=1", hello.epoch)).await;
    assert_eq!(h.recovery, Recovery::NotRecovered);
    assert_eq!(h.epoch, e.epoch);
    relay.shutdown().await;
}

#[tokio::test]
async fn routing_and_a_tills_resume_hold_across_instances() {
    let redis = redis_server().await;
    let (a, b, keys) = two_relays(&redis, 4).await;
    let (mut till_1, h1) = connect(&b, &keys.t1, "").await;
    let (mut till_2, h2) = connect(&a, &keys.t2, "").await;
    let (mut office, _) = connect(&a, &keys.a1, "").await;
    let (t1, t2) = (h1.terminal_id.clone(), h2.terminal_id.clone());
    let post = |relay: &RelayHandle, body: String| {
        let url = relay.webhook_url("shop-a");
        async move { assert_eq!(post_webhook(&url, SECRET_A, &body).await.status(), 200) }
    };

    // Till-1's payment arrives at A and reaches till-1 on B; its refund, arriving at B,
    // follows it there too (the payment's till is remembered in Redis).
    post(&a, till_event_body("e1", "payment.created", "p1", &t1)).await;
    post(&b, till_event_body("e2", "payment.created", "p2", &t2)).await;
    post(&b, refund_body("e3", "p1")).await;
    post(&a, event_body("e4", "p_web", 5)).await;
    post(&a, till_event_body("e5", "payment.captured", "p2", &t2)).await;
    let got = |e: wire::EventMessage| (e.offset, e.event.id, e.till_prev);
    assert_eq!(
        got(next_event(&mut till_1).await),
        (1, "e1".into(), Some(0))
    );
    assert_eq!(
        got(next_event(&mut till_1).await),
        (3, "e3".into(), Some(1))
    );
    assert_eq!(
        got(next_event(&mut till_2).await),
        (2, "e2".into(), Some(0))
    );
    assert_eq!(
        got(next_event(&mut till_2).await),
        (5, "e5".into(), Some(2))
    );
    for want in 1..=5u64 {
        assert_eq!(next_event(&mut office).await.offset, want);
    }

    // Till-1 drops; its events 6 and 8 among till-2's; it resumes on A with exactly those.
    drop(till_1);
    post(&a, till_event_body("e6", "payment.created", "p6", &t1)).await;
    post(&b, till_event_body("e7", "payment.created", "p7", &t2)).await;
    post(&b, till_event_body("e8", "payment.captured", "p6", &t1)).await;
    let (mut back, h) = connect(&a, &keys.t1, &format!("epoch={}&offset=3", h1.epoch)).await;
    assert_eq!((h.recovery, h.replayed), (Recovery::Recovered, 2));
    assert_eq!(got(next_event(&mut back).await), (6, "e6".into(), Some(3)));
    assert_eq!(got(next_event(&mut back).await), (8, "e8".into(), Some(6)));

    // Till-2's traffic pushes till-1's events out of the 4-event history: resuming from
    // its last event, till-1 is up to date on either instance; from before, it resyncs.
    drop(back);
    for i in 9..=16 {
        post(
            &b,
            till_event_body(&format!("e{i}"), "payment.created", &format!("p{i}"), &t2),
        )
        .await;
    }
    for relay in [&a, &b] {
        let (_ws, h) = connect(relay, &keys.t1, &format!("epoch={}&offset=8", h1.epoch)).await;
        assert_eq!(
            (h.recovery, h.replayed, h.offset),
            (Recovery::Recovered, 0, 16)
        );
        let (_ws, h) = connect(relay, &keys.t1, &format!("epoch={}&offset=5", h1.epoch)).await;
        assert_eq!(h.recovery, Recovery::NotRecovered);
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// `kill -<signal> <pid>`.
fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

#[tokio::test]
async fn a_webhook_refused_during_a_redis_stall_is_accepted_on_retry_and_pushed_once() {
    let redis = redis_server().await;
    let (base, keys) = config(|c| c);
    let relay = start(RelayConfig {
        backend: paydesk_relay::BackendConfig::Redis {
            url: redis.url.as_str().into(),
        },
        ..base
    })
    .await;
    let url = relay.webhook_url("shop-a");
    let (mut till, hello) = connect(&relay, &keys.t1, "").await;
    let body = till_event_body("evt_stalled", "payment.captured", "p1", &hello.terminal_id);

    // Redis freezes (SIGSTOP): the relay gives up on it and answers 503, but the command it
    // sent waits in Redis's socket buffer and runs when Redis resumes.
    let pid = redis.child.id().unwrap();
    signal(pid, "-STOP");
    let slow = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let stalled = slow
        .post(&url)
        .header(
            paydesk_protocol::signature::HEADER,
            paydesk_protocol::signature::sign(SECRET_A.as_bytes(), now_unix(), body.as_bytes()),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stalled.status(), 503);
    signal(pid, "-CONT");

    // Crypto.com Pay retries: accepted (stored now, or acknowledged as the copy the stalled
    // command stored), never refused as a replay.
    let mut retry = post_webhook(&url, SECRET_A, &body).await;
    for _ in 0..20 {
        if retry.status() != 503 {
            break;
        }
        // The relay's connection to Redis may still be reconnecting.
        retry = post_webhook(&url, SECRET_A, &body).await;
    }
    assert_eq!(retry.status(), 200);
    let answer: serde_json::Value = retry.json().await.unwrap();
    assert_eq!(answer["offset"], 1, "{answer}");

    // The till gets it exactly once: the next event after it is the next webhook's.
    let first = tokio::time::timeout(std::time::Duration::from_secs(60), next_event(&mut till))
        .await
        .expect("the stalled event never arrived");
    assert_eq!((first.offset, first.event.id.as_str()), (1, "evt_stalled"));
    let next_body = till_event_body("evt_after", "payment.captured", "p2", &hello.terminal_id);
    assert_eq!(post_webhook(&url, SECRET_A, &next_body).await.status(), 200);
    let e = next_event(&mut till).await;
    assert_eq!(
        (e.offset, e.event.id.as_str(), e.till_prev),
        (2, "evt_after", Some(1))
    );
    relay.shutdown().await;
}
