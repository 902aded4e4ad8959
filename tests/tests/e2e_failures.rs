//! The counter when things go wrong, as a cashier meets it: a till that cannot start, a
//! wrong key typed in Settings, a switch between modes (each with its own book), and a
//! payment screen with neither the payment API nor the relay reachable. Each asserts what
//! the screen says.

use std::time::Duration;

use anyhow::ensure;
use paydesk_tests::e2e::{App, TestShop, SERIAL};
use paydesk_tests::proxy::{FaultProxy, Mode};

const SHORT: Duration = Duration::from_secs(15);
const LONG: Duration = Duration::from_secs(45);

async fn type_into(app: &App, css: &str, text: &str) -> anyhow::Result<()> {
    let field = app.find(css).await?;
    field.clear().await?;
    field.send_keys(text).await?;
    Ok(())
}

async fn choose(app: &App, css: &str, value: &str) -> anyhow::Result<()> {
    app.client
        .execute(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
             s.dispatchEvent(new Event('change'));",
            vec![serde_json::json!(css), serde_json::json!(value)],
        )
        .await?;
    Ok(())
}

/// A keychain service of this test's own, so no two runs share keys.
fn keychain_service(test: &str) -> String {
    format!("paydesk-e2e-{test}-{}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_that_cannot_start_says_why_once_and_settings_bring_it_back() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let service = keychain_service("failed-start");
    // Provisioned for test mode, but the key never made it into the keychain.
    let app = App::launch_configured(
        "failed-start",
        &[("PAYDESK_KEYCHAIN_SERVICE", &service)],
        "mode = \"test\"\nterminal_name = \"Front till\"\ndefault_currency = \"EUR\"\n",
    )
    .await?;
    let banner = app
        .wait_text("[data-testid=status-text]", SHORT, |t| {
            t.starts_with("PayDesk could not start:")
        })
        .await?;
    ensure!(
        banner.contains("secret API key") || banner.contains("keychain"),
        "the banner says why: {banner}"
    );
    // One state, said once: no Live badge, no DEMO marker, the till's own name and currency.
    assert_eq!(
        app.text("[data-testid=connection-label]").await?,
        "Not running"
    );
    assert_eq!(app.text("[data-testid=mode-marker]").await?, "TEST");
    assert_eq!(
        app.text_content("[data-testid=terminal-name]").await?,
        "Front till"
    );
    assert_eq!(
        app.attr("[data-testid=currency]", "value")
            .await?
            .unwrap_or_default(),
        "EUR"
    );
    // The keypad still adds up, but nothing can be charged, and the button says so.
    app.find("[data-testid=amount]")
        .await?
        .send_keys("5")
        .await?;
    app.wait_text("[data-testid=total]", SHORT, |t| t == "5.00 EUR")
        .await?;
    assert_eq!(
        app.text("[data-testid=charge]").await?,
        "Cannot charge: PayDesk is not running"
    );
    ensure!(
        !app.find("[data-testid=charge]").await?.is_enabled().await?,
        "the Charge button stays enabled on a till that does not run"
    );
    app.screenshot("failed-start").await?;

    // The banner leads to Settings; demo mode brings the till back.
    app.click("[data-testid=banner-settings]").await?;
    app.wait_attr("body", "data-screen", "settings", SHORT)
        .await?;
    // The form is filled in from the saved settings first.
    app.wait_attr("[data-testid=settings-form]", "data-loaded", "true", SHORT)
        .await?;
    choose(&app, "[data-testid=set-mode]", "demo").await?;
    app.click("[data-testid=save-settings]").await?;
    app.wait_text("[data-testid=settings-result]", LONG, |t| {
        t == "Saved. PayDesk restarted in demo mode."
    })
    .await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=mode-marker]").await?, "DEMO");
    ensure!(
        !app.find("[data-testid=status-banner]")
            .await?
            .is_displayed()
            .await?,
        "the old banner stayed"
    );
    assert_eq!(
        app.text_content("[data-testid=terminal-name]").await?,
        "Front till"
    );
    app.screenshot("recovered").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_and_the_right_one_opens_the_test_book() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let shop = TestShop::start().await?;
    let service = keychain_service("mode-switch");
    let app = App::launch("mode-switch", &[("PAYDESK_KEYCHAIN_SERVICE", &service)]).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
        .await?;
    // A demo sale first.
    app.find("[data-testid=amount]")
        .await?
        .send_keys("8")
        .await?;
    app.click("[data-testid=charge]").await?;
    app.wait_text("[data-testid=pay-status]", SHORT, |t| {
        t == "Waiting for payment"
    })
    .await?;
    app.click("[data-testid=simulate]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    app.click("[data-testid=new-sale]").await?;

    // Settings: test mode against the shop, with a wrong key first.
    app.click("[data-testid=nav-settings]").await?;
    app.wait_attr("[data-testid=settings-form]", "data-loaded", "true", SHORT)
        .await?;
    choose(&app, "[data-testid=set-mode]", "test").await?;
    type_into(&app, "[data-testid=set-api-url]", &shop.sandbox.api_url()).await?;
    type_into(&app, "[data-testid=set-relay-url]", &shop.relay.base_url()).await?;
    type_into(
        &app,
        "[data-testid=set-secret-key]",
        "sk_test_not_the_shops_key",
    )
    .await?;
    app.click("[data-testid=save-settings]").await?;
    app.wait_text("[data-testid=settings-result]", LONG, |t| {
        t == "Crypto.com Pay refused this secret key. Nothing was saved: check the key and try again."
    })
    .await?;
    assert_eq!(app.text("[data-testid=mode-marker]").await?, "DEMO");
    app.screenshot("wrong-key").await?;

    // The right keys: PayDesk restarts in test mode and says so.
    choose(&app, "[data-testid=set-mode]", "test").await?;
    type_into(&app, "[data-testid=set-api-url]", &shop.sandbox.api_url()).await?;
    type_into(&app, "[data-testid=set-relay-url]", &shop.relay.base_url()).await?;
    type_into(
        &app,
        "[data-testid=set-secret-key]",
        shop.secret_key.expose(),
    )
    .await?;
    type_into(
        &app,
        "[data-testid=set-terminal-key]",
        shop.terminal_key.expose(),
    )
    .await?;
    app.click("[data-testid=save-settings]").await?;
    app.wait_text("[data-testid=settings-result]", LONG, |t| {
        t == "Saved. PayDesk restarted in test mode."
    })
    .await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=mode-marker]").await?, "TEST");
    let page = app.client.source().await?;
    ensure!(
        !page.contains(shop.secret_key.expose()),
        "a key must never be in the page"
    );
    app.screenshot("test-mode").await?;

    // The test book holds none of the demo's sales.
    app.click("[data-testid=nav-history]").await?;
    app.wait_text("[data-testid=history-book]", SHORT, |t| {
        t.starts_with("Test book")
    })
    .await?;
    ensure!(
        app.find("[data-testid=history-empty]")
            .await?
            .is_displayed()
            .await?,
        "the demo sale leaked into the test book: {}",
        app.text("[data-testid=history-rows]").await?
    );
    app.screenshot("test-book").await?;

    // A test sale, paid at the shop.
    app.click("[data-testid=nav-charge]").await?;
    app.find("[data-testid=amount]")
        .await?
        .send_keys("5")
        .await?;
    app.click("[data-testid=charge]").await?;
    app.wait_text("[data-testid=pay-status]", SHORT, |t| {
        t == "Waiting for payment"
    })
    .await?;
    ensure!(
        !app.find("[data-testid=demo-tools]")
            .await?
            .is_displayed()
            .await?,
        "no demo customer outside demo mode"
    );
    let id = app.payment_id().await?;
    shop.control(
        &format!("/sandbox/payments/{id}/pay"),
        serde_json::json!({}),
    )
    .await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    app.click("[data-testid=new-sale]").await?;

    // Back to demo: the demo book again, without the test sale.
    app.click("[data-testid=nav-settings]").await?;
    app.wait_attr("[data-testid=settings-form]", "data-loaded", "true", SHORT)
        .await?;
    choose(&app, "[data-testid=set-mode]", "demo").await?;
    app.click("[data-testid=save-settings]").await?;
    app.wait_text("[data-testid=settings-result]", LONG, |t| {
        t == "Saved. PayDesk restarted in demo mode."
    })
    .await?;
    app.click("[data-testid=nav-history]").await?;
    let rows = app
        .wait_text("[data-testid=history-rows]", SHORT, |t| {
            t.contains("8.00 USD")
        })
        .await?;
    ensure!(!rows.contains("5.00 USD"), "the test sale leaked: {rows}");
    app.close().await?;
    for account in [
        paydesk_core::secrets::Account::SecretKey,
        paydesk_core::secrets::Account::TerminalKey,
    ] {
        paydesk_core::secrets::SecretStore::delete(
            &paydesk_core::secrets::Keychain::with_service(&service),
            account,
        )?;
    }
    shop.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_neither_the_api_nor_the_relay_reachable_the_payment_screen_says_do_not_hand_over_goods(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let shop = TestShop::start().await?;
    let sandbox_addr = shop
        .sandbox
        .base_url()
        .trim_start_matches("http://")
        .parse()?;
    let api = FaultProxy::start(sandbox_addr).await?;
    let relay = FaultProxy::start(shop.relay.local_addr()).await?;
    let mut env = shop.env();
    for (k, v) in env.iter_mut() {
        if *k == "PAYDESK_API_URL" {
            *v = format!("{}/api", api.base_url());
        }
        if *k == "PAYDESK_RELAY_URL" {
            *v = relay.base_url();
        }
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = App::launch("offline", &env).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
        .await?;
    app.find("[data-testid=amount]")
        .await?
        .send_keys("9.99")
        .await?;
    app.click("[data-testid=charge]").await?;
    app.wait_text("[data-testid=pay-status]", SHORT, |t| {
        t == "Waiting for payment"
    })
    .await?;
    assert_eq!(
        app.text("[data-testid=pay-advice]").await?,
        "Connected: a payment shows here the moment it arrives."
    );
    let id = app.payment_id().await?;

    // The shop's internet goes: nothing reaches Crypto.com Pay or the relay.
    for p in [&api, &relay] {
        p.set(Mode::Refuse);
        p.cut();
    }
    app.wait_text("[data-testid=pay-status]", LONG, |t| {
        t == "No connection — do not hand over goods"
    })
    .await?;
    assert_eq!(
        app.text("[data-testid=connection-label]").await?,
        "No connection"
    );
    assert_eq!(
        app.text("[data-testid=pay-advice]").await?,
        "Crypto.com Pay cannot be reached. PayDesk keeps trying and shows the payment once it can check."
    );
    app.screenshot("offline").await?;

    // It comes back; the customer had paid meanwhile: the till finds out and says Paid.
    shop.control(
        &format!("/sandbox/payments/{id}/pay"),
        serde_json::json!({}),
    )
    .await?;
    api.forward();
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=result-title]").await?, "Paid");
    app.screenshot("back-and-paid").await?;
    relay.forward();
    app.close().await?;
    shop.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_that_cannot_settle_a_payment_is_said_at_once_and_it_is_never_shown_paid(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let shop = TestShop::start().await?;
    let mut env = shop.env();
    env.push(("PAYDESK_CURRENCY", "EUR".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = App::launch("underpaid", &env).await?;
    app.resize(1024, 600).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", LONG)
        .await?;
    app.charge_on_keypad(&["5"]).await?;
    let id = app.payment_id().await?;
    // The customer sends 3.00 of 5.00: Crypto.com keeps the payment open and the money
    // apart. The cashier asks ("Check now"); the screen says so at once.
    let short = shop
        .control(
            &format!("/sandbox/payments/{id}/pay"),
            serde_json::json!({"underpay": "2.00"}),
        )
        .await?;
    assert_eq!(short["status"], "pending", "{short}");
    app.click("[data-testid=check-now]").await?;
    let words = app
        .wait_text("[data-testid=pay-unresolved]", LONG, |t| !t.is_empty())
        .await?;
    assert_eq!(
        words,
        "The customer paid too little; Crypto.com returns the money to them. Nothing was charged — charge again."
    );
    assert_eq!(app.text("[data-testid=pay-status]").await?, "Not paid");
    app.screenshot("underpaid-1024x600").await?;
    // Its time runs out: Expired, with the same words, never Paid.
    shop.control(
        &format!("/sandbox/payments/{id}/expire"),
        serde_json::json!({}),
    )
    .await?;
    app.wait_attr("[data-testid=result]", "data-status", "expired", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=result-title]").await?, "Expired");
    assert_eq!(app.text("[data-testid=result-unresolved]").await?, words);
    app.screenshot("underpaid-expired-1024x600").await?;
    app.click("[data-testid=new-sale]").await?;
    app.click("[data-testid=nav-history]").await?;
    let rows = app
        .wait_text("[data-testid=history-rows]", SHORT, |t| {
            t.contains("Expired")
        })
        .await?;
    ensure!(rows.contains("paid too little"), "{rows}");
    ensure!(
        app.text("[data-testid=total-unpaid]")
            .await?
            .contains("1 expired"),
        "the expired payment is not counted"
    );
    app.close().await?;
    shop.shutdown().await;
    Ok(())
}

/// A headless till on purpose: its keys come from the environment and there is no keychain
/// at all (no session bus). Test connection judges the till as it runs: every check passes,
/// the keychain's included ("not needed"), where it used to fail the whole verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_the_environment_need_no_keychain_and_test_connection_says_so(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let shop = TestShop::start().await?;
    let mut env = shop.env();
    // A bus that is not there: the keychain fails at once (no autolaunch, no waiting).
    env.push((
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/paydesk-no-bus".into(),
    ));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = App::launch("env-keys", &env).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=mode-marker]").await?, "TEST");
    app.click("[data-testid=nav-settings]").await?;
    app.wait_attr("[data-testid=settings-form]", "data-loaded", "true", SHORT)
        .await?;
    app.click("[data-testid=test-connection]").await?;
    let said = app
        .wait_text("[data-testid=settings-result]", LONG, |t| {
            t.starts_with("All checks passed") || t.starts_with("Failed")
        })
        .await?;
    let table = app.text("[data-testid=doctor]").await?;
    assert_eq!(said, "All checks passed.", "{table}");
    let rows = app
        .client
        .execute(
            "return [...document.querySelectorAll('[data-testid=doctor] tbody tr')]\
             .map((tr) => [...tr.cells].map((td) => td.textContent))",
            vec![],
        )
        .await?;
    ensure!(
        rows.as_array().is_some_and(|rows| rows.iter().any(|r| *r
            == serde_json::json!([
                "Keychain",
                "Pass",
                "not needed: the keys come from the environment"
            ]))),
        "{rows}"
    );
    app.screenshot("env-keys-doctor").await?;
    app.close().await?;
    shop.shutdown().await;
    Ok(())
}
