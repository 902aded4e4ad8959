//! Webhooks from the sandbox to a real receiver: signed as Crypto.com Pay signs them,
//! in order, retried when the receiver fails, lost or late when a fault says so.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use std::time::Instant;

use common::*;
use hmac::{Hmac, Mac};
use paydesk_core::payment::{
    CreateRefund, EventObject, WebhookEvent, EVENT_PAYMENT_CAPTURED, EVENT_PAYMENT_CREATED,
    EVENT_REFUND_REQUESTED, EVENT_REFUND_TRANSFERRED,
};
use paydesk_core::signature;
use serde_json::json;
use sha2::Sha256;

fn now() -> i64 {
    paydesk_core::clock::local_now_ms() / 1000
}

/// HMAC-SHA256 written out here rather than through `signature`, so a bug there cannot
/// hide by agreeing with itself.
fn by_hand(secret: &str, t: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn the_signature_matches_a_vector_computed_with_openssl() {
    // printf '%s' '1700000000.{"id":"evt_1","type":"payment.captured"}' \
    //   | openssl dgst -sha256 -hmac whsec_contract
    let body = br#"{"id":"evt_1","type":"payment.captured"}"#;
    let expected = "3cd9ca43807650fc72c45f84027725b594aa730dbcaf564602f2edf5dc715d16";
    assert_eq!(by_hand(WHSEC, "1700000000", body), expected);
    assert_eq!(
        signature::sign(WHSEC.as_bytes(), 1_700_000_000, body),
        format!("t=1700000000,v1={expected}")
    );
}

#[tokio::test]
async fn every_event_arrives_signed_and_in_order() {
    let mut rx = Receiver::start(0).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(1000)).await.unwrap();
    Control::new(&sb).pay(&p.id).await;
    gw.create_refund(&CreateRefund {
        payment_id: p.id.clone(),
        amount: 250,
        currency: "USD".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    let mut ids = Vec::new();
    for kind in [
        EVENT_PAYMENT_CREATED,
        EVENT_PAYMENT_CAPTURED,
        EVENT_REFUND_REQUESTED,
        EVENT_REFUND_TRANSFERRED,
    ] {
        let got = rx.next().await;
        let header = got.signature.clone().expect("Pay-Signature header");
        // The relay's check: right secret, fresh timestamp.
        signature::verify(
            &[WHSEC.as_bytes()],
            Some(&header),
            &got.body,
            now(),
            signature::DEFAULT_TOLERANCE_SECS,
        )
        .unwrap();
        assert!(
            signature::verify(&[b"whsec_other"], Some(&header), &got.body, now(), 300).is_err()
        );
        // And by hand.
        let (t, v1) = header
            .strip_prefix("t=")
            .and_then(|rest| rest.split_once(",v1="))
            .unwrap();
        assert_eq!(v1, by_hand(WHSEC, t, &got.body));

        let event = WebhookEvent::from_json(&got.body).unwrap();
        assert_eq!(event.kind, kind);
        // A uuid, as nopCommerce's plugin parses it.
        assert!(uuid::Uuid::parse_str(&event.id).is_ok(), "{}", event.id);
        assert_eq!(got.json()["object_type"], event.object_type());
        assert!(event.created > 0);
        assert_eq!(event.payment_id(), p.id);
        match (&event.data.object, kind) {
            (EventObject::Payment(obj), EVENT_PAYMENT_CAPTURED) => {
                assert!(obj.is_paid() && obj.captured)
            }
            (EventObject::Payment(obj), EVENT_PAYMENT_CREATED) => assert!(!obj.is_paid()),
            (EventObject::Refund(r), _) => assert_eq!(r.amount, 250),
            (other, _) => panic!("{kind} carried {other:?}"),
        }
        ids.push(event.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 4, "every event has its own id");
    sb.shutdown().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_failing_receiver_gets_the_same_event_again() {
    let mut rx = Receiver::start(2).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    let p = gateway(&sb).create_payment(&usd(100)).await.unwrap();
    let got = rx.next_of(EVENT_PAYMENT_CREATED).await;
    assert_eq!(got.json()["data"]["object"]["id"], p.id.as_str());
    assert_eq!(rx.attempts.load(std::sync::atomic::Ordering::SeqCst), 3);
    // The sandbox counts the success once the receiver's answer is back: wait for it.
    let control = Control::new(&sb);
    let stats = tokio::time::timeout(PATIENCE, async {
        loop {
            let s = control.stats().await;
            if s.webhooks_delivered == 1 {
                return s;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the delivery was never counted");
    assert_eq!(stats.webhook_attempts_failed, 2);
    sb.shutdown().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_dropped_webhook_never_arrives_and_the_next_one_does() {
    let mut rx = Receiver::start(0).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    let control = Control::new(&sb);
    let gw = gateway(&sb);
    control.faults(json!({"drop_webhooks": 1})).await;
    let lost = gw.create_payment(&usd(100)).await.unwrap();
    let kept = gw.create_payment(&usd(200)).await.unwrap();
    let got = rx.next().await;
    assert_eq!(got.json()["data"]["object"]["id"], kept.id.as_str());
    assert_ne!(lost.id, kept.id);
    assert_eq!(control.stats().await.webhooks_dropped, 1);
    sb.shutdown().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_delayed_webhook_arrives_late() {
    let mut rx = Receiver::start(0).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    Control::new(&sb)
        .faults(json!({"webhook_delay_ms": 300}))
        .await;
    let sent = Instant::now();
    gateway(&sb).create_payment(&usd(100)).await.unwrap();
    rx.next_of(EVENT_PAYMENT_CREATED).await;
    assert!(sent.elapsed().as_millis() >= 300);
    sb.shutdown().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_webhook_url_added_at_run_time_receives_later_events() {
    let sb = start().await;
    let gw = gateway(&sb);
    gw.create_payment(&usd(100)).await.unwrap();
    let mut rx = Receiver::start(0).await;
    sb.add_webhook_url(rx.url.clone()).unwrap();
    assert!(sb.add_webhook_url("not a url").is_err());
    let p = gw.create_payment(&usd(200)).await.unwrap();
    let got = rx.next().await;
    assert_eq!(got.json()["data"]["object"]["id"], p.id.as_str());
    sb.shutdown().await;
    rx.stop().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_receiver_that_never_answers_yes() {
    let rx = Receiver::start(u32::MAX).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    let gw = gateway(&sb);
    for i in 0..5 {
        gw.create_payment(&usd(100 + i)).await.unwrap();
    }
    tokio::time::timeout(PATIENCE, sb.shutdown())
        .await
        .expect("shutdown hung on pending webhook retries");
    rx.stop().await;
}

#[tokio::test]
async fn a_duplicated_webhook_arrives_twice_with_the_same_id() {
    let mut rx = Receiver::start(0).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    Control::new(&sb)
        .faults(json!({"duplicate_webhooks": 1}))
        .await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    let q = gw.create_payment(&usd(200)).await.unwrap();
    let first = rx.next().await.json();
    let second = rx.next().await.json();
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["data"]["object"]["id"], p.id.as_str());
    let third = rx.next().await.json();
    assert_eq!(third["data"]["object"]["id"], q.id.as_str());
    sb.shutdown().await;
    rx.stop().await;
}
