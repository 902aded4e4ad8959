//! The floor under the app's memory figure: an empty Tauri window on the same Tauri,
//! WebKitGTK and build profile as PayDesk, and nothing else (no core, no demo servers, no
//! UI). `app-bench --baseline` measures it exactly as it measures the app.
//!
//!     cargo build --release --example blank-window

/// The whole page. It says it is ready the way PayDesk's UI does, so the bench can wait.
const PAGE: &[u8] = b"<!doctype html><body data-ready=true>blank</body>";

fn main() {
    let mut context = tauri::generate_context!();
    context.config_mut().app.windows.clear();
    let result = tauri::Builder::default()
        .register_uri_scheme_protocol("blank", |_ctx, _request| {
            let mut response = tauri::http::Response::new(PAGE.to_vec());
            response.headers_mut().insert(
                tauri::http::header::CONTENT_TYPE,
                tauri::http::HeaderValue::from_static("text/html"),
            );
            response
        })
        .setup(|app| {
            let url = tauri::WebviewUrl::CustomProtocol("blank://localhost/".parse()?);
            tauri::WebviewWindowBuilder::new(app, "main", url)
                .title("blank")
                .inner_size(1100.0, 760.0)
                .build()?;
            Ok(())
        })
        .run(context);
    if let Err(e) = result {
        eprintln!("blank-window: {e}");
        std::process::exit(1);
    }
}
