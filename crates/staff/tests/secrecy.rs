//! A PIN is nowhere in clear: not in the file, not in Debug output or error messages, not
//! in the logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use paydesk_staff::{Action, Context, Policy, Role, StaffStore};

/// Long enough that finding these six digits in a file is no accident; the wrong one is
/// what a guesser typed, and must not be kept either.
const PIN: &str = "739251";
const WRONG: &str = "739250";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn the_staff_file_holds_argon2id_hashes_and_never_a_pin_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("staff.sqlite3");
    // The default cost, as shipped.
    let store = StaffStore::open(&path, Policy::default()).unwrap();
    let olga = store.provision_owner("Olga", &pin(PIN)).unwrap();
    let grant = store
        .authorize(&pin(PIN), Action::Staff, &Context::none())
        .unwrap();
    store
        .add(grant, "Cara", Role::Cashier, &pin("482913"))
        .unwrap();
    store.sign_in(&pin(WRONG)).unwrap_err();
    store.sign_in_as(olga.id, &pin(WRONG)).unwrap_err();
    store.sign_in(&pin(PIN)).unwrap();

    let conn = rusqlite::Connection::open(&path).unwrap();
    let hashes: Vec<String> = conn
        .prepare("SELECT pin_hash FROM people")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(hashes.len(), 2);
    for h in &hashes {
        assert!(h.starts_with("$argon2id$v=19$m=65536,t=1,p=1$"), "{h}");
        assert!(!h.contains(PIN));
    }
    // The schema itself refuses a clear PIN.
    let err = conn
        .execute("UPDATE people SET pin_hash = ?1", [PIN])
        .unwrap_err();
    assert!(err.to_string().contains("CHECK"), "{err}");

    // Every byte SQLite keeps, main file and write-ahead log alike.
    for name in ["staff.sqlite3", "staff.sqlite3-wal", "staff.sqlite3-shm"] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap_or_default();
        assert!(!contains(&bytes, PIN), "{name} holds the PIN in clear");
        assert!(!contains(&bytes, WRONG), "{name} holds a typed wrong PIN");
    }
}

#[cfg(unix)]
#[test]
fn the_staff_file_is_readable_by_its_user_only() {
    use std::os::unix::fs::PermissionsExt;
    let till = Till::new();
    let mode = std::fs::metadata(till.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}

#[test]
fn no_debug_output_or_error_message_repeats_a_pin() {
    let (till, crew) = Till::with_crew();
    let p = pin(PIN);
    let mut printed = vec![format!("{p:?}"), format!("{:?}", till.store)];
    till.store
        .set_pin(till.owner_grant(), crew.cashier.id, &p)
        .unwrap();
    let who = till.store.sign_in(&p).unwrap();
    printed.push(format!("{who:?}"));
    let grant = till
        .store
        .authorize(&p, Action::Charge, &Context::none())
        .unwrap();
    printed.push(format!("{grant:?}"));
    printed.push(format!("{:?}", grant.metadata()));
    for denied in [
        till.store
            .authorize(&p, Action::Refund, &Context::none())
            .unwrap_err(),
        till.store.sign_in(&pin(WRONG)).unwrap_err(),
        till.store
            .override_action(&who, &pin(WRONG), Action::Refund, &Context::none())
            .unwrap_err(),
    ] {
        printed.push(format!("{denied} {denied:?}"));
    }
    let taken = till
        .store
        .add(till.owner_grant(), "Dee", Role::Cashier, &p)
        .unwrap_err();
    printed.push(format!("{taken} {taken:?}"));
    let format = PIN.repeat(2).parse::<paydesk_staff::Pin>().unwrap_err();
    printed.push(format!("{format} {format:?}"));
    printed.push(format!("{:?}", till.store.audit_after(0, 1000).unwrap()));
    printed.push(format!("{:?}", till.store.list().unwrap()));
    for text in &printed {
        assert!(!text.contains(PIN) && !text.contains(WRONG), "{text}");
    }
}

/// A log sink for one test: tracing writes here at TRACE level.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_log_line_carries_a_pin() {
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .without_time()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let (till, crew) = Till::with_crew();
        till.store
            .set_pin(till.owner_grant(), crew.cashier.id, &pin(PIN))
            .unwrap();
        let cara = till.store.sign_in(&pin(PIN)).unwrap();
        let grant = till
            .store
            .override_action(
                &cara,
                &pin(SUPERVISOR_PIN),
                Action::Refund,
                &Context::none(),
            )
            .unwrap();
        assert!(grant.approved_by().is_some());
        for _ in 0..5 {
            till.store
                .sign_in_as(crew.cashier.id, &pin(WRONG))
                .unwrap_err();
        }
        for _ in 0..5 {
            till.store.sign_in(&pin(WRONG)).unwrap_err();
        }
    });
    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    // The log did record what happened...
    assert!(logs.contains("wrong PIN"), "{logs}");
    assert!(logs.contains("locked out"), "{logs}");
    assert!(logs.contains("override"), "{logs}");
    assert!(logs.contains("PIN entry paused"), "{logs}");
    // ...and never the digits.
    assert!(!logs.contains(PIN) && !logs.contains(WRONG), "{logs}");
}
