//! The `paydesk-sandbox` binary as a user starts it: port 0, the URL on the first line.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use std::process::Stdio;

use paydesk_core::clock::ServerClock;
use paydesk_core::gateway::{Gateway, GatewayConfig, GatewayError};
use paydesk_core::secrets::Secret;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn the_binary_prints_its_url_first_and_serves_the_api() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_paydesk-sandbox"))
        .args(["--listen", "127.0.0.1:0", "--time-window", "90"])
        .env("PAYDESK_SANDBOX_SECRET_KEY", "sk_test_from_env")
        .env("PAYDESK_SANDBOX_PUBLIC_URL", "http://10.0.0.9:8080")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    tokio::time::timeout(
        common::PATIENCE,
        BufReader::new(stdout).read_line(&mut first),
    )
    .await
    .expect("no URL printed")
    .unwrap();
    let base = first.trim();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let gw = Gateway::new(
        GatewayConfig::new(format!("{base}/api"), Secret::new("sk_test_from_env")),
        ServerClock::new(),
    )
    .unwrap();
    let p = gw.create_payment(&common::usd(100)).await.unwrap();
    assert_eq!(p.time_window, Some(90));
    assert_eq!(
        p.payment_url,
        Some(format!("http://10.0.0.9:8080/checkout/{}", p.id))
    );
    let wrong = Gateway::new(
        GatewayConfig::new(format!("{base}/api"), Secret::new("sk_test_sandbox")),
        ServerClock::new(),
    )
    .unwrap();
    assert_eq!(
        wrong.retrieve_payment(&p.id).await.unwrap_err(),
        GatewayError::Unauthorized
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_binary_serves_the_legacy_expired_status_when_asked() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_paydesk-sandbox"))
        .args(["--listen", "127.0.0.1:0", "--app-refund-delay-ms", "0"])
        .env("PAYDESK_SANDBOX_EXPIRED_STATUS", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    tokio::time::timeout(
        common::PATIENCE,
        BufReader::new(stdout).read_line(&mut first),
    )
    .await
    .expect("no URL printed")
    .unwrap();
    let base = first.trim().to_owned();
    let gw = Gateway::new(
        GatewayConfig::new(format!("{base}/api"), Secret::new("sk_test_sandbox")),
        ServerClock::new(),
    )
    .unwrap();
    let p = gw.create_payment(&common::usd(100)).await.unwrap();
    let expired: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/sandbox/payments/{}/expire", p.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&expired["status"], &expired["expired"]),
        (&serde_json::json!("expired"), &serde_json::json!(true))
    );
    child.kill().await.unwrap();
}
