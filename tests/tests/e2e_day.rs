//! The counter's day in the real app under Xvfb: a receipt shown on screen and printed from
//! the Paid screen and from History (a refund's slip too) to a fake ESC/POS printer on
//! loopback whose bytes are decoded — the amount, the payment id, the € sign in the code
//! page, the QR, the cut; a printer that is off says so in words while the sale stays Paid;
//! a shift opened, closed with its reconciled report, printed and saved as CSV, and the day
//! closed — with a payment the till never saw found at Crypto.com Pay and listed as a
//! repair. Screenshots of the receipt, the failure and the report at 1024×600 and
//! 1920×1080 land in `target/e2e-screenshots/`.

use std::time::Duration;

use anyhow::{ensure, Context};
use paydesk_receipt::testing::{Behaviour, FakePrinter, Job};
use paydesk_tests::e2e::{App, TestShop, SERIAL};

const SHORT: Duration = Duration::from_secs(15);
const LONG: Duration = Duration::from_secs(45);
/// The largest time a print to a loopback printer may take (connect, write, close).
const PRINTED: Duration = Duration::from_secs(20);
/// €12.50 in CP858 (the default code page): `€` is 0xD5 there.
const EURO_1250_CP858: &[u8] = b"\xD512.50";

/// A demo till in EUR with a shop header and a printer at `printer`.
fn config(printer: &str, auto_print: bool) -> String {
    format!(
        "default_currency = \"EUR\"\nterminal_name = \"Front till\"\n\n\
         [shop]\nname = \"Café Müller\"\naddress = [\"Hauptstraße 1\", \"10115 Berlin\"]\n\n\
         [printer]\nurl = \"{printer}\"\npaper = \"80mm\"\nauto_print = {auto_print}\n"
    )
}

async fn launch(name: &str, config: &str) -> anyhow::Result<App> {
    let app = App::launch_configured(name, &[("PAYDESK_DEMO_LAN", "0")], config).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", LONG)
        .await?;
    Ok(app)
}

/// Types `amount` (digits and a dot) on the keypad, charges it, and has the demo customer
/// pay; returns the payment id once the Paid screen shows.
async fn paid_sale(app: &App, amount: &str) -> anyhow::Result<String> {
    for k in amount.chars() {
        app.click(&format!("#screen-charge [data-key='{k}']"))
            .await?;
    }
    app.click("[data-testid=charge]").await?;
    app.wait_text("[data-testid=pay-status]", SHORT, |t| {
        t == "Waiting for payment"
    })
    .await?;
    let id = app.payment_id().await?;
    app.click("[data-testid=simulate]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    Ok(id)
}

async fn next_job(printer: &FakePrinter) -> anyhow::Result<Job> {
    tokio::time::timeout(PRINTED, printer.next_job())
        .await
        .context("nothing reached the printer")?
        .context("the fake printer stopped")
}

/// Screenshots at the two sizes the issue names, then back to the default size.
async fn shots(app: &App, label: &str) -> anyhow::Result<()> {
    for (w, h) in [(1024, 600), (1920, 1080)] {
        app.resize(w, h).await?;
        app.screenshot(&format!("{label}-{w}x{h}")).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_shows_on_screen_and_prints_from_the_paid_screen_and_from_history(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let printer = FakePrinter::start(Behaviour::silent()).await?;
    let app = launch("receipt", &config(&printer.url(), false)).await?;
    let id = paid_sale(&app, "12.50").await?;

    // The Paid screen offers the receipt; nothing prints by itself with auto_print off.
    assert_eq!(app.text("[data-testid=result-title]").await?, "Paid");
    app.wait_text("[data-testid=result-print]", SHORT, |t| {
        t == "Print receipt"
    })
    .await?;
    app.click("[data-testid=result-receipt]").await?;
    let text = app
        .wait_text("[data-testid=receipt-text]", SHORT, |t| t.contains(&id))
        .await?;
    for words in [
        "Café Müller",
        "Hauptstraße 1",
        "Front till",
        "€12.50",
        "DEMO",
    ] {
        ensure!(text.contains(words), "the receipt lacks {words:?}:\n{text}");
    }
    ensure!(
        app.attr("[data-testid=receipt-qr]", "src")
            .await?
            .unwrap_or_default()
            .starts_with("data:image/svg+xml;base64,"),
        "no QR under the receipt"
    );
    assert!(app
        .text("[data-testid=receipt-printer]")
        .await?
        .starts_with(&format!("Prints on {}", printer.url())));
    shots(&app, "receipt-on-screen").await?;

    // Print from the receipt on screen: the printer gets exactly this payment's receipt.
    app.click("[data-testid=receipt-print]").await?;
    let job = next_job(&printer).await?;
    ensure!(job.complete, "the receipt was cut off");
    ensure!(
        job.bytes
            .windows(EURO_1250_CP858.len())
            .any(|w| w == EURO_1250_CP858),
        "no €12.50 in CP858"
    );
    let printed = job.decode()?;
    assert_eq!(printed.qr_codes(), [id.as_str()]);
    ensure!(printed.cut.is_some(), "the paper was not cut");
    let paper = printed.text(48);
    for words in ["Café Müller", &id, "DEMO"] {
        ensure!(paper.contains(words), "the print lacks {words:?}:\n{paper}");
    }
    app.wait_text("[data-testid=receipt-print-status]", SHORT, |t| {
        t == "The receipt printed."
    })
    .await?;
    assert_eq!(
        app.text("[data-testid=receipt-print]").await?,
        "Print again"
    );
    app.click("[data-testid=receipt-close]").await?;
    // The Paid screen says so too, and offers it again.
    app.wait_text("[data-testid=result-print-status]", SHORT, |t| {
        t == "The receipt printed."
    })
    .await?;
    app.wait_text("[data-testid=result-print]", SHORT, |t| t == "Print again")
        .await?;
    app.click("[data-testid=result-print]").await?;
    let again = next_job(&printer).await?.decode()?;
    assert_eq!(again.qr_codes(), [id.as_str()]);

    // A reprint from History, then a refund and its slip.
    app.click("[data-testid=new-sale]").await?;
    app.click("[data-testid=nav-history]").await?;
    app.wait_text("[data-testid=history-rows]", SHORT, |t| t.contains("Paid"))
        .await?;
    app.click(&format!(
        "[data-testid=history-rows] tr[data-id='{id}'] button[data-testid=receipt]"
    ))
    .await?;
    app.wait_text("[data-testid=receipt-text]", SHORT, |t| t.contains(&id))
        .await?;
    app.click("[data-testid=receipt-print]").await?;
    let reprint = next_job(&printer).await?;
    assert_eq!(reprint.decode()?.qr_codes(), [id.as_str()]);
    app.wait_text("[data-testid=receipt-print-status]", SHORT, |t| {
        t == "The receipt printed."
    })
    .await?;
    app.click("[data-testid=receipt-close]").await?;

    app.click("[data-testid=history-rows] button[data-testid=refund]")
        .await?;
    let field = app.find("[data-testid=refund-amount]").await?;
    field.clear().await?;
    field.send_keys("2.00").await?;
    app.click("[data-testid=refund-confirm]").await?;
    app.wait_text("[data-testid=history-rows]", LONG, |t| {
        t.contains("Refund 2.00 EUR")
    })
    .await?;
    let refund_id = app
        .attr("[data-testid=history-rows] .refund-line", "data-refund-id")
        .await?
        .context("the refund line names no refund")?;
    app.click("[data-testid=history-rows] button[data-testid=refund-slip]")
        .await?;
    app.wait_text("[data-testid=receipt-title]", SHORT, |t| t == "Refund slip")
        .await?;
    let slip = app
        .wait_text("[data-testid=receipt-text]", SHORT, |t| {
            t.contains(&refund_id)
        })
        .await?;
    ensure!(slip.contains("€2.00"), "the slip lacks the amount:\n{slip}");
    app.screenshot("refund-slip").await?;
    app.click("[data-testid=receipt-print]").await?;
    let slip_job = next_job(&printer).await?;
    ensure!(slip_job.complete);
    let slip_paper = slip_job.decode()?.text(48);
    ensure!(
        slip_paper.contains(&refund_id) && slip_paper.contains(&id),
        "the printed slip names neither the refund nor the payment:\n{slip_paper}"
    );
    app.wait_text("[data-testid=receipt-print-status]", SHORT, |t| {
        t == "The refund slip printed."
    })
    .await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_that_is_off_says_so_in_words_and_the_sale_stays_paid() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    // Nothing listens there: the printer is switched off. Receipts print on Paid by themselves.
    let off = FakePrinter::refusing_url()?;
    let app = launch("printer-off", &config(&off, true)).await?;
    let id = paid_sale(&app, "12.50").await?;

    let said = app
        .wait_text("[data-testid=result-print-status]", LONG, |t| {
            t.starts_with("The receipt did not print")
        })
        .await?;
    assert_eq!(
        said,
        format!(
            "The receipt did not print: Printer at {} does not answer — check it is on \
             and connected. The sale is paid all the same.",
            off.trim_start_matches("tcp://")
        )
    );
    assert_eq!(
        app.attr("[data-testid=result-print-status]", "data-state")
            .await?
            .as_deref(),
        Some("failed")
    );
    // The sale is untouched: still Paid on screen, and Paid in History.
    assert_eq!(app.text("[data-testid=result-title]").await?, "Paid");
    assert_eq!(
        app.attr("[data-testid=result]", "data-status")
            .await?
            .as_deref(),
        Some("succeeded")
    );
    assert_eq!(app.text("[data-testid=result-print]").await?, "Print again");
    shots(&app, "print-failed").await?;

    // Printing again fails the same way, and still never blocks the till.
    app.click("[data-testid=result-print]").await?;
    app.wait_text("[data-testid=result-print-status]", LONG, |t| {
        t.starts_with("The receipt did not print")
    })
    .await?;
    app.click("[data-testid=new-sale]").await?;
    app.wait_attr("body", "data-screen", "charge", SHORT)
        .await?;
    app.click("[data-testid=nav-history]").await?;
    let rows = app
        .wait_text("[data-testid=history-rows]", SHORT, |t| t.contains("Paid"))
        .await?;
    ensure!(rows.contains("12.50 EUR"), "{rows}");
    ensure!(
        app.attr("[data-testid=history-rows] tr", "data-id")
            .await?
            .as_deref()
            == Some(id.as_str())
    );
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shift_opens_closes_with_its_reconciled_report_and_the_day_closes() -> anyhow::Result<()>
{
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let printer = FakePrinter::start(Behaviour::silent()).await?;
    let app = launch("shift", &config(&printer.url(), false)).await?;
    // Saved reports go to this test's own Downloads folder.
    let downloads = app.home.path().join("downloads");
    std::fs::create_dir_all(app.home.path().join("xdg-config"))?;
    std::fs::write(
        app.home.path().join("xdg-config/user-dirs.dirs"),
        format!("XDG_DOWNLOAD_DIR=\"{}\"\n", downloads.display()),
    )?;

    app.click("[data-testid=nav-day]").await?;
    app.wait_text("[data-testid=shift-words]", SHORT, |t| {
        t == "No shift is open on Front till."
    })
    .await?;
    app.click("[data-testid=shift-open]").await?;
    // The demo opens signed in as its owner: the shift is in her name.
    let words = app
        .wait_text("[data-testid=shift-words]", SHORT, |t| {
            t.starts_with("Shift 1 open since ")
        })
        .await?;
    ensure!(words.ends_with(", by Demo owner"), "{words}");

    app.click("[data-testid=nav-charge]").await?;
    paid_sale(&app, "5").await?;
    app.click("[data-testid=new-sale]").await?;

    app.click("[data-testid=nav-day]").await?;
    app.wait_text("[data-testid=shift-close]", SHORT, |t| t == "Close shift")
        .await?;
    app.click("[data-testid=shift-close]").await?;
    app.wait_text("[data-testid=report-title]", LONG, |t| {
        t == "SHIFT 1 REPORT"
    })
    .await?;
    let reconciled = app.text("[data-testid=report-reconciled]").await?;
    ensure!(
        reconciled.starts_with("Reconciled with Crypto.com Pay at ")
            && reconciled.ends_with(": 1 payment checked, nothing to repair."),
        "{reconciled}"
    );
    ensure!(
        app.text("[data-testid=report-state]")
            .await?
            .starts_with("Final: stored at "),
        "the shift's report is not final"
    );
    let card = app.text("[data-testid=report-totals]").await?;
    for words in [
        "Paid (1)",
        "5.00 EUR",
        "Refunds sent",
        "Net",
        "0 expired · 0 cancelled",
    ] {
        ensure!(card.contains(words), "the totals lack {words:?}:\n{card}");
    }
    assert_eq!(
        app.text("[data-testid=report-net] .value").await?,
        "5.00 EUR"
    );
    let tills = app.text("[data-testid=report-tills]").await?;
    ensure!(tills.contains("Front till"), "{tills}");
    let cashiers = app.text("[data-testid=report-cashiers]").await?;
    ensure!(cashiers.contains("Demo owner"), "{cashiers}");
    assert_eq!(
        app.text_content("[data-testid=report-repairs]").await?,
        "Repairs: none"
    );
    app.wait_text("[data-testid=shift-words]", SHORT, |t| {
        t == "No shift is open on Front till."
    })
    .await?;
    // At the small tills every action is on screen; the large one shows the slip as well.
    for (w, h) in [(1024, 600), (800, 600)] {
        app.resize(w, h).await?;
        app.all_in_view(&[
            "[data-testid=nav-day]",
            "[data-testid=shift-open]",
            "[data-testid=day-report]",
            "[data-testid=day-close]",
            "[data-testid=report-print]",
            "[data-testid=report-csv]",
            "[data-testid=report-reconciled]",
        ])
        .await?;
    }
    app.screenshot("shift-report-800x600").await?;
    shots(&app, "shift-report").await?;
    ensure!(
        app.find("[data-testid=report-paper]")
            .await?
            .is_displayed()
            .await?,
        "the report as it prints is not beside the numbers at 1920×1080"
    );

    // Printed: the fake printer gets the stored report, cut.
    app.click("[data-testid=report-print]").await?;
    let job = next_job(&printer).await?;
    ensure!(job.complete);
    let printed = job.decode()?;
    ensure!(printed.cut.is_some(), "the report was not cut");
    let paper = printed.text(48);
    for words in [
        "SHIFT 1 REPORT",
        "Reconciled with Crypto.com Pay",
        "Repairs: none",
    ] {
        ensure!(paper.contains(words), "the print lacks {words:?}:\n{paper}");
    }
    app.wait_text("[data-testid=report-output]", SHORT, |t| {
        t == "The report printed."
    })
    .await?;

    // Saved as CSV where the shop's Downloads are.
    app.click("[data-testid=report-csv]").await?;
    let saved = app
        .wait_text("[data-testid=report-output]", SHORT, |t| {
            t.starts_with("Saved the SHIFT 1 REPORT to ")
        })
        .await?;
    let path = downloads.join("paydesk-demo-shift-1.csv");
    ensure!(saved.ends_with(&path.display().to_string()), "{saved}");
    let csv = std::fs::read_to_string(&path)?;
    ensure!(
        csv.starts_with("Section,Name,Currency,Paid Count,Gross,"),
        "{csv}"
    );
    ensure!(csv.contains("total,,EUR,1,5.00,0.00,0.00,5.00,"), "{csv}");

    // The day: the numbers so far, then closed (the Z report), reconciled.
    app.click("[data-testid=day-report]").await?;
    app.wait_text("[data-testid=report-title]", SHORT, |t| t == "X REPORT")
        .await?;
    ensure!(app
        .text("[data-testid=report-state]")
        .await?
        .starts_with("The numbers so far"));
    app.click("[data-testid=day-close]").await?;
    app.wait_text("[data-testid=report-title]", LONG, |t| t == "Z REPORT")
        .await?;
    let reconciled = app.text("[data-testid=report-reconciled]").await?;
    ensure!(
        reconciled.ends_with(": 1 payment checked, nothing to repair."),
        "{reconciled}"
    );
    assert_eq!(
        app.text("[data-testid=report-net] .value").await?,
        "5.00 EUR"
    );
    shots(&app, "z-report").await?;
    app.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_day_finds_a_payment_the_till_never_saw_and_lists_it_as_repaired(
) -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let shop = TestShop::start().await?;
    let env = shop.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = App::launch_configured("repair", &env, &config("", false)).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", LONG)
        .await?;
    assert_eq!(app.text("[data-testid=mode-marker]").await?, "TEST");

    // A sale the till follows, paid at the service.
    app.click("#screen-charge [data-key='3']").await?;
    app.click("[data-testid=charge]").await?;
    app.wait_text("[data-testid=pay-status]", SHORT, |t| {
        t == "Waiting for payment"
    })
    .await?;
    let id = app.payment_id().await?;
    shop.control(
        &format!("/sandbox/payments/{id}/pay"),
        serde_json::json!({}),
    )
    .await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    app.click("[data-testid=new-sale]").await?;

    // One the till never journaled, with its order-id prefix (it died before it could,
    // say), paid too.
    let order = format!("FT-{}-0900", chrono::Local::now().format("%Y%m%d"));
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/payments", shop.sandbox.api_url()))
        .bearer_auth(shop.secret_key.expose())
        .json(&serde_json::json!({"amount": 750, "currency": "EUR", "order_id": order}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let lost = created["id"].as_str().context("no payment id")?.to_owned();
    shop.control(
        &format!("/sandbox/payments/{lost}/pay"),
        serde_json::json!({}),
    )
    .await?;

    app.click("[data-testid=nav-day]").await?;
    app.wait_text("[data-testid=shift-words]", SHORT, |t| {
        t == "No shift is open on Front till."
    })
    .await?;
    app.click("[data-testid=day-close]").await?;
    app.wait_text("[data-testid=report-title]", LONG, |t| t == "Z REPORT")
        .await?;
    let reconciled = app.text("[data-testid=report-reconciled]").await?;
    ensure!(
        reconciled.starts_with("Reconciled with Crypto.com Pay at ")
            && reconciled.ends_with(
                "1 payment checked, 1 payment found that the till did not have, 1 repair."
            ),
        "{reconciled}"
    );
    let repair = app.text("[data-testid=report-repair]").await?;
    ensure!(
        repair.contains("Found at Crypto.com Pay") && repair.contains(&lost),
        "{repair}"
    );
    ensure!(
        repair.contains("not in the journal; Crypto.com Pay has it paid"),
        "{repair}"
    );
    // 3.00 charged here and 7.50 found: the totals add up.
    assert_eq!(
        app.text("[data-testid=report-net] .value").await?,
        "10.50 EUR"
    );
    assert_eq!(
        app.text("[data-testid=report-book]").await?,
        "TEST — not real payments"
    );
    shots(&app, "repaired").await?;
    app.close().await?;
    shop.shutdown().await;
    Ok(())
}
