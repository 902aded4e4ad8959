//! The customer display: a second window that mirrors the payment for the customer.
//!
//! It goes full screen on the monitor the merchant picked (remembered across restarts);
//! when that monitor is gone it falls back to another monitor than the till's, and with a
//! single monitor it opens as a window that fits the screen beside the till instead of
//! covering it.

use serde::Serialize;
use tauri::{AppHandle, Manager, Monitor, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::state::AppState;

/// One monitor, as Settings lists it.
#[derive(Clone, Debug, Serialize)]
pub struct MonitorView {
    pub name: String,
    /// "1920×1080"
    pub size: String,
    pub primary: bool,
    /// The one the till's own window is on.
    pub till: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Monitors {
    pub monitors: Vec<MonitorView>,
    /// The remembered choice, if it is still connected.
    pub chosen: Option<String>,
}

fn name_of(m: &Monitor) -> String {
    m.name()
        .cloned()
        .unwrap_or_else(|| format!("Monitor at {},{}", m.position().x, m.position().y))
}

fn same(a: &Monitor, b: &Monitor) -> bool {
    a.position() == b.position() && a.size() == b.size()
}

fn till_monitor<R: Runtime>(app: &AppHandle<R>) -> Option<Monitor> {
    app.get_webview_window(crate::MAIN_WINDOW)?
        .current_monitor()
        .ok()
        .flatten()
}

pub fn monitors<R: Runtime>(app: &AppHandle<R>, chosen: Option<String>) -> tauri::Result<Monitors> {
    let all = app.available_monitors()?;
    let primary = app.primary_monitor()?;
    let till = till_monitor(app);
    let monitors: Vec<MonitorView> = all
        .iter()
        .map(|m| MonitorView {
            name: name_of(m),
            size: format!("{}×{}", m.size().width, m.size().height),
            primary: primary.as_ref().is_some_and(|p| same(p, m)),
            till: till.as_ref().is_some_and(|t| same(t, m)),
        })
        .collect();
    let chosen = chosen.filter(|c| monitors.iter().any(|m| &m.name == c));
    Ok(Monitors { monitors, chosen })
}

/// Where the display goes: the remembered monitor, else one the till is not on.
fn pick<R: Runtime>(app: &AppHandle<R>, remembered: Option<&str>) -> Option<(Monitor, bool)> {
    let all = app.available_monitors().ok()?;
    let till = till_monitor(app);
    if let Some(m) = remembered.and_then(|r| all.iter().find(|m| name_of(m) == r)) {
        let own = till.as_ref().is_none_or(|t| !same(t, m));
        return Some((m.clone(), own));
    }
    if let Some(other) = all
        .iter()
        .find(|m| till.as_ref().is_some_and(|t| !same(t, m)))
    {
        return Some((other.clone(), true));
    }
    all.into_iter().next().map(|m| (m, false))
}

/// The monitor picked for the customer display: the `customer_display` setting, else what
/// an older PayDesk remembered in its UI state.
pub fn remembered(state: &AppState) -> Option<String> {
    state
        .host
        .assembly()
        .settings()
        .ok()
        .and_then(|c| c.customer_display)
        .or_else(|| state.memory().customer_monitor)
}

/// Opens (or brings forward) the customer display.
pub fn open<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let remembered = app.try_state::<AppState>().and_then(|s| remembered(&s));
    if let Some(w) = app.get_webview_window(crate::CUSTOMER_WINDOW) {
        return w.set_focus();
    }
    let mut builder = WebviewWindowBuilder::new(
        app,
        crate::CUSTOMER_WINDOW,
        WebviewUrl::App("customer.html".into()),
    )
    .title("PayDesk — Customer display");
    let mut full_screen = false;
    match pick(app, remembered.as_deref()) {
        Some((monitor, own)) => {
            let scale = monitor.scale_factor();
            let pos = monitor.position().to_logical::<f64>(scale);
            let size = monitor.size().to_logical::<f64>(scale);
            if own {
                // A monitor of its own: full screen on it.
                builder = builder
                    .position(pos.x, pos.y)
                    .inner_size(size.width, size.height);
                full_screen = true;
            } else {
                // Sharing the till's only screen: a window that fits beside the till.
                let w = (size.width * 0.45).clamp(360.0, 800.0);
                let h = (size.height - 80.0).clamp(320.0, 900.0);
                builder = builder
                    .inner_size(w, h)
                    .position(pos.x + size.width - w, pos.y);
            }
        }
        None => builder = builder.inner_size(480.0, 640.0),
    }
    let window = builder.build()?;
    if full_screen {
        window.set_fullscreen(true)?;
    }
    let handle = app.clone();
    window.on_window_event(move |event| {
        // Closed by the cashier (not by the app exiting): forget it.
        if let tauri::WindowEvent::CloseRequested { .. } = event {
            if let Some(state) = handle.try_state::<AppState>() {
                state.remember(|m| m.customer_display_open = false);
            }
        }
    });
    Ok(())
}
