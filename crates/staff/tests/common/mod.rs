//! A till's staff file on disk, with a manual clock and a known crew.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use paydesk_staff::{
    Action, Context, Grant, ManualClock, Person, Pin, PinCost, Policy, Role, StaffStore,
};
use tempfile::TempDir;

pub const OWNER_PIN: &str = "900001";
pub const SUPERVISOR_PIN: &str = "5005";
pub const CASHIER_PIN: &str = "1234";
pub const OTHER_CASHIER_PIN: &str = "24680";

pub fn pin(s: &str) -> Pin {
    s.parse().unwrap()
}

/// Real argon2id at a test-sized cost (8 MiB, one pass): the default's 64 MiB is asserted
/// in its own test.
pub fn policy() -> Policy {
    Policy {
        pin_cost: PinCost::new(8 * 1024, 1, 1).unwrap(),
        ..Policy::default()
    }
}

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()
}

pub struct Till {
    pub dir: TempDir,
    pub clock: Arc<ManualClock>,
    pub store: StaffStore,
    pub owner: Person,
}

pub struct Crew {
    pub owner: Person,
    pub supervisor: Person,
    pub cashier: Person,
    pub other_cashier: Person,
}

impl Till {
    /// A till provisioned with its owner, Olga.
    pub fn new() -> Till {
        Till::with_policy(policy())
    }

    pub fn with_policy(policy: Policy) -> Till {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(start()));
        let store =
            StaffStore::open_with_clock(dir.path().join("staff.sqlite3"), policy, clock.clone())
                .unwrap();
        let owner = store.provision_owner("Olga", &pin(OWNER_PIN)).unwrap();
        Till {
            dir,
            clock,
            store,
            owner,
        }
    }

    /// The owner, a supervisor (Sam), and two cashiers (Cara, Cy).
    pub fn with_crew() -> (Till, Crew) {
        let till = Till::new();
        let supervisor = till.add("Sam", Role::Supervisor, SUPERVISOR_PIN);
        let cashier = till.add("Cara", Role::Cashier, CASHIER_PIN);
        let other_cashier = till.add("Cy", Role::Cashier, OTHER_CASHIER_PIN);
        let crew = Crew {
            owner: till.owner.clone(),
            supervisor,
            cashier,
            other_cashier,
        };
        (till, crew)
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("staff.sqlite3")
    }

    pub fn owner_grant(&self) -> Grant {
        self.store
            .authorize(&pin(OWNER_PIN), Action::Staff, &Context::none())
            .unwrap()
    }

    pub fn add(&self, name: &str, role: Role, p: &str) -> Person {
        self.store
            .add(self.owner_grant(), name, role, &pin(p))
            .unwrap()
    }

    /// The same file opened again, as the CLI beside the app (or the app after a restart).
    pub fn reopen(&self) -> StaffStore {
        StaffStore::open_with_clock(self.path(), policy(), self.clock.clone()).unwrap()
    }
}
