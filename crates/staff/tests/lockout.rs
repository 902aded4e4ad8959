//! Wrong PINs: five for a person lock them out for a while; too many on the till pause
//! PIN entry. Time moves by a manual clock, never by sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::*;
use paydesk_staff::{Action, AuditKind, Clock, Context, Denied};

#[test]
fn five_wrong_pins_for_a_person_lock_them_out_until_the_window_ends() {
    let (till, crew) = Till::with_crew();
    let id = crew.cashier.id;
    for i in 1..=4 {
        let err = till.store.sign_in_as(id, &pin("9999")).unwrap_err();
        assert!(
            matches!(err, Denied::WrongPin { .. }),
            "attempt {i}: {err:?}"
        );
    }
    let err = till.store.sign_in_as(id, &pin("9999")).unwrap_err();
    let Denied::LockedOut { name, until } = &err else {
        panic!("the fifth wrong PIN should lock Cara out: {err:?}")
    };
    assert_eq!(name, "Cara");
    assert_eq!(*until, start() + Duration::minutes(5));
    assert!(err
        .to_string()
        .starts_with("Cara is locked out after too many wrong PINs until"));

    // Locked out: even her right PIN opens nothing, by name or alone.
    assert!(matches!(
        till.store.sign_in_as(id, &pin(CASHIER_PIN)).unwrap_err(),
        Denied::LockedOut { .. }
    ));
    let alone = till.store.sign_in(&pin(CASHIER_PIN)).unwrap_err();
    let Denied::WrongPin { locked } = &alone else {
        panic!("{alone:?}")
    };
    assert_eq!(locked[0].0, "Cara");
    assert!(alone
        .to_string()
        .contains("Locked out after too many wrong PINs: Cara until"));
    assert_eq!(till.store.person(id).unwrap().locked_until, Some(*until));
    // Others are not affected.
    till.store.sign_in(&pin(OTHER_CASHIER_PIN)).unwrap();

    till.clock
        .advance(Duration::minutes(5) - Duration::seconds(1));
    assert!(till.store.sign_in_as(id, &pin(CASHIER_PIN)).is_err());
    till.clock.advance(Duration::seconds(1));
    let cara = till.store.sign_in_as(id, &pin(CASHIER_PIN)).unwrap();
    assert_eq!(cara.id(), id);
    assert_eq!(till.store.person(id).unwrap().locked_until, None);
}

#[test]
fn a_repeat_lockout_before_a_good_pin_lasts_twice_as_long() {
    let (till, crew) = Till::with_crew();
    let id = crew.cashier.id;
    let lock_out = || {
        for _ in 0..4 {
            till.store.sign_in_as(id, &pin("9999")).unwrap_err();
        }
        match till.store.sign_in_as(id, &pin("9999")).unwrap_err() {
            Denied::LockedOut { until, .. } => until,
            other => panic!("{other:?}"),
        }
    };
    let t0 = till.clock.now();
    assert_eq!(lock_out(), t0 + Duration::minutes(5));
    till.clock.advance(Duration::minutes(5));
    let t1 = till.clock.now();
    assert_eq!(lock_out(), t1 + Duration::minutes(10));
    till.clock.advance(Duration::minutes(10));
    // A good PIN resets the count and the doubling.
    till.store.sign_in_as(id, &pin(CASHIER_PIN)).unwrap();
    let t2 = till.clock.now();
    assert_eq!(lock_out(), t2 + Duration::minutes(5));
}

#[test]
fn a_good_pin_clears_the_wrong_ones_before_it() {
    let (till, crew) = Till::with_crew();
    let id = crew.cashier.id;
    for _ in 0..4 {
        till.store.sign_in_as(id, &pin("9999")).unwrap_err();
    }
    till.store.sign_in_as(id, &pin(CASHIER_PIN)).unwrap();
    for _ in 0..4 {
        assert!(matches!(
            till.store.sign_in_as(id, &pin("9999")).unwrap_err(),
            Denied::WrongPin { .. }
        ));
    }
}

#[test]
fn a_supervisor_lifts_a_lockout_and_the_trail_says_so() {
    let (till, crew) = Till::with_crew();
    let id = crew.cashier.id;
    for _ in 0..5 {
        till.store.sign_in_as(id, &pin("9999")).unwrap_err();
    }
    // A cashier may not lift it.
    assert!(till
        .store
        .authorize(
            &pin(OTHER_CASHIER_PIN),
            Action::Unlock,
            &Context::subject("Cara")
        )
        .is_err());
    let grant = till
        .store
        .authorize(
            &pin(SUPERVISOR_PIN),
            Action::Unlock,
            &Context::subject("Cara"),
        )
        .unwrap();
    till.store.lift_lockout(grant, id).unwrap();
    till.store.sign_in_as(id, &pin(CASHIER_PIN)).unwrap();
    let kinds: Vec<_> = till
        .store
        .audit_after(0, 1000)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&AuditKind::LockedOut));
    assert!(kinds.contains(&AuditKind::LockoutLifted));
}

#[test]
fn wrong_pins_that_match_nobody_pause_the_till_after_ten_in_ten_minutes() {
    let (till, _) = Till::with_crew();
    for i in 0..9 {
        let err = till.store.sign_in(&pin("0000")).unwrap_err();
        assert!(matches!(err, Denied::WrongPin { .. }), "{i}: {err:?}");
        till.clock.advance(Duration::seconds(10));
    }
    // 90 s in, the tenth wrong PIN in the window pauses PIN entry until the first of them
    // is ten minutes old.
    let err = till.store.sign_in(&pin("0000")).unwrap_err();
    let Denied::TillPaused { until } = err else {
        panic!("{err:?}")
    };
    assert_eq!(until, start() + Duration::minutes(10));
    // Paused: even the owner's right PIN is not checked.
    assert!(matches!(
        till.store.sign_in(&pin(OWNER_PIN)).unwrap_err(),
        Denied::TillPaused { .. }
    ));
    assert!(matches!(
        till.store
            .authorize(&pin(OWNER_PIN), Action::Staff, &Context::none())
            .unwrap_err(),
        Denied::TillPaused { .. }
    ));
    // Nobody was locked out personally: the wrong PINs named nobody.
    assert!(till
        .store
        .list()
        .unwrap()
        .iter()
        .all(|p| p.locked_until.is_none()));

    till.clock.set(until);
    till.store.sign_in(&pin(OWNER_PIN)).unwrap();
    let paused = till
        .store
        .audit_after(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AuditKind::TillPaused)
        .count();
    assert_eq!(paused, 1);
}

#[test]
fn lockouts_are_shared_with_the_cli_and_survive_a_restart() {
    let (till, crew) = Till::with_crew();
    let cli = till.reopen();
    for _ in 0..3 {
        till.store
            .sign_in_as(crew.cashier.id, &pin("9999"))
            .unwrap_err();
    }
    for _ in 0..2 {
        cli.sign_in_as(crew.cashier.id, &pin("9999")).unwrap_err();
    }
    drop(cli);
    let restarted = till.reopen();
    assert!(restarted
        .person(crew.cashier.id)
        .unwrap()
        .locked_until
        .is_some());
    assert!(matches!(
        restarted.sign_in(&pin(CASHIER_PIN)).unwrap_err(),
        Denied::WrongPin { .. }
    ));
}
