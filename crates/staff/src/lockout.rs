//! The lockout rules: how many wrong PINs a person and the till get, and for how long.
//!
//! Pure functions over counters the store keeps in SQLite (so the app and the CLI beside it
//! share one count, and restarting the app does not reset it).
//!
//! - A person: [`Policy::attempts`] wrong PINs in a row *for that person* lock them out for
//!   [`Policy::lockout`]; each further lockout before they next sign in doubles it, up to
//!   [`Policy::max_lockout`]. A wrong PIN is "for a person" only when the person is known:
//!   the till was unlocked by them, or they were picked by name (a PIN alone names nobody
//!   when it is wrong).
//! - The till: every wrong PIN, named or not, counts against the till. At most
//!   [`Policy::till_attempts`] in any [`Policy::till_window`]; past that PIN entry pauses
//!   until the oldest of them leaves the window. That bounds guessing through the PIN pad
//!   (10 per 10 minutes by default) whoever is guessing, at the price that a pranking
//!   customer can pause PIN entry for ten minutes.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::pin::PinCost;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Wrong PINs in a row that lock a person out.
    pub attempts: u32,
    /// The first lockout; it doubles on each repeat before a successful sign-in.
    pub lockout: Duration,
    /// The longest a lockout grows to.
    pub max_lockout: Duration,
    /// Wrong PINs the till takes within [`Policy::till_window`] before PIN entry pauses.
    pub till_attempts: u32,
    pub till_window: Duration,
    /// The argon2id cost of new PIN hashes.
    pub pin_cost: PinCost,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            attempts: 5,
            lockout: Duration::from_secs(5 * 60),
            max_lockout: Duration::from_secs(60 * 60),
            till_attempts: 10,
            till_window: Duration::from_secs(10 * 60),
            pin_cost: PinCost::DEFAULT,
        }
    }
}

/// A person's wrong-PIN counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Strikes {
    /// Wrong PINs since the last success or lockout.
    pub failed: u32,
    /// Lockouts since the last success.
    pub lockouts: u32,
}

impl Policy {
    /// The counters after one more wrong PIN for a person, and until when it locks them out
    /// if it does.
    pub(crate) fn after_wrong_pin(
        &self,
        strikes: Strikes,
        now: DateTime<Utc>,
    ) -> (Strikes, Option<DateTime<Utc>>) {
        let failed = strikes.failed.saturating_add(1);
        if failed < self.attempts.max(1) {
            return (Strikes { failed, ..strikes }, None);
        }
        let lockouts = strikes.lockouts.saturating_add(1);
        let until = now + delta(self.lockout_length(lockouts));
        (
            Strikes {
                failed: 0,
                lockouts,
            },
            Some(until),
        )
    }

    /// How long the `n`th lockout in a row lasts (n ≥ 1).
    pub fn lockout_length(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(20);
        self.lockout
            .saturating_mul(1 << doublings)
            .min(self.max_lockout.max(self.lockout))
    }

    /// Until when the till refuses PINs, given its recent wrong PINs (any order).
    pub(crate) fn till_paused_until(
        &self,
        recent: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let window = delta(self.till_window);
        let mut in_window: Vec<DateTime<Utc>> = recent
            .iter()
            .copied()
            .filter(|t| *t > now - window)
            .collect();
        in_window.sort_unstable();
        let limit = usize::try_from(self.till_attempts.max(1)).unwrap_or(usize::MAX);
        let first_to_expire = in_window.len().checked_sub(limit)?;
        in_window.get(first_to_expire).map(|t| *t + window)
    }

    /// How far back the till's wrong PINs matter.
    pub(crate) fn till_window_delta(&self) -> TimeDelta {
        delta(self.till_window)
    }
}

/// A std duration as chrono's, saturating (a configured "forever" is a century).
fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::days(36_500))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_fifth_wrong_pin_locks_and_repeats_double_up_to_the_cap() {
        let p = Policy::default();
        let mut s = Strikes::default();
        for _ in 0..4 {
            let (next, until) = p.after_wrong_pin(s, at(0));
            assert_eq!(until, None);
            s = next;
        }
        let (s, until) = p.after_wrong_pin(s, at(0));
        assert_eq!(until, Some(at(300)));
        assert_eq!(
            s,
            Strikes {
                failed: 0,
                lockouts: 1
            }
        );
        let minutes: Vec<u64> = (1..=6)
            .map(|n| p.lockout_length(n).as_secs() / 60)
            .collect();
        assert_eq!(minutes, [5, 10, 20, 40, 60, 60]);
    }

    #[test]
    fn the_till_pauses_after_its_limit_until_the_oldest_leaves_the_window() {
        let p = Policy::default();
        let nine: Vec<_> = (0..9).map(|i| at(i * 10)).collect();
        assert_eq!(p.till_paused_until(&nine, at(90)), None);
        let mut ten = nine.clone();
        ten.push(at(95));
        assert_eq!(p.till_paused_until(&ten, at(95)), Some(at(600)));
        // At the end of the window the oldest has gone: one more try is allowed.
        assert_eq!(p.till_paused_until(&ten, at(600)), None);
        // Wrong PINs from before the window do not count.
        let old: Vec<_> = (0..20).map(|i| at(i - 1000)).collect();
        assert_eq!(p.till_paused_until(&old, at(0)), None);
    }
}
