//! The PayDesk desktop shell: Tauri commands and events over `paydesk-core`, nothing more.
//!
//! `run()` is the whole app; [`build`] assembles it over any Tauri runtime so command
//! handlers can be tested without a display (`tauri::test::mock_builder`).

mod cmd;
mod customer;
mod day;
mod events;
mod kiosk;
mod sale;
mod state;
mod view;

use std::sync::Arc;

use paydesk_core::till::{Assembly, TillHost};
use tauri::{Manager, Runtime};

pub use events::{CoreEvent, CORE_EVENT};
pub use state::AppState;

pub const MAIN_WINDOW: &str = "main";
pub const CUSTOMER_WINDOW: &str = "customer";

/// Adds PayDesk's state, commands and start-up to a builder.
pub fn build<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            cmd::app_snapshot,
            cmd::quote_amount,
            cmd::charge,
            cmd::cancel_payment,
            cmd::check_payment,
            cmd::simulate_payment,
            cmd::close_payment,
            cmd::history,
            cmd::search_payments,
            cmd::refund_payment,
            cmd::export_csv,
            cmd::get_settings,
            cmd::save_settings,
            cmd::test_connection,
            cmd::open_customer_display,
            cmd::list_monitors,
            cmd::sign_in,
            cmd::lock_till,
            cmd::touch,
            cmd::get_catalog,
            cmd::save_catalog,
            sale::sale_setup,
            sale::cart_add_item,
            sale::cart_add_amount,
            sale::cart_set_quantity,
            sale::cart_clear,
            sale::start_sale,
            sale::charge_decided,
            sale::tip_cashier,
            sale::tip_skip,
            sale::tip_back,
            sale::choose_tip,
            day::printing_status,
            day::receipt_view,
            day::print_receipt,
            day::day_status,
            day::open_shift,
            day::close_shift,
            day::show_report,
            day::close_day,
            day::print_report,
            day::save_report_csv,
        ])
        .setup(|app| {
            let handle = app.handle().clone();
            let state = app.state::<AppState>();
            let host = state.host.clone();
            // The forwarder first, so the first status change reaches the windows.
            tauri::async_runtime::spawn(events::forward(
                handle.clone(),
                host.clone(),
                state.shutdown_token(),
            ));
            // Start the till in the background: the window paints at once and shows
            // "Starting…" from the status until it runs (or why it cannot).
            tauri::async_runtime::spawn(async move {
                let _ = host.restart().await;
            });
            // Kiosk mode: the till fills its screen from the first frame. Otherwise the
            // window keeps its size, unless the screen is smaller (a 1024×600 till).
            if let Some(main) = app.get_webview_window(MAIN_WINDOW) {
                if state.host.assembly().settings().is_ok_and(|c| c.kiosk) {
                    if let Err(e) = main.set_fullscreen(true) {
                        tracing::warn!(error = %e, "could not go full screen");
                    }
                } else {
                    fit_to_screen(&main);
                }
            }
            if let Some(main) = app.get_webview_window(MAIN_WINDOW) {
                let handle = handle.clone();
                main.on_window_event(move |event| {
                    if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                        // Decided by the core (kiosk: not while a payment is pending);
                        // closing the till closes PayDesk, customer display included.
                        api.prevent_close();
                        tracing::info!("the till's window was asked to close");
                        let handle = handle.clone();
                        tauri::async_runtime::spawn(async move {
                            let host = handle.state::<AppState>().host.clone();
                            match host.may_close().await {
                                Ok(()) => handle.exit(0),
                                Err(why) => events::emit(
                                    &handle,
                                    &CoreEvent::Notice {
                                        level: "error",
                                        message: why,
                                    },
                                ),
                            }
                        });
                    }
                });
            }
            if state.memory().customer_display_open {
                if let Err(e) = customer::open(&handle) {
                    tracing::warn!(error = %e, "could not reopen the customer display");
                }
            }
            Ok(())
        })
}

/// Shrinks the till's window onto its screen when the screen is smaller than the window.
///
/// The window opens at 1100×760; on a 1024×600 or 800×600 till without a window manager
/// (a common kiosk set-up) nothing else would, and Charge or the connection state would lie
/// off screen. With a window manager, maximizing also keeps clear of its panels.
fn fit_to_screen<R: tauri::Runtime>(main: &tauri::WebviewWindow<R>) {
    let monitor = match main.current_monitor() {
        Ok(Some(m)) => Some(m),
        _ => main.primary_monitor().ok().flatten(),
    };
    // Before the window is first shown its outer size reads 0×0; the inner one is set.
    let (Some(monitor), Ok(outer), Ok(inner)) = (monitor, main.outer_size(), main.inner_size())
    else {
        return;
    };
    let outer =
        tauri::PhysicalSize::new(outer.width.max(inner.width), outer.height.max(inner.height));
    let screen = *monitor.size();
    if outer.width <= screen.width && outer.height <= screen.height {
        return;
    }
    tracing::info!(
        screen = %format!("{}×{}", screen.width, screen.height),
        window = %format!("{}×{}", outer.width, outer.height),
        "the screen is smaller than the window: fitting the window to it"
    );
    let fitted = tauri::PhysicalSize::new(
        outer.width.min(screen.width),
        outer.height.min(screen.height),
    );
    let placed = main
        .set_position(*monitor.position())
        .and_then(|()| main.set_size(fitted))
        .and_then(|()| main.maximize());
    if let Err(e) = placed {
        tracing::warn!(error = %e, "could not fit the window to the screen");
    }
}

/// Turns WebKitGTK's GPU compositing off unless the installer asked for it.
///
/// PayDesk's screens are static HTML with one ring redrawn once a second; compositing buys
/// nothing there and costs ~100 MB in the web process, and on some GPU drivers (and under
/// Xvfb) it is what leaves a Tauri window blank. `PAYDESK_GPU_COMPOSITING=1` keeps it on.
/// Must run before GTK starts and before any thread exists: the web process inherits it.
#[cfg(target_os = "linux")]
fn choose_webkit_compositing() {
    const WEBKIT_VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    let wanted = std::env::var("PAYDESK_GPU_COMPOSITING").is_ok_and(|v| v.trim() == "1");
    if !wanted && std::env::var_os(WEBKIT_VAR).is_none() {
        std::env::set_var(WEBKIT_VAR, "1");
    }
}

/// Runs the desktop app until its last window closes.
pub fn run() {
    #[cfg(target_os = "linux")]
    choose_webkit_compositing();
    paydesk_core::init_tls();
    let log_dir = paydesk_core::logging::default_log_dir();
    let _guard = match paydesk_core::logging::Logs::new("app")
        .dir(log_dir.as_deref())
        .init()
    {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("PayDesk: logging is off: {e}");
            None
        }
    };
    let assembly = match Assembly::from_env(None, Default::default()) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "PayDesk could not find its settings");
            eprintln!("PayDesk could not find its settings: {e}");
            std::process::exit(1);
        }
    };
    // Kiosk mode: one PayDesk per till; a second start brings the first to the front.
    let kiosk = assembly.settings().is_ok_and(|c| c.kiosk);
    let instance = if kiosk {
        match assembly.data_dir().map(|d| kiosk::claim(&d)) {
            Ok(Ok(kiosk::Claim::First(instance))) => Some(instance),
            Ok(Ok(kiosk::Claim::Second)) => {
                tracing::info!("PayDesk already runs on this till: showed it instead");
                return;
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot make sure PayDesk runs once");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot make sure PayDesk runs once");
                None
            }
        }
    } else {
        None
    };
    let memory = paydesk_core::journal::default_path()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("ui-state.json")));
    let host = TillHost::new(assembly, Arc::new(paydesk_demo::Launcher));
    let state = AppState::new(host, memory);
    let app = match build(tauri::Builder::default(), state).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "PayDesk could not start");
            eprintln!("PayDesk could not start: {e}");
            std::process::exit(1);
        }
    };
    if let Some(instance) = instance {
        instance.serve(app.handle().clone());
    }
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            let state = handle.state::<AppState>();
            tauri::async_runtime::block_on(state.shutdown());
            tracing::info!("PayDesk closed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_core::secrets::MemoryStore;
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::webview::InvokeRequest;

    fn invoke(
        webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
        cmd: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        tauri::test::get_ipc_response(
            webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: tauri::test::INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<serde_json::Value>().unwrap())
    }

    /// The app reads its config path from the environment: one test app at a time.
    static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn app(dir: &std::path::Path) -> tauri::App<tauri::test::MockRuntime> {
        // Demo mode: no keys anywhere, config and journal in the temp dir.
        std::env::set_var("PAYDESK_DEMO_LAN", "0");
        let assembly = Assembly {
            config_path: dir.join("config.toml"),
            overrides: Default::default(),
            keychain: Arc::new(MemoryStore::new()),
            journal_path: Some(dir.join("journal.sqlite3")),
        };
        let host = TillHost::new(assembly, Arc::new(paydesk_demo::Launcher));
        let state = AppState::new(host.clone(), None);
        let app = build(tauri::test::mock_builder(), state)
            .build(tauri::generate_context!())
            .unwrap();
        // `setup` runs when the event loop starts, which a mock app never does.
        tauri::async_runtime::block_on(host.restart()).unwrap();
        app
    }

    #[test]
    fn commands_answer_through_ipc_with_the_real_capabilities() {
        let _env = ENV
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let main = tauri::WebviewWindowBuilder::new(&app, MAIN_WINDOW, Default::default())
            .build()
            .unwrap();
        let snap = invoke(&main, "app_snapshot", serde_json::json!({})).unwrap();
        assert_eq!(snap["status"]["mode"], "demo", "{snap}");
        assert_eq!(snap["status"]["demo"], true);
        assert_eq!(snap["status"]["marker"], "DEMO");
        assert_eq!(snap["status"]["state"], "running");
        assert_eq!(snap["version"], env!("CARGO_PKG_VERSION"));

        let q = invoke(
            &main,
            "quote_amount",
            serde_json::json!({"parts": ["12.50", "0,70"], "currency": "EUR"}),
        )
        .unwrap();
        assert_eq!(q["display"], "13.20 EUR");
        let bad = invoke(
            &main,
            "quote_amount",
            serde_json::json!({"parts": ["1.234"], "currency": "EUR"}),
        )
        .unwrap_err();
        assert_eq!(bad, "EUR has at most 2 decimal places");

        let paid = invoke(
            &main,
            "charge",
            serde_json::json!({"parts": ["4.20"], "currency": "EUR", "note": "tea"}),
        )
        .unwrap();
        assert_eq!(paid["status"], "pending");
        assert_eq!(paid["amount_display"], "4.20 EUR");
        assert!(paid["qr_data_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,"));

        // A key saved through Settings goes to the store, never back to the UI.
        let settings = invoke(
            &main,
            "save_settings",
            serde_json::json!({"update": {
                "mode": "demo", "terminal_name": "Till 9", "default_currency": "EUR",
                "api_url": null, "relay_url": null, "qr_content": null,
                "secret_key": "sk_test_not_shown", "terminal_key": null
            }}),
        )
        .unwrap();
        assert_eq!(settings["settings"]["secret_key_saved"], true);
        assert_eq!(settings["running"], true);
        assert!(!settings.to_string().contains("sk_test_not_shown"));
        assert!(!std::fs::read_to_string(dir.path().join("config.toml"))
            .unwrap()
            .contains("sk_test_not_shown"));
        assert!(invoke(&main, "no_such_command", serde_json::json!({})).is_err());
    }

    #[test]
    fn the_customer_display_may_only_read() {
        let _env = ENV
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let customer = tauri::WebviewWindowBuilder::new(&app, CUSTOMER_WINDOW, Default::default())
            .build()
            .unwrap();
        assert!(invoke(&customer, "app_snapshot", serde_json::json!({})).is_ok());
        let refused = invoke(
            &customer,
            "charge",
            serde_json::json!({"parts": ["1"], "currency": "EUR", "note": null}),
        );
        assert!(refused.is_err(), "the customer display must not charge");
        for cmd in [
            "start_sale",
            "cart_add_item",
            "tip_skip",
            "sign_in",
            "get_settings",
        ] {
            assert!(
                invoke(&customer, cmd, serde_json::json!({})).is_err(),
                "the customer display must not {cmd}"
            );
        }
        // Its one command: a pick for the open tip prompt (none is open here).
        let pick = invoke(
            &customer,
            "choose_tip",
            serde_json::json!({"prompt": 1, "pick": {"choice": 0}}),
        )
        .unwrap_err();
        assert_eq!(pick, "this sale is no longer waiting for a tip");
        let stranger = tauri::WebviewWindowBuilder::new(&app, "stranger", Default::default())
            .build()
            .unwrap();
        assert!(invoke(&stranger, "app_snapshot", serde_json::json!({})).is_err());
    }
}
