//! The gateway against a scripted HTTP server: answers the sandbox never gives (a
//! Retry-After date, a 405 on cancel, an oversized body), checked byte for byte.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const KEY: &str = "sk_test_scripted";

/// Serves the given raw responses in order, one per connection, and records each
/// request's first line.
struct Scripted {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Scripted {
    async fn start(responses: Vec<String>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/api", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let mut queue: VecDeque<String> = responses.into();
        let task = tokio::spawn(async move {
            while let Some(response) = queue.pop_front() {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // The head, then as much body as it announces.
                let head_end = loop {
                    let n = stream.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "client closed before sending a request");
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    let n = stream.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                log.lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or("").to_owned());
                stream.write_all(response.as_bytes()).await.unwrap();
                stream.shutdown().await.ok();
            }
        });
        Scripted { base, seen, task }
    }

    fn gateway(&self) -> Gateway {
        let mut config = GatewayConfig::new(self.base.clone(), Secret::new(KEY));
        config.backoff_base = Duration::from_millis(1);
        config.backoff_cap = Duration::from_millis(5);
        Gateway::new(config, ServerClock::new()).unwrap()
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn response(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

fn payment_json(status: &str) -> String {
    format!(r#"{{"id":"p1","amount":100,"currency":"USD","status":"{status}","order_id":"o1"}}"#)
}

#[tokio::test]
async fn a_retry_after_date_is_read_on_the_servers_clock() {
    // The server says it is T and asks to come back at T+1 s: the client waits about half
    // a second (Date truncates to the second), whatever the till's own clock says.
    let now = std::time::SystemTime::now() + Duration::from_secs(3600);
    let date = httpdate::fmt_http_date(now);
    let later = httpdate::fmt_http_date(now + Duration::from_secs(1));
    let server = Scripted::start(vec![
        response(
            "429 Too Many Requests",
            &[("date", &date), ("retry-after", &later)],
            "",
        ),
        response(
            "200 OK",
            &[("content-type", "application/json")],
            &payment_json("pending"),
        ),
    ])
    .await;
    let gw = server.gateway();
    let started = std::time::Instant::now();
    let p = gw.retrieve_payment("p1").await.unwrap();
    assert_eq!(p.id, "p1");
    assert_eq!(server.seen().len(), 2);
    // Honoured, not ignored: a 1 ms backoff would have come back at once.
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    // And the till learned it runs an hour behind.
    let offset = gw.clock().offset_ms();
    assert!((offset - 3_600_000).abs() < 2_000, "{offset}");
    server.task.await.unwrap();
}

#[tokio::test]
async fn cancel_falls_back_to_get_when_the_service_refuses_post() {
    let server = Scripted::start(vec![
        response("405 Method Not Allowed", &[], ""),
        response("200 OK", &[], &payment_json("cancelled")),
    ])
    .await;
    let p = server.gateway().cancel_payment("p1").await.unwrap();
    assert_eq!(p.status, PaymentStatus::Cancelled);
    assert_eq!(
        server.seen(),
        [
            "POST /api/payments/p1/cancel HTTP/1.1",
            "GET /api/payments/p1/cancel HTTP/1.1"
        ]
    );
    server.task.await.unwrap();
}

#[tokio::test]
async fn an_oversized_answer_is_refused_unread() {
    let server = Scripted::start(vec![format!(
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        MAX_RESPONSE_BYTES + 1
    )])
    .await;
    let mut config = GatewayConfig::new(server.base.clone(), Secret::new(KEY));
    config.max_attempts = 1;
    let gw = Gateway::new(config, ServerClock::new()).unwrap();
    let err = gw.retrieve_payment("p1").await.unwrap_err();
    assert_eq!(err, GatewayError::Decode("the answer is too large".into()));
    server.task.await.unwrap();
}

#[tokio::test]
async fn a_garbled_create_answer_is_reconciled_not_trusted() {
    // The service committed but the answer is unreadable: the order is looked up.
    let list = format!(
        r#"{{"data":[{}],"has_more":false}}"#,
        payment_json("pending")
    );
    let server = Scripted::start(vec![
        response("200 OK", &[], "{\"id\":"),
        response("200 OK", &[], &list),
    ])
    .await;
    let req = CreatePayment {
        amount: 100,
        currency: "USD".into(),
        order_id: Some("o1".into()),
        ..Default::default()
    };
    let p = server.gateway().create_payment(&req).await.unwrap();
    assert_eq!(p.id, "p1");
    let seen = server.seen();
    assert_eq!(seen[0], "POST /api/payments HTTP/1.1");
    assert!(
        seen[1].starts_with("GET /api/payments?order_id=o1&limit=100"),
        "{seen:?}"
    );
    server.task.await.unwrap();
}

#[tokio::test]
async fn ids_are_escaped_into_one_path_segment() {
    let server = Scripted::start(vec![response("404 Not Found", &[], "")]).await;
    let err = server
        .gateway()
        .retrieve_payment("../refunds?x=1")
        .await
        .unwrap_err();
    assert_eq!(err, GatewayError::NotFound);
    assert_eq!(
        server.seen(),
        ["GET /api/payments/..%2Frefunds%3Fx=1 HTTP/1.1"]
    );
    server.task.await.unwrap();
}
