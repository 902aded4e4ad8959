//! The screens at the window sizes shops use: 800×600 (the window's minimum), 1024×600
//! (a small touch till), 1366×768 (a laptop or an all-in-one) and 1920×1080 (a full-HD till). Everything the cashier acts on is
//! inside the window without scrolling; the large screen uses its space. A screenshot of
//! each screen at each size lands in `target/e2e-screenshots/`.

use std::time::Duration;

use anyhow::ensure;
use paydesk_tests::e2e::{App, SERIAL};

const SHORT: Duration = Duration::from_secs(15);
const LONG: Duration = Duration::from_secs(40);
const SIZES: [(u32, u32); 4] = [(800, 600), (1024, 600), (1366, 768), (1920, 1080)];

const KEYS: [&str; 15] = [
    "7", "8", "9", "4", "5", "6", "1", "2", "3", "00", "0", ".", "back", "clear", "plus",
];

/// The Charge screen's keypad keys, as selectors.
fn keypad_keys() -> Vec<String> {
    KEYS.iter()
        .map(|k| format!("#screen-charge [data-key='{k}']"))
        .collect()
}

async fn key_height(app: &App) -> anyhow::Result<f64> {
    let h = app
        .client
        .execute(
            "return document.querySelector(\"#screen-charge [data-key='7']\").getBoundingClientRect().height",
            vec![],
        )
        .await?;
    Ok(h.as_f64().unwrap_or(0.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_main_screen_fits_800x600_to_1366x768_and_uses_1920x1080() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("sizes", &[("PAYDESK_CURRENCY", "EUR")]).await?;
    app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
        .await?;

    // Charge, with an amount typed, at every size.
    for k in ["1", "2", ".", "5", "0"] {
        app.click(&format!("#screen-charge [data-key='{k}']"))
            .await?;
    }
    app.wait_text("[data-testid=charge]", SHORT, |t| t == "Charge 12.50 EUR")
        .await?;
    let mut heights = Vec::new();
    for (w, h) in SIZES {
        app.resize(w, h).await?;
        let keys = keypad_keys();
        let mut wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
        wanted.extend([
            "[data-testid=total]",
            "[data-testid=amount]",
            "[data-testid=currency]",
            "[data-testid=note]",
            "[data-testid=charge]",
            "[data-testid=nav-charge]",
            "[data-testid=nav-history]",
            "[data-testid=nav-settings]",
            "[data-testid=connection]",
            "[data-testid=mode-marker]",
        ]);
        app.all_in_view(&wanted).await?;
        heights.push(key_height(&app).await?);
        app.screenshot(&format!("charge-{w}x{h}")).await?;
    }
    // The big screen gives the keys more room, not empty space.
    ensure!(
        heights[3] > heights[0] * 1.4,
        "keys {:.0} px at 1920×1080 vs {:.0} px at 800×600",
        heights[3],
        heights[0]
    );

    // The payment screen: QR, amount, countdown, status and Cancel always visible.
    app.resize(1024, 600).await?;
    app.click("[data-testid=charge]").await?;
    app.wait_text("[data-testid=pay-status]", SHORT, |t| {
        t == "Waiting for payment"
    })
    .await?;
    for (w, h) in SIZES {
        app.resize(w, h).await?;
        app.wait_text("[data-testid=countdown]", SHORT, |t| t.contains(':'))
            .await?;
        app.all_in_view(&[
            "[data-testid=qr]",
            "[data-testid=pay-amount]",
            "[data-testid=pay-crypto]",
            "[data-testid=countdown]",
            "[data-testid=pay-status]",
            "[data-testid=pay-advice]",
            "[data-testid=check-now]",
            "[data-testid=cancel]",
            "[data-testid=simulate]",
        ])
        .await?;
        app.screenshot(&format!("payment-{w}x{h}")).await?;
    }

    // The result screen.
    app.click("[data-testid=simulate]").await?;
    app.wait_attr("[data-testid=result]", "data-status", "succeeded", LONG)
        .await?;
    for (w, h) in SIZES {
        app.resize(w, h).await?;
        app.all_in_view(&[
            "[data-testid=result-title]",
            "[data-testid=result-amount]",
            "[data-testid=result-detail]",
            "[data-testid=new-sale]",
        ])
        .await?;
        app.screenshot(&format!("paid-{w}x{h}")).await?;
    }
    app.click("[data-testid=new-sale]").await?;

    // History and Settings: their controls at hand at every size.
    app.click("[data-testid=nav-history]").await?;
    app.wait_text("[data-testid=history-rows]", SHORT, |t| {
        t.contains("12.50 EUR")
    })
    .await?;
    for (w, h) in SIZES {
        app.resize(w, h).await?;
        app.all_in_view(&[
            "[data-testid=history-day]",
            "[data-testid=history-search]",
            "[data-testid=export-csv]",
            "[data-testid=totals]",
            "[data-testid=history-rows] button[data-testid=refund]",
        ])
        .await?;
        app.screenshot(&format!("history-{w}x{h}")).await?;
    }
    app.click("[data-testid=nav-settings]").await?;
    app.wait_attr("[data-testid=settings-form]", "data-loaded", "true", SHORT)
        .await?;
    for (w, h) in SIZES {
        app.resize(w, h).await?;
        app.all_in_view(&[
            "[data-testid=set-mode]",
            "[data-testid=set-secret-key]",
            "[data-testid=save-settings]",
            "[data-testid=test-connection]",
        ])
        .await?;
        app.screenshot(&format!("settings-{w}x{h}")).await?;
    }
    app.close().await
}

/// A till whose screen is smaller than the window's opening size (1100×760), with no window
/// manager to fit it: the app fits itself, so Charge, the keys and the connection state are
/// on screen from the first frame, without anyone resizing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_small_screen_the_window_opens_fitted_to_it() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    for (w, h) in [(800, 600), (1024, 600)] {
        let app = App::launch_on_screen(&format!("small-screen-{w}x{h}"), &[], (w, h)).await?;
        app.wait_attr("[data-testid=connection]", "data-state", "live", SHORT)
            .await?;
        let seen = app
            .client
            .execute(
                "return [window.screenX, window.screenY, window.outerWidth, window.outerHeight, \
                 window.innerWidth, window.innerHeight, screen.width, screen.height]",
                vec![],
            )
            .await?;
        let n: Vec<i64> = (0..8).map(|i| seen[i].as_i64().unwrap_or(-1)).collect();
        let (x, y, outer_w, outer_h, inner_w, inner_h, screen_w, screen_h) =
            (n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]);
        ensure!(
            (screen_w, screen_h) == (i64::from(w), i64::from(h)),
            "the page sees a {screen_w}×{screen_h} screen, the test made {w}×{h}"
        );
        ensure!(
            x >= 0
                && y >= 0
                && x + outer_w.max(inner_w) <= screen_w
                && y + outer_h.max(inner_h) <= screen_h,
            "the window ({outer_w}×{outer_h} at {x},{y}, page {inner_w}×{inner_h}) \
             does not fit the {w}×{h} screen"
        );
        let keys = keypad_keys();
        let mut wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
        wanted.extend([
            "[data-testid=total]",
            "[data-testid=charge]",
            "[data-testid=nav-settings]",
            "[data-testid=connection]",
            "[data-testid=mode-marker]",
        ]);
        app.all_in_view(&wanted).await?;
        app.screenshot(&format!("opened-on-{w}x{h}")).await?;
    }
    Ok(())
}
