//! The till host's staff: the gate stays open when the till cannot start (the owner must
//! be able to sign in to fix the settings), the status says who is signed in, and the host's
//! own timer locks the till when the idle time passes — recorded in the audit trail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use paydesk_core::config::ConfigLayer;
use paydesk_core::secrets::{MemoryStore, Secret};
use paydesk_core::staff::{Action, AuditKind, Context, GateError, StaffKind};
use paydesk_core::till::{Assembly, HostEvent, NoDemo, TillHost};

const OWNER_PIN: &str = "739251";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_signs_people_in_and_locks_the_till_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    // Test mode without a key: the till cannot start, the staff gate still opens.
    std::fs::write(&config_path, "mode = \"test\"\nlock_after_secs = 1\n").unwrap();
    let host = TillHost::new(
        Assembly {
            config_path,
            overrides: ConfigLayer::default(),
            keychain: Arc::new(MemoryStore::new()),
            journal_path: Some(dir.path().join("journal.sqlite3")),
        },
        Arc::new(NoDemo),
    );
    assert!(host.restart().await.is_err());
    let status = host.status();
    assert_eq!(status.staff.kind, StaffKind::Till);
    assert!(!status.staff.required);
    assert_eq!(status.staff.demo_pin, None);
    // Without staff nobody signs in, and everything is unattended.
    assert!(host.sign_in(Secret::new(OWNER_PIN)).await.is_err());
    let op = host
        .operator(Action::Settings, Context::none())
        .await
        .unwrap();
    assert_eq!(op.name(), "unattended");
    drop(op);

    let staff = host.staff().await;
    staff
        .provision_owner("Olga".into(), OWNER_PIN.parse().unwrap())
        .await
        .unwrap();
    assert!(host.restart().await.is_err());
    assert!(host.status().staff.required);
    assert!(matches!(
        host.operator(Action::Settings, Context::none()).await,
        Err(GateError::Locked)
    ));
    // A PIN that is not a PIN is refused without being repeated.
    let err = host.sign_in(Secret::new("73x")).await.unwrap_err();
    assert!(!err.contains("73x"), "{err}");

    let mut events = host.subscribe();
    let signed = host.sign_in(Secret::new(OWNER_PIN)).await.unwrap();
    assert_eq!(signed.person.name, "Olga");
    assert!(signed.locks_at_ms.is_some());
    let op = host
        .operator(Action::Settings, Context::subject("mode"))
        .await
        .unwrap();
    assert_eq!(op.name(), "Olga");
    drop(op);

    // The host's timer locks the till a second after the last activity, and says so.
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match events.recv().await {
                Some(HostEvent::Status(s)) if s.staff.required && s.staff.signed_in.is_none() => {
                    return
                }
                Some(_) => {}
                None => panic!("the host went away"),
            }
        }
    })
    .await
    .expect("the till never locked");
    assert!(matches!(
        host.operator(Action::Settings, Context::none()).await,
        Err(GateError::Locked)
    ));
    let locked = staff
        .audit_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == AuditKind::TillLocked)
        .expect("the lock is in the audit trail");
    assert_eq!(locked.detail.as_deref(), Some("idle"));
    assert_eq!(locked.person.unwrap().name, "Olga");
    host.shutdown().await;
}

/// A demo shop that cannot start (no demo built into this test) still opens its own staff
/// file signed in as the demo owner; Lock shows the PIN pad with the demo PIN, which signs
/// the owner in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_opens_signed_in_as_its_owner_and_locks_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, "mode = \"demo\"\n").unwrap();
    let host = TillHost::new(
        Assembly {
            config_path,
            overrides: ConfigLayer::default(),
            keychain: Arc::new(MemoryStore::new()),
            journal_path: Some(dir.path().join("journal.sqlite3")),
        },
        Arc::new(NoDemo),
    );
    let _ = host.restart().await;
    let status = host.status();
    assert_eq!(status.staff.kind, StaffKind::Demo);
    assert!(status.staff.required);
    assert_eq!(status.staff.demo_pin, Some("1234"));
    let who = status.staff.signed_in.expect("the demo owner is signed in");
    assert_eq!(who.person.name, "Demo owner");
    let op = host
        .operator(Action::Refund, Context::subject("pay_1"))
        .await
        .unwrap();
    assert_eq!(op.name(), "Demo owner");
    drop(op);

    host.lock().await;
    assert!(host.status().staff.signed_in.is_none());
    assert!(matches!(
        host.operator(Action::Charge, Context::none()).await,
        Err(GateError::Locked)
    ));
    // The till's own file is untouched: the demo's owner is not the till's.
    assert!(
        !dir.path().join("staff.sqlite3").exists() || {
            let till = paydesk_core::staff::Staff::open_till(
                dir.path(),
                paydesk_core::staff::Policy::default(),
            )
            .unwrap();
            !till.has_staff().await.unwrap()
        }
    );
    host.sign_in(Secret::new("1234")).await.unwrap();
    assert_eq!(
        host.status().staff.signed_in.map(|s| s.person.name),
        Some("Demo owner".to_owned())
    );
    host.shutdown().await;
}
