//! The system under test, for the CLI's tests: a real sandbox and a real relay started in
//! the test process on 127.0.0.1 port 0 and wired as a shop's are (sandbox webhooks →
//! relay), and a [`Till`] — a private home, config, journal and log folder — in which the
//! real `paydesk-cli` binary runs as a child process.
//!
//! Nothing waits by sleeping: a test reads the child's stdout line by line and waits for
//! the line it needs, with a timeout only as an upper bound.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use paydesk_core::secrets::Secret;
use paydesk_relay::{RelayConfig, RelayHandle};
use paydesk_sandbox::{SandboxConfig, SandboxHandle};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdout, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_paydesk-cli");
pub const MERCHANT: &str = "shop";
/// Upper bound for any one wait on the child.
pub const WAIT: Duration = Duration::from_secs(30);

/// A shop's back office: the sandbox (Crypto.com Pay) and its relay.
pub struct Shop {
    sandbox: Option<SandboxHandle>,
    relay: Option<RelayHandle>,
    pub api_url: String,
    pub sandbox_url: String,
    pub relay_url: String,
    pub secret_key: String,
    pub terminal_key: String,
    http: reqwest::Client,
}

impl Shop {
    /// Starts a relay (1 s heartbeats, so doctor hears one quickly) and a sandbox whose
    /// payments stay payable for `time_window`.
    pub async fn start(time_window: Duration) -> Shop {
        paydesk_core::init_tls();
        let secret_key = format!("sk_test_cli_{}", uuid_ish());
        let webhook_secret = Secret::new(format!("whsec_cli_{}", uuid_ish()));
        let terminal_key = paydesk_relay::generate_terminal_key();
        let relay_config = RelayConfig::memory()
            .merchant(MERCHANT, webhook_secret.clone())
            .terminal(MERCHANT, "till-1", &terminal_key)
            .heartbeat(Duration::from_secs(1), Duration::from_secs(2));
        let relay = paydesk_relay::spawn(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            relay_config,
        )
        .await
        .unwrap();
        let mut config = SandboxConfig::new(Secret::new(secret_key.clone()), webhook_secret);
        // App refunds are sent at once here; the on-chain wait has its own test.
        config.app_refund_delay = Duration::ZERO;
        config.webhook_urls = vec![relay.webhook_url(MERCHANT)];
        config.time_window = time_window;
        let sandbox =
            paydesk_sandbox::spawn(TcpListener::bind("127.0.0.1:0").await.unwrap(), config)
                .await
                .unwrap();
        Shop {
            api_url: sandbox.api_url(),
            sandbox_url: sandbox.base_url(),
            relay_url: relay.base_url(),
            secret_key,
            terminal_key: terminal_key.expose().to_owned(),
            sandbox: Some(sandbox),
            relay: Some(relay),
            http: reqwest::Client::new(),
        }
    }

    async fn control(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let response = self
            .http
            .post(format!("{}/sandbox/{path}", self.sandbox_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(status.is_success(), "sandbox {path}: {status} {body}");
        body
    }

    /// The customer pays (the sandbox captures and sends the signed webhook).
    pub async fn pay(&self, payment_id: &str) {
        self.control(&format!("payments/{payment_id}/pay"), serde_json::json!({}))
            .await;
    }

    /// The customer pays with `body` (`{"method":"onchain"}`, `{"underpay":"2.00"}`, …);
    /// returns the payment as the sandbox answered.
    pub async fn pay_with(&self, payment_id: &str, body: serde_json::Value) -> serde_json::Value {
        self.control(&format!("payments/{payment_id}/pay"), body)
            .await
    }

    /// The customer of an on-chain payment answered Crypto.com's e-mail: the refund leaves.
    pub async fn transfer_refund(&self, refund_id: &str) -> serde_json::Value {
        self.control(
            &format!("refunds/{refund_id}/transfer"),
            serde_json::json!({}),
        )
        .await
    }

    /// The payment's time runs out now.
    pub async fn expire(&self, payment_id: &str) {
        self.control(
            &format!("payments/{payment_id}/expire"),
            serde_json::json!({}),
        )
        .await;
    }

    /// Sets sandbox faults (`POST /sandbox/faults`).
    pub async fn faults(&self, faults: serde_json::Value) {
        self.control("faults", faults).await;
    }

    /// Clears every injected fault.
    pub async fn clear_faults(&self) {
        let response = self
            .http
            .delete(format!("{}/sandbox/faults", self.sandbox_url))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// The payments Crypto.com Pay (the sandbox) holds.
    pub async fn payments(&self) -> Vec<serde_json::Value> {
        let list: serde_json::Value = self
            .http
            .get(format!("{}/payments?limit=100", self.api_url))
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["data"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no payment list in {list}"))
    }

    /// Skews the sandbox's clock (its `Date` header).
    pub async fn skew_clock(&self, offset_ms: i64) {
        self.control("clock", serde_json::json!({ "offset_ms": offset_ms }))
            .await;
    }

    /// The payment as Crypto.com Pay (the sandbox) holds it.
    pub async fn payment(&self, payment_id: &str) -> serde_json::Value {
        self.http
            .get(format!("{}/payments/{payment_id}", self.api_url))
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The merchant cancels through the API, as another till or the back office would.
    pub async fn cancel(&self, payment_id: &str) {
        let response = self
            .http
            .post(format!("{}/payments/{payment_id}/cancel", self.api_url))
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "cancel: {}",
            response.status()
        );
    }

    /// The merchant refunds through the API, behind the till's back (the dashboard, a
    /// script); returns the refund object.
    pub async fn refund(&self, payment_id: &str, amount: i64, currency: &str) -> serde_json::Value {
        let response = self
            .http
            .post(format!("{}/refunds", self.api_url))
            .bearer_auth(&self.secret_key)
            .json(&serde_json::json!({
                "payment_id": payment_id,
                "amount": amount,
                "currency": currency,
                "reason": "made in the dashboard",
            }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(status.is_success(), "refund: {status} {body}");
        body
    }

    /// A payment created through the API by someone other than this till's journal (the
    /// till died before it could journal it, say); returns its id.
    pub async fn create_payment(&self, amount: i64, currency: &str, order_id: &str) -> String {
        let response = self
            .http
            .post(format!("{}/payments", self.api_url))
            .bearer_auth(&self.secret_key)
            .json(&serde_json::json!({
                "amount": amount,
                "currency": currency,
                "order_id": order_id,
            }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(status.is_success(), "create: {status} {body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Stops the relay; the sandbox keeps running.
    pub async fn stop_relay(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.shutdown().await;
        }
    }

    pub async fn shutdown(mut self) {
        self.stop_relay().await;
        if let Some(sandbox) = self.sandbox.take() {
            sandbox.shutdown().await;
        }
    }
}

fn uuid_ish() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}{:x}", std::process::id())
}

/// One till's private world: home, config file, journal, logs.
pub struct Till {
    pub dir: tempfile::TempDir,
}

impl Till {
    pub fn new() -> Till {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "data", "logs"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Till { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("config.toml")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.path("logs")
    }

    /// `paydesk-cli` in this till, pointed at `shop` by flags, keys in the environment,
    /// and no keychain at all (a headless machine).
    pub fn cli(&self, shop: &Shop, args: &[&str]) -> Command {
        let mut cmd = self.bare(args);
        cmd.args(["--api-url", &shop.api_url, "--relay-url", &shop.relay_url])
            .env("PAYDESK_SECRET_KEY", &shop.secret_key)
            .env("PAYDESK_TERMINAL_KEY", &shop.terminal_key);
        cmd
    }

    /// `paydesk-cli` pointed at the shop's API only: no relay, so the till polls. A cancel
    /// made elsewhere is never pushed (Crypto.com Pay sends no webhook for it); a polling
    /// till reads it within a poll interval.
    pub fn cli_polling(&self, shop: &Shop, args: &[&str]) -> Command {
        let mut cmd = self.bare(args);
        cmd.args(["--api-url", &shop.api_url])
            .env("PAYDESK_SECRET_KEY", &shop.secret_key);
        cmd
    }

    /// `paydesk-cli` in this till with nothing but the till's folders set.
    pub fn bare(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PAYDESK_") {
                cmd.env_remove(k);
            }
        }
        cmd.args(args)
            .env("HOME", self.path("home"))
            .env("PAYDESK_DATA_DIR", self.path("data"))
            .env("PAYDESK_CONFIG", self.config_path())
            .env("PAYDESK_LOG_DIR", self.log_dir())
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }
}

/// A running CLI whose stdout is read line by line.
pub struct Running {
    pub child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Everything read so far, for failure messages.
    pub transcript: Vec<String>,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        Running {
            child,
            lines: BufReader::new(stdout).lines(),
            transcript: Vec::new(),
        }
    }

    /// The next line that satisfies `pred`; panics with the transcript after [`WAIT`].
    pub async fn line_where(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let found = tokio::time::timeout(WAIT, async {
            while let Some(line) = self.lines.next_line().await.unwrap() {
                self.transcript.push(line.clone());
                if pred(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            Ok(None) => panic!(
                "stdout ended before {what}:\n{}\nstderr:\n{}",
                self.transcript.join("\n"),
                self.stderr().await
            ),
            Err(_) => panic!(
                "timed out waiting for {what}:\n{}",
                self.transcript.join("\n")
            ),
        }
    }

    /// The next JSON event of `kind` (with `--json`).
    pub async fn event(&mut self, kind: &str) -> serde_json::Value {
        let line = self
            .line_where(&format!("a {kind} event"), |l| {
                serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["type"] == kind)
            })
            .await;
        serde_json::from_str(&line).unwrap()
    }

    /// Reads stdout to the end and waits for the exit status.
    pub async fn finish(mut self) -> Finished {
        let rest = tokio::time::timeout(WAIT, async {
            let mut rest = Vec::new();
            while let Some(line) = self.lines.next_line().await.unwrap() {
                rest.push(line);
            }
            rest
        })
        .await
        .unwrap_or_else(|_| panic!("the CLI did not finish:\n{}", self.transcript.join("\n")));
        self.transcript.extend(rest);
        let stderr = self.stderr().await;
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the CLI did not exit")
            .unwrap();
        Finished {
            code: status.code(),
            stdout: self.transcript.join("\n"),
            stderr,
        }
    }

    async fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = tokio::time::timeout(WAIT, e.read_to_string(&mut s)).await;
        }
        s
    }

    /// SIGKILL: no chance to clean up, like a power cut.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// A finished CLI run.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The JSON events printed with `--json`.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Runs the CLI to the end.
pub async fn run(cmd: Command) -> Finished {
    Running::spawn(cmd).finish().await
}

/// `Payment id: …` → the id.
pub fn payment_id_of(line: &str) -> String {
    line.trim_start_matches("Payment id:").trim().to_owned()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
