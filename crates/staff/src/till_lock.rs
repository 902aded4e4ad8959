//! The till's lock: who is signed in, and when the till locks again.
//!
//! A small state machine the app drives with instants from its own clock: it calls
//! [`TillLock::touch`] on each thing the signed-in person does, [`TillLock::tick`] when
//! [`TillLock::locks_at`] comes (one timer, no polling), and [`TillLock::lock`] when the
//! cashier presses Lock. Nothing in here sleeps or reads a clock, so a test walks it
//! through an afternoon with explicit instants. Queries take `now` too: a till whose idle
//! time has passed answers "nobody is signed in" even before its tick arrives.
//!
//! Every lock hands back the [`Identity`] it ended, for the app to record
//! ([`StaffStore::record_till_locked`](crate::StaffStore::record_till_locked)).

use std::time::{Duration, Instant};

use crate::gate::Identity;

/// Why the till locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockReason {
    /// Nothing happened for the idle time.
    Idle,
    /// Someone pressed Lock (or the app locked it: going to the background, a kiosk rule).
    OnDemand,
    /// Someone else signed in.
    Switched,
}

impl LockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LockReason::Idle => "idle",
            LockReason::OnDemand => "on-demand",
            LockReason::Switched => "switched",
        }
    }
}

/// A sign-in that ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Locked {
    pub who: Identity,
    pub reason: LockReason,
}

#[derive(Debug)]
pub struct TillLock {
    idle_after: Option<Duration>,
    state: Option<Unlocked>,
}

#[derive(Debug)]
struct Unlocked {
    who: Identity,
    last_activity: Instant,
}

impl TillLock {
    /// A locked till that will lock again after `idle_after` without activity (`None`:
    /// only on demand).
    pub fn new(idle_after: Option<Duration>) -> Self {
        TillLock {
            idle_after,
            state: None,
        }
    }

    pub fn idle_after(&self) -> Option<Duration> {
        self.idle_after
    }

    /// A new idle time (settings changed); counts from the last activity.
    pub fn set_idle_after(&mut self, idle_after: Option<Duration>) {
        self.idle_after = idle_after;
    }

    /// Unlocks the till for `who` (from [`StaffStore::sign_in`](crate::StaffStore::sign_in)).
    /// Whoever was signed in before is signed out and returned.
    pub fn unlock(&mut self, who: Identity, now: Instant) -> Option<Locked> {
        let before = self.state.replace(Unlocked {
            who,
            last_activity: now,
        });
        before.map(|u| Locked {
            who: u.who,
            reason: LockReason::Switched,
        })
    }

    /// Who is signed in at `now`: nobody once the idle time has passed, tick or no tick.
    pub fn signed_in(&self, now: Instant) -> Option<&Identity> {
        let u = self.state.as_ref()?;
        (!self.expired(u, now)).then_some(&u.who)
    }

    /// The signed-in person did something at `now`: the idle time starts again. `None` when
    /// the till is locked (or should already be): ask for a PIN.
    pub fn touch(&mut self, now: Instant) -> Option<&Identity> {
        let idle_after = self.idle_after;
        let u = self.state.as_mut()?;
        if expired_at(idle_after, u.last_activity, now) {
            return None;
        }
        u.last_activity = u.last_activity.max(now);
        Some(&u.who)
    }

    /// Locks the till if its idle time has passed at `now`.
    pub fn tick(&mut self, now: Instant) -> Option<Locked> {
        if !self.state.as_ref().is_some_and(|u| self.expired(u, now)) {
            return None;
        }
        self.state.take().map(|u| Locked {
            who: u.who,
            reason: LockReason::Idle,
        })
    }

    /// Locks the till now.
    pub fn lock(&mut self) -> Option<Locked> {
        self.state.take().map(|u| Locked {
            who: u.who,
            reason: LockReason::OnDemand,
        })
    }

    pub fn is_locked(&self, now: Instant) -> bool {
        self.signed_in(now).is_none()
    }

    /// When the till will lock unless touched: the instant for the app's one timer.
    pub fn locks_at(&self) -> Option<Instant> {
        let u = self.state.as_ref()?;
        u.last_activity.checked_add(self.idle_after?)
    }

    fn expired(&self, u: &Unlocked, now: Instant) -> bool {
        expired_at(self.idle_after, u.last_activity, now)
    }
}

fn expired_at(idle_after: Option<Duration>, last: Instant, now: Instant) -> bool {
    match idle_after.and_then(|d| last.checked_add(d)) {
        Some(deadline) => now >= deadline,
        None => false,
    }
}
