//! The real app under Xvfb, driven through tauri-driver and WebKitWebDriver.

use std::time::Duration;

use paydesk_tests::e2e::{App, SERIAL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_shows_terminal_name_connection_badge_and_pushed_clock() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    let app = App::launch("shell", &[("PAYDESK_TERMINAL_NAME", "E2E Till 7")]).await?;

    // Filled from the IPC snapshot command.
    assert_eq!(app.text("[data-testid=terminal-name]").await?, "E2E Till 7");
    let version = app.text("[data-testid=version]").await?;
    assert!(version.starts_with("PayDesk "), "{version}");
    let badge = app.text("[data-testid=connection]").await?;
    assert!(!badge.trim().is_empty());

    // Filled only by events pushed from Rust: the clock must tick on its own.
    let first = app
        .wait_text("[data-testid=server-clock]", Duration::from_secs(10), |t| {
            !t.is_empty()
        })
        .await?;
    app.wait_text("[data-testid=server-clock]", Duration::from_secs(10), |t| {
        t != first
    })
    .await?;
    let title = app.client.title().await?;
    assert_eq!(title, "PayDesk");

    app.screenshot("window").await?;
    app.close().await
}
