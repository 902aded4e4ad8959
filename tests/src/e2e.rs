//! End-to-end harness: the real PayDesk app under Xvfb, driven through WebDriver.
//!
//! Each [`App`] gets its own X display (`Xvfb -displayfd`), its own `tauri-driver` on its
//! own ports, and its own data/config/log directories, so runs never collide. Missing
//! pieces of the display stack fail the test with what to install — never a silent skip.
//! Screenshots land in `target/e2e-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::system::sibling_binary;

/// One e2e test at a time per test binary: WebKit is heavy and the machine has 2 cores.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The cargo target profile directory this test binary was built into (`target/debug`).
pub fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the test executable")?;
    // target/debug/deps/<test-binary>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("unexpected test executable path {}", exe.display()))
}

fn find_tool(name: &str, extra: &[PathBuf], install_hint: &str) -> Result<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    from_path
        .into_iter()
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("{name} not found: {install_hint}"))
}

fn tauri_driver() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PAYDESK_TAURI_DRIVER") {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cache = std::env::var_os("PAYDESK_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/paydesk"));
    find_tool(
        "tauri-driver",
        &[cache.join("tools/bin"), home.join(".cargo/bin")],
        "install it with `cargo install tauri-driver --version ^2 --locked`",
    )
}

/// A loopback port free right now (bound, then released, for a child process to take).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("no free loopback port")?;
    Ok(l.local_addr()?.port())
}

/// The X screen tests run on: large enough for every window size a shop uses (the tests
/// resize within it).
const LARGE_SCREEN: (u32, u32) = (1920, 1080);

/// Starts `Xvfb` with a `width`×`height` screen on a display it picks itself; returns the
/// child and `:N`.
async fn start_xvfb((width, height): (u32, u32)) -> Result<(Child, String)> {
    let xvfb = find_tool("Xvfb", &[], "install it with `apt-get install xvfb`")?;
    let mut child = Command::new(xvfb)
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            &format!("{width}x{height}x24"),
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start Xvfb")?;
    let stdout = child.stdout.take().context("Xvfb has no stdout")?;
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .context("Xvfb did not report its display within 20 s")??;
    let n: u32 = line
        .trim()
        .parse()
        .with_context(|| format!("Xvfb reported a strange display {line:?}"))?;
    Ok((child, format!(":{n}")))
}

/// Waits until tauri-driver (and the WebKitWebDriver behind it) answers `GET /status`.
async fn wait_driver_ready(port: u16, driver: &mut Child) -> Result<()> {
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/status");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = driver.try_wait()? {
            bail!("tauri-driver exited early ({status})");
        }
        if let Ok(resp) = http.get(&url).timeout(Duration::from_secs(2)).send().await {
            if resp.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("tauri-driver did not become ready on port {port} within 30 s");
        }
        // A readiness probe, not synchronisation: the driver gives no other signal.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The running app and everything it needs.
pub struct App {
    pub client: Client,
    pub name: String,
    /// Holds the app's data, config and log directories.
    pub home: tempfile::TempDir,
    /// The X display the app runs on (`:N`).
    pub display: String,
    driver: Child,
    _xvfb: Child,
}

impl App {
    /// Launches the app built by this workspace for test `name` with extra environment
    /// variables.
    pub async fn launch(name: &str, env: &[(&str, &str)]) -> Result<App> {
        App::launch_binary(name, &sibling_binary("paydesk")?, env).await
    }

    /// Launches the app on an X screen of `screen` pixels (a small till's), with no window
    /// manager and no resizing by the test: the window as the app itself opens it.
    pub async fn launch_on_screen(
        name: &str,
        env: &[(&str, &str)],
        screen: (u32, u32),
    ) -> Result<App> {
        let (bin, home) = (sibling_binary("paydesk")?, tempfile::tempdir()?);
        App::start_on(name, &bin, env, home, screen).await
    }

    /// Launches the app with a settings file already in place (as provisioning leaves it).
    pub async fn launch_configured(
        name: &str,
        env: &[(&str, &str)],
        config_toml: &str,
    ) -> Result<App> {
        let home = tempfile::tempdir()?;
        std::fs::create_dir_all(home.path().join("config"))?;
        std::fs::write(home.path().join("config/paydesk.toml"), config_toml)?;
        App::start(name, &sibling_binary("paydesk")?, env, home).await
    }

    /// Launches the app over a home the test prepared: `config/paydesk.toml` and `data/`
    /// (a staff file, a journal) as an installer or an earlier run left them.
    pub async fn launch_home(
        name: &str,
        env: &[(&str, &str)],
        home: tempfile::TempDir,
    ) -> Result<App> {
        App::start(name, &sibling_binary("paydesk")?, env, home).await
    }

    /// Where this app keeps its journal and staff file.
    pub fn data_dir(&self) -> PathBuf {
        self.home.path().join("data")
    }

    /// Launches the app at `app_bin` (e.g. the one a package installed).
    pub async fn launch_binary(name: &str, app_bin: &Path, env: &[(&str, &str)]) -> Result<App> {
        App::start(name, app_bin, env, tempfile::tempdir()?).await
    }

    async fn start(
        name: &str,
        app_bin: &Path,
        env: &[(&str, &str)],
        home: tempfile::TempDir,
    ) -> Result<App> {
        App::start_on(name, app_bin, env, home, LARGE_SCREEN).await
    }

    async fn start_on(
        name: &str,
        app_bin: &Path,
        env: &[(&str, &str)],
        home: tempfile::TempDir,
        screen: (u32, u32),
    ) -> Result<App> {
        if !app_bin.is_file() {
            bail!("{} does not exist", app_bin.display());
        }
        let webkit = find_tool(
            "WebKitWebDriver",
            &[],
            "install it with `apt-get install webkit2gtk-driver`",
        )?;
        let tauri_driver = tauri_driver()?;
        let (xvfb, display) = start_xvfb(screen).await?;
        let (port, native_port) = (free_port()?, free_port()?);
        let mut cmd = Command::new(tauri_driver);
        cmd.args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .arg("--native-driver")
            .arg(&webkit)
            .env("DISPLAY", &display)
            .env("PAYDESK_DATA_DIR", home.path().join("data"))
            .env("PAYDESK_CONFIG", home.path().join("config/paydesk.toml"))
            .env("PAYDESK_LOG_DIR", home.path().join("logs"))
            .env("XDG_DATA_HOME", home.path().join("xdg-data"))
            .env("XDG_CONFIG_HOME", home.path().join("xdg-config"))
            .env("XDG_CACHE_HOME", home.path().join("xdg-cache"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut driver = cmd.spawn().context("cannot start tauri-driver")?;
        wait_driver_ready(port, &mut driver).await?;

        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app_bin }),
        );
        let client = ClientBuilder::rustls()?
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("WebDriver could not start the app")?;
        let app = App {
            client,
            name: name.to_owned(),
            home,
            display,
            driver,
            _xvfb: xvfb,
        };
        app.wait_attr("body", "data-ready", "true", Duration::from_secs(30))
            .await
            .context("the UI never became ready")?;
        Ok(app)
    }

    /// Polls until `css`'s text satisfies `ok`, up to `within`; returns the text.
    pub async fn wait_text(
        &self,
        css: &str,
        within: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = el.text().await {
                    if ok(&text) {
                        return Ok(text);
                    }
                    last = text;
                }
            }
            if Instant::now() > deadline {
                bail!("{css} never matched within {within:?}; last text {last:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until attribute `attr` of `css` equals `want`, up to `within`.
    pub async fn wait_attr(
        &self,
        css: &str,
        attr: &str,
        want: &str,
        within: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + within;
        let mut last = None;
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if let Ok(v) = el.attr(attr).await {
                    if v.as_deref() == Some(want) {
                        return Ok(());
                    }
                    last = v;
                }
            }
            if Instant::now() > deadline {
                bail!("{css}[{attr}] never became {want:?} within {within:?}; last {last:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn find(&self, css: &str) -> Result<fantoccini::elements::Element> {
        Ok(self.client.find(Locator::Css(css)).await?)
    }

    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        Ok(self.find(css).await?.attr(name).await?)
    }

    /// The DOM text of `css`, whatever its overflow (WebKit's visible text is empty for an
    /// ellipsised `overflow: hidden` box).
    pub async fn text_content(&self, css: &str) -> Result<String> {
        Ok(self
            .find(css)
            .await?
            .prop("textContent")
            .await?
            .unwrap_or_default()
            .trim()
            .to_owned())
    }

    pub async fn text(&self, css: &str) -> Result<String> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    /// Clicks `css` as a finger would: scrolled to the middle of its scroll box first (as
    /// a cashier scrolls to a button below the fold), then a real click.
    ///
    /// A click that lands on something passing over the button (a notice sliding in) is
    /// tried again, as a cashier taps again, for up to 5 s; then it fails saying what was
    /// in the way, with a screenshot.
    pub async fn click(&self, css: &str) -> Result<()> {
        use fantoccini::error::{CmdError, ErrorStatus};
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let el = self.client.find(Locator::Css(css)).await?;
            self.client
                .execute(
                    "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});",
                    vec![serde_json::to_value(&el)?],
                )
                .await?;
            let err = match el.click().await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let passing = matches!(&err, CmdError::Standard(w) if matches!(
                w.error,
                ErrorStatus::ElementClickIntercepted
                    | ErrorStatus::ElementNotInteractable
                    | ErrorStatus::StaleElementReference
            ));
            if !passing || Instant::now() > deadline {
                let shot = self.screenshot("click-failed").await;
                let why = match &err {
                    CmdError::Standard(w) => format!("{}: {}", w.error, w.message),
                    other => other.to_string(),
                };
                bail!("clicking {css} failed ({why}); the screen: {shot:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot as `target/e2e-screenshots/<test>-<label>.png`.
    pub async fn screenshot(&self, label: &str) -> Result<PathBuf> {
        // WebKit's screenshot waits for the page's next paint, and a page where nothing
        // changes (the customer display after Paid) may not paint for a minute: schedule
        // an invisible change just after the request so a paint follows.
        self.client
            .execute(
                "setTimeout(() => { const s = document.documentElement.style; \
                 s.opacity = s.opacity === '0.999' ? '1' : '0.999'; }, 100);",
                vec![],
            )
            .await?;
        let png = self.client.screenshot().await?;
        let dir = profile_dir()?
            .parent()
            .map(|t| t.join("e2e-screenshots"))
            .context("no target directory")?;
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}-{label}.png", self.name));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Resizes the window (as a shop's screen would have it) and waits until the page
    /// sees the new size.
    pub async fn resize(&self, width: u32, height: u32) -> Result<()> {
        self.client.set_window_rect(0, 0, width, height).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let size = self
                .client
                .execute("return [window.innerWidth, window.innerHeight]", vec![])
                .await?;
            let w = size[0].as_u64().unwrap_or(0);
            let h = size[1].as_u64().unwrap_or(0);
            if w == u64::from(width) && h == u64::from(height) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the window stayed {w}×{h}, not {width}×{height}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether `css` is shown and lies wholly inside the window (no scrolling needed).
    pub async fn in_view(&self, css: &str) -> Result<bool> {
        let v = self
            .client
            .execute(
                "const e = document.querySelector(arguments[0]); if (!e) return 'missing'; \
                 const r = e.getBoundingClientRect(); \
                 if (r.width === 0 || r.height === 0) return 'hidden'; \
                 return r.left >= 0 && r.top >= 0 && r.right <= window.innerWidth + 0.5 \
                   && r.bottom <= window.innerHeight + 0.5 ? 'yes' : \
                   `outside: ${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.right)}×${Math.round(r.bottom)} in ${window.innerWidth}×${window.innerHeight}`;",
                vec![serde_json::json!(css)],
            )
            .await?;
        match v.as_str() {
            Some("yes") => Ok(true),
            Some("missing") => bail!("{css} is not on the page"),
            _ => Ok(false),
        }
    }

    /// Fails unless every one of `selectors` is inside the window.
    pub async fn all_in_view(&self, selectors: &[&str]) -> Result<()> {
        for css in selectors {
            if !self.in_view(css).await? {
                let why = self
                    .client
                    .execute(
                        "const e = document.querySelector(arguments[0]); const r = e.getBoundingClientRect(); \
                         return `${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)} in ${window.innerWidth}×${window.innerHeight}`;",
                        vec![serde_json::json!(css)],
                    )
                    .await?;
                bail!("{css} is not wholly on screen: {why}");
            }
        }
        Ok(())
    }

    /// The demo shop's sandbox (its control API), as the app's log names it.
    pub async fn demo_sandbox_url(&self) -> Result<String> {
        let logs = self.home.path().join("logs");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            for entry in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if let Some(at) = text.find("demo shop started api=") {
                    let rest = &text[at + "demo shop started api=".len()..];
                    let url = rest.split_whitespace().next().unwrap_or("");
                    if let Some(base) = url.strip_suffix("/api") {
                        return Ok(base.to_owned());
                    }
                }
            }
            if Instant::now() > deadline {
                bail!("the app's log never named its demo shop");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The id of the payment on the payment screen.
    pub async fn payment_id(&self) -> Result<String> {
        Ok(self
            .client
            .execute("return document.getElementById('qr').dataset.id", vec![])
            .await?
            .as_str()
            .context("no payment id on screen")?
            .to_owned())
    }

    /// Presses keys on the page's focused element (WebDriver key codes: "\u{E007}" Enter).
    pub async fn keys(&self, text: &str) -> Result<()> {
        let el = self.client.active_element().await?;
        el.send_keys(text).await?;
        Ok(())
    }

    /// Types keys on the Charge screen's keypad.
    pub async fn keypad(&self, keys: &[&str]) -> Result<()> {
        for k in keys {
            self.click(&format!("#screen-charge [data-key='{k}']"))
                .await?;
        }
        Ok(())
    }

    /// Types an amount on the keypad and charges it; returns when the payment screen shows
    /// the QR and says it waits.
    pub async fn charge_on_keypad(&self, keys: &[&str]) -> Result<()> {
        self.keypad(keys).await?;
        self.wait_text("[data-testid=charge]", Duration::from_secs(15), |t| {
            t.starts_with("Charge ")
        })
        .await?;
        self.click("[data-testid=charge]").await?;
        self.wait_text("[data-testid=pay-status]", Duration::from_secs(45), |t| {
            t == "Waiting for payment"
        })
        .await?;
        let qr = self
            .attr("[data-testid=qr]", "src")
            .await?
            .unwrap_or_default();
        if !qr.starts_with("data:image/svg+xml;base64,") {
            bail!("no QR shown: {qr:.40}");
        }
        Ok(())
    }

    /// Opens the customer display from Settings, as an installer does; returns the till's
    /// window and the display's, with the WebDriver session on the till's again.
    pub async fn open_customer_display(
        &self,
    ) -> Result<(fantoccini::wd::WindowHandle, fantoccini::wd::WindowHandle)> {
        let main = self.client.window().await?;
        self.click("[data-testid=nav-settings]").await?;
        // The screen fills itself in (settings, monitors, the catalog): click once it has,
        // not while its layout still moves.
        self.wait_attr(
            "[data-testid=settings-form]",
            "data-loaded",
            "true",
            Duration::from_secs(15),
        )
        .await?;
        self.click("[data-testid=open-customer-display]").await?;
        let customer = tokio::time::timeout(Duration::from_secs(45), async {
            loop {
                let windows = self.client.windows().await?;
                if let Some(w) = windows.into_iter().find(|w| *w != main) {
                    return Ok::<_, anyhow::Error>(w);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .context("the customer display never opened")??;
        self.client.switch_to_window(customer.clone()).await?;
        self.wait_attr("body", "data-ready", "true", Duration::from_secs(15))
            .await?;
        self.client.switch_to_window(main.clone()).await?;
        Ok((main, customer))
    }

    /// Asks the till's window to close, as a window manager's close button does (the X11
    /// `WM_DELETE_WINDOW` message): the app decides whether it closes. Returns how many
    /// windows titled `PayDesk` were asked.
    pub fn request_close(&self) -> Result<usize> {
        x11::request_close(&self.display, "PayDesk")
    }

    /// Whether a window titled `PayDesk` is on the display.
    pub fn window_exists(&self) -> Result<bool> {
        Ok(!x11::windows_titled(&self.display, "PayDesk")?.is_empty())
    }

    /// Ends the WebDriver session (closing the app) and stops the driver and display.
    pub async fn close(mut self) -> Result<()> {
        let closed = self.client.clone().close().await;
        let _ = self.driver.kill().await;
        closed.context("closing the WebDriver session")?;
        Ok(())
    }
}

/// A shop of the tests' own for the app in test mode: the sandbox and the relay on loopback,
/// wired like a real merchant's (webhooks signed to the relay).
pub struct TestShop {
    pub sandbox: paydesk_sandbox::SandboxHandle,
    pub relay: paydesk_relay::RelayHandle,
    pub secret_key: paydesk_core::secrets::Secret,
    pub terminal_key: paydesk_core::secrets::Secret,
    http: reqwest::Client,
}

impl TestShop {
    pub async fn start() -> Result<TestShop> {
        use paydesk_core::secrets::Secret;
        let secret_key = Secret::new(format!("sk_test_e2e_{}", free_port()?));
        let webhook_secret = Secret::new("whsec_e2e");
        let terminal_key = paydesk_relay::generate_terminal_key();
        let relay = paydesk_relay::spawn(
            tokio::net::TcpListener::bind("127.0.0.1:0").await?,
            paydesk_relay::RelayConfig::memory()
                .merchant("shop", webhook_secret.clone())
                .terminal("shop", "till-1", &terminal_key),
        )
        .await?;
        let mut config = paydesk_sandbox::SandboxConfig::new(secret_key.clone(), webhook_secret);
        config.webhook_urls = vec![relay.webhook_url("shop")];
        let sandbox =
            paydesk_sandbox::spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await?, config)
                .await?;
        Ok(TestShop {
            sandbox,
            relay,
            secret_key,
            terminal_key,
            http: reqwest::Client::new(),
        })
    }

    /// The environment that points the app at this shop in test mode, keys included.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PAYDESK_MODE", "test".into()),
            ("PAYDESK_API_URL", self.sandbox.api_url()),
            ("PAYDESK_RELAY_URL", self.relay.base_url()),
            ("PAYDESK_SECRET_KEY", self.secret_key.expose().to_owned()),
            (
                "PAYDESK_TERMINAL_KEY",
                self.terminal_key.expose().to_owned(),
            ),
        ]
    }

    /// A control call on the sandbox (`/sandbox/…`), its JSON answer.
    pub async fn control(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value> {
        sandbox_control(&self.http, &self.sandbox.base_url(), path, body).await
    }

    pub async fn shutdown(self) {
        self.sandbox.shutdown().await;
        self.relay.shutdown().await;
    }
}

/// POSTs `body` to a sandbox's control API at `base` + `path`; fails on a refusal.
pub async fn sandbox_control(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value> {
    let r = http
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    if !status.is_success() {
        bail!("the sandbox refused {path}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Just enough X11 to be a window manager's close button.
mod x11 {
    use anyhow::{Context, Result};
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{AtomEnum, ClientMessageEvent, ConnectionExt, EventMask, Window};

    fn atom(conn: &impl Connection, name: &str) -> Result<u32> {
        Ok(conn.intern_atom(false, name.as_bytes())?.reply()?.atom)
    }

    /// Every window (at any depth) whose WM_NAME or _NET_WM_NAME is `title`.
    pub fn windows_titled(display: &str, title: &str) -> Result<Vec<Window>> {
        let (conn, screen) = x11rb::connect(Some(display)).context("cannot reach the X display")?;
        let root = conn.setup().roots[screen].root;
        let net_name = atom(&conn, "_NET_WM_NAME")?;
        let utf8 = atom(&conn, "UTF8_STRING")?;
        let mut found = Vec::new();
        let mut queue = vec![root];
        while let Some(w) = queue.pop() {
            let tree = conn.query_tree(w)?.reply()?;
            queue.extend(tree.children);
            for (prop, kind) in [
                (net_name, utf8),
                (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
            ] {
                let value = conn.get_property(false, w, prop, kind, 0, 256)?.reply()?;
                if value.value == title.as_bytes() {
                    found.push(w);
                    break;
                }
            }
        }
        Ok(found)
    }

    pub fn request_close(display: &str, title: &str) -> Result<usize> {
        let windows = windows_titled(display, title)?;
        let (conn, _) = x11rb::connect(Some(display)).context("cannot reach the X display")?;
        let protocols = atom(&conn, "WM_PROTOCOLS")?;
        let delete = atom(&conn, "WM_DELETE_WINDOW")?;
        for &w in &windows {
            let event = ClientMessageEvent::new(32, w, protocols, [delete, 0, 0, 0, 0]);
            conn.send_event(false, w, EventMask::NO_EVENT, event)?;
        }
        // A round trip: the server has handled the events before this connection closes.
        conn.get_input_focus()?.reply()?;
        Ok(windows.len())
    }
}
