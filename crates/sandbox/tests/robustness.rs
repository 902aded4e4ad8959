//! Garbage in never takes the sandbox down: every endpoint answers bad bytes with a 4xx in
//! the service's error shape, never a 5xx, a panic or a hang.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::*;
use paydesk_core::payment::ApiErrorBody;
use rand::{Rng, SeedableRng};

fn garbage_bodies() -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = [
        "",
        "{",
        "}",
        "null",
        "[]",
        "[1,2,3]",
        "\"amount\"",
        "12",
        "{\"amount\":}",
        "{\"amount\":\"12\",\"currency\":{}}",
        "{\"amount\":1e400,\"currency\":\"USD\"}",
        "{\"amount\":-1,\"currency\":\"USD\"}",
        "{\"amount\":18446744073709551616000000000000000000000000,\"currency\":\"USD\"}",
        "{\"amount\":100,\"currency\":\"USD\",\"expired_at\":\"tomorrow\"}",
        "{\"amount\":100,\"currency\":\"USD\",\"metadata\":\"[\"}",
        "{\"amount\":100,\"currency\":\"\\ud800\"}",
        "{\"payment_id\":[],\"amount\":1}",
        "{\"delay_ms\":-5}",
        "{\"delay_ms\":99999999999999999999}",
        "{\"latency_ms\":\"x\"}",
        "{\"offset_ms\":9223372036854775807}",
        "{\"url\":\"javascript:alert(1)\"}",
        "amount=&currency=",
        "amount=%ff%fe&currency=USD",
        "amount=1&amount=2&currency=USD",
        "metadata[=1&amount=5&currency=USD",
        "%%%%",
        "a=b=c&&&",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    bodies.push(vec![0xff, 0xfe, 0x00, 0x7b]);
    bodies.push("[".repeat(10_000).into_bytes());
    bodies.push(format!("{{\"description\":\"{}\"}}", "x".repeat(70_000)).into_bytes());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for len in [1, 16, 300, 4096] {
        bodies.push((0..len).map(|_| rng.random()).collect());
    }
    bodies
}

#[tokio::test]
async fn garbage_bodies_get_a_4xx_error_body_never_a_5xx() {
    let sb = start().await;
    let p = gateway(&sb).create_payment(&usd(100)).await.unwrap();
    let http = reqwest::Client::new();
    let paths = [
        "/api/payments".to_owned(),
        "/api/refunds".to_owned(),
        format!("/api/payments/{}/cancel", p.id),
        format!("/sandbox/payments/{}/pay", p.id),
        "/sandbox/faults".to_owned(),
        "/sandbox/clock".to_owned(),
        "/sandbox/webhooks".to_owned(),
    ];
    let content_types = [
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        Some("application/json; charset=\u{0}"),
        None,
    ];
    for body in garbage_bodies() {
        for path in &paths {
            for ct in content_types {
                let mut rb = http
                    .post(format!("{}{path}", sb.base_url()))
                    .bearer_auth(KEY)
                    .body(body.clone());
                if let Some(ct) = ct.filter(|c| !c.contains('\u{0}')) {
                    rb = rb.header("content-type", ct);
                }
                let r = rb.send().await.unwrap();
                let status = r.status();
                let text = r.text().await.unwrap();
                assert!(
                    status.as_u16() < 500,
                    "{path} {ct:?} {:?} -> {status} {text}",
                    String::from_utf8_lossy(&body[..body.len().min(60)])
                );
                if status.is_client_error() {
                    let parsed: Result<ApiErrorBody, _> = serde_json::from_str(&text);
                    assert!(parsed.is_ok(), "{path} -> {status} {text}");
                }
            }
        }
    }
    // Whatever the garbage did, no fault is left on and the sandbox still works.
    Control::new(&sb).clear_faults().await;
    let again = gateway(&sb).retrieve_payment(&p.id).await.unwrap();
    assert_eq!(again.id, p.id);
    sb.shutdown().await;
}

#[tokio::test]
async fn odd_paths_queries_and_headers_are_refused_cleanly() {
    let sb = start().await;
    let http = reqwest::Client::new();
    let api = sb.api_url();
    let cases: Vec<(String, Option<&str>)> = vec![
        (
            format!("{api}/payments/%ff%fe"),
            Some("Bearer sk_test_contract"),
        ),
        (
            format!("{api}/payments/{}", "a".repeat(5000)),
            Some("Bearer sk_test_contract"),
        ),
        (
            format!("{api}/payments?limit=-1"),
            Some("Bearer sk_test_contract"),
        ),
        (
            format!("{api}/payments?limit=abc"),
            Some("Bearer sk_test_contract"),
        ),
        (
            format!("{api}/payments?starting_after=zzz"),
            Some("Bearer sk_test_contract"),
        ),
        (format!("{api}/payments"), Some("Basic ###")),
        (format!("{api}/payments"), Some("Basic")),
        (format!("{api}/payments"), Some("Bearer")),
        (format!("{api}/payments"), Some("Digest x")),
        (format!("{}/checkout/nope", sb.base_url()), None),
    ];
    for (url, auth) in cases {
        let mut rb = http.get(&url);
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(
            status.is_client_error(),
            "{url} {auth:?} -> {status} {text}"
        );
        assert!(
            serde_json::from_str::<ApiErrorBody>(&text).is_ok(),
            "{url} -> {text}"
        );
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn a_stalled_client_neither_holds_a_handler_nor_blocks_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sb = start().await;
    let addr = sb.base_url().trim_start_matches("http://").to_owned();
    // Headers promise a body that never comes.
    let mut stalled_body = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stalled_body
        .write_all(
            format!(
                "POST /api/payments HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"amount\""
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // Half a request line, never finished.
    let mut stalled_head = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stalled_head.write_all(b"GET /api/pay").await.unwrap();
    // An idle keep-alive connection.
    let _idle = tokio::net::TcpStream::connect(&addr).await.unwrap();

    tokio::time::timeout(PATIENCE, sb.shutdown())
        .await
        .expect("shutdown waited on stalled connections");
    // The stalled ones were closed, not left hanging.
    let mut buf = Vec::new();
    tokio::time::timeout(PATIENCE, stalled_head.read_to_end(&mut buf))
        .await
        .expect("the stalled connection was left open")
        .ok();
}
