use proptest::prelude::*;

use super::*;

/// A payment's news, in the order it happened.
type History = Vec<(Update, Source)>;

fn payment(status: &str) -> Payment {
    serde_json::from_str(&format!(
        r#"{{"id":"p1","amount":1250,"currency":"USD","status":"{status}",
            "created":1700000000,"time_window":600,"captured":{}}}"#,
        status == "succeeded"
    ))
    .unwrap()
}

fn refund(id: &str, amount: i128, status: &str) -> Refund {
    serde_json::from_str(&format!(
        r#"{{"id":"{id}","payment_id":"p1","amount":{amount},"currency":"USD","status":"{status}"}}"#
    ))
    .unwrap()
}

/// Applies updates one by one, as the tracker does, numbering transitions.
fn fold(updates: &[(Update, Source)]) -> Option<PaymentState> {
    let mut state: Option<PaymentState> = None;
    let mut seq = 0;
    for (u, source) in updates {
        if let Merged::Changed(mut t) = merge(state.as_ref(), u, *source, 0) {
            seq += 1;
            t.seq = seq;
            state = Some(t.apply_to(state.as_ref()));
        }
    }
    state
}

/// The parts of a state that must not depend on the order news arrived in.
fn essence(s: &PaymentState) -> (PaymentStatus, i128, i128, Vec<RefundState>, Payment) {
    let mut p = s.payment.clone();
    p.remaining_time = None;
    (
        s.status.clone(),
        s.refunded(),
        s.refund_requested(),
        s.refunds.values().cloned().collect(),
        p,
    )
}

#[test]
fn the_first_sight_of_a_payment_is_tracked() {
    let t = merge(
        None,
        &Update::Payment(payment("pending")),
        Source::CreateResponse,
        7,
    )
    .transition()
    .unwrap();
    assert_eq!(t.kind, TransitionKind::Tracked);
    assert_eq!(
        (t.from.clone(), t.to.clone()),
        (None, PaymentStatus::Pending)
    );
    assert_eq!(t.at_unix_ms, 7);
    let s = t.apply_to(None);
    assert_eq!(s.status, PaymentStatus::Pending);
}

#[test]
fn an_unconfirmed_claim_of_paid_changes_nothing() {
    let start = fold(&[(Update::Payment(payment("pending")), Source::CreateResponse)]).unwrap();
    assert_eq!(
        merge(
            Some(&start),
            &Update::Payment(payment("succeeded")),
            Source::Restored,
            0
        ),
        Merged::Unconfirmed
    );
    // Even as a first sight it enters as pending.
    let t = merge(
        None,
        &Update::Payment(payment("succeeded")),
        Source::Restored,
        0,
    )
    .transition()
    .unwrap();
    assert_eq!(t.to, PaymentStatus::Pending);
    assert!(!t.payment.is_paid());
}

#[test]
fn expiry_is_the_flag_on_a_pending_payment() {
    let start = fold(&[(Update::Payment(payment("pending")), Source::CreateResponse)]).unwrap();
    let mut expired = payment("pending");
    expired.expired = true;
    let t = merge(Some(&start), &Update::Payment(expired), Source::ApiRead, 0)
        .transition()
        .unwrap();
    assert_eq!(t.to, PaymentStatus::Expired);
    assert_eq!(t.payment.status, PaymentStatus::Pending);
    let after = t.apply_to(Some(&start));
    // A capture claimed after expiry does not overturn it.
    assert_eq!(
        merge(
            Some(&after),
            &Update::Payment(payment("succeeded")),
            Source::RelayedWebhook,
            0
        ),
        Merged::Stale
    );
}

#[test]
fn a_refund_request_then_its_transfer_are_two_changes() {
    let paid = fold(&[(Update::Payment(payment("succeeded")), Source::ApiRead)]).unwrap();
    let requested = merge(
        Some(&paid),
        &Update::Refund(refund("r1", 500, "pending")),
        Source::RelayedWebhook,
        0,
    )
    .transition()
    .unwrap();
    assert_eq!(requested.kind, TransitionKind::Refund);
    assert!(!requested.refund_grew());
    let s = requested.apply_to(Some(&paid));
    assert_eq!((s.refunded(), s.refund_requested()), (0, 500));
    let sent = merge(
        Some(&s),
        &Update::Refund(refund("r1", 500, "succeeded")),
        Source::RelayedWebhook,
        0,
    )
    .transition()
    .unwrap();
    assert!(sent.refund_grew());
    let s = sent.apply_to(Some(&s));
    assert_eq!((s.refunded(), s.refund_requested()), (500, 0));
    // A late "pending" for the same refund is stale.
    assert_eq!(
        merge(
            Some(&s),
            &Update::Refund(refund("r1", 500, "pending")),
            Source::RelayedWebhook,
            0
        ),
        Merged::Stale
    );
}

#[test]
fn a_push_fills_in_details_but_never_erases_them() {
    let mut read = payment("pending");
    read.crypto_amount = Some("13.2".into());
    read.crypto_currency = Some("CRO".into());
    let s = fold(&[(Update::Payment(read), Source::ApiRead)]).unwrap();
    // The created webhook, sent before the quote existed, arrives late.
    assert_eq!(
        merge(
            Some(&s),
            &Update::Payment(payment("pending")),
            Source::RelayedWebhook,
            0
        ),
        Merged::Unchanged
    );
}

/// A payment's life as the API would tell it at successive moments, each moment a full
/// object; plus the refund events of that life.
fn history() -> impl Strategy<Value = History> {
    (
        0..3u8,             // how it ends: paid, cancelled, expired
        any::<bool>(),      // whether the quote appears while pending
        0..3usize,          // refunds
        any::<[bool; 3]>(), // which refunds were transferred
    )
        .prop_map(|(end, quoted, refunds, transferred)| {
            let mut out = Vec::new();
            let created = payment("pending");
            out.push((Update::Payment(created.clone()), Source::CreateResponse));
            let mut quoted_p = created.clone();
            if quoted {
                quoted_p.crypto_amount = Some("13.2".into());
                quoted_p.crypto_currency = Some("CRO".into());
                out.push((Update::Payment(quoted_p.clone()), Source::ApiRead));
            }
            let mut last = quoted_p.clone();
            match end {
                0 => {
                    last.status = PaymentStatus::Succeeded;
                    last.captured = true;
                }
                1 => last.status = PaymentStatus::Cancelled,
                _ => last.expired = true,
            }
            out.push((Update::Payment(last.clone()), Source::RelayedWebhook));
            out.push((Update::Payment(last.clone()), Source::ApiRead));
            if end == 0 {
                let mut sent_total = 0;
                for (i, sent) in transferred.iter().enumerate().take(refunds) {
                    let id = format!("r{i}");
                    let amount = 100 * (i as i128 + 1);
                    out.push((
                        Update::Refund(refund(&id, amount, "pending")),
                        Source::RelayedWebhook,
                    ));
                    if *sent {
                        sent_total += amount;
                        out.push((
                            Update::Refund(refund(&id, amount, "succeeded")),
                            Source::RelayedWebhook,
                        ));
                        let mut after = last.clone();
                        after.amount_refunded = sent_total;
                        out.push((Update::Payment(after), Source::ApiRead));
                    }
                }
            }
            out
        })
}

/// The history, shuffled by `order` and with the updates at `dups` sent twice.
fn scrambled() -> impl Strategy<Value = (History, History)> {
    history().prop_flat_map(|h| {
        let n = h.len();
        (
            Just(h),
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            proptest::collection::vec(0..n, 0..n),
        )
            .prop_map(|(h, order, dups)| {
                let mut mixed: Vec<_> = order.iter().map(|&i| h[i].clone()).collect();
                for d in dups {
                    mixed.push(h[d].clone());
                }
                (h, mixed)
            })
    })
}

proptest! {
    #[test]
    fn any_order_and_any_duplication_end_in_the_same_state((inorder, mixed) in scrambled()) {
        // The create answer must be seen first for a refund to have a payment to attach
        // to; a till only ever tracks what it created, so do the same here.
        let mut mixed = mixed;
        mixed.insert(0, inorder[0].clone());
        let a = fold(&inorder).unwrap();
        let b = fold(&mixed).unwrap();
        prop_assert_eq!(essence(&a), essence(&b));
    }

    #[test]
    fn status_never_moves_back_and_refunded_never_shrinks((_, mixed) in scrambled()) {
        let mut state: Option<PaymentState> = None;
        for (u, source) in &mixed {
            if let Merged::Changed(t) = merge(state.as_ref(), u, *source, 0) {
                if let Some(before) = &state {
                    prop_assert!(
                        before.status == t.to || before.status.can_advance_to(&t.to),
                        "{} -> {}", before.status, t.to
                    );
                    prop_assert!(t.refunded_to >= before.refunded());
                    prop_assert!(t.refunded_to >= t.refunded_from);
                }
                state = Some(t.apply_to(state.as_ref()));
            }
        }
    }
}
