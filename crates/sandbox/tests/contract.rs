//! The gateway client against the sandbox over real HTTP: every endpoint and every error
//! path the API has, as a till meets them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use std::time::Duration;

use common::*;
use paydesk_core::clock::ServerClock;
use paydesk_core::gateway::{AuthScheme, Fetched, Gateway, GatewayError, ListPayments};
use paydesk_core::payment::{CreateRefund, PaymentStatus, RefundStatus};
use paydesk_core::secrets::Secret;

#[tokio::test]
async fn a_payment_goes_from_create_to_cancel_through_every_read() {
    let sb = start().await;
    let gw = gateway(&sb);
    let mut req = usd(1250);
    req.metadata = Some(serde_json::json!({"till": "3"}));
    let p = gw.create_payment(&req).await.unwrap();
    assert_eq!(p.status, PaymentStatus::Pending);
    assert_eq!((p.amount, p.currency.as_str()), (1250, "USD"));
    assert_eq!(p.description.as_deref(), Some("2 coffees"));
    assert_eq!(p.metadata, req.metadata);
    assert_eq!(p.time_window, Some(600));
    assert_eq!(
        p.payment_url,
        Some(format!("{}/checkout/{}", sb.base_url(), p.id))
    );
    assert!(p.qr_code.is_some() && p.crypto_amount.is_some());
    // No order id given: the client made one, so the create can be reconciled.
    let order_id = p.order_id.clone().unwrap();
    assert!(order_id.starts_with("paydesk-"), "{order_id}");

    let again = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!(again.id, p.id);
    let found = gw.find_by_order_id(&order_id).await.unwrap().unwrap();
    assert_eq!(found.id, p.id);

    let cancelled = gw.cancel_payment(&p.id).await.unwrap();
    assert_eq!(cancelled.status, PaymentStatus::Cancelled);
    let err = gw.cancel_payment(&p.id).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Api { status: 409, code, .. } if code == "payment_not_pending"),
        "{err:?}"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn the_callers_order_id_is_kept() {
    let sb = start().await;
    let gw = gateway(&sb);
    let mut req = usd(500);
    req.order_id = Some("till-7-0042".into());
    let p = gw.create_payment(&req).await.unwrap();
    assert_eq!(p.order_id.as_deref(), Some("till-7-0042"));
    sb.shutdown().await;
}

#[tokio::test]
async fn amounts_wider_than_64_bits_survive_the_round_trip() {
    let sb = start().await;
    let gw = gateway(&sb);
    let req = paydesk_core::payment::CreatePayment {
        amount: 100_000_000_000_000_000_000,
        currency: "CRO".into(),
        ..Default::default()
    };
    let p = gw.create_payment(&req).await.unwrap();
    assert_eq!(p.amount, 100_000_000_000_000_000_000);
    assert_eq!(p.crypto_amount.as_deref(), Some("100.0"));
    let back = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!(back.amount, 100_000_000_000_000_000_000);
    sb.shutdown().await;
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let sb = start().await;
    let gw = gateway(&sb);
    for id in ["3f1c0000-0000-4000-8000-000000000000", "../refunds", "a b"] {
        assert_eq!(
            gw.retrieve_payment(id).await.unwrap_err(),
            GatewayError::NotFound,
            "{id}"
        );
    }
    assert_eq!(
        gw.cancel_payment("nope").await.unwrap_err(),
        GatewayError::NotFound
    );
    let refund = CreateRefund {
        payment_id: "nope".into(),
        amount: 1,
        currency: "USD".into(),
        ..Default::default()
    };
    assert_eq!(
        gw.create_refund(&refund).await.unwrap_err(),
        GatewayError::NotFound
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_is_refused_on_every_endpoint_and_both_schemes_work() {
    let sb = start().await;
    let good = gateway(&sb).create_payment(&usd(100)).await.unwrap();

    let mut wrong = config(&sb);
    wrong.secret_key = Secret::new("sk_test_wrong");
    let gw = Gateway::new(wrong, ServerClock::new()).unwrap();
    assert_eq!(
        gw.create_payment(&usd(100)).await.unwrap_err(),
        GatewayError::Unauthorized
    );
    assert_eq!(
        gw.retrieve_payment(&good.id).await.unwrap_err(),
        GatewayError::Unauthorized
    );
    assert_eq!(
        gw.list_payments(&ListPayments::default())
            .await
            .unwrap_err(),
        GatewayError::Unauthorized
    );
    assert_eq!(
        gw.cancel_payment(&good.id).await.unwrap_err(),
        GatewayError::Unauthorized
    );

    let mut bearer = config(&sb);
    bearer.auth = AuthScheme::Bearer;
    let gw = Gateway::new(bearer, ServerClock::new()).unwrap();
    assert_eq!(gw.retrieve_payment(&good.id).await.unwrap().id, good.id);

    // No Authorization header at all: 401 with the service's error body.
    let r = reqwest::get(format!("{}/payments/{}", sb.api_url(), good.id))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: paydesk_core::payment::ApiErrorBody = r.json().await.unwrap();
    assert_eq!(body.error.kind, "authentication_error");
    sb.shutdown().await;
}

#[tokio::test]
async fn validation_errors_name_the_parameter() {
    let sb = start().await;
    let gw = gateway(&sb);
    let cases = [
        (usd(0), "amount"),
        (
            paydesk_core::payment::CreatePayment {
                currency: "XYZ".into(),
                ..usd(100)
            },
            "currency",
        ),
        (
            paydesk_core::payment::CreatePayment {
                currency: String::new(),
                ..usd(100)
            },
            "currency",
        ),
        (
            paydesk_core::payment::CreatePayment {
                expired_at: Some(1_000),
                ..usd(100)
            },
            "expired_at",
        ),
        (
            paydesk_core::payment::CreatePayment {
                metadata: Some(serde_json::json!([1, 2])),
                ..usd(100)
            },
            "metadata",
        ),
    ];
    for (req, param) in cases {
        let err = gw.create_payment(&req).await.unwrap_err();
        match &err {
            GatewayError::Api {
                status: 400,
                param: Some(p),
                message: Some(_),
                ..
            } => assert_eq!(p, param),
            other => panic!("{param}: {other:?}"),
        }
        assert!(!err.cashier_message().is_empty());
    }
    // Nothing was created by the refused requests.
    assert_eq!(Control::new(&sb).stats().await.payments, 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn refunds_are_full_or_partial_up_to_what_was_captured() {
    // No App refund delay: each refund is transferred before it is answered.
    let sb = start_with(|c| c.app_refund_delay = Duration::ZERO).await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    let p = gw.create_payment(&usd(1000)).await.unwrap();
    let refund = |amount| CreateRefund {
        payment_id: p.id.clone(),
        amount,
        currency: "USD".into(),
        reason: Some("requested_by_customer".into()),
        ..Default::default()
    };

    let err = gw.create_refund(&refund(100)).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Api { status: 409, code, .. } if code == "payment_not_refundable"),
        "{err:?}"
    );

    let paid = control.pay(&p.id).await;
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert!(paid.captured);

    let r = gw.create_refund(&refund(400)).await.unwrap();
    assert_eq!((r.amount, r.status.clone()), (400, RefundStatus::Succeeded));
    assert_eq!(r.payment_id, p.id);

    let err = gw.create_refund(&refund(601)).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Api { status: 400, param: Some(param), .. } if param == "amount"),
        "{err:?}"
    );
    let wrong_currency = CreateRefund {
        currency: "EUR".into(),
        ..refund(1)
    };
    assert!(matches!(
        gw.create_refund(&wrong_currency).await.unwrap_err(),
        GatewayError::Api { status: 400, param: Some(p), .. } if p == "currency"
    ));

    gw.create_refund(&refund(600)).await.unwrap();
    let after = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!(after.amount_refunded, 1000);
    assert!(after.refunded);
    assert!(gw.create_refund(&refund(1)).await.is_err());
    sb.shutdown().await;
}

#[tokio::test]
async fn conditional_reads_answer_not_modified_until_the_payment_changes() {
    let sb = start().await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(700)).await.unwrap();
    let Fetched::Modified { payment, etag } = gw.retrieve_payment_once(&p.id, None).await.unwrap()
    else {
        panic!("first read must carry the payment");
    };
    assert_eq!(payment.id, p.id);
    let etag = etag.expect("the sandbox serves ETags");
    assert_eq!(
        gw.retrieve_payment_once(&p.id, Some(&etag)).await.unwrap(),
        Fetched::NotModified
    );
    Control::new(&sb).pay(&p.id).await;
    let Fetched::Modified { payment, etag: new } =
        gw.retrieve_payment_once(&p.id, Some(&etag)).await.unwrap()
    else {
        panic!("a paid payment is a change");
    };
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_ne!(new.as_deref(), Some(etag.as_str()));
    sb.shutdown().await;
}

#[tokio::test]
async fn lists_page_newest_first_without_gaps_or_repeats() {
    let sb = start().await;
    let gw = gateway(&sb);
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(gw.create_payment(&usd(100 + i)).await.unwrap().id);
    }
    created.reverse();
    let mut seen = Vec::new();
    let mut q = ListPayments {
        limit: Some(2),
        ..Default::default()
    };
    loop {
        let page = gw.list_payments(&q).await.unwrap();
        assert!(page.data.len() <= 2);
        seen.extend(page.data.iter().map(|p| p.id.clone()));
        if !page.has_more {
            break;
        }
        q.starting_after = page.data.last().map(|p| p.id.clone());
    }
    assert_eq!(seen, created);
    let err = gw
        .list_payments(&ListPayments {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::Api { status: 400, param: Some(p), .. } if p == "limit"));
    sb.shutdown().await;
}

#[tokio::test]
async fn a_payment_expires_when_its_window_passes_on_the_servers_clock() {
    let sb = start_with(|c| c.time_window = Duration::from_secs(120)).await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    assert_eq!(p.remaining_time.as_deref(), Some("2:00"));
    let mut short = usd(100);
    short.expired_at = Some(p.created + 30);
    let q = gw.create_payment(&short).await.unwrap();

    control.skew_clock(31_000).await;
    let open = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!((open.status, open.expired), (PaymentStatus::Pending, false));
    // Expiry is a flag: the status stays pending, as Crypto.com writes it.
    let q = gw.retrieve_payment(&q.id).await.unwrap();
    assert_eq!(
        (q.status.clone(), q.expired),
        (PaymentStatus::Pending, true)
    );
    assert_eq!(q.effective_status(), PaymentStatus::Expired);

    control.skew_clock(121_000).await;
    let p = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!(
        (p.status.clone(), p.expired),
        (PaymentStatus::Pending, true)
    );
    assert_eq!(p.remaining_time.as_deref(), Some("0:00"));
    // An expired payment can be neither paid in the App nor cancelled.
    assert!(matches!(
        gw.cancel_payment(&p.id).await.unwrap_err(),
        GatewayError::Api { status: 409, .. }
    ));
    let (status, _) = control
        .post(&format!("/payments/{}/pay", p.id), serde_json::Value::Null)
        .await;
    assert_eq!(status, 409);
    sb.shutdown().await;
}

#[tokio::test]
async fn the_control_api_expires_a_payment_now() {
    let sb = start().await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    let (status, body) = Control::new(&sb)
        .post(
            &format!("/payments/{}/expire", p.id),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["expired"], true);
    let p = gw.retrieve_payment(&p.id).await.unwrap();
    assert_eq!(p.effective_status(), PaymentStatus::Expired);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_delayed_payment_is_captured_later() {
    let sb = start().await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    let (status, body) = Control::new(&sb)
        .post(
            &format!("/payments/{}/pay", p.id),
            serde_json::json!({"delay_ms": 50}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "pending");
    // Wait for the capture by reading, as a poller would; bounded by PATIENCE.
    tokio::time::timeout(PATIENCE, async {
        while !gw.retrieve_payment(&p.id).await.unwrap().is_paid() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the delayed payment never arrived");
    sb.shutdown().await;
}

#[tokio::test]
async fn every_answer_feeds_the_till_the_servers_clock() {
    let sb = start().await;
    let gw = gateway(&sb);
    Control::new(&sb).skew_clock(180_000).await;
    gw.list_payments(&ListPayments::default()).await.unwrap();
    let estimate = gw.clock().estimate().expect("a Date header was observed");
    assert!(
        (estimate.offset_ms - 180_000).abs() <= estimate.uncertainty_ms + 1,
        "{estimate:?}"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn cancel_also_answers_get_and_forms_create_payments() {
    let sb = start().await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/payments", sb.api_url()))
        .basic_auth(KEY, Some(""))
        .form(&[
            ("amount", "990"),
            ("currency", "eur"),
            ("order_id", "form-1"),
            ("metadata[till]", "2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let p: paydesk_core::payment::Payment = r.json().await.unwrap();
    assert_eq!((p.amount, p.currency.as_str()), (990, "EUR"));
    assert_eq!(p.metadata, Some(serde_json::json!({"till": "2"})));

    let r = http
        .get(format!("{}/payments/{}/cancel", sb.api_url(), p.id))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let p: paydesk_core::payment::Payment = r.json().await.unwrap();
    assert_eq!(p.status, PaymentStatus::Cancelled);
    sb.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_services_error_shape() {
    let sb = start().await;
    let http = reqwest::Client::new();
    let r = http
        .delete(format!("{}/payments", sb.api_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let body: paydesk_core::payment::ApiErrorBody = r.json().await.unwrap();
    assert_eq!(body.error.code, "method_not_allowed");
    let r = http
        .get(format!("{}/nothing/here", sb.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: paydesk_core::payment::ApiErrorBody = r.json().await.unwrap();
    assert_eq!(body.error.code, "resource_missing");
    sb.shutdown().await;
}

#[tokio::test]
async fn the_checkout_page_shows_the_amount_and_pays() {
    let sb = start().await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(1250)).await.unwrap();
    let url = p.payment_url.clone().unwrap();
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("12.50 USD"), "{page}");
    assert!(page.contains(&format!("action=\"/checkout/{}/pay\"", p.id)));
    // The phone's form post; the redirect brings it back to the page, now paid.
    let page = reqwest::Client::new()
        .post(format!("{url}/pay"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Paid"), "{page}");
    assert!(gw.retrieve_payment(&p.id).await.unwrap().is_paid());
    sb.shutdown().await;
}

#[tokio::test]
async fn public_url_shapes_the_payment_url() {
    let sb = start_with(|c| c.public_base_url = Some("http://192.168.1.20:8080/".into())).await;
    let p = gateway(&sb).create_payment(&usd(100)).await.unwrap();
    assert_eq!(
        p.payment_url,
        Some(format!("http://192.168.1.20:8080/checkout/{}", p.id))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn the_handle_pays_expires_and_counts_in_process() {
    let sb = start().await;
    let gw = gateway(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    let q = gw.create_payment(&usd(200)).await.unwrap();
    assert!(sb.pay(&p.id).unwrap().is_paid());
    assert_eq!(sb.pay(&p.id).unwrap_err().status, 409);
    let expired = sb.expire(&q.id).unwrap();
    assert_eq!(
        (expired.status.clone(), expired.effective_status()),
        (PaymentStatus::Pending, PaymentStatus::Expired)
    );
    assert_eq!(sb.pay("nope").unwrap_err().status, 404);
    assert_eq!(sb.stats().payments, 2);
    // The data_url serves the object without the key, as the hosted checkout reads it.
    let data: paydesk_core::payment::Payment = reqwest::get(p.data_url.clone().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((data.id, data.status), (p.id, PaymentStatus::Succeeded));
    sb.shutdown().await;
}

#[tokio::test]
async fn dropping_the_handle_stops_the_sandbox() {
    let sb = start().await;
    let url = sb.api_url();
    drop(sb);
    tokio::time::timeout(PATIENCE, async {
        while reqwest::get(&url).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the sandbox kept serving after its handle was dropped");
}
