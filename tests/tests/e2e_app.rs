//! The real app under Xvfb, driven through tauri-driver and WebKitWebDriver: what a
//! cashier does, and what the screen says — the words, not only that an element exists.

use std::time::Duration;

use anyhow::{ensure, Context};
use paydesk_tests::e2e::{sandbox_control, App, SERIAL};

const SHORT: Duration = Duration::from_secs(15);
const LONG: Duration = Duration::from_secs(40);
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

async fn live(app: &App) -> anyhow::Result<()> {
    app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
        .await?;
    assert_eq!(app.text("[data-testid=connection-label]").await?, "Live");
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
    live(&app).await?;
    // Nothing to say about the till itself: no banner.
    assert!(
        !app.find("[data-testid=status-banner]")
            .await?
            .is_displayed()
            .await?
    );
    // The text shows the minute; the exact server time rides in `datetime` and must tick.
    app.wait_text("[data-testid=server-clock]", SHORT, |t| !t.is_empty())
        .await?;
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
    // The keypad charges nothing until there is an amount, and says so.
    assert_eq!(app.text("[data-testid=charge]").await?, "Enter an amount");
    app.screenshot("charge-screen").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_paid_while_the_cashier_is_on_history_reaches_them_with_the_note(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("paid-elsewhere", &[("PAYDESK_CURRENCY", "EUR")]).await?;
    live(&app).await?;
    // "+" adds amounts: the big field shows the total, the button says what it charges.
    app.keypad(&["1", "2", ".", "5", "0", "plus", "3"]).await?;
    app.wait_text("[data-testid=total]", SHORT, |t| t == "15.50 EUR")
        .await?;
    assert_eq!(app.text("[data-testid=charge]").await?, "Charge 15.50 EUR");
    app.find("[data-testid=note]")
        .await?
        .send_keys("Table 4 - 2 lattes")
        .await?;
    app.screenshot("typed").await?;
    app.click("[data-testid=charge]").await?;
    app.wait_text("[data-testid=pay-status]", SHORT, |t| {
        t == "Waiting for payment"
    })
    .await?;
    assert_eq!(app.text("[data-testid=pay-amount]").await?, "15.50 EUR");
    assert_eq!(
        app.text("[data-testid=pay-note]").await?,
        "Table 4 - 2 lattes"
    );
    let crypto = app.text("[data-testid=pay-crypto]").await?;
    ensure!(
        crypto.starts_with("≈ ") && crypto.ends_with(" CRO"),
        "{crypto}"
    );
    let id = app.payment_id().await?;

    // The cashier looks something up while the customer pays.
    app.click("[data-testid=nav-history]").await?;
    app.wait_text("[data-testid=history-rows]", SHORT, |t| {
        t.contains("Waiting for payment")
    })
    .await?;
    let sandbox = app.demo_sandbox_url().await?;
    sandbox_control(
        &reqwest::Client::new(),
        &sandbox,
        &format!("/sandbox/payments/{id}/pay"),
        serde_json::json!({}),
    )
    .await?;
    // Wherever the cashier was, the result comes to them.
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=result-title]").await?, "Paid");
    assert_eq!(app.text("[data-testid=result-amount]").await?, "15.50 EUR");
    assert_eq!(
        app.text("[data-testid=result-note]").await?,
        "Table 4 - 2 lattes"
    );
    assert_eq!(
        app.text("[data-testid=result-detail]").await?,
        "Confirmed by Crypto.com Pay. Hand over the goods."
    );
    app.screenshot("paid-from-history").await?;

    // Enter starts a new sale.
    app.keys(ENTER).await?;
    app.wait_attr("body", "data-screen", "charge", SHORT)
        .await?;
    assert_eq!(app.text("[data-testid=charge]").await?, "Enter an amount");

    // History: the note, one short id, the order id, netted totals; search by the note.
    app.click("[data-testid=nav-history]").await?;
    let rows = app
        .wait_text("[data-testid=history-rows]", SHORT, |t| t.contains("Paid"))
        .await?;
    assert!(rows.contains("Table 4 - 2 lattes"), "{rows}");
    assert!(rows.contains(&format!("{}…", &id[..8])), "{rows}");
    assert!(
        !rows.contains(&id),
        "the full id only in the tooltip: {rows}"
    );
    assert!(rows.contains("-0001"), "a readable order id: {rows}");
    assert_eq!(
        app.text("[data-testid=total-paid] .value").await?,
        "15.50 EUR"
    );
    assert_eq!(
        app.text("[data-testid=total-net] .value").await?,
        "15.50 EUR"
    );
    assert_eq!(
        app.text("[data-testid=history-book]").await?,
        "Demo book: sales made in demo mode. No real money; never in the test or live books."
    );
    app.find("[data-testid=history-search]")
        .await?
        .send_keys("lattes")
        .await?;
    app.wait_text("[data-testid=history-rows]", SHORT, |t| {
        t.contains("15.50 EUR")
    })
    .await?;
    app.screenshot("history").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_is_requested_then_sent_with_its_reason_and_enter_never_refunds(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("refund", &[("PAYDESK_CURRENCY", "EUR")]).await?;
    live(&app).await?;
    app.charge_on_keypad(&["7", ".", "5", "0"]).await?;
    // The demo control says what it is.
    assert_eq!(
        app.text("[data-testid=simulate]").await?,
        "Customer pays in the App"
    );
    app.click("[data-testid=simulate]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    app.click("[data-testid=new-sale]").await?;
    app.click("[data-testid=nav-history]").await?;
    app.wait_text("[data-testid=history-rows]", SHORT, |t| t.contains("Paid"))
        .await?;
    app.click("[data-testid=history-rows] button[data-testid=refund]")
        .await?;
    app.wait_text("[data-testid=refund-summary]", SHORT, |t| {
        t.contains("7.50 EUR paid") && t.contains("up to 7.50 EUR")
    })
    .await?;
    assert_eq!(app.text("[data-testid=refund-currency]").await?, "EUR");
    let field = app.find("[data-testid=refund-amount]").await?;
    field.clear().await?;
    field.send_keys("2.50").await?;
    app.find("[data-testid=refund-reason]")
        .await?
        .send_keys("cup was cold")
        .await?;
    // Enter in the dialog does not refund: the dialog stays, nothing was asked for.
    app.keys(ENTER).await?;
    ensure!(
        app.find("[data-testid=refund-dialog]")
            .await?
            .is_displayed()
            .await?,
        "Enter closed the refund dialog"
    );
    assert_eq!(
        app.text("[data-testid=refund-confirm]").await?,
        "Refund 2.50 EUR"
    );
    app.screenshot("refund-dialog").await?;
    app.click("[data-testid=refund-confirm]").await?;
    // Paid in the App: requested at once, sent shortly after.
    app.wait_text("[data-testid=export-result]", SHORT, |t| {
        t.contains("Refund 2.50 EUR") && t.contains("Crypto.com App")
    })
    .await?;
    let rows = app
        .wait_text("[data-testid=history-rows]", LONG, |t| {
            t.contains("Refund 2.50 EUR · Sent · cup was cold")
        })
        .await?;
    assert!(rows.contains("Paid"), "{rows}");
    assert_eq!(
        app.text("[data-testid=total-paid] .value").await?,
        "7.50 EUR"
    );
    assert_eq!(
        app.text("[data-testid=total-refunded] .value").await?,
        "2.50 EUR"
    );
    // Refunds are netted.
    assert_eq!(
        app.text("[data-testid=total-net] .value").await?,
        "5.00 EUR"
    );
    app.screenshot("refunded").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onchain_refund_stays_requested_until_the_customer_answers() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("onchain-refund", &[("PAYDESK_CURRENCY", "EUR")]).await?;
    live(&app).await?;
    app.charge_on_keypad(&["2", "0"]).await?;
    app.click("[data-testid=simulate-onchain]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    app.click("[data-testid=new-sale]").await?;
    app.click("[data-testid=nav-history]").await?;
    app.wait_text("[data-testid=history-rows]", SHORT, |t| t.contains("Paid"))
        .await?;
    app.click("[data-testid=history-rows] button[data-testid=refund]")
        .await?;
    app.wait_text("[data-testid=refund-summary]", SHORT, |t| {
        t.contains("20.00 EUR")
    })
    .await?;
    app.click("[data-testid=refund-confirm]").await?;
    // Paid from a wallet: Crypto.com asks the customer for an address first.
    app.wait_text("[data-testid=export-result]", SHORT, |t| {
        t.contains("Requested") && t.contains("e-mails the customer")
    })
    .await?;
    app.wait_text("[data-testid=history-rows]", SHORT, |t| {
        t.contains("Refund 20.00 EUR · Requested")
    })
    .await?;
    assert_eq!(
        app.text("[data-testid=total-requested] .value").await?,
        "20.00 EUR"
    );
    assert_eq!(
        app.text("[data-testid=total-net] .value").await?,
        "0.00 EUR"
    );
    app.screenshot("refund-requested").await?;
    // Days later the customer answers; the transfer is pushed like any news.
    let refund_id = app
        .attr("[data-testid=history-rows] .refund-line", "data-refund-id")
        .await?
        .context("the refund line names no refund")?;
    let sandbox = app.demo_sandbox_url().await?;
    sandbox_control(
        &reqwest::Client::new(),
        &sandbox,
        &format!("/sandbox/refunds/{refund_id}/transfer"),
        serde_json::json!({}),
    )
    .await?;
    app.wait_text("[data-testid=history-rows]", LONG, |t| {
        t.contains("Refund 20.00 EUR · Sent")
    })
    .await?;
    app.wait_text("[data-testid=total-refunded] .value", SHORT, |t| {
        t == "20.00 EUR"
    })
    .await?;
    assert_eq!(
        app.text("[data-testid=total-requested] .value").await?,
        "0.00 EUR"
    );
    app.screenshot("refund-sent").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_payment_offers_charge_again_and_money_sent_late_is_explained(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("expiry", &[("PAYDESK_DEMO_TIME_WINDOW", "5")]).await?;
    live(&app).await?;
    app.charge_on_keypad(&["3"]).await?;
    let id = app.payment_id().await?;
    app.wait_attr("[data-testid=result]", "data-status", "expired", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=result-title]").await?, "Expired");
    assert_eq!(
        app.text("[data-testid=result-detail]").await?,
        "The customer did not pay in time. Nothing was charged."
    );
    assert_eq!(
        app.text("[data-testid=result-keys]").await?,
        "Enter: charge again · Esc: new sale"
    );
    app.screenshot("expired").await?;
    // The customer's wallet sends the money after the deadline.
    let sandbox = app.demo_sandbox_url().await?;
    sandbox_control(
        &reqwest::Client::new(),
        &sandbox,
        &format!("/sandbox/payments/{id}/pay"),
        serde_json::json!({"method": "onchain"}),
    )
    .await?;
    app.click("[data-testid=result-check]").await?;
    app.wait_text("[data-testid=result-unresolved]", LONG, |t| {
        t == "The customer paid too late; Crypto.com returns the money to them. Nothing was charged — charge again."
    })
    .await?;
    // Never Paid.
    assert_eq!(app.text("[data-testid=result-title]").await?, "Expired");
    app.screenshot("paid-too-late").await?;
    // Enter charges the same amount again.
    app.keys(ENTER).await?;
    app.wait_attr("body", "data-screen", "charge", SHORT)
        .await?;
    app.wait_text("[data-testid=total]", SHORT, |t| t == "3.00 USD")
        .await?;
    assert_eq!(app.text("[data-testid=charge]").await?, "Charge 3.00 USD");
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_payment_offers_both_ways_on_and_escape_starts_a_new_sale() -> anyhow::Result<()>
{
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("cancel", &[]).await?;
    live(&app).await?;
    app.charge_on_keypad(&["1", "2"]).await?;
    app.click("[data-testid=cancel]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "cancelled", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=result-title]").await?, "Cancelled");
    assert_eq!(
        app.text("[data-testid=result-detail]").await?,
        "The payment was cancelled. Nothing was charged."
    );
    ensure!(
        app.find("[data-testid=charge-again]")
            .await?
            .is_displayed()
            .await?
            && app
                .find("[data-testid=new-sale]")
                .await?
                .is_displayed()
                .await?,
        "both Charge again and New sale are offered"
    );
    app.screenshot("cancelled").await?;
    app.keys(ESCAPE).await?;
    app.wait_attr("body", "data-screen", "charge", SHORT)
        .await?;
    assert_eq!(app.text("[data-testid=charge]").await?, "Enter an amount");
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusually_large_amount_must_be_confirmed() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("large", &[]).await?;
    live(&app).await?;
    app.keypad(&["9", "9", "9", "9", "9", "9", "9", "9", "9", "9", "9"])
        .await?;
    app.click("[data-testid=charge]").await?;
    app.wait_text("[data-testid=confirm-amount]", SHORT, |t| {
        t == "99\u{2009}999\u{2009}999\u{2009}999.00 USD"
    })
    .await?;
    app.screenshot("confirm-large").await?;
    // Enter takes "Go back": nothing is charged by accident.
    app.keys(ENTER).await?;
    app.wait_attr("body", "data-screen", "charge", SHORT)
        .await?;
    ensure!(
        !app.find("[data-testid=confirm-dialog]")
            .await?
            .is_displayed()
            .await?,
        "the dialog stayed open"
    );
    app.click("[data-testid=charge]").await?;
    app.click("[data-testid=confirm-charge]").await?;
    app.wait_text("[data-testid=pay-status]", SHORT, |t| {
        t == "Waiting for payment"
    })
    .await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_says_all_checks_passed_when_they_do() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("doctor", &[]).await?;
    live(&app).await?;
    // The smallest till: the verdict and the table lie below the fold until shown.
    app.resize(800, 600).await?;
    app.click("[data-testid=nav-settings]").await?;
    app.wait_attr("[data-testid=settings-form]", "data-loaded", "true", SHORT)
        .await?;
    // Tapped where it is, as a finger would: WebDriver's own click scrolls the page first.
    app.all_in_view(&["[data-testid=test-connection]"]).await?;
    app.client
        .execute(
            "document.querySelector('[data-testid=test-connection]').click()",
            vec![],
        )
        .await?;
    let said = app
        .wait_text("[data-testid=settings-result]", LONG, |t| {
            t.starts_with("All checks passed") || t.starts_with("Failed")
        })
        .await?;
    app.all_in_view(&[
        "[data-testid=settings-result]",
        "[data-testid=doctor] tbody tr:first-child",
    ])
    .await
    .context("the verdict is said where the owner looks")?;
    let table = app.text_content("[data-testid=doctor]").await?;
    assert_eq!(said, "All checks passed.", "{table}");
    let table = app.text("[data-testid=doctor]").await?;
    for check in ["API key", "Clock", "Polling path", "Relay", "Heartbeat"] {
        assert!(table.contains(check), "{check} missing: {table}");
    }
    assert!(!table.contains("Fail"), "{table}");
    app.screenshot("doctor").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_display_mirrors_the_payment_with_the_demo_marker_and_the_amount_on_paid(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("customer", &[]).await?;
    live(&app).await?;
    let (main, customer) = app.open_customer_display().await?;
    app.client.switch_to_window(customer.clone()).await?;
    assert_eq!(
        app.text("[data-testid=c-marker]").await?,
        "DEMO — no real money"
    );
    assert_eq!(
        app.text("[data-testid=c-welcome]").await?,
        "Welcome to Till 1"
    );

    app.client.switch_to_window(main.clone()).await?;
    app.click("[data-testid=nav-charge]").await?;
    app.find("[data-testid=note]")
        .await?
        .send_keys("2 croissants")
        .await?;
    app.charge_on_keypad(&["4", "2"]).await?;
    app.client.switch_to_window(customer.clone()).await?;
    app.wait_attr("body", "data-view", "pay", SHORT).await?;
    app.wait_text("[data-testid=c-amount]", SHORT, |t| t == "42.00 USD")
        .await?;
    assert_eq!(app.text("[data-testid=c-note]").await?, "2 croissants");
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
    assert_eq!(app.text("[data-testid=c-done-amount]").await?, "42.00 USD");
    assert_eq!(app.text("[data-testid=c-thanks]").await?, "Thank you!");
    app.screenshot("customer-paid").await?;
    app.close().await
}
