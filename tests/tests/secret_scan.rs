//! No secret on disk: a whole payment flow — staff set up, charge, pay, refund, history,
//! doctor with a support bundle — through the real `paydesk-cli` and a real
//! `paydesk-relay` process, both logging at TRACE into files; then every log, config,
//! journal, staff file and the unpacked support bundle is scanned for each secret used
//! (and for the Basic auth header that would carry the API key), and for every staff PIN
//! typed, right or wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed expectation is the report

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use base64::Engine;
use paydesk_core::secrets::Secret;
use paydesk_tests::system::sibling_binary;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const SECRET_KEY: &str = "sk_test_scan_5c1e7d0b9a";
const WEBHOOK_SECRET: &str = "whsec_scan_77d2e4f1";
/// Six digits each: longer than any port, shorter than any timestamp.
const OWNER_PIN: &str = "918273";
const CASHIER_PIN: &str = "564738";
const WRONG_PIN: &str = "302817";

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_under(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// Every file under `dir` holding `pin` as a number of its own: a run of digits that is
/// exactly the PIN and not the fraction of a timestamp (`…12.918273Z`).
fn pin_leaks(dir: &Path, pin: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    let pin = pin.as_bytes();
    files
        .into_iter()
        .filter(|f| {
            let Ok(bytes) = std::fs::read(f) else {
                return false;
            };
            (0..bytes.len().saturating_sub(pin.len() - 1)).any(|i| {
                bytes[i..].starts_with(pin)
                    && !i
                        .checked_sub(1)
                        .is_some_and(|b| bytes[b].is_ascii_digit() || bytes[b] == b'.')
                    && !bytes.get(i + pin.len()).is_some_and(u8::is_ascii_digit)
            })
        })
        .collect()
}

/// Every file under `dir` whose bytes contain `needle`.
fn leaks(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    files
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

fn cli(home: &Path, relay_url: &str, api_url: &str, terminal_key: &Secret) -> Result<Command> {
    let mut cmd = Command::new(sibling_binary("paydesk-cli")?);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("PAYDESK_LOG", "trace")
        .env("PAYDESK_LOG_DIR", home.join("logs"))
        .env("PAYDESK_DATA_DIR", home.join("data"))
        .env("PAYDESK_CONFIG", home.join("config/config.toml"))
        .env("PAYDESK_API_URL", api_url)
        .env("PAYDESK_RELAY_URL", relay_url)
        .env("PAYDESK_SECRET_KEY", SECRET_KEY)
        .env("PAYDESK_TERMINAL_KEY", terminal_key.expose())
        .env("PAYDESK_MODE", "test")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    Ok(cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_a_config_a_journal_or_a_support_bundle() -> Result<()> {
    paydesk_core::init_tls();
    let home = tempfile::tempdir()?;
    let root = home.path();

    // The relay, as deployed: a config file, a terminals file, secrets from the environment.
    let mut store = paydesk_relay::TerminalStore::default();
    let terminal_key = store
        .add("shop", "till-1", 0)
        .context("adding a terminal")?;
    std::fs::create_dir_all(root.join("relay"))?;
    store.save(&root.join("relay/terminals.toml"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    std::fs::write(
        root.join("relay/relay.toml"),
        format!(
            "listen = \"127.0.0.1:{port}\"\nterminals_file = {:?}\n[[merchant]]\nid = \"shop\"\n",
            root.join("relay/terminals.toml")
        ),
    )?;
    let _relay = Command::new(sibling_binary("paydesk-relay")?)
        .args(["serve", "--config"])
        .arg(root.join("relay/relay.toml"))
        .arg("--log-dir")
        .arg(root.join("relay/logs"))
        .env(
            paydesk_relay::config::default_secret_env("shop"),
            WEBHOOK_SECRET,
        )
        .env("PAYDESK_RELAY_LOG", "trace")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let relay_url = format!("http://127.0.0.1:{port}");
    tokio::time::timeout(Duration::from_secs(15), async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .context("the relay never listened")?;

    let mut sandbox_config =
        paydesk_sandbox::SandboxConfig::new(Secret::new(SECRET_KEY), Secret::new(WEBHOOK_SECRET));
    sandbox_config.webhook_urls = vec![format!("{relay_url}/webhooks/shop")];
    let sandbox = paydesk_sandbox::spawn(
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        sandbox_config,
    )
    .await?;
    let api_url = sandbox.api_url();

    // Staff: the owner (their PIN in the environment, as a script would), a cashier added
    // with the owner's PIN, and a wrong PIN tried once.
    for (args, pin, new_pin, code) in [
        (
            vec!["staff", "add", "Olga", "--role", "owner"],
            None,
            Some(OWNER_PIN),
            0,
        ),
        (
            vec!["staff", "add", "Cara"],
            Some(OWNER_PIN),
            Some(CASHIER_PIN),
            0,
        ),
        (vec!["staff", "list"], Some(WRONG_PIN), None, 6),
    ] {
        let mut cmd = cli(root, &relay_url, &api_url, &terminal_key)?;
        cmd.args(&args);
        if let Some(pin) = pin {
            cmd.env("PAYDESK_PIN", pin);
        }
        if let Some(pin) = new_pin {
            cmd.env("PAYDESK_NEW_PIN", pin);
        }
        let out = cmd.output().await?;
        ensure!(
            out.status.code() == Some(code),
            "{args:?} exited {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Charge as the cashier, and pay once the CLI has printed the payment (JSON lines on
    // stdout).
    let mut charge = cli(root, &relay_url, &api_url, &terminal_key)?
        .args(["charge", "--amount", "12.50", "--currency", "EUR", "--json"])
        .env("PAYDESK_PIN", CASHIER_PIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(charge.stdout.take().context("no stdout")?).lines();
    let payment_id = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                for key in ["id", "payment_id"] {
                    if let Some(id) = v.get(key).and_then(|i| i.as_str()) {
                        return Ok(id.to_owned());
                    }
                    if let Some(id) = v
                        .pointer(&format!("/payment/{key}"))
                        .and_then(|i| i.as_str())
                    {
                        return Ok(id.to_owned());
                    }
                }
            }
        }
        bail!("the CLI ended without naming the payment")
    })
    .await
    .context("no payment id from the CLI")??;
    sandbox
        .pay(&payment_id)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let status = tokio::time::timeout(Duration::from_secs(60), charge.wait())
        .await
        .context("the charge never finished")??;
    ensure!(
        status.code() == Some(0),
        "charge should exit 0 when paid, got {status}"
    );
    drain.abort();

    for args in [
        vec![
            "refund".to_owned(),
            payment_id.clone(),
            "--amount".into(),
            "2.50".into(),
        ],
        vec!["history".to_owned(), "--csv".into()],
        vec![
            "doctor".to_owned(),
            "--bundle".into(),
            root.join("support-bundle.tar.gz").display().to_string(),
        ],
    ] {
        // Refund and export are the owner's.
        let out = cli(root, &relay_url, &api_url, &terminal_key)?
            .args(&args)
            .env("PAYDESK_PIN", OWNER_PIN)
            .output()
            .await?;
        // doctor may fail (no keychain here); what matters is what it wrote.
        if args[0] != "doctor" {
            ensure!(
                out.status.success(),
                "{args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for (name, secret) in [
            ("secret key", SECRET_KEY),
            ("terminal key", terminal_key.expose()),
            ("owner's PIN", OWNER_PIN),
        ] {
            ensure!(
                !String::from_utf8_lossy(&out.stdout).contains(secret)
                    && !String::from_utf8_lossy(&out.stderr).contains(secret),
                "{args:?} printed the {name}"
            );
        }
    }
    sandbox.shutdown().await;

    // The bundle is compressed: scan what is inside it too.
    let unpacked = root.join("bundle-unpacked");
    std::fs::create_dir_all(&unpacked)?;
    let untar = Command::new("tar")
        .arg("-xzf")
        .arg(root.join("support-bundle.tar.gz"))
        .arg("-C")
        .arg(&unpacked)
        .status()
        .await?;
    ensure!(untar.success(), "the support bundle did not unpack");
    ensure!(
        unpacked.join("paydesk-support/staff.txt").is_file(),
        "the support bundle has no staff.txt"
    );
    ensure!(
        root.join("data/staff.sqlite3").is_file(),
        "no staff file was written to scan"
    );

    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SECRET_KEY}:"));
    let mut scanned = Vec::new();
    files_under(root, &mut scanned);
    ensure!(
        scanned.iter().any(|f| f.starts_with(root.join("logs"))),
        "the CLI wrote no log file to scan"
    );
    ensure!(
        scanned
            .iter()
            .any(|f| f.starts_with(root.join("relay/logs"))),
        "the relay wrote no log file to scan"
    );
    for (name, secret) in [
        ("secret API key", SECRET_KEY),
        ("Basic auth header", basic.as_str()),
        ("terminal key", terminal_key.expose()),
        ("webhook secret", WEBHOOK_SECRET),
    ] {
        let found = leaks(root, secret);
        ensure!(found.is_empty(), "the {name} leaked into {found:?}");
    }
    // The matcher itself: a PIN on its own is found, a timestamp's fraction is not.
    let canary = tempfile::tempdir()?;
    std::fs::write(canary.path().join("a"), format!("pin={OWNER_PIN}\n"))?;
    std::fs::write(
        canary.path().join("b"),
        format!("12:00:01.{OWNER_PIN}Z 1{OWNER_PIN}"),
    )?;
    ensure!(
        pin_leaks(canary.path(), OWNER_PIN) == vec![canary.path().join("a")],
        "the PIN matcher is broken"
    );
    for (name, pin) in [
        ("owner's PIN", OWNER_PIN),
        ("cashier's PIN", CASHIER_PIN),
        ("wrong PIN", WRONG_PIN),
    ] {
        let found = pin_leaks(root, pin);
        ensure!(found.is_empty(), "the {name} leaked into {found:?}");
    }
    Ok(())
}
