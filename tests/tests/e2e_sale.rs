//! A café's sale at the real app: quick keys into the cart, the customer chooses the tip on
//! the customer display, the payment is the bill plus that tip, Paid says the tip and the
//! tax apart, the receipt printed on a fake ESC/POS printer lists every line, the tip and
//! the tax per rate, and the close of day sums the tips and the tax — at the window sizes
//! shops use.

use std::time::Duration;

use anyhow::{ensure, Context as _};
use paydesk_receipt::testing::{Behaviour, FakePrinter};
use paydesk_tests::e2e::{App, SERIAL};

const SHORT: Duration = Duration::from_secs(15);
const LONG: Duration = Duration::from_secs(45);

/// The catalog a café provisions (docs/sale.md), with its receipt printer at `{printer}`.
pub const CAFE: &str = r##"mode = "demo"
terminal_name = "Café counter"
default_currency = "EUR"

[shop]
name = "Café Müller"

[printer]
url = "{printer}"

[catalog]
default_tax = "vat20"

[catalog.tips]
presets = ["10%", "15%", "20%"]

[[catalog.tax]]
id = "vat20"
label = "VAT 20%"
rate = "20"
kind = "inclusive"

[[catalog.tax]]
id = "vat5.5"
label = "VAT 5.5%"
rate = "5.5"
kind = "inclusive"

[[catalog.category]]
id = "drinks"
name = "Drinks"
colour = "#6f4e37"

[[catalog.item]]
sku = "latte"
name = "Latte"
price = "3.50"
category = "drinks"

[[catalog.item]]
sku = "espresso"
name = "Espresso"
price = "2.20"
category = "drinks"

[[catalog.item]]
sku = "croissant"
name = "Croissant"
price = "1.80"
tax = "vat5.5"
"##;

async fn cart_lines(app: &App) -> anyhow::Result<Vec<String>> {
    let lines = app
        .client
        .execute(
            "return [...document.querySelectorAll('[data-testid=cart-line]')].map(li => \
             li.querySelector('.cart-name').textContent + ' ' + li.querySelector('.cart-amount').textContent)",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(lines)?)
}

async fn ring_up_two_lattes_and_a_croissant(app: &App) -> anyhow::Result<()> {
    app.wait_attr("[data-testid=screen-charge]", "data-cart", "true", LONG)
        .await?;
    for sku in ["latte", "latte", "croissant"] {
        app.click(&format!("[data-testid=key-{sku}]")).await?;
    }
    app.wait_text("[data-testid=charge]", SHORT, |t| t == "Charge 8.80 EUR")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_chooses_a_tip_on_their_display_and_pays_the_bill_with_it(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let printer = FakePrinter::start(Behaviour::silent()).await?;
    let config = CAFE.replace("{printer}", &printer.url());
    let app = App::launch_configured("sale", &[], &config).await?;
    app.resize(1024, 600).await?;
    app.wait_text("[data-testid=connection-label]", LONG, |t| t == "Live")
        .await?;
    ring_up_two_lattes_and_a_croissant(&app).await?;
    assert_eq!(
        cart_lines(&app).await?,
        ["2× Latte 7.00 EUR", "Croissant 1.80 EUR"]
    );
    assert_eq!(app.text("[data-testid=total]").await?, "8.80 EUR");
    assert_eq!(
        app.text("[data-testid=cart-tax]").await?,
        "VAT 20% incl. 1.17 EUR · VAT 5.5% incl. 0.09 EUR"
    );
    app.all_in_view(&[
        "[data-testid=key-latte]",
        "[data-testid=cart]",
        "[data-testid=charge]",
        "[data-testid=tab-keypad]",
    ])
    .await?;
    app.screenshot("cart-1024x600").await?;
    // One latte less, then back: the cart is Rust's, the screen follows it.
    app.click("[data-testid=cart-line] [data-testid=line-minus]")
        .await?;
    app.wait_text("[data-testid=charge]", SHORT, |t| t == "Charge 5.30 EUR")
        .await?;
    app.click("[data-testid=key-latte]").await?;
    app.wait_text("[data-testid=charge]", SHORT, |t| t == "Charge 8.80 EUR")
        .await?;

    // The customer display is where the customer chooses.
    let (main, customer) = app.open_customer_display().await?;
    app.click("[data-testid=nav-charge]").await?;
    app.wait_text("[data-testid=charge]", SHORT, |t| t == "Charge 8.80 EUR")
        .await?;
    app.click("[data-testid=charge]").await?;
    app.wait_attr("body", "data-screen", "tip", SHORT).await?;
    assert_eq!(
        app.text("[data-testid=tip-title]").await?,
        "The customer is choosing a tip"
    );
    assert_eq!(app.text("[data-testid=tip-bill]").await?, "Bill 8.80 EUR");
    app.screenshot("tip-waiting-1024x600").await?;

    app.client.switch_to_window(customer.clone()).await?;
    app.wait_attr("body", "data-view", "tip", SHORT).await?;
    assert_eq!(app.text("[data-testid=c-bill]").await?, "8.80 EUR");
    let fifteen = app
        .client
        .execute(
            "const b = [...document.querySelectorAll('.c-tip-button')] \
             .find(b => b.querySelector('.c-tip-label').textContent === '15%'); \
             return b ? b.dataset.testid : null",
            vec![],
        )
        .await?;
    let fifteen = fifteen.as_str().context("no 15% button")?.to_owned();
    assert_eq!(
        app.text(&format!("[data-testid={fifteen}] .c-tip-amounts"))
            .await?,
        "+1.32 EUR = 10.12 EUR"
    );
    app.screenshot("customer-tip").await?;
    app.click(&format!("[data-testid={fifteen}]")).await?;
    // Chosen: the payment is created for the bill and the tip, on both screens.
    app.wait_attr("body", "data-view", "pay", LONG).await?;
    assert_eq!(app.text("[data-testid=c-amount]").await?, "10.12 EUR");

    app.client.switch_to_window(main.clone()).await?;
    app.wait_attr("body", "data-screen", "payment", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=pay-amount]").await?, "10.12 EUR");
    assert_eq!(
        app.text("[data-testid=pay-note]").await?,
        "2× Latte, Croissant"
    );
    assert_eq!(
        app.text("[data-testid=pay-tip]").await?,
        "incl. tip 1.32 EUR"
    );
    app.click("[data-testid=simulate]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=result-amount]").await?, "10.12 EUR");
    assert_eq!(
        app.text("[data-testid=result-sale]").await?,
        "incl. tip 1.32 EUR · VAT 20% incl. 1.17 EUR · VAT 5.5% incl. 0.09 EUR · by Demo owner"
    );
    app.screenshot("sale-paid-1024x600").await?;

    // The receipt lists what was rung up, the tip and the tax per rate.
    app.click("[data-testid=result-print]").await?;
    let job = tokio::time::timeout(LONG, printer.next_job())
        .await
        .context("nothing reached the printer")?
        .context("the fake printer stopped")?;
    ensure!(job.complete, "the receipt was cut off");
    let paper = job.decode()?.text(48);
    for words in [
        "Café Müller",
        "Latte",
        "Croissant",
        "Subtotal",
        "Tip",
        "1.32",
        "10.12",
        "A VAT 20% incl.",
        "B VAT 5.5% incl.",
        "Demo owner",
    ] {
        ensure!(
            paper.contains(words),
            "the receipt lacks {words:?}:\n{paper}"
        );
    }
    app.click("[data-testid=result-receipt]").await?;
    app.wait_text("[data-testid=receipt-text]", SHORT, |t| {
        t.contains("Croissant")
    })
    .await?;
    app.screenshot("sale-receipt-1024x600").await?;
    app.click("[data-testid=receipt-close]").await?;

    // History keeps the tip apart.
    app.click("[data-testid=new-sale]").await?;
    app.click("[data-testid=nav-history]").await?;
    app.wait_text("[data-testid=history-rows]", SHORT, |t| {
        t.contains("10.12 EUR") && t.contains("incl. tip 1.32 EUR")
    })
    .await?;

    // A full-HD till shows the keys and the keypad side by side.
    app.click("[data-testid=nav-charge]").await?;
    app.resize(1920, 1080).await?;
    ring_up_two_lattes_and_a_croissant(&app).await?;
    app.all_in_view(&[
        "[data-testid=key-croissant]",
        "[data-testid=keypad] [data-key='7']",
        "[data-testid=cart]",
        "[data-testid=charge]",
    ])
    .await?;
    app.screenshot("cart-1920x1080").await?;
    // The cashier may go on without the customer: a typed tip, then back to the cart.
    app.click("[data-testid=charge]").await?;
    app.wait_attr("body", "data-screen", "tip", SHORT).await?;
    app.screenshot("tip-waiting-1920x1080").await?;
    app.click("[data-testid=tip-back]").await?;
    app.wait_attr("body", "data-screen", "charge", SHORT)
        .await?;
    assert_eq!(
        cart_lines(&app).await?,
        ["2× Latte 7.00 EUR", "Croissant 1.80 EUR"]
    );
    app.client.switch_to_window(customer).await?;
    app.wait_attr("body", "data-view", "idle", SHORT).await?;
    app.client.switch_to_window(main).await?;
    app.click("[data-testid=charge]").await?;
    app.wait_attr("body", "data-screen", "tip", SHORT).await?;
    let tip = app.find("[data-testid=tip-input]").await?;
    tip.send_keys("2").await?;
    app.click("[data-testid=tip-apply]").await?;
    app.wait_attr("body", "data-screen", "payment", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=pay-amount]").await?, "10.80 EUR");
    app.click("[data-testid=simulate]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    app.click("[data-testid=new-sale]").await?;

    // The close of day sums both sales' tips and their tax.
    app.click("[data-testid=nav-day]").await?;
    app.click("[data-testid=day-close]").await?;
    app.wait_text("[data-testid=report-title]", LONG, |t| t == "Z REPORT")
        .await?;
    assert_eq!(
        app.text("[data-testid=report-tips] .value").await?,
        "3.32 EUR"
    );
    app.screenshot("sale-z-report-1920x1080").await?;
    app.resize(1024, 600).await?;
    app.screenshot("sale-z-report-1024x600").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_edits_the_catalog_in_settings_and_the_next_sale_uses_it() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let config = CAFE.replace("{printer}", "");
    let app = App::launch_configured("catalog", &[], &config).await?;
    app.resize(1024, 600).await?;
    app.wait_attr("[data-testid=screen-charge]", "data-cart", "true", LONG)
        .await?;
    app.click("[data-testid=nav-settings]").await?;
    // As a person would: the form filled in first (a tap on a form still moving as its
    // fields fill in can land beside the section it aimed at).
    app.wait_attr("[data-testid=settings-form]", "data-loaded", "true", SHORT)
        .await?;
    app.click("[data-testid=catalog-settings-summary]").await?;
    let open = app
        .client
        .execute(
            "return document.querySelector('[data-testid=catalog-settings]').open",
            vec![],
        )
        .await?;
    ensure!(
        open == serde_json::json!(true),
        "the catalog section did not open"
    );
    app.wait_text("[data-testid=catalog-summary]", SHORT, |t| {
        t == "— 3 items in EUR, 2 tax rates; the customer is asked for a tip"
    })
    .await?;
    let text = app
        .find("[data-testid=set-catalog]")
        .await?
        .prop("value")
        .await?
        .unwrap_or_default();
    ensure!(text.contains("espresso"), "{text}");

    // A mistake is refused with its line, and nothing changes.
    let broken =
        format!("{text}\n[[catalog.item]]\nsku = \"scone\"\nname = \"Scone\"\nprice = \"2.2.0\"\n");
    set_value(&app, "[data-testid=set-catalog]", &broken).await?;
    app.click("[data-testid=save-catalog]").await?;
    let refused = app
        .wait_text("[data-testid=catalog-result]", SHORT, |t| {
            !t.is_empty() && t != "Checking and saving…"
        })
        .await?;
    ensure!(refused.contains("line"), "{refused}");
    app.screenshot("catalog-refused-1024x600").await?;

    // The espresso costs 2.40 now, and a muffin joins the keys.
    let edited = format!(
        "{}\n[[catalog.item]]\nsku = \"muffin\"\nname = \"Muffin\"\nprice = \"2.90\"\ntax = \"vat5.5\"\n",
        // The espresso's price, however the editor quotes it.
        text.replace("\"2.20\"", "\"2.40\"").replace("'2.20'", "'2.40'")
    );
    set_value(&app, "[data-testid=set-catalog]", &edited).await?;
    app.click("[data-testid=save-catalog]").await?;
    app.wait_text("[data-testid=catalog-result]", LONG, |t| {
        t == "Saved: 4 items in EUR, 2 tax rates; the customer is asked for a tip. The next sale uses it."
    })
    .await?;
    app.click("[data-testid=nav-charge]").await?;
    app.wait_text("[data-testid=key-espresso]", LONG, |t| {
        t.contains("2.40 EUR")
    })
    .await?;
    app.wait_text("[data-testid=key-muffin]", SHORT, |t| {
        t.contains("2.90 EUR")
    })
    .await?;
    app.close().await
}

/// Replaces a field's whole value as a paste would, and tells the page it changed.
async fn set_value(app: &App, css: &str, value: &str) -> anyhow::Result<()> {
    app.client
        .execute(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1]; \
             e.dispatchEvent(new Event('input'));",
            vec![serde_json::json!(css), serde_json::json!(value)],
        )
        .await?;
    Ok(())
}
