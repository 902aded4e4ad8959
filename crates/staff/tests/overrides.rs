//! A supervisor's PIN on a cashier's screen: one action, recorded with both names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use paydesk_staff::{
    Action, AuditKind, Context, Denied, Role, APPROVED_BY_METADATA_KEY, CASHIER_METADATA_KEY,
};

#[test]
fn a_supervisor_override_grants_the_cashier_one_refund_and_the_trail_names_both() {
    let (till, crew) = Till::with_crew();
    let cara = till.store.sign_in(&pin(CASHIER_PIN)).unwrap();
    let ctx = Context::subject("pay_42");
    assert!(till
        .store
        .authorize_signed_in(&cara, Action::Refund, &ctx)
        .is_err());

    let grant = till
        .store
        .override_action(&cara, &pin(SUPERVISOR_PIN), Action::Refund, &ctx)
        .unwrap();
    assert_eq!(grant.person().id, crew.cashier.id, "the cashier acts");
    assert_eq!(grant.approved_by().map(|p| p.id), Some(crew.supervisor.id));
    assert_eq!(grant.action(), Action::Refund);
    let meta = grant.metadata();
    assert!(meta.contains(&(CASHIER_METADATA_KEY, "Cara".to_owned())));
    assert!(meta.contains(&(APPROVED_BY_METADATA_KEY, "Sam".to_owned())));

    // It was for one action: the next refund needs the supervisor again.
    assert!(till
        .store
        .authorize_signed_in(&cara, Action::Refund, &ctx)
        .is_err());

    let trail = till.store.audit_after(0, 100).unwrap();
    let o: Vec<_> = trail
        .iter()
        .filter(|e| e.kind == AuditKind::Override)
        .collect();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].person.as_ref().unwrap().name, "Cara");
    assert_eq!(o[0].approver.as_ref().unwrap().name, "Sam");
    assert_eq!(o[0].action, Some(Action::Refund));
    assert_eq!(o[0].subject.as_deref(), Some("pay_42"));
}

#[test]
fn another_cashier_cannot_override() {
    let (till, _) = Till::with_crew();
    let cara = till.store.sign_in(&pin(CASHIER_PIN)).unwrap();
    let err = till
        .store
        .override_action(
            &cara,
            &pin(OTHER_CASHIER_PIN),
            Action::Refund,
            &Context::none(),
        )
        .unwrap_err();
    assert!(
        matches!(err, Denied::NotAllowed { ref name, needs: Role::Supervisor, .. } if name == "Cy"),
        "{err:?}"
    );
}

#[test]
fn a_supervisor_cannot_override_what_only_the_owner_may_do() {
    let (till, _) = Till::with_crew();
    let cara = till.store.sign_in(&pin(CASHIER_PIN)).unwrap();
    let err = till
        .store
        .override_action(
            &cara,
            &pin(SUPERVISOR_PIN),
            Action::Export,
            &Context::none(),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Only the owner can export the day. Ask them to enter their PIN."
    );
    let grant = till
        .store
        .override_action(&cara, &pin(OWNER_PIN), Action::Export, &Context::none())
        .unwrap();
    assert_eq!(grant.approved_by().unwrap().role, Role::Owner);
}

#[test]
fn an_override_for_cancelling_another_cashiers_payment_is_judged_as_cancel_any() {
    let (till, crew) = Till::with_crew();
    let cara = till.store.sign_in(&pin(CASHIER_PIN)).unwrap();
    let ctx = Context::payment("pay_cy", Some(crew.other_cashier.id));
    let grant = till
        .store
        .override_action(&cara, &pin(SUPERVISOR_PIN), Action::CancelOwn, &ctx)
        .unwrap();
    assert_eq!(grant.action(), Action::CancelAny);
    assert!(grant.approved_by().is_some());
}

#[test]
fn no_override_is_recorded_when_the_role_already_allows_it() {
    let (till, _) = Till::with_crew();
    let sam = till.store.sign_in(&pin(SUPERVISOR_PIN)).unwrap();
    let grant = till
        .store
        .override_action(&sam, &pin(OWNER_PIN), Action::Refund, &Context::none())
        .unwrap();
    assert!(grant.approved_by().is_none());
    let trail = till.store.audit_after(0, 100).unwrap();
    assert!(trail.iter().all(|e| e.kind != AuditKind::Override));
}

#[test]
fn a_wrong_override_pin_is_a_wrong_pin() {
    let (till, _) = Till::with_crew();
    let cara = till.store.sign_in(&pin(CASHIER_PIN)).unwrap();
    let err = till
        .store
        .override_action(&cara, &pin("0000"), Action::Refund, &Context::none())
        .unwrap_err();
    assert!(matches!(err, Denied::WrongPin { .. }), "{err:?}");
}

#[test]
fn a_signed_in_person_removed_or_demoted_since_gets_todays_answer() {
    let (till, crew) = Till::with_crew();
    let sam = till.store.sign_in(&pin(SUPERVISOR_PIN)).unwrap();
    let cara = till.store.sign_in(&pin(CASHIER_PIN)).unwrap();
    till.store
        .set_role(till.owner_grant(), crew.supervisor.id, Role::Cashier)
        .unwrap();
    assert!(matches!(
        till.store
            .authorize_signed_in(&sam, Action::Refund, &Context::none())
            .unwrap_err(),
        Denied::NotAllowed { .. }
    ));
    till.store
        .remove(till.owner_grant(), crew.cashier.id)
        .unwrap();
    let err = till
        .store
        .authorize_signed_in(&cara, Action::Charge, &Context::none())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cara is no longer on the staff. Sign in again."
    );
}
