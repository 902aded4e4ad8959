//! `paydesk-cli doctor` against a real sandbox and relay: it passes a healthy till and
//! names the failing check for each way a till breaks — a wrong key, the relay down, a
//! skewed clock, no keychain — and its support bundle never holds a key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::time::Duration;

use common::{payment_id_of, run, Finished, Running, Shop, Till};

const WINDOW: Duration = Duration::from_secs(600);

/// The table row of `check`, e.g. "Relay  FAIL  …".
fn row<'a>(done: &'a Finished, check: &str) -> &'a str {
    done.stdout
        .lines()
        .find(|l| {
            l.strip_prefix(check).is_some_and(|rest| {
                rest.starts_with("  ") && (rest.contains(" PASS ") || rest.contains(" FAIL "))
            })
        })
        .unwrap_or_else(|| panic!("no {check} row in:\n{}", done.stdout))
}

fn passes(done: &Finished, check: &str) -> bool {
    row(done, check).contains(" PASS ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_healthy_till() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let done = run(till.cli(&shop, &["doctor", "--relay-wait", "15"])).await;
    done.assert_code(0);
    for check in [
        "API key",
        "Clock",
        "Polling path",
        "Relay",
        "Heartbeat",
        "Keychain",
    ] {
        assert!(passes(&done, check), "{check}:\n{}", done.stdout);
    }
    assert!(
        done.stdout.contains("All checks passed."),
        "{}",
        done.stdout
    );

    let json = run(till.cli(&shop, &["doctor", "--relay-wait", "15", "--json"])).await;
    json.assert_code(0);
    let report = json
        .events()
        .into_iter()
        .find(|e| e["type"] == "doctor")
        .unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["checks"].as_array().unwrap().len(), 6, "{report}");
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_a_wrong_api_key() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    let mut cmd = till.cli(&shop, &["doctor", "--relay-wait", "15"]);
    cmd.env("PAYDESK_SECRET_KEY", "sk_test_not_the_shops_key");
    let done = run(cmd).await;
    done.assert_code(1);
    assert!(!passes(&done, "API key"), "{}", done.stdout);
    assert!(
        row(&done, "API key").contains("refused the secret key"),
        "{}",
        done.stdout
    );
    // The relay has nothing to do with the API key.
    assert!(passes(&done, "Relay"), "{}", done.stdout);
    assert!(done.stdout.contains("Failed: API key"), "{}", done.stdout);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_a_relay_that_is_down() {
    let mut shop = Shop::start(WINDOW).await;
    shop.stop_relay().await;
    let till = Till::new();
    let done = run(till.cli(&shop, &["doctor", "--relay-wait", "3"])).await;
    done.assert_code(1);
    assert!(!passes(&done, "Relay"), "{}", done.stdout);
    // The API side still works: polling would carry the till.
    assert!(passes(&done, "API key"), "{}", done.stdout);
    assert!(passes(&done, "Polling path"), "{}", done.stdout);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_a_skewed_clock() {
    let shop = Shop::start(WINDOW).await;
    shop.skew_clock(5 * 60 * 1000).await;
    let till = Till::new();
    let done = run(till.cli(&shop, &["doctor", "--relay-wait", "15"])).await;
    done.assert_code(1);
    let clock = row(&done, "Clock");
    assert!(
        clock.contains(" FAIL ") && clock.contains(" min ") && clock.contains("behind"),
        "{}",
        done.stdout
    );
    assert!(passes(&done, "API key"), "{}", done.stdout);
    assert!(done.stdout.contains("Failed: Clock"), "{}", done.stdout);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_a_missing_keychain_with_the_documented_way_out() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    // No keys in the environment and no Secret Service on the (nonexistent) bus.
    let done = run(till.bare(&[
        "doctor",
        "--relay-wait",
        "3",
        "--api-url",
        &shop.api_url,
        "--relay-url",
        &shop.relay_url,
    ]))
    .await;
    done.assert_code(1);
    let keychain = row(&done, "Keychain");
    assert!(keychain.contains(" FAIL "), "{}", done.stdout);
    assert!(
        keychain.contains("no OS keychain is available"),
        "{}",
        done.stdout
    );
    assert!(
        keychain.contains("set PAYDESK_SECRET_KEY and PAYDESK_TERMINAL_KEY"),
        "{}",
        done.stdout
    );
    assert!(!passes(&done, "API key"), "{}", done.stdout);
    shop.shutdown().await;
}

/// Every file in a .tar.gz, as (name, bytes).
fn unpack(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes));
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_bundle_holds_the_table_config_and_logs_but_never_a_key() {
    let shop = Shop::start(WINDOW).await;
    let till = Till::new();
    // A whole payment first, so the logs have something to say.
    let mut cli =
        Running::spawn(till.cli(&shop, &["charge", "--amount", "6", "--currency", "EUR"]));
    let id = payment_id_of(
        &cli.line_where("the payment id", |l| l.starts_with("Payment id:"))
            .await,
    );
    shop.pay(&id).await;
    cli.finish().await.assert_code(0);
    // A careless line elsewhere in the log folder (another tool's log) leaks both keys.
    std::fs::write(
        till.log_dir().join("leaky.log"),
        format!(
            "debug: authorization Bearer {}\ndebug: ticket for {}\n",
            shop.secret_key, shop.terminal_key
        ),
    )
    .unwrap();

    let bundle = till.path("support.tar.gz");
    let done = run(till.cli(
        &shop,
        &[
            "doctor",
            "--relay-wait",
            "15",
            "--bundle",
            bundle.to_str().unwrap(),
        ],
    ))
    .await;
    done.assert_code(0);
    assert!(
        done.stdout.contains("Support bundle written to"),
        "{}",
        done.stdout
    );

    let files = unpack(&bundle);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "paydesk-support/versions.txt",
        "paydesk-support/config.txt",
        "paydesk-support/doctor.txt",
        "paydesk-support/doctor.json",
        "paydesk-support/journal.txt",
        "paydesk-support/logs/leaky.log",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("paydesk-support/logs/cli.")),
        "the CLI's own log is missing from {names:?}"
    );
    let file = |name: &str| {
        let (_, bytes) = files.iter().find(|(n, _)| n.ends_with(name)).unwrap();
        String::from_utf8_lossy(bytes).into_owned()
    };
    assert!(
        file("doctor.txt").contains("Heartbeat"),
        "{}",
        file("doctor.txt")
    );
    assert!(
        file("versions.txt").contains("paydesk-cli "),
        "{}",
        file("versions.txt")
    );
    let config = file("config.txt");
    assert!(config.contains(&shop.api_url), "{config}");
    assert!(
        config.contains("secret key: from the environment variable PAYDESK_SECRET_KEY"),
        "{config}"
    );
    assert!(file("logs/leaky.log").contains("[redacted]"));
    // The CLI's log saw the payment.
    let cli_log: String = files
        .iter()
        .filter(|(n, _)| n.starts_with("paydesk-support/logs/cli."))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(
        cli_log.contains(&id),
        "the CLI log does not mention the payment"
    );

    for (name, bytes) in &files {
        for key in [&shop.secret_key, &shop.terminal_key] {
            assert!(!contains(bytes, key), "{name} holds a key");
        }
    }
    // Nor do the till's own logs and config, with or without the bundle.
    for path in common::files_under(till.dir.path()) {
        if path.ends_with("leaky.log") || path.ends_with("support.tar.gz") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for key in [&shop.secret_key, &shop.terminal_key] {
            assert!(!contains(&bytes, key), "{} holds a key", path.display());
        }
    }
    shop.shutdown().await;
}
