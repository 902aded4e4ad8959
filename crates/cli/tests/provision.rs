//! `paydesk-cli provision <file>`: a private file's keys land in a real Secret Service
//! (gnome-keyring in a private D-Bus session) and its settings in the config file, and the
//! till then works from them alone; a file readable by others is refused untouched.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{run, Shop, Till, BIN};

fn write_mode(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn store_file(shop: &Shop) -> String {
    format!(
        "terminal_name = \"Front till\"\n\
         currency = \"EUR\"\n\
         mode = \"test\"\n\
         api_url = \"{}\"\n\
         relay_url = \"{}\"\n\
         merchant = \"Corner Shop\"\n\
         secret_key = \"{}\"\n\
         terminal_key = \"{}\"\n",
        shop.api_url, shop.relay_url, shop.secret_key, shop.terminal_key
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_file_is_applied_and_the_till_runs_from_the_keychain_and_config() {
    let shop = Shop::start(Duration::from_secs(600)).await;
    let till = Till::new();
    let file = till.path("till-1.toml");
    write_mode(&file, &store_file(&shop), 0o600);

    // One private D-Bus session with an unlocked gnome-keyring: provision, then doctor
    // with no key in the environment and no flag, so everything comes from what
    // provision stored.
    let script = r#"printf paydesk-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 90
"$0" provision "$1" || exit 91
"$0" doctor --relay-wait 15"#;
    let mut cmd = till.bare(&[]);
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
    let cmd = {
        let mut c = tokio::process::Command::new("dbus-run-session");
        c.args(["--", "sh", "-c", script, BIN, file.to_str().unwrap()]);
        for (k, v) in cmd.as_std().get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        c
    };
    let done = run(cmd).await;
    assert_ne!(
        done.code,
        Some(90),
        "gnome-keyring-daemon did not start (install gnome-keyring and dbus; scripts/test.sh \
         does): {}",
        done.stderr
    );
    done.assert_code(0);
    assert!(
        done.stdout.contains(
            "Stored in the OS keychain (service \"paydesk\"): secret API key, terminal key"
        ),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains("terminal_name = \"Front till\""),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains("Checking Front till"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains("All checks passed."),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains("the OS keychain answers"),
        "{}",
        done.stdout
    );
    for key in [&shop.secret_key, &shop.terminal_key] {
        assert!(!done.stdout.contains(key.as_str()) && !done.stderr.contains(key.as_str()));
    }
    let config = std::fs::read_to_string(till.config_path()).unwrap();
    assert!(config.contains("default_currency = \"EUR\""), "{config}");
    assert!(config.contains(&shop.relay_url), "{config}");
    assert!(!config.contains(&shop.secret_key) && !config.contains(&shop.terminal_key));
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_keys_readable_by_others_is_refused_with_the_chmod_fix() {
    let shop = Shop::start(Duration::from_secs(600)).await;
    let till = Till::new();
    let file = till.path("till-1.toml");
    write_mode(&file, &store_file(&shop), 0o644);
    let done = run(till.bare(&["provision", file.to_str().unwrap()])).await;
    done.assert_code(1);
    assert!(
        done.stderr
            .contains(&format!("run `chmod 600 {}`", file.display())),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains(&shop.secret_key));
    assert!(!till.config_path().exists(), "nothing may be written");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_without_keys_needs_no_keychain_and_may_be_readable() {
    let till = Till::new();
    let file = till.path("settings.toml");
    write_mode(
        &file,
        "terminal_name = \"Back till\"\ncurrency = \"USD\"\nrelay_url = \"https://relay.example\"\n",
        0o644,
    );
    let done = run(till.bare(&["provision", file.to_str().unwrap(), "--json"])).await;
    done.assert_code(0);
    let event = done
        .events()
        .into_iter()
        .find(|e| e["type"] == "provisioned")
        .unwrap();
    assert_eq!(event["stored"], serde_json::json!([]));
    assert_eq!(event["settings"]["terminal_name"], "Back till");
    let config = std::fs::read_to_string(till.config_path()).unwrap();
    assert!(config.contains("terminal_name = \"Back till\""), "{config}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioning_file_sets_the_first_owner_once_and_never_from_an_open_file() {
    let shop = Shop::start(Duration::from_secs(600)).await;
    let till = Till::new();
    let file = till.path("owner.toml");
    let text = "terminal_name = \"Front till\"\nowner_name = \"Olga\"\nowner_pin = \"739251\"\n";

    // Readable by others: refused, and nobody is on the staff.
    write_mode(&file, text, 0o644);
    let done = run(till.cli(&shop, &["provision", file.to_str().unwrap()])).await;
    done.assert_code(1);
    assert!(done.stderr.contains("chmod 600"), "{}", done.stderr);
    assert!(!done.stderr.contains("739251"), "{}", done.stderr);
    let list = run(till.cli(&shop, &["staff", "list"])).await;
    assert!(
        list.stdout.contains("No staff on this till"),
        "{}",
        list.stdout
    );

    write_mode(&file, text, 0o600);
    let done = run(till.cli(&shop, &["provision", file.to_str().unwrap()])).await;
    done.assert_code(0);
    assert!(done.stdout.contains("Olga is the owner"), "{}", done.stdout);
    assert!(!done.stdout.contains("739251"), "{}", done.stdout);
    let config = std::fs::read_to_string(till.config_path()).unwrap();
    assert!(
        !config.contains("739251") && !config.contains("owner"),
        "{config}"
    );
    run(till.cli(&shop, &["staff", "list", "--pin", "739251"]))
        .await
        .assert_code(0);

    // A till with staff keeps its owner: the same file is refused before anything is done.
    let done = run(till.cli(&shop, &["provision", file.to_str().unwrap()])).await;
    done.assert_code(1);
    assert!(done.stderr.contains("already has staff"), "{}", done.stderr);
    shop.shutdown().await;
}
