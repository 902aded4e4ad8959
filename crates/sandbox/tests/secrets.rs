//! The secret key and the webhook secret never reach a log line, an error or a Debug dump,
//! even at TRACE level with every library logging and every error path taken.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::*;
use paydesk_core::clock::ServerClock;
use paydesk_core::gateway::{AuthScheme, Gateway};
use paydesk_core::payment::CreateRefund;
use paydesk_core::secrets::Secret;
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_appears_in_logs_errors_or_debug_output() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut rx = Receiver::start(1).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    let control = Control::new(&sb);
    let mut texts = Vec::new();
    for scheme in [AuthScheme::Basic, AuthScheme::Bearer] {
        let mut config = config(&sb);
        config.auth = scheme;
        texts.push(format!("{config:?}"));
        let gw = Gateway::new(config, ServerClock::new()).unwrap();
        texts.push(format!("{gw:?}"));
        let p = gw.create_payment(&usd(100)).await.unwrap();
        control.pay(&p.id).await;
        control.faults(json!({"fail_next": 1})).await;
        let refund = CreateRefund {
            payment_id: p.id.clone(),
            amount: 10,
            currency: "USD".into(),
            ..Default::default()
        };
        let e = gw.create_refund(&refund).await.unwrap_err();
        texts.push(format!("{e} {e:?} {}", e.cashier_message()));
        let e = gw.retrieve_payment("missing").await.unwrap_err();
        texts.push(format!("{e} {e:?}"));
    }
    let mut wrong = config(&sb);
    wrong.secret_key = Secret::new(format!("{KEY}x"));
    let e = Gateway::new(wrong, ServerClock::new())
        .unwrap()
        .list_payments(&Default::default())
        .await
        .unwrap_err();
    texts.push(format!("{e} {e:?}"));
    rx.next().await;
    texts.push(format!("{sb:?}"));
    sb.shutdown().await;
    rx.stop().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("payment created"), "the capture saw no logs");
    let everything = format!("{logs}\n{}", texts.join("\n"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"));
    for needle in [KEY, basic.as_str(), WHSEC] {
        assert!(!everything.contains(needle), "{needle} leaked");
    }
}
