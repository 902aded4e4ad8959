//! The sandbox behaves as Crypto.com Pay really does (brief, "Re-checked facts"): expiry
//! is a flag on a pending payment, refunds take time (and wait for the customer after an
//! on-chain payment), late or short funds leave a payment unresolved, events name their
//! `object_type`, and the Payment object has every field of the live one. Over real HTTP
//! on loopback, through the gateway client where a till would call it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use paydesk_core::gateway::GatewayError;
use paydesk_core::payment::{
    CreateRefund, EventObject, PaymentStatus, RefundStatus, WebhookEvent, EVENT_PAYMENT_CREATED,
    EVENT_PAYMENT_FULFILL, EVENT_REFUND_REQUESTED, EVENT_REFUND_TRANSFERRED,
};
use paydesk_sandbox::{Payer, SandboxHandle};
use serde_json::{json, Value};

const LIVE_SAMPLE: &str = include_str!("../../protocol/tests/fixtures/payment-live-sample.json");

/// The payment as the API writes it, every field.
async fn raw_payment(sb: &SandboxHandle, id: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{}/payments/{id}", sb.api_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn refund(payment_id: &str, amount: i128) -> CreateRefund {
    CreateRefund {
        payment_id: payment_id.to_owned(),
        amount,
        currency: "USD".into(),
        reason: Some("requested_by_customer".into()),
        description: Some("broken cup".into()),
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// The next event, which must be of `kind`: proves nothing else was sent before it.
async fn next_must_be(rx: &mut Receiver, kind: &str) -> Value {
    let got = rx.next().await.json();
    assert_eq!(got["type"], kind, "{got}");
    got
}

#[tokio::test]
async fn expiry_is_a_flag_on_a_pending_payment_never_a_status() {
    let sb = start_with(|c| c.time_window = Duration::from_secs(60)).await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    Control::new(&sb).skew_clock(61_000).await;

    let raw = raw_payment(&sb, &p.id).await;
    assert_eq!(
        (&raw["status"], &raw["expired"]),
        (&json!("pending"), &json!(true))
    );
    assert_eq!(raw["remaining_time"], "0:00");
    let read = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!(read.status, PaymentStatus::Pending);
    assert_eq!(read.effective_status(), PaymentStatus::Expired);
    let listed = gw
        .find_by_order_id(p.order_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (listed.status, listed.expired),
        (PaymentStatus::Pending, true)
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn the_legacy_expired_status_is_served_when_configured() {
    let sb = start_with(|c| c.expired_status = true).await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    let (status, body) = Control::new(&sb)
        .post(&format!("/payments/{}/expire", p.id), Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["status"], &body["expired"]),
        (&json!("expired"), &json!(true))
    );
    let read = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!(read.effective_status(), PaymentStatus::Expired);
    sb.shutdown().await;
}

#[tokio::test]
async fn an_empty_or_null_pay_body_pays_in_the_app() {
    let sb = start().await;
    let gw = gateway(&sb);
    let http = reqwest::Client::new();
    for body in [None, Some("null"), Some("{}")] {
        let p = gw.create_payment(&usd(100)).await.unwrap();
        let mut rb = http.post(format!("{}/sandbox/payments/{}/pay", sb.base_url(), p.id));
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 200, "{body:?}");
        let paid: Value = r.json().await.unwrap();
        assert_eq!(paid["status"], "succeeded");
        assert_eq!(paid["payment_source"], "Crypto.com App");
        assert_eq!(paid["current_inbound_fund"], Value::Null);
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn an_app_payments_refund_is_requested_then_transferred_soon() {
    let mut rx = Receiver::start(0).await;
    let url = rx.url.clone();
    let sb = start_with(|c| {
        c.webhook_urls = vec![url];
        c.app_refund_delay = Duration::from_millis(100);
    })
    .await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(1000)).await.unwrap();
    Control::new(&sb).pay(&p.id).await;
    let r = gw.create_refund(&refund(&p.id, 250)).await.unwrap();
    assert_eq!((r.amount, r.status.clone()), (250, RefundStatus::Pending));

    next_must_be(&mut rx, EVENT_PAYMENT_CREATED).await;
    next_must_be(&mut rx, "payment.captured").await;
    let requested = next_must_be(&mut rx, EVENT_REFUND_REQUESTED).await;
    let transferred = next_must_be(&mut rx, EVENT_REFUND_TRANSFERRED).await;
    for (event, status) in [(&requested, "pending"), (&transferred, "succeeded")] {
        assert_eq!(event["object_type"], "refund");
        let object = &event["data"]["object"];
        for field in [
            "id",
            "status",
            "payment_id",
            "amount",
            "currency",
            "reason",
            "description",
        ] {
            assert!(object.get(field).is_some(), "{field} missing from {object}");
        }
        assert_eq!(
            (&object["id"], &object["status"]),
            (&json!(r.id), &json!(status))
        );
        assert_eq!(object["reason"], "requested_by_customer");
    }
    // The transfer is in the payment by the time its event left.
    let after = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!((after.amount_refunded, after.refunded), (250, false));
    let (_, read) = Control::new(&sb).get(&format!("/refunds/{}", r.id)).await;
    assert_eq!(read["status"], "succeeded");
    sb.shutdown().await;
    rx.stop().await;
}

#[tokio::test]
async fn an_onchain_payments_refund_stays_pending_until_the_customer_answers() {
    let mut rx = Receiver::start(0).await;
    let url = rx.url.clone();
    // Even with no App refund delay: an on-chain refund waits for the customer.
    let sb = start_with(|c| {
        c.webhook_urls = vec![url];
        c.app_refund_delay = Duration::ZERO;
    })
    .await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    let p = gw.create_payment(&usd(1000)).await.unwrap();
    let (status, paid) = control.pay_with(&p.id, json!({"method": "onchain"})).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(paid["payment_source"], "External Wallets");
    assert_eq!(paid["current_inbound_fund"]["status"], "captured");
    assert_eq!(
        paid["current_inbound_fund"]["mismatched_reason"],
        Value::Null
    );
    assert_eq!(
        paid["customer_provided_info"]["email"],
        "customer@example.com"
    );
    next_must_be(&mut rx, EVENT_PAYMENT_CREATED).await;
    next_must_be(&mut rx, "payment.captured").await;

    let first = gw.create_refund(&refund(&p.id, 400)).await.unwrap();
    assert_eq!(first.status, RefundStatus::Pending);
    next_must_be(&mut rx, EVENT_REFUND_REQUESTED).await;
    let held = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!((held.amount_refunded, held.refunded), (0, false));
    // The pending 400 is held: 601 is more than is left.
    let err = gw.create_refund(&refund(&p.id, 601)).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Api { status: 400, param: Some(param), .. } if param == "amount"),
        "{err:?}"
    );
    // Nothing was transferred meanwhile: the next event is the one asked for now.
    control
        .post(&format!("/payments/{}/fulfill", p.id), Value::Null)
        .await;
    next_must_be(&mut rx, EVENT_PAYMENT_FULFILL).await;
    let (_, read) = control.get(&format!("/refunds/{}", first.id)).await;
    assert_eq!(read["status"], "pending");

    let (status, done) = control
        .post(&format!("/refunds/{}/transfer", first.id), Value::Null)
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "succeeded");
    let transferred = next_must_be(&mut rx, EVENT_REFUND_TRANSFERRED).await;
    assert_eq!(transferred["data"]["object"]["id"], first.id.as_str());
    let part = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!((part.amount_refunded, part.refunded), (400, false));

    let (status, again) = control
        .post(&format!("/refunds/{}/transfer", first.id), Value::Null)
        .await;
    assert_eq!(
        (status.as_u16(), &again["error"]["code"]),
        (409, &json!("refund_not_pending"))
    );
    let (status, _) = control.post("/refunds/nope/transfer", Value::Null).await;
    assert_eq!(status, 404);

    let rest = sb.transfer_refund(&gw.create_refund(&refund(&p.id, 600)).await.unwrap().id);
    assert_eq!(rest.unwrap().status, RefundStatus::Succeeded);
    let all = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!((all.amount_refunded, all.refunded), (1000, true));
    sb.shutdown().await;
    rx.stop().await;
}

#[tokio::test]
async fn late_onchain_funds_leave_the_payment_pending_expired_and_unresolved() {
    let mut rx = Receiver::start(0).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    let p = gw.create_payment(&usd(1000)).await.unwrap();
    next_must_be(&mut rx, EVENT_PAYMENT_CREATED).await;
    control.skew_clock(601_000).await;

    // The App does not pay an expired payment...
    let (status, body) = control.pay_with(&p.id, json!({})).await;
    assert_eq!(
        (status.as_u16(), &body["error"]["code"]),
        (409, &json!("payment_not_pending"))
    );
    // ...a wallet still can send to the address: late.
    let (status, late) = control.pay_with(&p.id, json!({"method": "onchain"})).await;
    assert_eq!(status, 200, "{late}");
    assert_eq!(
        (&late["status"], &late["expired"]),
        (&json!("pending"), &json!(true))
    );
    assert_eq!(late["captured"], false);
    let fund = &late["current_inbound_fund"];
    assert_eq!(fund["mismatched_reason"], "late");
    assert_eq!(fund["amount"], late["crypto_amount"]);
    assert_eq!(
        (&fund["currency"], &fund["coin_from"]),
        (&json!("CRO_CRONOS"), &json!("Cronos"))
    );
    assert!(fund["txn_id"].as_str().unwrap().starts_with("0x"));

    // What the till reads: never paid, the typed fund says why.
    let read = gw.retrieve_payment(&p.id).await.unwrap();
    assert!(!read.is_paid());
    assert_eq!(read.effective_status(), PaymentStatus::Expired);
    let typed = read.current_inbound_fund.unwrap();
    assert_eq!(typed.mismatched_reason.as_deref(), Some("late"));
    assert_eq!(typed.txn_id.as_deref(), fund["txn_id"].as_str());

    // No payment.captured left: the next event is the one asked for now.
    control
        .post(&format!("/payments/{}/fulfill", p.id), Value::Null)
        .await;
    next_must_be(&mut rx, EVENT_PAYMENT_FULFILL).await;
    sb.shutdown().await;
    rx.stop().await;
}

#[tokio::test]
async fn an_underpaid_payment_stays_pending_and_unresolved() {
    let mut rx = Receiver::start(0).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    let p = gw.create_payment(&usd(1000)).await.unwrap();
    next_must_be(&mut rx, EVENT_PAYMENT_CREATED).await;

    for (body, param) in [
        (json!({"underpay": "10.00"}), "underpay"),
        (json!({"underpay": "10.01"}), "underpay"),
        (json!({"underpay": "0"}), "underpay"),
        (json!({"underpay": "4,00"}), "underpay"),
        (json!({"underpay": "4.001"}), "underpay"),
        (json!({"underpay": "-4"}), "underpay"),
        (json!({"underpay": "four"}), "underpay"),
        (json!({"underpay": "4.00", "method": "app"}), "method"),
        (json!({"method": "card"}), "method"),
    ] {
        let (status, refused) = control.pay_with(&p.id, body.clone()).await;
        assert_eq!(status, 400, "{body} -> {refused}");
        assert_eq!(refused["error"]["param"], param, "{body}");
    }

    let (status, short) = control.pay_with(&p.id, json!({"underpay": "4.00"})).await;
    assert_eq!(status, 200, "{short}");
    assert_eq!(
        (&short["status"], &short["expired"]),
        (&json!("pending"), &json!(false))
    );
    let fund = &short["current_inbound_fund"];
    assert_eq!(fund["mismatched_reason"], "underpaid");
    assert_eq!(fund["status"], "mismatched");
    assert_eq!(fund["amount"], "44.44444444"); // $4.00 at $0.09 per CRO
    assert_eq!(short["payment_source"], "External Wallets");

    // Once unresolved, nothing more pays it or cancels it.
    for body in [json!({}), json!({"method": "onchain"})] {
        let (status, again) = control.pay_with(&p.id, body).await;
        assert_eq!(
            (status.as_u16(), &again["error"]["code"]),
            (409, &json!("payment_unresolved"))
        );
    }
    let err = gw.cancel_payment(&p.id).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Api { status: 409, code, .. } if code == "payment_unresolved"),
        "{err:?}"
    );
    let read = gw.retrieve_payment(&p.id).await.unwrap();
    assert!(!read.is_paid());
    assert_eq!(
        read.current_inbound_fund
            .unwrap()
            .mismatched_reason
            .as_deref(),
        Some("underpaid")
    );
    // A form body says the same; the handle too.
    let q = gw.create_payment(&usd(1000)).await.unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/sandbox/payments/{}/pay", sb.base_url(), q.id))
        .form(&[("underpay", "9.99")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = gw.create_payment(&usd(1000)).await.unwrap();
    let handled = sb.pay_as(&s.id, Payer::Underpaid(1)).unwrap();
    assert_eq!(
        handled
            .current_inbound_fund
            .unwrap()
            .mismatched_reason
            .as_deref(),
        Some("underpaid")
    );

    // No payment.captured for any of them.
    next_must_be(&mut rx, EVENT_PAYMENT_CREATED).await;
    next_must_be(&mut rx, EVENT_PAYMENT_CREATED).await;
    control
        .post(&format!("/payments/{}/fulfill", p.id), Value::Null)
        .await;
    next_must_be(&mut rx, EVENT_PAYMENT_FULFILL).await;
    sb.shutdown().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_payment_without_onchain_takes_no_wallet_funds() {
    let sb = start().await;
    let gw = gateway(&sb);
    let mut req = usd(100);
    req.onchain_allowed = Some(false);
    let p = gw.create_payment(&req).await.unwrap();
    let raw = raw_payment(&sb, &p.id).await;
    assert_eq!(
        (
            &raw["enable_onchain_payment"],
            &raw["onchain_enabled"],
            &raw["deposit_address"]
        ),
        (&json!(false), &json!(false), &Value::Null)
    );
    let (status, body) = Control::new(&sb)
        .pay_with(&p.id, json!({"method": "onchain"}))
        .await;
    assert_eq!(
        (status.as_u16(), &body["error"]["code"]),
        (409, &json!("onchain_not_enabled"))
    );
    assert!(sb.pay(&p.id).unwrap().is_paid());
    sb.shutdown().await;
}

#[tokio::test]
async fn events_name_their_object_type_and_fulfill_is_sent_on_request() {
    let mut rx = Receiver::start(0).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    let created = next_must_be(&mut rx, EVENT_PAYMENT_CREATED).await;
    assert_eq!(created["object_type"], "payment");

    let (status, body) = Control::new(&sb)
        .post(&format!("/payments/{}/fulfill", p.id), Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "pending"); // fulfill changes nothing
    let got = rx.next().await;
    let event = WebhookEvent::from_json(&got.body).unwrap();
    assert_eq!(
        (event.kind.as_str(), event.object_type()),
        (EVENT_PAYMENT_FULFILL, "payment")
    );
    assert!(matches!(&event.data.object, EventObject::Payment(obj) if obj.id == p.id));
    let (status, _) = Control::new(&sb)
        .post("/payments/nope/fulfill", Value::Null)
        .await;
    assert_eq!(status, 404);
    sb.shutdown().await;
    rx.stop().await;
}

/// Every field the live object has, the served one has too, with the same JSON type
/// wherever both carry a value.
fn assert_has_every_field_of(served: &Value, live: &Value, path: &str) {
    let missing: Vec<_> = keys(live).difference(&keys(served)).cloned().collect();
    assert!(missing.is_empty(), "{path} lacks {missing:?}");
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    for (key, want) in live.as_object().unwrap() {
        let got = &served[key];
        if !want.is_null() && !got.is_null() {
            assert_eq!(kind(got), kind(want), "{path}.{key}: {got} vs {want}");
        }
    }
}

#[tokio::test]
async fn a_paid_payment_has_every_field_of_the_live_object() {
    let mut rx = Receiver::start(0).await;
    let url = rx.url.clone();
    let sb = start_with(|c| c.webhook_urls = vec![url]).await;
    let gw = gateway(&sb);
    let live: Value = serde_json::from_str(LIVE_SAMPLE).unwrap();
    let p = gw.create_payment(&usd(1250)).await.unwrap();
    Control::new(&sb)
        .pay_with(&p.id, json!({"method": "onchain"}))
        .await;
    let raw = raw_payment(&sb, &p.id).await;
    assert_has_every_field_of(&raw, &live, "payment");
    assert_has_every_field_of(
        &raw["current_inbound_fund"],
        &live["current_inbound_fund"],
        "current_inbound_fund",
    );
    assert_has_every_field_of(
        &raw["sub_deposit_addresses"],
        &live["sub_deposit_addresses"],
        "sub_deposit_addresses",
    );
    // Strings where the live object has strings, even when not given.
    assert_eq!(
        (&raw["return_url"], &raw["cancel_url"]),
        (&json!(""), &json!(""))
    );
    // The QR payload, exactly as the live one is built.
    let qr = base64::engine::general_purpose::STANDARD
        .decode(raw["qr_code"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        qr,
        format!(r#"{{"type":"payment","id":"{}"}}"#, p.id).into_bytes()
    );
    // The webhook carries the same object.
    next_must_be(&mut rx, EVENT_PAYMENT_CREATED).await;
    let captured = next_must_be(&mut rx, "payment.captured").await;
    assert_has_every_field_of(&captured["data"]["object"], &live, "captured object");
    sb.shutdown().await;
    rx.stop().await;
}

#[tokio::test]
async fn the_checkout_page_pays_from_another_wallet_on_chain() {
    let sb = start().await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(1250)).await.unwrap();
    let url = p.payment_url.clone().unwrap();
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"method\" value=\"onchain\""), "{page}");
    let page = reqwest::Client::new()
        .post(format!("{url}/pay"))
        .form(&[("method", "onchain")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Paid"), "{page}");
    let read = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!(read.payment_source.as_deref(), Some("External Wallets"));
    sb.shutdown().await;
}
