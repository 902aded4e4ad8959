//! The gateway under injected faults: retries where they are safe, reconcile where they
//! are not, and never a second payment. Assertions count requests at the sandbox
//! (`/sandbox/stats`) instead of measuring time.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use paydesk_core::clock::ServerClock;
use paydesk_core::gateway::{Gateway, GatewayError, ListPayments};
use paydesk_core::payment::{CreateRefund, PaymentStatus};
use serde_json::json;

const CREATE: &str = "POST /api/payments";
const LIST: &str = "GET /api/payments";
const RETRIEVE: &str = "GET /api/payments/{id}";

#[tokio::test]
async fn reads_retry_through_server_errors() {
    let sb = start().await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    control.faults(json!({"fail_next": 2})).await;
    assert_eq!(gw.retrieve_payment(&p.id).await.unwrap().id, p.id);
    let s = control.stats().await;
    assert_eq!(s.route(RETRIEVE), 3);
    assert_eq!(s.status(503), 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn reads_give_up_after_max_attempts() {
    let sb = start().await;
    let mut config = config(&sb);
    config.max_attempts = 3;
    let gw = Gateway::new(config, ServerClock::new()).unwrap();
    let control = Control::new(&sb);
    control
        .faults(json!({"fail_next": 10, "error_status": 502}))
        .await;
    let err = gw
        .list_payments(&ListPayments::default())
        .await
        .unwrap_err();
    assert_eq!(err, GatewayError::Server { status: 502 });
    assert!(err.is_transient());
    assert_eq!(control.stats().await.route(LIST), 3);
    sb.shutdown().await;
}

#[tokio::test]
async fn retry_after_is_honoured_instead_of_hammering() {
    let sb = start().await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    // Every request in the next second is refused. With a 5 ms backoff, a client that
    // ignored Retry-After would spend its four attempts inside the burst and fail.
    control.faults(json!({"rate_limit_secs": 1})).await;
    assert_eq!(gw.retrieve_payment(&p.id).await.unwrap().id, p.id);
    let s = control.stats().await;
    assert_eq!(s.injected_rate_limits, 1);
    assert_eq!(s.route(RETRIEVE), 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_long_retry_after_goes_back_to_the_caller_at_once() {
    let sb = start().await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    control.faults(json!({"rate_limit_secs": 30})).await;
    let err = gw.create_payment(&usd(100)).await.unwrap_err();
    let GatewayError::RateLimited {
        retry_after: Some(wait),
    } = err
    else {
        panic!("{err:?}");
    };
    assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
    assert!(err.cashier_message().contains("seconds"));
    let s = control.stats().await;
    assert_eq!(s.route(CREATE), 1);
    assert_eq!(s.payments, 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_create_whose_response_was_lost_is_found_not_repeated() {
    let sb = start().await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    control.faults(json!({"drop_create_responses": 1})).await;
    let mut req = usd(4200);
    req.order_id = Some("till-1-0007".into());
    let p = gw.create_payment(&req).await.unwrap();
    assert_eq!(p.order_id.as_deref(), Some("till-1-0007"));
    assert_eq!(p.amount, 4200);
    let s = control.stats().await;
    assert_eq!(s.dropped_responses, 1);
    assert_eq!(s.route(CREATE), 1, "the create must not be sent again");
    assert!(s.route(LIST) >= 1, "the client must look the order up");
    assert_eq!(s.payments, 1);
    let list = gw
        .list_payments(&ListPayments {
            order_id: Some("till-1-0007".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(list.data.len(), 1);
    assert_eq!(list.data[0].id, p.id);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_create_refused_by_a_server_error_is_sent_again_once_it_is_known_absent() {
    let sb = start().await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    control.faults(json!({"fail_next": 1})).await;
    let p = gw.create_payment(&usd(100)).await.unwrap();
    let s = control.stats().await;
    assert_eq!(s.route(CREATE), 2);
    assert_eq!(s.route(LIST), 1);
    assert_eq!(s.payments, 1);
    assert_eq!(gw.retrieve_payment(&p.id).await.unwrap().id, p.id);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_create_that_cannot_be_confirmed_is_reported_not_resent() {
    let sb = start().await;
    let mut config = config(&sb);
    config.request_timeout = Duration::from_millis(150);
    let gw = Gateway::new(config, ServerClock::new()).unwrap();
    let control = Control::new(&sb);
    // Every request now outlasts the client's patience, the lookups too.
    control.faults(json!({"latency_ms": 1000})).await;
    let mut req = usd(100);
    req.order_id = Some("till-2-0001".into());
    let err = gw.create_payment(&req).await.unwrap_err();
    match &err {
        GatewayError::Unconfirmed {
            operation,
            reference,
            ..
        } => {
            assert_eq!(*operation, "payment");
            assert_eq!(reference, "till-2-0001");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.cashier_message().contains("till-2-0001"));
    control.clear_faults().await;
    let s = control.stats().await;
    assert_eq!(
        s.route(CREATE),
        1,
        "an unconfirmed create must not be resent"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn no_order_is_ever_created_twice_under_random_faults() {
    let sb = start().await;
    let mut config = config(&sb);
    config.max_attempts = 6;
    let gw = Gateway::new(config, ServerClock::new()).unwrap();
    let control = Control::new(&sb);
    control
        .faults(json!({"error_rate_permille": 300, "drop_create_responses": 5}))
        .await;
    let mut outcomes = HashMap::new();
    for i in 0..30 {
        let mut req = usd(100 + i);
        let order = format!("fuzz-{i}");
        req.order_id = Some(order.clone());
        outcomes.insert(order, gw.create_payment(&req).await);
    }
    control.clear_faults().await;
    let mut all = Vec::new();
    let mut q = ListPayments {
        limit: Some(100),
        ..Default::default()
    };
    loop {
        let page = gw.list_payments(&q).await.unwrap();
        all.extend(page.data.iter().cloned());
        if !page.has_more {
            break;
        }
        q.starting_after = page.data.last().map(|p| p.id.clone());
    }
    let mut ok = 0;
    for (order, outcome) in &outcomes {
        let count = all
            .iter()
            .filter(|p| p.order_id.as_deref() == Some(order))
            .count();
        assert!(count <= 1, "{order} was created {count} times");
        if let Ok(p) = outcome {
            ok += 1;
            assert_eq!(count, 1, "{order}");
            assert!(all.iter().any(|q| q.id == p.id));
        }
    }
    assert!(ok >= 20, "only {ok} of 30 creates succeeded");
    sb.shutdown().await;
}

#[tokio::test]
async fn cancel_retries_and_recognises_its_own_earlier_success() {
    let sb = start().await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    let p = gw.create_payment(&usd(100)).await.unwrap();
    control.faults(json!({"fail_next": 1})).await;
    assert_eq!(
        gw.cancel_payment(&p.id).await.unwrap().status,
        PaymentStatus::Cancelled
    );
    assert_eq!(
        control
            .stats()
            .await
            .route("POST /api/payments/{id}/cancel"),
        2
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn an_ambiguous_refund_is_reported_and_never_resent() {
    let sb = start().await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    let p = gw.create_payment(&usd(1000)).await.unwrap();
    control.pay(&p.id).await;
    control.faults(json!({"fail_next": 1})).await;
    let refund = CreateRefund {
        payment_id: p.id.clone(),
        amount: 300,
        currency: "USD".into(),
        ..Default::default()
    };
    let err = gw.create_refund(&refund).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Unconfirmed { operation: "refund", reference, .. } if *reference == p.id),
        "{err:?}"
    );
    assert_eq!(control.stats().await.route("POST /api/refunds"), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_rate_limited_refund_waits_and_goes_through_once() {
    // No App refund delay: the refund is transferred before it is answered.
    let sb = start_with(|c| c.app_refund_delay = Duration::ZERO).await;
    let gw = gateway(&sb);
    let control = Control::new(&sb);
    let p = gw.create_payment(&usd(1000)).await.unwrap();
    control.pay(&p.id).await;
    control.faults(json!({"rate_limit_secs": 1})).await;
    let refund = CreateRefund {
        payment_id: p.id.clone(),
        amount: 300,
        currency: "USD".into(),
        ..Default::default()
    };
    gw.create_refund(&refund).await.unwrap();
    assert_eq!(
        gw.retrieve_payment(&p.id).await.unwrap().amount_refunded,
        300
    );
    assert_eq!(control.stats().await.route("POST /api/refunds"), 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_whole_call_ends_by_the_operation_deadline_however_many_attempts_remain() {
    let sb = start().await;
    let mut config = config(&sb);
    config.request_timeout = Duration::from_millis(100);
    config.max_attempts = 1000;
    config.operation_deadline = Duration::from_millis(500);
    let gw = Gateway::new(config, ServerClock::new()).unwrap();
    let control = Control::new(&sb);
    let p = gateway(&sb).create_payment(&usd(100)).await.unwrap();
    control.faults(json!({"latency_ms": 2000})).await;

    let read = tokio::time::timeout(PATIENCE, gw.retrieve_payment(&p.id))
        .await
        .expect("the read outlived its deadline");
    assert_eq!(read.unwrap_err(), GatewayError::Timeout);

    let mut req = usd(100);
    req.order_id = Some("till-3-0001".into());
    let create = tokio::time::timeout(PATIENCE, gw.create_payment(&req))
        .await
        .expect("the create outlived its deadline");
    assert!(
        matches!(&create, Err(GatewayError::Unconfirmed { reference, .. }) if reference == "till-3-0001"),
        "{create:?}"
    );
    control.clear_faults().await;
    assert_eq!(
        control.stats().await.route(CREATE),
        2,
        "one setup create, one cut off"
    );
    sb.shutdown().await;
}
