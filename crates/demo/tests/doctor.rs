//! `doctor` against a real demo shop: healthy passes, each broken part is named.

#![allow(clippy::unwrap_used)] // test code: a failed expectation is the report

use std::sync::Arc;
use std::time::Duration;

use paydesk_core::doctor::{
    self, DoctorSetup, KeychainCheck, CHECK_API_KEY, CHECK_HEARTBEAT, CHECK_RELAY,
};
use paydesk_core::realtime::RelayEndpoint;
use paydesk_core::secrets::{MemoryStore, Secret};
use paydesk_demo::{Demo, DemoConfig};

async fn demo() -> Demo {
    Demo::start(DemoConfig {
        heartbeat: Some((Duration::from_millis(300), Duration::from_millis(300))),
        ..DemoConfig::default()
    })
    .await
    .unwrap()
}

fn setup(demo: &Demo, secret: Secret, terminal_key: Secret) -> DoctorSetup {
    let mut s = DoctorSetup::new(demo.api_url(), Some(secret));
    s.relay = Some(RelayEndpoint::new(demo.relay_url(), terminal_key));
    s.keychain = KeychainCheck::Probe(Arc::new(MemoryStore::new()));
    s.relay_wait = Duration::from_secs(10);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_against_a_healthy_shop() {
    let demo = demo().await;
    let report = doctor::run(setup(
        &demo,
        demo.secret_key().clone(),
        demo.terminal_key().clone(),
    ))
    .await;
    assert!(report.ok(), "{}", report.table());
    let names: Vec<_> = report.checks.iter().map(|c| c.name).collect();
    assert!(names.contains(&CHECK_HEARTBEAT), "{names:?}");
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_a_wrong_api_key_and_a_wrong_terminal_key() {
    let demo = demo().await;
    let report = doctor::run(setup(
        &demo,
        Secret::new("sk_test_wrong"),
        Secret::new("not-a-terminal-key"),
    ))
    .await;
    let failed: Vec<_> = report.failed().map(|c| c.name).collect();
    assert!(failed.contains(&CHECK_API_KEY), "{}", report.table());
    assert!(failed.contains(&CHECK_RELAY), "{}", report.table());
    demo.shutdown().await;
}
