//! The installed package: `scripts/test.sh` builds the `.deb`, installs it with `dpkg -i`,
//! then runs this test, which starts `/usr/bin/paydesk` under Xvfb and checks it comes up in
//! demo mode. Ignored in a plain `cargo test` (it needs the package installed first).

use std::path::Path;
use std::time::Duration;

use paydesk_tests::e2e::{App, SERIAL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/test.sh after installing the .deb"]
async fn installed_app_starts_in_demo_mode() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    paydesk_core::init_tls();
    for file in [
        "/usr/bin/paydesk",
        "/usr/bin/paydesk-cli",
        "/usr/share/applications/PayDesk.desktop",
    ] {
        anyhow::ensure!(
            Path::new(file).is_file(),
            "the package did not install {file}"
        );
    }
    let app = App::launch_binary("installed", Path::new("/usr/bin/paydesk"), &[]).await?;
    assert_eq!(app.text_content("[data-testid=mode-marker]").await?, "DEMO");
    app.wait_attr(
        "[data-testid=connection]",
        "data-state",
        "live",
        Duration::from_secs(15),
    )
    .await?;
    app.screenshot("demo").await?;
    app.close().await
}
