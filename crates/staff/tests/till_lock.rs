//! The idle lock, walked through with explicit instants (nothing sleeps).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use paydesk_staff::{Action, Context, LockReason, TillLock};

const IDLE: Duration = Duration::from_secs(120);

#[test]
fn a_new_till_is_locked() {
    let lock = TillLock::new(Some(IDLE));
    let t0 = Instant::now();
    assert!(lock.is_locked(t0));
    assert!(lock.signed_in(t0).is_none());
    assert_eq!(lock.locks_at(), None);
}

#[test]
fn the_till_locks_after_the_idle_time_and_not_a_moment_before() {
    let (till, crew) = Till::with_crew();
    let t0 = Instant::now();
    let mut lock = TillLock::new(Some(IDLE));
    assert!(lock
        .unlock(till.store.sign_in(&pin(CASHIER_PIN)).unwrap(), t0)
        .is_none());
    assert_eq!(lock.locks_at(), Some(t0 + IDLE));

    let almost = t0 + IDLE - Duration::from_millis(1);
    assert_eq!(lock.signed_in(almost).unwrap().id(), crew.cashier.id);
    assert!(lock.tick(almost).is_none());

    // Past the deadline nobody is signed in, even before the tick comes.
    assert!(lock.signed_in(t0 + IDLE).is_none());
    assert!(
        lock.touch(t0 + IDLE).is_none(),
        "a late touch does not revive it"
    );
    let locked = lock.tick(t0 + IDLE).unwrap();
    assert_eq!(locked.reason, LockReason::Idle);
    assert_eq!(locked.who.id(), crew.cashier.id);
    assert!(lock.is_locked(t0 + IDLE));
    assert!(lock.tick(t0 + IDLE * 2).is_none(), "it locks once");
}

#[test]
fn activity_pushes_the_idle_lock_back() {
    let (till, _) = Till::with_crew();
    let t0 = Instant::now();
    let mut lock = TillLock::new(Some(IDLE));
    lock.unlock(till.store.sign_in(&pin(CASHIER_PIN)).unwrap(), t0);
    let t1 = t0 + Duration::from_secs(100);
    let who = lock.touch(t1).unwrap();
    // The signed-in person is who the gate asks about.
    let _charge = till
        .store
        .authorize_signed_in(who, Action::Charge, &Context::none())
        .unwrap();
    assert_eq!(lock.locks_at(), Some(t1 + IDLE));
    assert!(lock.tick(t0 + IDLE).is_none());
    // An out-of-order (earlier) touch never pulls the deadline in.
    lock.touch(t0 + Duration::from_secs(50));
    assert_eq!(lock.locks_at(), Some(t1 + IDLE));
    assert!(lock.tick(t1 + IDLE).is_some());
}

#[test]
fn locking_on_demand_ends_the_sign_in() {
    let (till, _) = Till::with_crew();
    let t0 = Instant::now();
    let mut lock = TillLock::new(Some(IDLE));
    lock.unlock(till.store.sign_in(&pin(SUPERVISOR_PIN)).unwrap(), t0);
    let locked = lock.lock().unwrap();
    assert_eq!(locked.reason, LockReason::OnDemand);
    assert_eq!(locked.who.person().name, "Sam");
    assert!(lock.is_locked(t0));
    assert!(lock.touch(t0).is_none());
    assert!(lock.lock().is_none());
}

#[test]
fn without_an_idle_time_the_till_locks_only_on_demand() {
    let (till, _) = Till::with_crew();
    let t0 = Instant::now();
    let mut lock = TillLock::new(None);
    lock.unlock(till.store.sign_in(&pin(CASHIER_PIN)).unwrap(), t0);
    let much_later = t0 + Duration::from_secs(365 * 24 * 3600);
    assert!(lock.tick(much_later).is_none());
    assert!(lock.signed_in(much_later).is_some());
    assert_eq!(lock.locks_at(), None);
    // Turning an idle time on counts from the last activity.
    lock.set_idle_after(Some(IDLE));
    assert!(lock.tick(much_later).is_some());
}

#[test]
fn a_second_person_signing_in_signs_the_first_out() {
    let (till, crew) = Till::with_crew();
    let t0 = Instant::now();
    let mut lock = TillLock::new(Some(IDLE));
    lock.unlock(till.store.sign_in(&pin(CASHIER_PIN)).unwrap(), t0);
    let before = lock
        .unlock(till.store.sign_in(&pin(OTHER_CASHIER_PIN)).unwrap(), t0)
        .unwrap();
    assert_eq!(before.reason, LockReason::Switched);
    assert_eq!(before.who.id(), crew.cashier.id);
    assert_eq!(lock.signed_in(t0).unwrap().id(), crew.other_cashier.id);
}
