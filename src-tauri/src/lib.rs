//! The PayDesk desktop shell: Tauri commands and events over `paydesk-core`, nothing more.
//!
//! `run()` is the whole app; [`build`] assembles it over any Tauri runtime so command
//! handlers can be tested without a display (`tauri::test::mock_builder`).

mod cmd;
mod events;
mod state;

use tauri::{Manager, Runtime};

pub use events::{CoreEvent, CORE_EVENT};
pub use state::{AppSnapshot, AppState};

/// Adds PayDesk's state, commands and start-up to a builder.
pub fn build<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .manage(state)
        .invoke_handler(tauri::generate_handler![cmd::app_snapshot])
        .setup(|app| {
            let handle = app.handle().clone();
            let state = app.state::<AppState>();
            tracing::info!(terminal = %state.terminal_name(), "PayDesk window starting");
            tauri::async_runtime::spawn(events::clock_ticks(
                handle,
                state.clock().clone(),
                state.shutdown_token(),
            ));
            Ok(())
        })
}

/// Runs the desktop app until its last window closes.
pub fn run() {
    let log_dir = paydesk_core::logging::default_log_dir();
    let _guard = match paydesk_core::logging::init("app", log_dir.as_deref()) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("PayDesk: logging is off: {e}");
            None
        }
    };
    let state = AppState::from_env();
    let app = match build(tauri::Builder::default(), state).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "PayDesk could not start");
            eprintln!("PayDesk could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            handle.state::<AppState>().shutdown();
            tracing::info!("PayDesk closed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::webview::InvokeRequest;

    fn invoke(
        webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
        cmd: &str,
    ) -> Result<serde_json::Value, serde_json::Value> {
        tauri::test::get_ipc_response(
            webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::default(),
                headers: Default::default(),
                invoke_key: tauri::test::INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<serde_json::Value>().unwrap())
    }

    #[test]
    fn snapshot_command_answers_through_ipc_with_the_real_capabilities() {
        let app = build(tauri::test::mock_builder(), AppState::new("Till 9", "demo"))
            .build(tauri::generate_context!())
            .unwrap();
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        let snap = invoke(&webview, "app_snapshot").unwrap();
        assert_eq!(snap["terminal_name"], "Till 9");
        assert_eq!(snap["mode"], "demo");
        assert_eq!(snap["version"], env!("CARGO_PKG_VERSION"));
        assert!(invoke(&webview, "no_such_command").is_err());
    }

    #[test]
    fn a_window_without_a_capability_cannot_call_commands() {
        let app = build(tauri::test::mock_builder(), AppState::new("Till 9", "demo"))
            .build(tauri::generate_context!())
            .unwrap();
        let stranger = tauri::WebviewWindowBuilder::new(&app, "stranger", Default::default())
            .build()
            .unwrap();
        assert!(invoke(&stranger, "app_snapshot").is_err());
    }
}
