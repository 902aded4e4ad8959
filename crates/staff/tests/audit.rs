//! Who did what: every grant, denial, override, wrong PIN, lockout, staff change and till
//! lock is in the trail, with the person, read back per local day.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use chrono::{Duration, FixedOffset, NaiveDate, Utc};
use common::*;
use paydesk_staff::{Action, AuditEntry, AuditKind, Context, LockReason, Role, TillLock};

fn find(trail: &[AuditEntry], kind: AuditKind) -> Vec<&AuditEntry> {
    trail.iter().filter(|e| e.kind == kind).collect()
}

#[test]
fn every_gated_action_and_staff_change_is_in_the_days_trail_with_the_person() {
    let (till, crew) = Till::with_crew();
    let cara = till.store.sign_in(&pin(CASHIER_PIN)).unwrap();
    for (action, subject) in [
        (Action::OpenShift, "shift-1"),
        (Action::Charge, "order-7"),
        (Action::CancelOwn, "pay_1"),
        (Action::Reprint, "pay_0"),
    ] {
        let ctx = Context::payment(subject, Some(crew.cashier.id));
        let _grant = till.store.authorize_signed_in(&cara, action, &ctx).unwrap();
    }
    till.store
        .authorize_signed_in(&cara, Action::Refund, &Context::subject("pay_0"))
        .unwrap_err();
    let _refund = till
        .store
        .override_action(
            &cara,
            &pin(SUPERVISOR_PIN),
            Action::Refund,
            &Context::subject("pay_0"),
        )
        .unwrap();
    for action in [Action::Export, Action::Settings, Action::Mode, Action::Keys] {
        let _grant = till
            .store
            .authorize(&pin(OWNER_PIN), action, &Context::subject("2026-11-28"))
            .unwrap();
    }
    let _close = till
        .store
        .authorize(
            &pin(SUPERVISOR_PIN),
            Action::CloseShift,
            &Context::subject("shift-1"),
        )
        .unwrap();
    till.store
        .rename(till.owner_grant(), crew.other_cashier.id, "Cyril")
        .unwrap();
    till.store
        .set_role(till.owner_grant(), crew.other_cashier.id, Role::Supervisor)
        .unwrap();
    till.store
        .set_pin(till.owner_grant(), crew.other_cashier.id, &pin("13579"))
        .unwrap();
    till.store
        .remove(till.owner_grant(), crew.other_cashier.id)
        .unwrap();
    for _ in 0..5 {
        till.store
            .sign_in_as(crew.supervisor.id, &pin("0000"))
            .unwrap_err();
    }
    let mut lock = TillLock::new(None);
    lock.unlock(cara, Instant::now());
    let locked = lock.lock().unwrap();
    till.store
        .record_till_locked(&locked.who, locked.reason)
        .unwrap();

    let trail = till
        .store
        .audit_day(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(), &Utc)
        .unwrap();
    let granted: Vec<(Action, &str, &str)> = find(&trail, AuditKind::Granted)
        .into_iter()
        .map(|e| {
            (
                e.action.unwrap(),
                e.person.as_ref().unwrap().name.as_str(),
                e.subject.as_deref().unwrap_or(""),
            )
        })
        .collect();
    for expected in [
        (Action::OpenShift, "Cara", "shift-1"),
        (Action::Charge, "Cara", "order-7"),
        (Action::CancelOwn, "Cara", "pay_1"),
        (Action::Reprint, "Cara", "pay_0"),
        (Action::Export, "Olga", "2026-11-28"),
        (Action::Settings, "Olga", "2026-11-28"),
        (Action::Mode, "Olga", "2026-11-28"),
        (Action::Keys, "Olga", "2026-11-28"),
        (Action::CloseShift, "Sam", "shift-1"),
    ] {
        assert!(
            granted.contains(&expected),
            "{expected:?} not in {granted:?}"
        );
    }
    let denied = find(&trail, AuditKind::Denied);
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].action, Some(Action::Refund));
    assert_eq!(denied[0].person.as_ref().unwrap().name, "Cara");
    let over = find(&trail, AuditKind::Override);
    assert_eq!(over[0].approver.as_ref().unwrap().name, "Sam");

    // Staff changes name who made them and whom they concern, as they were named then.
    let renamed = find(&trail, AuditKind::Renamed)[0];
    assert_eq!(renamed.person.as_ref().unwrap().name, "Olga");
    assert_eq!(renamed.subject.as_deref(), Some("Cyril"));
    assert_eq!(renamed.detail.as_deref(), Some("was Cy"));
    assert_eq!(
        find(&trail, AuditKind::RoleChanged)[0].detail.as_deref(),
        Some("cashier -> supervisor")
    );
    assert_eq!(
        find(&trail, AuditKind::PinSet)[0].subject.as_deref(),
        Some("Cyril")
    );
    assert_eq!(
        find(&trail, AuditKind::StaffRemoved)[0].subject.as_deref(),
        Some("Cyril")
    );
    assert_eq!(find(&trail, AuditKind::StaffAdded).len(), 3);
    assert_eq!(find(&trail, AuditKind::OwnerProvisioned).len(), 1);

    let wrong = find(&trail, AuditKind::WrongPin);
    assert_eq!(wrong.len(), 5);
    assert!(wrong
        .iter()
        .all(|e| e.person.as_ref().unwrap().name == "Sam"));
    let lockout = find(&trail, AuditKind::LockedOut);
    assert_eq!(lockout.len(), 1);
    assert_eq!(lockout[0].person.as_ref().unwrap().id, crew.supervisor.id);

    let till_locked = find(&trail, AuditKind::TillLocked)[0];
    assert_eq!(till_locked.person.as_ref().unwrap().name, "Cara");
    assert_eq!(
        till_locked.detail.as_deref(),
        Some(LockReason::OnDemand.as_str())
    );

    // In order, and all of it in the day.
    assert!(trail.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        trail.len(),
        till.store.audit_after(0, 10_000).unwrap().len()
    );
}

#[test]
fn the_trail_is_read_back_by_the_local_day() {
    let till = Till::new();
    // Berlin in winter: UTC+1. 22:59 UTC is 23:59 local on the 28th; 23:01 UTC is the 29th.
    let tz = FixedOffset::east_opt(3600).unwrap();
    till.clock
        .set(start() + Duration::hours(12) + Duration::minutes(59));
    let _a = till
        .store
        .authorize(&pin(OWNER_PIN), Action::Report, &Context::subject("late"))
        .unwrap();
    till.clock.advance(Duration::minutes(2));
    let _b = till
        .store
        .authorize(
            &pin(OWNER_PIN),
            Action::Report,
            &Context::subject("after midnight"),
        )
        .unwrap();
    let day = |d| {
        till.store
            .audit_day(NaiveDate::from_ymd_opt(2026, 11, d).unwrap(), &tz)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == AuditKind::Granted)
            .map(|e| e.subject.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(day(28), ["late"]);
    assert_eq!(day(29), ["after midnight"]);
    assert!(day(27).is_empty());
}

#[test]
fn the_trail_pages_from_a_sequence_number() {
    let till = Till::new();
    for i in 0..5 {
        let _g = till
            .store
            .authorize(
                &pin(OWNER_PIN),
                Action::Report,
                &Context::subject(format!("r{i}")),
            )
            .unwrap();
    }
    let first = till.store.audit_after(0, 3).unwrap();
    assert_eq!(first.len(), 3);
    let rest = till.store.audit_after(first[2].seq, 100).unwrap();
    assert_eq!(first.len() + rest.len(), 6, "provisioning and five reports");
    assert!(rest[0].seq > first[2].seq);
}
