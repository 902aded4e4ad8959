//! `wss://` end to end, the way a shop has it: the relay terminates TLS with a certificate
//! from the shop's own CA, the till reaches it only through an HTTP CONNECT proxy named by
//! `HTTPS_PROXY` (the relay's name resolves nowhere but in the proxy), and trusts it
//! through `RelayEndpoint::ca_file`. A real `paydesk_core::realtime::Session` goes live,
//! and a payment captured at the sandbox reaches it as a push.
//!
//! (This belongs in `tests/tests/system_tls.rs`; the `paydesk-tests` crate does not build at
//! the moment, so it lives with the relay's tests, which may use the core as a
//! dev-dependency.) One test in this binary: it sets `HTTPS_PROXY` for the process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::connect_proxy::ConnectProxy;
use common::pki::TestCa;
use paydesk_core::clock::{LocalClock, ServerClock};
use paydesk_core::gateway::{Gateway, GatewayConfig};
use paydesk_core::payment::{CreatePayment, PaymentStatus};
use paydesk_core::realtime::{ConnectionState, RelayEndpoint, Session, SessionConfig};
use paydesk_core::secrets::Secret;
use paydesk_core::tracker::{NoJournal, Source, Subscription, Tracker, TrackerEvent};
use paydesk_protocol::signature;
use paydesk_relay::{RelayConfig, TlsFiles};

const RELAY_NAME: &str = "relay.paydesk.test";
const MERCHANT: &str = "shop";
const WEBHOOK_SECRET: &str = "whsec_tls";
const SECRET_KEY: &str = "sk_test_tls";
/// Upper bound on each wait (a loaded 2-core machine runs several suites at once).
const BOUND: Duration = Duration::from_secs(30);

/// Reads tracker events until `pred` picks one.
async fn wait_for<T>(
    events: &mut Subscription,
    what: &str,
    mut pred: impl FnMut(&TrackerEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(BOUND, async {
        loop {
            let e = events.recv().await.expect("tracker gone");
            if let Some(v) = pred(&e) {
                return v;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within {BOUND:?}"))
}

fn session_config(
    base_url: &str,
    key: &Secret,
    ca_file: Option<&std::path::Path>,
) -> SessionConfig {
    let mut relay = RelayEndpoint::new(base_url, key.clone());
    relay.ca_file = ca_file.map(|p| p.to_owned());
    SessionConfig {
        relay: Some(relay),
        fallback_after: Duration::from_millis(800),
        poll_interval: Duration::from_millis(200),
        live_check_every: Duration::from_secs(600),
        backoff_base: Duration::from_millis(100),
        backoff_cap: Duration::from_millis(800),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        ..SessionConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_goes_live_over_wss_through_a_connect_proxy_and_gets_its_payment_pushed() {
    paydesk_core::init_tls();
    let dir = tempfile::tempdir().unwrap();

    // The relay, terminating TLS with a certificate for a name only the proxy resolves.
    let ca = TestCa::new("Shop CA");
    let files = TlsFiles {
        cert_file: dir.path().join("fullchain.pem"),
        key_file: dir.path().join("privkey.pem"),
    };
    ca.issue_into(&[RELAY_NAME], &files.cert_file, &files.key_file);
    let ca_file = ca.write_ca(dir.path(), "shop-ca.pem");
    let key = paydesk_relay::generate_terminal_key();
    let mut cfg = RelayConfig::memory()
        .merchant(MERCHANT, WEBHOOK_SECRET)
        .terminal(MERCHANT, "till-1", &key);
    cfg.tls = Some(files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = paydesk_relay::spawn(listener, cfg).await.unwrap();
    let relay_addr = relay.local_addr();
    let target = format!("{RELAY_NAME}:{}", relay_addr.port());
    let proxy = ConnectProxy::start(&[(&target, relay_addr)]).await;
    // Before any HTTP client exists in this process (reqwest reads it once). The API
    // (plain http://) is not proxied.
    std::env::set_var("HTTPS_PROXY", proxy.url());
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    // The sandbox's API, for creating and reading payments.
    let sandbox_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = paydesk_sandbox::spawn(
        sandbox_listener,
        paydesk_sandbox::SandboxConfig::new(Secret::new(SECRET_KEY), Secret::new(WEBHOOK_SECRET)),
    )
    .await
    .unwrap();
    let clock = ServerClock::new();
    let gateway = Gateway::new(
        GatewayConfig::new(
            format!("{}/api", sandbox.base_url()),
            Secret::new(SECRET_KEY),
        ),
        clock.clone(),
    )
    .unwrap();

    // Without the shop's CA the till does not trust the relay: it never goes live.
    let base_url = format!("https://{target}");
    let untrusting = Tracker::with_clocks(
        Arc::new(NoJournal::default()),
        clock.clone(),
        LocalClock::system(),
    );
    let mut events = untrusting.subscribe();
    let refused = Session::start(
        session_config(&base_url, &key, None),
        untrusting,
        gateway.clone(),
    );
    let detail = wait_for(&mut events, "a refusal", |e| match e {
        TrackerEvent::Connection(c) if c.state == ConnectionState::Live => {
            panic!("live without trusting the shop's CA")
        }
        TrackerEvent::Connection(c) => c.detail.clone(),
        _ => None,
    })
    .await;
    refused.shutdown().await;
    assert!(!detail.contains(key.expose()), "{detail}");
    // Refused by the TLS handshake (the till did not know the issuer), not by anything else.
    tokio::time::timeout(
        BOUND,
        relay
            .metrics()
            .wait_until(|m| m.rejects_for("tls_handshake") >= 1),
    )
    .await
    .expect("the relay saw no failed handshake");
    assert_eq!(relay.metrics().snapshot().tickets_issued, 0);
    let tunnels_refused = proxy.heads().len();
    assert!(tunnels_refused >= 1, "it tried, through the proxy");

    // With it: live over wss://, every connection through the proxy.
    let tracker = Tracker::with_clocks(Arc::new(NoJournal::default()), clock, LocalClock::system());
    let mut events = tracker.subscribe();
    let session = Session::start(
        session_config(&base_url, &key, Some(&ca_file)),
        tracker,
        gateway.clone(),
    );
    wait_for(&mut events, "live", |e| match e {
        TrackerEvent::Connection(c) if c.state == ConnectionState::Live => Some(()),
        _ => None,
    })
    .await;
    let heads = proxy.heads();
    assert!(
        heads.len() >= tunnels_refused + 2,
        "the ticket request and the WebSocket both tunnelled: {heads:?}"
    );
    for head in &heads {
        assert!(
            head.starts_with(&format!("CONNECT {target} HTTP/1.1\r\n")),
            "{head}"
        );
        assert!(
            !head.contains("ticket") && !head.contains(key.expose()),
            "{head}"
        );
    }

    // A payment this till creates (its id in the metadata, as tills write it), captured at
    // the sandbox; the signed webhook reaches the relay; the push reaches the till.
    let till_id = paydesk_relay::terminals::derived_terminal_id(&paydesk_relay::hash_key(&key));
    let payment = gateway
        .create_payment(&CreatePayment {
            amount: 1250,
            currency: "USD".into(),
            metadata: Some(
                serde_json::json!({ paydesk_protocol::wire::TILL_METADATA_KEY: till_id }),
            ),
            ..CreatePayment::default()
        })
        .await
        .unwrap();
    session.track(payment.clone()).await.unwrap();
    // From here the API answers every read with 503 (the till may read at any moment: its
    // resync after the hello can race with this test on a loaded machine), so "paid" can
    // only come from the push.
    let faults = reqwest::Client::new()
        .post(format!("{}/sandbox/faults", sandbox.base_url()))
        .json(&serde_json::json!({ "error_rate_permille": 1000 }))
        .send()
        .await
        .unwrap();
    assert!(faults.status().is_success());
    let captured = sandbox.pay(&payment.id).unwrap();
    let body = format!(
        r#"{{"id":"evt_tls_1","type":"payment.captured","created":{},"data":{{"object":{}}}}}"#,
        captured.created,
        serde_json::to_string(&captured).unwrap()
    );
    // Crypto.com Pay's side: straight to the relay (no proxy), trusting the shop's CA.
    let webhook_client = reqwest::Client::builder()
        .use_preconfigured_tls((*ca.client_config()).clone())
        .no_proxy()
        .resolve(RELAY_NAME, relay_addr)
        .timeout(BOUND)
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let res = webhook_client
        .post(format!("https://{target}/webhooks/{MERCHANT}"))
        .header(
            signature::HEADER,
            signature::sign(WEBHOOK_SECRET.as_bytes(), now, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let source = wait_for(&mut events, "paid", |e| match e {
        TrackerEvent::Transition(t)
            if t.payment_id == payment.id && t.to == PaymentStatus::Succeeded =>
        {
            Some(t.source)
        }
        _ => None,
    })
    .await;
    assert_eq!(source, Source::RelayedWebhook, "pushed, not polled");
    assert_eq!(relay.metrics().snapshot().pushes_out, 1);

    session.shutdown().await;
    relay.shutdown().await;
    proxy.shutdown().await;
    sandbox.shutdown().await;
}
