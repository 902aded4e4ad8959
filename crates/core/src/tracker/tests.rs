use super::*;
use std::sync::atomic::{AtomicBool, Ordering};

fn payment(id: &str, status: &str) -> Payment {
    serde_json::from_str(&format!(
        r#"{{"id":"{id}","amount":1250,"currency":"USD","status":"{status}",
            "created":1700000000,"time_window":600,"captured":{}}}"#,
        status == "succeeded"
    ))
    .unwrap()
}

fn tracker() -> Tracker {
    Tracker::new(Arc::new(NoJournal::default()))
}

fn transitions(sub: &mut Subscription) -> Vec<Transition> {
    let mut out = Vec::new();
    while let Some(e) = sub.try_recv() {
        if let TrackerEvent::Transition(t) = e {
            out.push(t);
        }
    }
    out
}

#[tokio::test]
async fn duplicate_messages_emit_one_transition() {
    let t = tracker();
    let mut sub = t.subscribe();
    t.track(payment("p1", "pending"), Source::CreateResponse)
        .await
        .unwrap();
    for source in [
        Source::RelayedWebhook,
        Source::ApiRead,
        Source::RelayedWebhook,
    ] {
        t.apply(payment("p1", "succeeded"), source).await.unwrap();
    }
    let ts = transitions(&mut sub);
    assert_eq!(ts.len(), 2, "{ts:#?}");
    assert_eq!(ts[0].kind, TransitionKind::Tracked);
    assert_eq!(ts[1].from, Some(PaymentStatus::Pending));
    assert_eq!(ts[1].to, PaymentStatus::Succeeded);
    assert_eq!(ts[1].source, Source::RelayedWebhook);
    assert_eq!(ts[1].seq, ts[0].seq + 1);
}

#[tokio::test]
async fn stale_push_never_moves_status_backwards() {
    let t = tracker();
    t.track(payment("p1", "pending"), Source::CreateResponse)
        .await
        .unwrap();
    t.apply(payment("p1", "succeeded"), Source::ApiRead)
        .await
        .unwrap();
    let mut sub = t.subscribe();
    assert_eq!(
        t.apply(payment("p1", "pending"), Source::RelayedWebhook)
            .await
            .unwrap(),
        Applied::Stale
    );
    assert_eq!(
        t.apply(payment("p1", "cancelled"), Source::ApiRead)
            .await
            .unwrap(),
        Applied::Stale
    );
    assert!(transitions(&mut sub).is_empty());
    assert_eq!(t.get("p1").unwrap().status, PaymentStatus::Succeeded);
    assert!(t.pending_ids().is_empty());
}

#[tokio::test]
async fn out_of_order_messages_settle_on_the_furthest_status() {
    let t = tracker();
    t.track(payment("p1", "pending"), Source::CreateResponse)
        .await
        .unwrap();
    let mut sub = t.subscribe();
    // The capture push overtakes the "created" push.
    t.apply(payment("p1", "succeeded"), Source::RelayedWebhook)
        .await
        .unwrap();
    t.apply(payment("p1", "pending"), Source::RelayedWebhook)
        .await
        .unwrap();
    let ts = transitions(&mut sub);
    assert_eq!(ts.len(), 1);
    assert_eq!(ts[0].to, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn unknown_status_stays_visible_and_can_still_settle() {
    let t = tracker();
    t.track(payment("p1", "pending"), Source::CreateResponse)
        .await
        .unwrap();
    let mut sub = t.subscribe();
    t.apply(payment("p1", "under_review"), Source::ApiRead)
        .await
        .unwrap();
    assert_eq!(
        t.get("p1").unwrap().status,
        PaymentStatus::Unknown("under_review".into())
    );
    // Still polled: an unknown status is not terminal.
    assert_eq!(t.pending_ids(), vec!["p1".to_owned()]);
    t.apply(payment("p1", "pending"), Source::ApiRead)
        .await
        .unwrap();
    t.apply(payment("p1", "succeeded"), Source::ApiRead)
        .await
        .unwrap();
    let ts = transitions(&mut sub);
    assert_eq!(ts.len(), 2);
    assert_eq!(
        ts[1].from,
        Some(PaymentStatus::Unknown("under_review".into()))
    );
    assert_eq!(ts[1].to, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn paid_is_never_shown_from_an_unconfirmed_source() {
    let t = tracker();
    t.track(payment("p1", "pending"), Source::CreateResponse)
        .await
        .unwrap();
    let mut sub = t.subscribe();
    assert_eq!(
        t.apply(payment("p1", "succeeded"), Source::Restored)
            .await
            .unwrap(),
        Applied::NeedsConfirmation
    );
    assert!(transitions(&mut sub).is_empty());
    let view = t.get("p1").unwrap();
    assert_eq!(view.status, PaymentStatus::Pending);
    // A restored row that claims paid is tracked as pending until the API says so.
    t.track(payment("p2", "succeeded"), Source::Restored)
        .await
        .unwrap();
    assert_eq!(t.get("p2").unwrap().status, PaymentStatus::Pending);
    assert!(!t.get("p2").unwrap().payment.is_paid());
    t.apply(payment("p2", "succeeded"), Source::ApiRead)
        .await
        .unwrap();
    assert_eq!(t.get("p2").unwrap().status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn an_expired_flag_reads_as_expired() {
    let t = tracker();
    t.track(payment("p1", "pending"), Source::CreateResponse)
        .await
        .unwrap();
    let mut p = payment("p1", "pending");
    p.expired = true;
    let Applied::Changed(tr) = t.apply(p, Source::ApiRead).await.unwrap() else {
        panic!("expected a transition");
    };
    assert_eq!(tr.to, PaymentStatus::Expired);
    // A capture after expiry is not believed over the terminal status.
    assert_eq!(
        t.apply(payment("p1", "succeeded"), Source::RelayedWebhook)
            .await
            .unwrap(),
        Applied::Stale
    );
}

#[tokio::test]
async fn refunds_add_up_once_per_refund() {
    let t = tracker();
    t.track(payment("p1", "succeeded"), Source::CreateResponse)
        .await
        .unwrap();
    let mut sub = t.subscribe();
    let refund = |id: &str, amount: i128, status: &str| -> Refund {
        serde_json::from_str(&format!(
            r#"{{"id":"{id}","payment_id":"p1","amount":{amount},"currency":"USD","status":"{status}"}}"#
        ))
        .unwrap()
    };
    t.apply_refund(refund("r1", 250, "pending"), Source::RelayedWebhook)
        .await
        .unwrap();
    t.apply_refund(refund("r1", 250, "succeeded"), Source::RelayedWebhook)
        .await
        .unwrap();
    t.apply_refund(refund("r1", 250, "succeeded"), Source::RelayedWebhook)
        .await
        .unwrap();
    t.apply_refund(refund("r1", 250, "pending"), Source::RelayedWebhook)
        .await
        .unwrap();
    t.apply_refund(refund("r2", 100, "succeeded"), Source::RelayedWebhook)
        .await
        .unwrap();
    // The API's own total agrees: nothing new.
    let mut p = payment("p1", "succeeded");
    p.amount_refunded = 350;
    assert_eq!(
        t.apply(p, Source::ApiRead).await.unwrap(),
        Applied::Unchanged
    );
    let ts = transitions(&mut sub);
    // The request is shown (nothing sent yet), then each refund once it is sent.
    assert_eq!(
        ts.iter()
            .map(|t| (t.refunded_from, t.refunded_to))
            .collect::<Vec<_>>(),
        vec![(0, 0), (0, 250), (250, 350)]
    );
    assert!(ts.iter().all(|t| t.kind == TransitionKind::Refund));
    assert_eq!(t.get("p1").unwrap().refunded, 350);
}

struct FlakyJournal {
    fail: AtomicBool,
    written: Mutex<Vec<u64>>,
}

impl TransitionSink for FlakyJournal {
    fn record(&self, _: Transition) -> BoxFuture<'_, Result<u64, SinkError>> {
        Box::pin(async move {
            if self.fail.load(Ordering::SeqCst) {
                return Err(SinkError::new("disk full"));
            }
            let mut written = self.written.lock().unwrap();
            let seq = written.len() as u64 + 1;
            written.push(seq);
            Ok(seq)
        })
    }

    fn load(&self, _: String) -> BoxFuture<'_, Result<Option<PaymentState>, SinkError>> {
        Box::pin(async { Ok(None) })
    }
}

#[tokio::test]
async fn a_transition_the_journal_refuses_is_not_shown() {
    let journal = Arc::new(FlakyJournal {
        fail: AtomicBool::new(false),
        written: Mutex::new(Vec::new()),
    });
    let t = Tracker::new(journal.clone());
    t.track(payment("p1", "pending"), Source::CreateResponse)
        .await
        .unwrap();
    let mut sub = t.subscribe();
    journal.fail.store(true, Ordering::SeqCst);
    let err = t
        .apply(payment("p1", "succeeded"), Source::RelayedWebhook)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(t.get("p1").unwrap().status, PaymentStatus::Pending);
    assert!(matches!(
        sub.try_recv(),
        Some(TrackerEvent::JournalFailed { .. })
    ));
    assert!(sub.try_recv().is_none());
    // The same news later, once the journal works, is shown — with the next seq.
    journal.fail.store(false, Ordering::SeqCst);
    let Applied::Changed(tr) = t
        .apply(payment("p1", "succeeded"), Source::ApiRead)
        .await
        .unwrap()
    else {
        panic!("expected a transition");
    };
    assert_eq!(tr.seq, 2);
    assert_eq!(*journal.written.lock().unwrap(), vec![1, 2]);
}

#[tokio::test]
async fn messages_for_untracked_payments_are_ignored() {
    let t = tracker();
    assert_eq!(
        t.apply(payment("nope", "succeeded"), Source::RelayedWebhook)
            .await
            .unwrap(),
        Applied::Untracked
    );
    t.track(payment("p1", "pending"), Source::CreateResponse)
        .await
        .unwrap();
    assert!(t.untrack("p1"));
    assert_eq!(
        t.apply(payment("p1", "succeeded"), Source::ApiRead)
            .await
            .unwrap(),
        Applied::Untracked
    );
    assert!(t.snapshot().payments.is_empty());
}

#[tokio::test]
async fn snapshot_then_stream_misses_nothing() {
    let t = tracker();
    let mut sub = t.subscribe();
    t.track(payment("p1", "pending"), Source::CreateResponse)
        .await
        .unwrap();
    let snap = t.snapshot();
    t.apply(payment("p1", "succeeded"), Source::ApiRead)
        .await
        .unwrap();
    let ts = transitions(&mut sub);
    let after: Vec<_> = ts.iter().filter(|t| t.seq > snap.seq).collect();
    assert_eq!(snap.payments[0].status, PaymentStatus::Pending);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].to, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn a_lagging_subscriber_is_told_to_resnapshot() {
    let t = Tracker::with_capacity(
        Arc::new(NoJournal::default()),
        ServerClock::new(),
        LocalClock::system(),
        2,
    );
    let mut sub = t.subscribe();
    for i in 0..5 {
        t.track(payment(&format!("p{i}"), "pending"), Source::CreateResponse)
            .await
            .unwrap();
    }
    assert!(matches!(
        sub.recv().await,
        Some(TrackerEvent::Resnapshot { missed: 3 })
    ));
    assert_eq!(t.snapshot().payments.len(), 5);
}
