//! Staff at the real app, as a shop floor meets it: a till with an owner, a supervisor and
//! a cashier asks for a PIN before anything; the cashier can charge but not open Settings
//! nor refund, a supervisor's PIN typed on the cashier's screen lets one refund through (and
//! the journal keeps both names); the till locks when idle; no PIN ever reaches the DOM;
//! kiosk mode refuses to close while a payment is pending and runs once.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use paydesk_core::config::Mode;
use paydesk_core::journal::{ActionKind, Journal};
use paydesk_core::staff::{Action, Context, Policy, Role, Staff};
use paydesk_tests::e2e::{App, TestShop, SERIAL};

const SHORT: Duration = Duration::from_secs(15);
const LONG: Duration = Duration::from_secs(45);

const OWNER_PIN: &str = "739251";
const SUPERVISOR_PIN: &str = "482913";
const CASHIER_PIN: &str = "615204";

/// A till's staff file as provisioning and `paydesk-cli staff add` leave it.
async fn staff_the_till(data: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data)?;
    let staff = Staff::open_till(data, Policy::default())?;
    staff
        .provision_owner("Olga".into(), OWNER_PIN.parse()?)
        .await?;
    for (name, role, pin) in [
        ("Sam", Role::Supervisor, SUPERVISOR_PIN),
        ("Cara", Role::Cashier, CASHIER_PIN),
    ] {
        let by = staff
            .authorize(Some(OWNER_PIN.parse()?), Action::Staff, Context::none())
            .await?;
        staff.add(by, name.into(), role, pin.parse()?).await?;
    }
    Ok(())
}

/// Types a PIN on the pad under `pad` (the lock screen's or the approver's), digit by digit
/// as a finger would, then checks the page holds no trace of it before submitting.
async fn type_pin(app: &App, pad: &str, submit: &str, pin: &str) -> anyhow::Result<()> {
    for d in pin.chars() {
        app.click(&format!("{pad} [data-pin='{d}']")).await?;
    }
    assert_pin_not_in_dom(app, pin).await?;
    app.click(submit).await
}

/// The whole document — markup, every field's value, every data attribute — holds no PIN.
async fn assert_pin_not_in_dom(app: &App, pin: &str) -> anyhow::Result<()> {
    let page = app
        .client
        .execute(
            "const values = [...document.querySelectorAll('input, textarea, select')].map(e => e.value); \
             return document.documentElement.outerHTML + '\\n' + values.join('\\n');",
            vec![],
        )
        .await?;
    let page = page.as_str().context("the page did not answer")?;
    ensure!(!page.contains(pin), "a PIN is in the webview's DOM");
    Ok(())
}

fn config(extra: &str) -> String {
    format!("mode = \"test\"\nterminal_name = \"Front till\"\ndefault_currency = \"EUR\"\n{extra}")
}

async fn launch_staffed(name: &str, shop: &TestShop, extra: &str) -> anyhow::Result<App> {
    let home = tempfile::tempdir()?;
    std::fs::create_dir_all(home.path().join("config"))?;
    std::fs::write(home.path().join("config/paydesk.toml"), config(extra))?;
    staff_the_till(&home.path().join("data")).await?;
    let env = shop.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    App::launch_home(name, &env, home).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashier_cannot_refund_or_open_settings_until_a_supervisor_allows_one_refund(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let shop = TestShop::start().await?;
    let app = launch_staffed("staff-roles", &shop, "").await?;
    app.resize(1024, 600).await?;

    // Locked from the start: a PIN pad, nothing of the till behind it.
    app.wait_attr("body", "data-locked", "true", SHORT).await?;
    ensure!(
        app.find("[data-testid=lock-screen]")
            .await?
            .is_displayed()
            .await?,
        "the lock screen is not shown"
    );
    ensure!(
        !app.find("[data-testid=lock-demo]")
            .await?
            .is_displayed()
            .await?,
        "a real till shows no demo PIN"
    );
    // A wrong PIN is refused in words, and forgotten.
    type_pin(
        &app,
        "[data-testid=lock-pad]",
        "[data-testid=sign-in]",
        "111111",
    )
    .await?;
    app.wait_text("[data-testid=lock-error]", SHORT, |t| {
        t.contains("not recognised")
    })
    .await?;
    app.screenshot("staff-lock-wrong-pin").await?;
    type_pin(
        &app,
        "[data-testid=lock-pad]",
        "[data-testid=sign-in]",
        CASHIER_PIN,
    )
    .await?;
    app.wait_attr("body", "data-locked", "false", SHORT).await?;
    assert_eq!(app.text_content("[data-testid=who-name]").await?, "Cara");
    assert_eq!(app.text_content("[data-testid=who-role]").await?, "cashier");

    // Settings are the owner's.
    app.click("[data-testid=nav-settings]").await?;
    let denied = app
        .wait_text("[data-testid=settings-denied-text]", SHORT, |t| {
            !t.is_empty()
        })
        .await?;
    assert_eq!(
        denied,
        "Only the owner can change the settings; Cara is signed in as cashier."
    );
    ensure!(
        !app.find("[data-testid=settings-form]")
            .await?
            .is_displayed()
            .await?,
        "the settings form is shown to a cashier"
    );
    app.screenshot("staff-cashier-settings").await?;

    // The cashier charges; the customer pays.
    app.click("[data-testid=nav-charge]").await?;
    app.charge_on_keypad(&["7", ".", "5", "0"]).await?;
    let id = app.payment_id().await?;
    shop.control(
        &format!("/sandbox/payments/{id}/pay"),
        serde_json::json!({}),
    )
    .await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    assert!(app
        .text("[data-testid=result-sale]")
        .await?
        .contains("by Cara"));
    app.click("[data-testid=new-sale]").await?;

    // A refund needs a supervisor: the approver's pad opens on the cashier's screen.
    app.click("[data-testid=nav-history]").await?;
    app.wait_text("[data-testid=history-rows]", SHORT, |t| t.contains("Cara"))
        .await?;
    app.click("[data-testid=history-rows] button[data-testid=refund]")
        .await?;
    app.find("[data-testid=refund-reason]")
        .await?
        .send_keys("wrong order")
        .await?;
    app.click("[data-testid=refund-confirm]").await?;
    let why = app
        .wait_text("[data-testid=pin-why]", SHORT, |t| !t.is_empty())
        .await?;
    assert!(why.contains("A supervisor types their PIN"), "{why}");
    app.screenshot("staff-override-pad").await?;
    // The cashier's own PIN allows nothing more.
    type_pin(
        &app,
        "[data-testid=approver-pad]",
        "[data-testid=approve]",
        CASHIER_PIN,
    )
    .await?;
    let refused = app
        .wait_text("[data-testid=refund-error]", SHORT, |t| !t.is_empty())
        .await?;
    assert!(refused.contains("supervisor"), "{refused}");
    app.click("[data-testid=refund-confirm]").await?;
    app.wait_text("[data-testid=pin-why]", SHORT, |t| !t.is_empty())
        .await?;
    type_pin(
        &app,
        "[data-testid=approver-pad]",
        "[data-testid=approve]",
        SUPERVISOR_PIN,
    )
    .await?;
    app.wait_text("[data-testid=export-result]", LONG, |t| {
        t.starts_with("Refund 7.50 EUR")
    })
    .await?;
    app.screenshot("staff-refund-approved").await?;

    // The journal keeps who asked and who allowed it.
    let journal = Journal::open_book(app.data_dir().join("journal.sqlite3"), Mode::Test)?;
    let requests = journal.requests(&id)?;
    let refund = requests
        .iter()
        .map(|(a, _)| a)
        .find(|a| matches!(a.kind, ActionKind::Refund { .. }))
        .context("no refund request journaled")?;
    assert_eq!(refund.who.cashier.as_deref(), Some("Cara"));
    assert_eq!(refund.who.approved_by.as_deref(), Some("Sam"));

    // Lock; the owner signs in and sees Settings.
    app.click("[data-testid=who]").await?;
    app.wait_attr("body", "data-locked", "true", SHORT).await?;
    type_pin(
        &app,
        "[data-testid=lock-pad]",
        "[data-testid=sign-in]",
        OWNER_PIN,
    )
    .await?;
    app.wait_attr("body", "data-locked", "false", SHORT).await?;
    app.click("[data-testid=nav-settings]").await?;
    app.wait_attr("[data-testid=settings-form]", "data-loaded", "true", SHORT)
        .await?;
    ensure!(
        app.find("[data-testid=settings-form]")
            .await?
            .is_displayed()
            .await?,
        "the owner cannot see Settings"
    );
    app.close().await?;
    shop.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_till_says_what_the_payment_is_doing_and_an_idle_one_locks_itself(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let shop = TestShop::start().await?;
    let app = launch_staffed("staff-idle", &shop, "lock_after_secs = 3\n").await?;
    app.resize(800, 600).await?;
    app.wait_attr("body", "data-locked", "true", SHORT).await?;
    type_pin(
        &app,
        "[data-testid=lock-pad]",
        "[data-testid=sign-in]",
        CASHIER_PIN,
    )
    .await?;
    app.wait_attr("body", "data-locked", "false", SHORT).await?;
    app.charge_on_keypad(&["4", "2"]).await?;
    // Locked mid-payment (the Lock button; the idle lock waits while a customer pays): the
    // payment's state is still said on the lock screen.
    app.click("[data-testid=who]").await?;
    app.wait_attr("body", "data-locked", "true", SHORT).await?;
    let line = app
        .wait_text("[data-testid=lock-payment]", SHORT, |t| !t.is_empty())
        .await?;
    assert_eq!(
        line,
        "A payment of 42.00 EUR is waiting. Sign in to follow it."
    );
    app.screenshot("staff-locked-mid-payment-800x600").await?;
    app.all_in_view(&[
        "[data-testid=sign-in]",
        "[data-testid=lock-pad] [data-pin='0']",
        "[data-testid=lock-payment]",
    ])
    .await?;
    // Paid while locked: said at once, and the next person to sign in sees it.
    let id = app.payment_id().await?;
    shop.control(
        &format!("/sandbox/payments/{id}/pay"),
        serde_json::json!({}),
    )
    .await?;
    app.wait_text("[data-testid=lock-payment]", LONG, |t| {
        t.starts_with("Paid")
    })
    .await?;
    type_pin(
        &app,
        "[data-testid=lock-pad]",
        "[data-testid=sign-in]",
        CASHIER_PIN,
    )
    .await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", SHORT)
        .await?;
    app.click("[data-testid=new-sale]").await?;
    // Left alone with nothing pending, the till locks itself after its idle time.
    app.wait_attr("body", "data-locked", "true", LONG).await?;
    ensure!(
        !app.find("[data-testid=lock-payment]")
            .await?
            .is_displayed()
            .await?,
        "the lock screen speaks of a payment that is over"
    );
    app.screenshot("staff-idle-locked-800x600").await?;
    app.close().await?;
    shop.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_mode_refuses_to_close_while_a_payment_is_pending_and_runs_once() -> anyhow::Result<()>
{
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch_configured(
        "kiosk",
        &[("PAYDESK_CURRENCY", "EUR")],
        "mode = \"demo\"\nterminal_name = \"Kiosk till\"\nkiosk = true\n",
    )
    .await?;
    app.wait_text("[data-testid=connection-label]", LONG, |t| t == "Live")
        .await?;
    app.charge_on_keypad(&["5"]).await?;

    // The close button is refused while the customer may still pay, in words.
    ensure!(app.request_close()? > 0, "no PayDesk window to close");
    let notice = app
        .wait_text("[data-testid=notice]", SHORT, |t| !t.is_empty())
        .await?;
    assert_eq!(
        notice,
        "A payment is still pending: finish or cancel it before closing PayDesk."
    );
    ensure!(app.window_exists()?, "the till closed mid-payment");
    assert_eq!(
        app.attr("body", "data-screen").await?.as_deref(),
        Some("payment")
    );
    app.screenshot("kiosk-close-refused").await?;

    // A second start on this till brings the first forward and exits.
    let second = tokio::process::Command::new(paydesk_tests::system::sibling_binary("paydesk")?)
        .env("DISPLAY", &app.display)
        .env("PAYDESK_DATA_DIR", app.data_dir())
        .env(
            "PAYDESK_CONFIG",
            app.home.path().join("config/paydesk.toml"),
        )
        .env("PAYDESK_LOG_DIR", app.home.path().join("logs"))
        .env("XDG_DATA_HOME", app.home.path().join("xdg-data"))
        .env("XDG_CONFIG_HOME", app.home.path().join("xdg-config"))
        .kill_on_drop(true)
        .status();
    let status = tokio::time::timeout(LONG, second)
        .await
        .context("a second PayDesk kept running beside the first")??;
    ensure!(status.success(), "the second PayDesk failed: {status}");
    ensure!(app.window_exists()?, "the first PayDesk went away");

    // Once the payment is over, the close button closes PayDesk.
    app.click("[data-testid=cancel]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "cancelled", LONG)
        .await?;
    app.request_close()?;
    let closed = tokio::time::timeout(LONG, async {
        while app.window_exists()? {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok::<_, anyhow::Error>(())
    })
    .await;
    if closed.is_err() {
        let notice = app.text("[data-testid=notice]").await.unwrap_or_default();
        let shot = app.screenshot("kiosk-not-closed").await;
        bail!("PayDesk did not close once nothing was pending; notice {notice:?}; {shot:?}");
    }
    closed??;
    Ok(())
}
