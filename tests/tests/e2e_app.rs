//! The real app under Xvfb, driven through tauri-driver and WebKitWebDriver: what a
//! cashier does, and what the window shows.

use std::time::Duration;

use anyhow::{ensure, Context};
use paydesk_core::secrets::{Account, Keychain, Secret, SecretStore};
use paydesk_tests::e2e::{App, SERIAL};

const SHORT: Duration = Duration::from_secs(15);
const LONG: Duration = Duration::from_secs(40);

/// Types an amount on the on-screen keypad and charges it; returns when the payment
/// screen shows the QR.
async fn charge_on_keypad(app: &App, keys: &[&str]) -> anyhow::Result<()> {
    for k in keys {
        app.click(&format!("#screen-charge [data-key='{k}']"))
            .await?;
    }
    app.click("[data-testid=charge]").await?;
    app.wait_text("[data-testid=pay-status]", SHORT, |t| {
        t == "Waiting for payment"
    })
    .await?;
    let qr = app
        .attr("[data-testid=qr]", "src")
        .await?
        .unwrap_or_default();
    ensure!(
        qr.starts_with("data:image/svg+xml;base64,"),
        "no QR shown: {qr:.40}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_shows_terminal_name_demo_marker_live_badge_and_pushed_clock() -> anyhow::Result<()>
{
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("shell", &[("PAYDESK_TERMINAL_NAME", "E2E Till 7")]).await?;
    app.screenshot("first-paint").await?;

    assert_eq!(
        app.text_content("[data-testid=terminal-name]").await?,
        "E2E Till 7"
    );
    assert_eq!(app.text("[data-testid=mode-marker]").await?, "DEMO");
    let version = app.text("[data-testid=version]").await?;
    assert!(version.starts_with("PayDesk "), "{version}");
    // Pushed from Rust: the relay session goes live, the clock ticks on its own.
    app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
        .await?;
    app.wait_text("[data-testid=server-clock]", SHORT, |t| !t.is_empty())
        .await?;
    // The text shows the minute; the exact server time rides in `datetime` and must tick.
    let first = app
        .attr("[data-testid=server-clock]", "datetime")
        .await?
        .context("the server clock has no datetime")?;
    ensure!(
        first.ends_with('Z') && first.len() == 24,
        "not an ISO time: {first}"
    );
    let deadline = tokio::time::Instant::now() + SHORT;
    loop {
        let now = app.attr("[data-testid=server-clock]", "datetime").await?;
        if now.as_deref().is_some_and(|t| t > first.as_str()) {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the server clock stopped at {first} (now {now:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.client.title().await?, "PayDesk");
    app.screenshot("charge-screen").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charge_is_paid_then_listed_in_history_with_totals_and_refunded() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("paid", &[("PAYDESK_CURRENCY", "EUR")]).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
        .await?;

    charge_on_keypad(&app, &["7", ".", "5", "0"]).await?;
    assert_eq!(app.text("[data-testid=pay-amount]").await?, "7.50 EUR");
    app.wait_text("[data-testid=countdown]", SHORT, |t| {
        t.starts_with("9:") || t.starts_with("10:")
    })
    .await?;
    app.screenshot("payment-screen").await?;

    // The demo customer pays; "Paid" must come back through webhook → relay → WebSocket.
    app.click("[data-testid=simulate]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=result-title]").await?, "Paid");
    assert_eq!(app.text("[data-testid=result-amount]").await?, "7.50 EUR");
    app.screenshot("paid").await?;

    app.click("[data-testid=new-sale]").await?;
    app.click("[data-testid=nav-history]").await?;
    app.wait_text("[data-testid=history-rows]", SHORT, |t| {
        t.contains("7.50 EUR")
    })
    .await?;
    app.wait_text("[data-testid=totals]", SHORT, |t| {
        t.contains("7.50 EUR") && t.contains("Paid")
    })
    .await?;
    app.screenshot("history").await?;

    app.click("[data-testid=history-rows] button[data-testid=refund]")
        .await?;
    app.wait_text("[data-testid=refund-summary]", SHORT, |t| {
        t.contains("7.50 EUR")
    })
    .await?;
    let field = app.find("[data-testid=refund-amount]").await?;
    field.clear().await?;
    field.send_keys("2.50").await?;
    app.screenshot("refund-dialog").await?;
    app.click("[data-testid=refund-confirm]").await?;
    app.wait_text("[data-testid=history-rows]", LONG, |t| {
        t.contains("Refunded 2.50 EUR")
    })
    .await?;
    app.screenshot("refunded").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_payment_expires_and_charge_again_keeps_the_amount() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("expiry", &[("PAYDESK_DEMO_TIME_WINDOW", "4")]).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
        .await?;
    charge_on_keypad(&app, &["3"]).await?;
    app.wait_attr("[data-testid=result]", "data-status", "expired", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=result-title]").await?, "Expired");
    app.screenshot("expired").await?;
    app.click("[data-testid=charge-again]").await?;
    app.wait_text("[data-testid=total]", SHORT, |t| t.contains("3.00 USD"))
        .await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cashier_cancels_a_pending_payment() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("cancel", &[]).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
        .await?;
    charge_on_keypad(&app, &["1", "2"]).await?;
    app.click("[data-testid=cancel]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "cancelled", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=result-title]").await?, "Cancelled");
    app.screenshot("cancelled").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_stopped_mid_payment_shows_polling_and_still_ends_paid() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    // A shop of our own: sandbox + relay on loopback, the app in test mode against them.
    let secret_key = Secret::new("sk_test_e2e_relay_stop");
    let webhook_secret = Secret::new("whsec_e2e");
    let terminal_key = paydesk_relay::generate_terminal_key();
    let relay = paydesk_relay::spawn(
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        paydesk_relay::RelayConfig::memory()
            .merchant("shop", webhook_secret.clone())
            .terminal("shop", "till-1", &terminal_key),
    )
    .await?;
    let mut sandbox_config =
        paydesk_sandbox::SandboxConfig::new(secret_key.clone(), webhook_secret);
    sandbox_config.webhook_urls = vec![relay.webhook_url("shop")];
    let sandbox = paydesk_sandbox::spawn(
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        sandbox_config,
    )
    .await?;

    let app = App::launch(
        "relay-stopped",
        &[
            ("PAYDESK_MODE", "test"),
            ("PAYDESK_API_URL", &sandbox.api_url()),
            ("PAYDESK_RELAY_URL", &relay.base_url()),
            ("PAYDESK_SECRET_KEY", secret_key.expose()),
            ("PAYDESK_TERMINAL_KEY", terminal_key.expose()),
        ],
    )
    .await?;
    assert!(
        !app.find("[data-testid=mode-marker]")
            .await?
            .is_displayed()
            .await?
    );
    app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
        .await?;
    charge_on_keypad(&app, &["9", "9"]).await?;
    let payment_id = app
        .client
        .execute(
            "return window.document.getElementById('qr').dataset.id",
            vec![],
        )
        .await?
        .as_str()
        .context("no payment id on screen")?
        .to_owned();

    relay.shutdown().await;
    app.wait_attr("[data-testid=connection]", "data-state", "polling", LONG)
        .await?;
    app.screenshot("polling").await?;

    // The customer pays while the push channel is down: polling must find it.
    let paid = reqwest::Client::new()
        .post(format!(
            "{}/sandbox/payments/{payment_id}/pay",
            sandbox.base_url()
        ))
        .json(&serde_json::json!({}))
        .send()
        .await?;
    ensure!(
        paid.status().is_success(),
        "sandbox refused to pay: {}",
        paid.status()
    );
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=result-title]").await?, "Paid");
    app.screenshot("paid-while-polling").await?;
    app.close().await?;
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_saved_in_settings_lands_in_the_keychain_and_never_in_the_page() -> anyhow::Result<()>
{
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let service = format!("paydesk-e2e-{}", std::process::id());
    let app = App::launch("settings", &[("PAYDESK_KEYCHAIN_SERVICE", &service)]).await?;
    app.click("[data-testid=nav-settings]").await?;
    app.wait_text("[data-testid=terminal-key-state]", SHORT, |t| {
        t == "Not set"
    })
    .await?;
    let key = "tk_e2e_settings_7f3a9c";
    app.find("[data-testid=set-terminal-key]")
        .await?
        .send_keys(key)
        .await?;
    app.click("[data-testid=save-settings]").await?;
    app.wait_text("[data-testid=terminal-key-state]", LONG, |t| {
        t.starts_with("Saved")
    })
    .await?;
    app.screenshot("settings-saved").await?;

    let stored = Keychain::with_service(&service).get(Account::TerminalKey)?;
    assert_eq!(
        stored.as_ref().map(Secret::expose),
        Some(key),
        "the key must be in the keychain"
    );
    let page = app.client.source().await?;
    assert!(!page.contains(key), "the key must never be in the DOM");
    let value = app
        .attr("[data-testid=set-terminal-key]", "value")
        .await?
        .unwrap_or_default();
    assert!(value.is_empty());
    let config =
        std::fs::read_to_string(app.home.path().join("config/paydesk.toml")).unwrap_or_default();
    assert!(
        !config.contains(key),
        "the key must never be in the config file"
    );

    app.click("[data-testid=test-connection]").await?;
    app.wait_text("[data-testid=doctor]", LONG, |t| {
        t.contains("Relay") && t.contains("API key")
    })
    .await?;
    app.screenshot("doctor").await?;
    Keychain::with_service(&service).delete(Account::TerminalKey)?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_display_mirrors_the_payment() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("customer", &[]).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
        .await?;
    let main = app.client.window().await?;
    app.click("[data-testid=open-customer-display]").await?;
    let customer = tokio::time::timeout(SHORT, async {
        loop {
            let windows = app.client.windows().await?;
            if let Some(w) = windows.into_iter().find(|w| *w != main) {
                return Ok::<_, anyhow::Error>(w);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .context("the customer display never opened")??;

    charge_on_keypad(&app, &["4", "2"]).await?;
    app.client.switch_to_window(customer.clone()).await?;
    app.wait_attr("body", "data-view", "pay", SHORT).await?;
    app.wait_text("[data-testid=c-amount]", SHORT, |t| t == "42.00 USD")
        .await?;
    app.wait_text("[data-testid=c-countdown]", SHORT, |t| t.contains(':'))
        .await?;
    app.screenshot("customer-display").await?;

    app.client.switch_to_window(main).await?;
    app.click("[data-testid=simulate]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    app.client.switch_to_window(customer).await?;
    app.wait_text("[data-testid=c-title]", LONG, |t| t == "Paid")
        .await?;
    app.wait_text("[data-testid=c-thanks]", SHORT, |t| t == "Thank you!")
        .await?;
    app.screenshot("customer-paid").await?;
    app.close().await
}
