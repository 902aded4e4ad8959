//! The keychain against a real Secret Service (gnome-keyring on a private D-Bus session),
//! and the documented error when there is no keychain at all.
//!
//! Run it with:
//!
//! ```sh
//! crates/core/tests/keychain.sh
//! # which is:
//! dbus-run-session -- sh -c 'export XDG_DATA_HOME=$(mktemp -d); \
//!   printf pw | gnome-keyring-daemon --unlock --components=secrets; \
//!   cargo test -p paydesk-core --test keychain'
//! ```
//!
//! The fresh `XDG_DATA_HOME` gives the daemon a new login keyring unlocked with "pw",
//! instead of an existing one under `~/.local/share/keyrings` locked with another password.
//!
//! Everything that touches the keyring is one `#[test]`, so nothing races on it. The
//! `child_probe` test is the child role of the missing-keychain check and does nothing
//! unless `KEYCHAIN_PROBE` selects it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use paydesk_core::provision::Provisioning;
use paydesk_core::secrets::{
    resolve_with, Account, Keychain, Secret, SecretSource, SecretStore, SecretsError,
};

const HOW_TO_RUN: &str = "this test needs a real, unlocked Secret Service. Run \
    crates/core/tests/keychain.sh, which is:\n  \
    dbus-run-session -- sh -c 'export XDG_DATA_HOME=$(mktemp -d); \
    printf pw | gnome-keyring-daemon --unlock --components=secrets; \
    cargo test -p paydesk-core --test keychain'";

const PROBE_ENV: &str = "KEYCHAIN_PROBE";

#[test]
fn child_probe() {
    if std::env::var_os(PROBE_ENV).is_none() {
        return;
    }
    match Keychain::with_service("paydesk-probe").get(Account::SecretKey) {
        Ok(found) => println!("PROBE ok {}", found.is_some()),
        Err(e) => println!("PROBE err unavailable={} {e}", e.is_unavailable()),
    }
}

#[test]
fn keychain_round_trips_through_a_real_secret_service() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "DBUS_SESSION_BUS_ADDRESS is unset: {HOW_TO_RUN}"
    );
    // A service name of its own, so a developer's real PayDesk keys are never touched.
    let service = format!("paydesk-test-{}", uuid::Uuid::new_v4());
    let keychain = Keychain::with_service(&service);
    match keychain.get(Account::SecretKey) {
        Ok(None) => {}
        Ok(Some(_)) => panic!("a fresh service already holds a key"),
        Err(e) => panic!("no Secret Service answered ({e}): {HOW_TO_RUN}"),
    }
    // Reading works on a locked keyring; writing is the real test of a usable one.
    if let Err(e) = keychain.set(Account::SecretKey, &Secret::new("sk_test_from_keychain")) {
        panic!("the Secret Service refused a write ({e}): {HOW_TO_RUN}");
    }

    // Stored through one value, read through another: the keyring really kept it.
    keychain
        .set(Account::TerminalKey, &Secret::new("tk_ünïcode_✓"))
        .unwrap();
    let again = Keychain::with_service(&service);
    assert_eq!(
        again.get(Account::SecretKey).unwrap().unwrap().expose(),
        "sk_test_from_keychain"
    );
    assert_eq!(
        again.get(Account::TerminalKey).unwrap().unwrap().expose(),
        "tk_ünïcode_✓"
    );
    // Another service sees none of it.
    let other = Keychain::with_service(format!("{service}-other"));
    assert_eq!(other.get(Account::SecretKey).unwrap(), None);

    // Overwrite replaces, not duplicates.
    keychain
        .set(Account::SecretKey, &Secret::new("sk_test_rotated"))
        .unwrap();
    assert_eq!(
        again.get(Account::SecretKey).unwrap().unwrap().expose(),
        "sk_test_rotated"
    );
    assert!(matches!(
        keychain.set(Account::SecretKey, &Secret::new("")),
        Err(SecretsError::Empty(Account::SecretKey))
    ));

    // resolve: the keychain when the environment says nothing, the env when it does.
    let got = resolve_with(&keychain, Account::SecretKey, |_| None)
        .unwrap()
        .unwrap();
    assert_eq!(got.source, SecretSource::Keychain);
    assert_eq!(got.secret.expose(), "sk_test_rotated");
    let got = resolve_with(&keychain, Account::SecretKey, |_| {
        Some("sk_test_env".into())
    })
    .unwrap()
    .unwrap();
    assert_eq!(got.source, SecretSource::Env("PAYDESK_SECRET_KEY"));

    // A provisioning file lands its keys in the real keychain.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("till.toml");
    std::fs::write(
        &file,
        "mode = \"live\"\nsecret_key = \"sk_live_provisioned\"\nterminal_key = \"tk_prov\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let config_path = dir.path().join("config.toml");
    Provisioning::load(&file)
        .unwrap()
        .apply(&keychain, &config_path)
        .unwrap();
    assert_eq!(
        again.get(Account::SecretKey).unwrap().unwrap().expose(),
        "sk_live_provisioned"
    );
    assert!(!std::fs::read_to_string(&config_path)
        .unwrap()
        .contains("provisioned"));

    // Delete, twice: gone, and no error for what is already gone.
    for account in Account::ALL {
        keychain.delete(account).unwrap();
        keychain.delete(account).unwrap();
        assert_eq!(again.get(account).unwrap(), None);
    }

    // No keychain at all: a child whose session bus is a dead socket gets the documented
    // error, naming the environment variables to use instead.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_probe", "--exact", "--nocapture", "--test-threads=1"])
        .env(PROBE_ENV, "1")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", dir.path().join("no-bus").display()),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let probe = stdout
        .lines()
        .find_map(|l| l.find("PROBE ").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no probe output: {stdout}"));
    assert!(
        probe.starts_with("PROBE err unavailable=true no OS keychain is available"),
        "{probe}"
    );
    assert!(
        probe.contains("PAYDESK_SECRET_KEY") && probe.contains("PAYDESK_TERMINAL_KEY"),
        "{probe}"
    );
}
