//! The staff list: who can be added, removed, renamed, given a role or a PIN, and by whom.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use paydesk_staff::{
    Action, Context, Denied, Policy, Role, StaffError, StaffStore, SCHEMA_VERSION,
};

#[test]
fn provisioning_sets_the_first_owner_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = StaffStore::open(dir.path().join("s.sqlite3"), policy()).unwrap();
    assert!(!store.is_provisioned().unwrap());
    assert!(matches!(
        store.sign_in(&pin("1234")).unwrap_err(),
        Denied::NoStaff
    ));
    let olga = store.provision_owner("  Olga ", &pin("1234")).unwrap();
    assert_eq!(olga.name, "Olga");
    assert_eq!(olga.role, Role::Owner);
    assert!(store.is_provisioned().unwrap());
    assert!(matches!(
        store.provision_owner("Mallory", &pin("4321")),
        Err(StaffError::AlreadyProvisioned)
    ));
}

#[test]
fn only_the_owner_changes_the_staff() {
    let (till, crew) = Till::with_crew();
    for p in [CASHIER_PIN, SUPERVISOR_PIN] {
        let err = till
            .store
            .authorize(&pin(p), Action::Staff, &Context::none())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Only the owner can manage staff. Ask them to enter their PIN."
        );
    }
    // A grant for another action does not open the staff list.
    let refund = till
        .store
        .authorize(&pin(SUPERVISOR_PIN), Action::Refund, &Context::none())
        .unwrap();
    let err = till.store.remove(refund, crew.cashier.id).unwrap_err();
    assert!(matches!(
        err,
        StaffError::WrongGrant {
            needed: Action::Staff,
            got: Action::Refund
        }
    ));
    assert_eq!(till.store.list().unwrap().len(), 4);
}

#[test]
fn names_are_unique_in_any_case() {
    let (till, crew) = Till::with_crew();
    let err = till
        .store
        .add(till.owner_grant(), "cARA", Role::Cashier, &pin("7777"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "There is already someone called cARA on the staff."
    );
    let err = till
        .store
        .rename(till.owner_grant(), crew.other_cashier.id, " sam ")
        .unwrap_err();
    assert!(matches!(err, StaffError::NameTaken(_)));
    assert!(matches!(
        till.store
            .add(till.owner_grant(), "   ", Role::Cashier, &pin("7777")),
        Err(StaffError::EmptyName)
    ));
    assert!(matches!(
        till.store
            .add(till.owner_grant(), "Tab\there", Role::Cashier, &pin("7777")),
        Err(StaffError::BadName)
    ));
    assert_eq!(till.store.find("CARA").unwrap().id, crew.cashier.id);
    // Renaming to another case of one's own name is fine.
    let renamed = till
        .store
        .rename(till.owner_grant(), crew.cashier.id, "CARA")
        .unwrap();
    assert_eq!(renamed.name, "CARA");
}

#[test]
fn a_pin_is_unique_per_till() {
    let (till, crew) = Till::with_crew();
    let err = till
        .store
        .add(till.owner_grant(), "Dee", Role::Cashier, &pin(CASHIER_PIN))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Someone else already has that PIN. Choose a different one."
    );
    assert!(matches!(
        till.store.set_pin(
            till.owner_grant(),
            crew.other_cashier.id,
            &pin(SUPERVISOR_PIN)
        ),
        Err(StaffError::PinTaken)
    ));
    // Keeping one's own PIN is not a clash.
    till.store
        .set_pin(till.owner_grant(), crew.cashier.id, &pin(CASHIER_PIN))
        .unwrap();
}

#[test]
fn a_new_pin_replaces_the_old_one() {
    let (till, crew) = Till::with_crew();
    till.store
        .set_pin(till.owner_grant(), crew.cashier.id, &pin("86420"))
        .unwrap();
    assert!(till.store.sign_in(&pin(CASHIER_PIN)).is_err());
    assert_eq!(
        till.store.sign_in(&pin("86420")).unwrap().id(),
        crew.cashier.id
    );
}

#[test]
fn the_last_owner_can_be_neither_removed_nor_demoted() {
    let (till, crew) = Till::with_crew();
    let err = till
        .store
        .remove(till.owner_grant(), crew.owner.id)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Olga is the last owner. Make someone else owner first."
    );
    assert!(matches!(
        till.store
            .set_role(till.owner_grant(), crew.owner.id, Role::Supervisor),
        Err(StaffError::LastOwner(_))
    ));
    // With a second owner, the first may go.
    till.store
        .set_role(till.owner_grant(), crew.supervisor.id, Role::Owner)
        .unwrap();
    till.store
        .remove(till.owner_grant(), crew.owner.id)
        .unwrap();
    let sam = till
        .store
        .authorize(&pin(SUPERVISOR_PIN), Action::Staff, &Context::none())
        .unwrap();
    assert!(matches!(
        till.store.remove(sam, crew.supervisor.id),
        Err(StaffError::LastOwner(_))
    ));
}

#[test]
fn a_removed_persons_pin_opens_nothing_and_is_free_again() {
    let (till, crew) = Till::with_crew();
    till.store
        .remove(till.owner_grant(), crew.cashier.id)
        .unwrap();
    assert!(matches!(
        till.store.sign_in(&pin(CASHIER_PIN)).unwrap_err(),
        Denied::WrongPin { .. }
    ));
    assert!(matches!(
        till.store.person(crew.cashier.id),
        Err(StaffError::UnknownPerson(_))
    ));
    let names: Vec<_> = till
        .store
        .list()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Cy", "Olga", "Sam"]);
    // The name and the PIN can be given to someone new.
    let cara2 = till.add("Cara", Role::Cashier, CASHIER_PIN);
    assert_ne!(cara2.id, crew.cashier.id);
    assert_eq!(
        till.store.sign_in(&pin(CASHIER_PIN)).unwrap().id(),
        cara2.id
    );
}

#[test]
fn a_staff_file_from_a_newer_paydesk_is_refused_and_reopening_changes_nothing() {
    let till = Till::new();
    let again = till.reopen();
    assert_eq!(again.list().unwrap().len(), 1);
    drop(again);
    {
        let conn = rusqlite::Connection::open(till.path()).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let err = StaffStore::open(till.path(), Policy::default()).unwrap_err();
    assert!(matches!(err, StaffError::TooNew { .. }), "{err}");
}

#[test]
fn a_file_that_is_not_sqlite_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("staff.sqlite3");
    std::fs::write(
        &path,
        b"definitely not a database, just some bytes to trip on",
    )
    .unwrap();
    let err = StaffStore::open(&path, policy()).unwrap_err();
    assert!(matches!(err, StaffError::Open { .. }), "{err}");
}

#[test]
fn the_store_can_be_shared_between_the_apps_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<StaffStore>();
    shared::<paydesk_staff::Grant>();
    shared::<paydesk_staff::TillLock>();
    let (till, _) = Till::with_crew();
    let store = std::sync::Arc::new(till.reopen());
    let handles: Vec<_> = [CASHIER_PIN, SUPERVISOR_PIN, OWNER_PIN]
        .into_iter()
        .map(|p| {
            let store = store.clone();
            std::thread::spawn(move || store.sign_in(&pin(p)).map(|who| who.person().role))
        })
        .collect();
    let mut roles: Vec<Role> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    roles.sort();
    assert_eq!(roles, [Role::Cashier, Role::Supervisor, Role::Owner]);
}
