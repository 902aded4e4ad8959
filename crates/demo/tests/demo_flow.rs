//! The demo shop end to end in one process: a terminal charges against the sandbox, the
//! customer pays, and "paid" arrives as a signed webhook relayed over the WebSocket.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the report

use std::sync::Arc;
use std::time::Duration;

use paydesk_core::journal::Journal;
use paydesk_core::realtime::ConnectionState;
use paydesk_core::terminal::{Terminal, TerminalSetup};
use paydesk_core::tracker::{Source, TrackerEvent};
use paydesk_core::{Currency, Money, PaymentStatus};
use paydesk_demo::{Demo, DemoConfig};

async fn next_matching(
    events: &mut paydesk_core::tracker::Subscription,
    what: &str,
    pred: impl Fn(&TrackerEvent) -> bool,
) -> TrackerEvent {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let e = events.recv().await.expect("tracker closed");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_payment_is_paid_through_the_relay_and_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let journal = Arc::new(Journal::open(dir.path().join("journal.sqlite3")).unwrap());
    let setup = TerminalSetup::new("Till 1", demo.api_url(), demo.secret_key().clone())
        .relay(demo.relay_url(), demo.terminal_key().clone());
    let terminal = Terminal::start(setup, journal.clone()).await.unwrap();
    let mut events = terminal.subscribe();

    // Subscribed first, so a change after this check cannot be missed.
    if terminal.tracker().connection().state != ConnectionState::Live {
        next_matching(
            &mut events,
            "live",
            |e| matches!(e, TrackerEvent::Connection(c) if c.state == ConnectionState::Live),
        )
        .await;
    }

    let eur = Currency::from_code("EUR").unwrap();
    let payment = terminal
        .charge(Money::parse("12.50", eur).unwrap(), Some("coffee".into()))
        .await
        .unwrap();
    assert_eq!(payment.amount, 1250);
    assert_eq!(payment.status, PaymentStatus::Pending);

    demo.simulate_payment(&payment.id).await.unwrap();
    let paid = next_matching(&mut events, "paid", |e| {
        matches!(e, TrackerEvent::Transition(t) if t.payment_id == payment.id && t.to == PaymentStatus::Succeeded)
    })
    .await;
    let TrackerEvent::Transition(t) = paid else {
        unreachable!()
    };
    assert_eq!(
        t.source,
        Source::RelayedWebhook,
        "paid should arrive by push"
    );

    // Written before it was shown.
    let entry = journal.entry(&payment.id).unwrap().unwrap();
    assert_eq!(entry.status, PaymentStatus::Succeeded);

    // A full refund through the terminal: requested at once, sent shortly after (the
    // customer paid in the App), and the transfer is pushed like any other news.
    terminal.refund(&payment.id, None, None).await.unwrap();
    next_matching(&mut events, "the refund sent", |e| {
        matches!(e, TrackerEvent::Transition(t) if t.payment_id == payment.id && t.refunded_to == 1250)
    })
    .await;
    let after = terminal
        .gateway()
        .retrieve_payment(&payment.id)
        .await
        .unwrap();
    assert_eq!(after.amount_refunded, 1250);

    terminal.shutdown().await;
    demo.shutdown().await;
}
