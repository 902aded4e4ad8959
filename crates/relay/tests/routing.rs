//! Per-till routing over real sockets (in-memory backend): a payment's events reach the
//! till that created it and the merchant-scope sessions, never another till; refunds follow
//! their payment; a till resumes with exactly its own missed events; rotation and removal
//! cut off the old key whatever its name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use paydesk_protocol::wire::{self, close, Recovery, Scope};
use paydesk_relay::{RelayConfig, TerminalStore};

#[tokio::test]
async fn each_payment_reaches_only_the_till_that_created_it_and_the_merchant_sessions() {
    let (cfg, keys) = config(|c| c);
    let relay = start(cfg).await;
    let url = relay.webhook_url("shop-a");
    let (mut till_1, h1) = connect(&relay, &keys.t1, "").await;
    let (mut till_2, h2) = connect(&relay, &keys.t2, "").await;
    let (mut office, ho) = connect(&relay, &keys.a1, "").await;
    assert_eq!(
        (h1.terminal_id.clone(), h1.scope),
        (till_id(&keys.t1), Scope::Till)
    );
    assert_eq!(h2.terminal_id, till_id(&keys.t2));
    assert_eq!(ho.scope, Scope::Merchant);

    let post = |body: String| {
        let url = url.clone();
        async move {
            assert_eq!(post_webhook(&url, SECRET_A, &body).await.status(), 200);
        }
    };
    // 1: till-1's payment is created; 2: till-2's; 3: till-1's is captured.
    post(till_event_body(
        "e1",
        "payment.created",
        "p1",
        &h1.terminal_id,
    ))
    .await;
    post(till_event_body(
        "e2",
        "payment.created",
        "p2",
        &h2.terminal_id,
    ))
    .await;
    post(till_event_body(
        "e3",
        "payment.captured",
        "p1",
        &h1.terminal_id,
    ))
    .await;
    // 4: a refund of p1 names only the payment: it follows it to till-1.
    post(refund_body("e4", "p1")).await;
    // 5: the web shop's payment on the same account; 6: a refund of a payment nobody knows.
    post(event_body("e5", "p_web", 990)).await;
    post(refund_body("e6", "p_unknown")).await;
    // 7: a payment naming a terminal that is not one of shop-a's: routed to no till.
    post(till_event_body(
        "e7",
        "payment.created",
        "p7",
        "t_forged0000",
    ))
    .await;
    // 8: till-2's again, 9: till-1's again; each arrives right after the till's previous
    // event, so nothing in between reached the wrong till.
    post(till_event_body(
        "e8",
        "payment.captured",
        "p2",
        &h2.terminal_id,
    ))
    .await;
    post(refund_body("e9", "p1")).await;

    let got = |e: wire::EventMessage| (e.offset, e.event.id, e.till, e.till_prev);
    let t1 = Some(h1.terminal_id.clone());
    let t2 = Some(h2.terminal_id.clone());
    assert_eq!(
        got(next_event(&mut till_1).await),
        (1, "e1".into(), t1.clone(), Some(0))
    );
    assert_eq!(
        got(next_event(&mut till_1).await),
        (3, "e3".into(), t1.clone(), Some(1))
    );
    assert_eq!(
        got(next_event(&mut till_1).await),
        (4, "e4".into(), t1.clone(), Some(3))
    );
    let last = next_event(&mut till_1).await;
    assert_eq!(got(last.clone()), (9, "e9".into(), t1.clone(), Some(4)));
    // Holes everywhere, and the till's one rule says none of them is a loss.
    assert!(!last.missed_after(4, Scope::Till));
    assert_eq!(
        got(next_event(&mut till_2).await),
        (2, "e2".into(), t2.clone(), Some(0))
    );
    assert_eq!(
        got(next_event(&mut till_2).await),
        (8, "e8".into(), t2.clone(), Some(2))
    );
    // The merchant session gets every offset, routed or not, in order.
    for want in 1..=9u64 {
        let e = next_event(&mut office).await;
        assert_eq!(e.offset, want);
        assert!(!e.missed_after(want - 1, Scope::Merchant));
    }
    let m = relay.metrics().snapshot();
    assert_eq!(m.pushes_out, 4 + 2 + 9);
    relay.shutdown().await;
}

#[tokio::test]
async fn a_till_resumes_with_exactly_its_own_missed_events() {
    let (cfg, keys) = config(|c| c.history(4, Duration::from_secs(600)));
    let relay = start(cfg).await;
    let url = relay.webhook_url("shop-a");
    let (mut till_1, h1) = connect(&relay, &keys.t1, "").await;
    let (_till_2, h2) = connect(&relay, &keys.t2, "").await;
    let t1 = h1.terminal_id.clone();
    let t2 = h2.terminal_id.clone();
    let post = |id: &str, till: &str, payment: &str| {
        let body = till_event_body(id, "payment.created", payment, till);
        let url = url.clone();
        async move { assert_eq!(post_webhook(&url, SECRET_A, &body).await.status(), 200) }
    };
    post("e1", &t1, "p1").await;
    let first = next_event(&mut till_1).await;
    assert_eq!(first.offset, 1);
    drop(till_1);

    // While till-1 is away: two of its events among other tills' (offsets 2..=5).
    post("e2", &t2, "p2").await;
    post("e3", &t1, "p3").await;
    post("e4", &t2, "p4").await;
    post("e5", &t1, "p5").await;
    let query = format!("epoch={}&offset=1", h1.epoch);
    let (mut back, h) = connect(&relay, &keys.t1, &query).await;
    assert_eq!(
        (h.recovery, h.offset, h.replayed),
        (Recovery::Recovered, 5, 2)
    );
    let mut pos = 1;
    for want in [3, 5] {
        let e = next_event(&mut back).await;
        assert_eq!(e.offset, want);
        assert!(!e.missed_after(pos, Scope::Till), "a hole, not a loss");
        pos = e.offset;
    }

    // Many events for till-2 push till-1's out of the 4-event history; till-1, resuming
    // from its last event, is still up to date: nothing of its own since.
    for i in 6..=12 {
        post(&format!("e{i}"), &t2, &format!("p{i}")).await;
    }
    drop(back);
    let (_b, h) = connect(&relay, &keys.t1, &format!("epoch={}&offset=5", h1.epoch)).await;
    assert_eq!(
        (h.recovery, h.replayed, h.offset),
        (Recovery::Recovered, 0, 12)
    );
    // From before its event 5, which the history no longer holds: told to resync.
    let (_c, h) = connect(&relay, &keys.t1, &format!("epoch={}&offset=3", h1.epoch)).await;
    assert_eq!(h.recovery, Recovery::NotRecovered);
    relay.shutdown().await;
}

/// A relay reading its terminals from a file, so tests can rotate and remove like an
/// operator and then reload (what SIGHUP does).
async fn relay_with_file(
    dir: &tempfile::TempDir,
) -> (paydesk_relay::RelayHandle, std::path::PathBuf) {
    let path = dir.path().join("terminals.toml");
    let mut cfg = RelayConfig::memory().merchant("shop-a", SECRET_A);
    cfg.terminals_file = Some(path.clone());
    (start(cfg).await, path)
}

#[tokio::test]
async fn rotating_a_key_cuts_off_the_old_key_and_its_unused_tickets_and_keeps_the_route() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, path) = relay_with_file(&dir).await;
    let mut store = TerminalStore::default();
    let old = store.add_with("shop-a", "till-1", Scope::Till, 1).unwrap();
    store.save(&path).unwrap();
    relay.reload();

    let (mut session, hello) = connect(&relay, &old.key, "").await;
    assert_eq!(hello.terminal_id, old.id);
    let unused = ticket(&relay, &old.key).await;

    let mut store = TerminalStore::load_or_empty(&path).unwrap();
    let new = store.rotate("shop-a", "till-1", 2).unwrap();
    assert_eq!(new.id, old.id);
    store.save(&path).unwrap();
    relay.reload();

    assert_eq!(read_until_close(&mut session).await.0, Some(close::POLICY));
    let refused = open_raw(&relay, Some(&wire::offered_protocols(&unused)), "").await;
    assert_eq!(
        refused_status(refused),
        401,
        "a ticket of the old key opens nothing"
    );
    assert_eq!(ticket_response(&relay, &old.key).await.status(), 401);

    // The new key: same id, so the till's payments still reach it.
    let (mut session, hello) = connect(&relay, &new.key, "").await;
    assert_eq!(hello.terminal_id, old.id);
    let body = till_event_body("e1", "payment.created", "p1", &old.id);
    assert_eq!(
        post_webhook(&relay.webhook_url("shop-a"), SECRET_A, &body)
            .await
            .status(),
        200
    );
    assert_eq!(next_event(&mut session).await.event.id, "e1");
    assert_eq!(relay.metrics().snapshot().rejects_for("ticket_invalid"), 1);
    relay.shutdown().await;
}

#[tokio::test]
async fn a_till_removed_and_added_back_under_its_name_does_not_keep_the_old_keys_session() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, path) = relay_with_file(&dir).await;
    let mut store = TerminalStore::default();
    let old = store.add_with("shop-a", "till-1", Scope::Till, 1).unwrap();
    store.save(&path).unwrap();
    relay.reload();
    let (mut session, _) = connect(&relay, &old.key, "").await;
    let unused = ticket(&relay, &old.key).await;

    let mut store = TerminalStore::load_or_empty(&path).unwrap();
    store.remove("shop-a", "till-1").unwrap();
    let new = store.add_with("shop-a", "till-1", Scope::Till, 2).unwrap();
    store.save(&path).unwrap();
    relay.reload();

    assert_eq!(read_until_close(&mut session).await.0, Some(close::POLICY));
    let refused = open_raw(&relay, Some(&wire::offered_protocols(&unused)), "").await;
    assert_eq!(refused_status(refused), 401);
    // A new terminal: a new id, and the old id's payments no longer route to anyone.
    let (mut session, hello) = connect(&relay, &new.key, "").await;
    assert_ne!(hello.terminal_id, old.id);
    let stale = till_event_body("e1", "payment.captured", "p_old", &old.id);
    let fresh = till_event_body("e2", "payment.created", "p_new", &new.id);
    for body in [stale, fresh] {
        assert_eq!(
            post_webhook(&relay.webhook_url("shop-a"), SECRET_A, &body)
                .await
                .status(),
            200
        );
    }
    assert_eq!(next_event(&mut session).await.event.id, "e2");
    relay.shutdown().await;
}

#[tokio::test]
async fn a_merchant_scope_terminal_gets_the_web_shops_payments_and_a_till_does_not() {
    let (cfg, keys) = config(|c| c);
    let relay = start(cfg).await;
    let (mut till, _) = connect(&relay, &keys.t1, "").await;
    let (mut office, _) = connect(&relay, &keys.a2, "").await;
    let url = relay.webhook_url("shop-a");
    let mine = till_event_body("t1", "payment.created", "p_till", &till_id(&keys.t1));
    for body in [event_body("w1", "p_web", 5), mine] {
        assert_eq!(post_webhook(&url, SECRET_A, &body).await.status(), 200);
    }
    assert_eq!(next_event(&mut office).await.event.id, "w1");
    assert_eq!(next_event(&mut office).await.event.id, "t1");
    // The till's first event is its own payment's: the web shop's never came.
    let e = next_event(&mut till).await;
    assert_eq!((e.offset, e.event.id.as_str()), (2, "t1"));
    relay.shutdown().await;
}
