//! Tauri commands: parse, call the core, map the error to words a cashier understands.
//! Nothing else lives here. Errors travel to the UI as plain strings; keys never do.

use chrono::NaiveDate;
use paydesk_core::config::{ConfigLayer, Mode};
use paydesk_core::doctor::{self, DoctorSetup, Report};
use paydesk_core::money::{Currency, Money};
use paydesk_core::realtime::RelayEndpoint;
use paydesk_core::secrets::{self, Account, Secret};
use paydesk_core::terminal::normalize_relay_url;
use paydesk_core::PaymentStatus;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime, State, WebviewUrl, WebviewWindowBuilder};

use crate::events::{emit, CoreEvent};
use crate::state::AppState;
use crate::view::{quote, ConnectionView, PaymentView, Quote, TotalView};

type CmdResult<T> = Result<T, String>;

const NOT_RUNNING: &str = "PayDesk is not connected to a payment service; check Settings";

/// Everything the UI needs for its first render ("first render, then push").
#[derive(Clone, Debug, Serialize)]
pub struct AppSnapshot {
    pub version: &'static str,
    pub terminal_name: String,
    pub mode: String,
    pub demo: bool,
    pub default_currency: String,
    pub currencies: Vec<&'static str>,
    pub connection: ConnectionView,
    pub active: Option<PaymentView>,
    pub notice: Option<Notice>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    pub level: &'static str,
    pub message: String,
}

fn fiat_codes() -> Vec<&'static str> {
    Currency::all()
        .filter(|c| !c.is_crypto())
        .map(|c| c.code())
        .collect()
}

#[tauri::command]
pub async fn app_snapshot(state: State<'_, AppState>) -> CmdResult<AppSnapshot> {
    let running = state.running().await;
    let Some(r) = running.as_ref() else {
        return Ok(AppSnapshot {
            version: env!("CARGO_PKG_VERSION"),
            terminal_name: "PayDesk".into(),
            mode: "offline".into(),
            demo: false,
            default_currency: "EUR".into(),
            currencies: fiat_codes(),
            connection: ConnectionView {
                state: "offline",
                last_update_ms: None,
                detail: state.start_error(),
            },
            active: None,
            notice: state.start_error().map(|message| Notice {
                level: "error",
                message: format!("PayDesk could not start: {message}"),
            }),
        });
    };
    let tracker = r.terminal.tracker();
    // The payment on screen; after a restart, the newest one still pending.
    let active_id = state.active().or_else(|| {
        let snap = tracker.snapshot();
        snap.payments
            .iter()
            .rev()
            .find(|p| p.status == PaymentStatus::Pending)
            .map(|p| p.payment.id.clone())
    });
    let active = active_id.and_then(|id| PaymentView::tracked(tracker, &id));
    if let Some(a) = &active {
        state.set_active(Some(a.id.clone()));
    }
    Ok(AppSnapshot {
        version: env!("CARGO_PKG_VERSION"),
        terminal_name: r.config.terminal_name.clone(),
        mode: r.mode.as_str().into(),
        demo: r.mode == Mode::Demo,
        default_currency: r.config.default_currency.code().into(),
        currencies: fiat_codes(),
        connection: ConnectionView::from(&tracker.connection()),
        active,
        notice: None,
    })
}

#[tauri::command]
pub fn quote_amount(parts: Vec<String>, currency: String) -> CmdResult<Quote> {
    quote(&parts, &currency).map(|(_, q)| q)
}

#[tauri::command]
pub async fn charge(
    state: State<'_, AppState>,
    parts: Vec<String>,
    currency: String,
    note: Option<String>,
) -> CmdResult<PaymentView> {
    let (money, _) = quote(&parts, &currency)?;
    let running = state.running().await;
    let r = running.as_ref().ok_or(NOT_RUNNING)?;
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let payment = r
        .terminal
        .charge(money, note)
        .await
        .map_err(|e| e.to_string())?;
    state.set_active(Some(payment.id.clone()));
    // Every window (the customer display too) learns of it from the tracker's transition.
    PaymentView::tracked(r.terminal.tracker(), &payment.id)
        .ok_or_else(|| "the new payment was not tracked".into())
}

#[tauri::command]
pub async fn cancel_payment(state: State<'_, AppState>, id: String) -> CmdResult<PaymentView> {
    let running = state.running().await;
    let r = running.as_ref().ok_or(NOT_RUNNING)?;
    r.terminal.cancel(&id).await.map_err(|e| e.to_string())?;
    PaymentView::tracked(r.terminal.tracker(), &id)
        .ok_or_else(|| "the payment is no longer on this till".into())
}

/// Demo mode only: the sandbox's customer pays. "Paid" still arrives the real way.
#[tauri::command]
pub async fn simulate_payment(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    let running = state.running().await;
    let r = running.as_ref().ok_or(NOT_RUNNING)?;
    let demo = r
        .demo
        .as_ref()
        .ok_or("simulated payments exist only in demo mode")?;
    demo.simulate_payment(&id).await.map_err(|e| e.to_string())
}

/// The cashier moved on from a finished payment.
#[tauri::command]
pub async fn close_payment<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
) -> CmdResult<()> {
    if state.active().as_deref() == Some(id.as_str()) {
        state.set_active(None);
    }
    let running = state.running().await;
    if let Some(r) = running.as_ref() {
        let finished = r
            .terminal
            .tracker()
            .get(&id)
            .is_some_and(|t| t.status.is_terminal());
        if finished {
            r.terminal.dismiss(&id);
        }
    }
    emit(&app, &CoreEvent::ActiveCleared);
    Ok(())
}

#[derive(Clone, Debug, Serialize)]
pub struct History {
    pub entries: Vec<PaymentView>,
    pub totals: Vec<TotalView>,
}

fn parse_day(day: &str) -> CmdResult<NaiveDate> {
    NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").map_err(|_| format!("'{day}' is not a date"))
}

#[tauri::command]
pub async fn history(state: State<'_, AppState>, day: String) -> CmdResult<History> {
    let day = parse_day(&day)?;
    let journal = state.journal.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let entries = journal
            .history(day, &chrono::Local)
            .map_err(|e| e.to_string())?;
        let totals = journal
            .totals(day, &chrono::Local)
            .map_err(|e| e.to_string())?;
        Ok(History {
            entries: entries.iter().rev().map(PaymentView::journaled).collect(),
            totals: totals.iter().map(TotalView::from).collect(),
        })
    })
    .await
    .map_err(|e| e.to_string())?
}

#[tauri::command]
pub async fn search_payments(
    state: State<'_, AppState>,
    query: String,
) -> CmdResult<Vec<PaymentView>> {
    let journal = state.journal.clone();
    tauri::async_runtime::spawn_blocking(move || {
        journal
            .find(&query)
            .map(|found| found.iter().map(PaymentView::journaled).collect())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

#[tauri::command]
pub async fn refund_payment(
    state: State<'_, AppState>,
    id: String,
    amount: Option<String>,
) -> CmdResult<PaymentView> {
    let running = state.running().await;
    let r = running.as_ref().ok_or(NOT_RUNNING)?;
    // The currency from the journal; the terminal re-reads the payment from the API itself.
    let known = state
        .journal
        .get(&id)
        .map_err(|e| e.to_string())?
        .ok_or("this payment is not in this till's history")?;
    let currency = Currency::from_code(&known.currency).map_err(|e| e.to_string())?;
    let amount = amount
        .filter(|a| !a.trim().is_empty())
        .map(|a| Money::parse(&a, currency))
        .transpose()
        .map_err(|e| e.to_string())?;
    r.terminal
        .refund(&id, amount, Some("requested at the till".into()))
        .await
        .map_err(|e| e.to_string())?;
    let entry = state
        .journal
        .entry(&id)
        .map_err(|e| e.to_string())?
        .ok_or("the refunded payment is not in the journal")?;
    Ok(PaymentView::journaled(&entry))
}

#[derive(Clone, Debug, Serialize)]
pub struct Export {
    pub path: String,
    pub rows: usize,
}

#[tauri::command]
pub async fn export_csv(state: State<'_, AppState>, day: String) -> CmdResult<Export> {
    let date = parse_day(&day)?;
    let dir = directories::UserDirs::new()
        .and_then(|d| d.download_dir().map(|p| p.to_path_buf()))
        .or_else(|| state.journal.path().parent().map(|p| p.to_path_buf()))
        .ok_or("no folder to save the export in")?;
    let path = dir.join(format!("paydesk-{date}.csv"));
    let journal = state.journal.clone();
    let target = path.clone();
    let rows = tauri::async_runtime::spawn_blocking(move || -> Result<usize, String> {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = std::fs::File::create(&target)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        journal
            .export_csv(date, &chrono::Local, std::io::BufWriter::new(file))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(Export {
        path: path.display().to_string(),
        rows,
    })
}

/// Settings as the UI sees them: never a key, only whether one is saved and where.
#[derive(Clone, Debug, Serialize)]
pub struct SettingsView {
    pub mode: String,
    pub terminal_name: String,
    pub default_currency: String,
    pub api_url: Option<String>,
    pub relay_url: Option<String>,
    pub secret_key_saved: bool,
    pub secret_key_source: Option<String>,
    pub terminal_key_saved: bool,
    pub terminal_key_source: Option<String>,
}

async fn settings_view(state: &AppState) -> CmdResult<SettingsView> {
    let config =
        paydesk_core::config::Config::load(ConfigLayer::default()).map_err(|e| e.to_string())?;
    let source = |account| {
        secrets::resolve(state.keychain.as_ref(), account)
            .ok()
            .flatten()
            .map(|r| r.source.to_string())
    };
    let secret_key_source = source(Account::SecretKey);
    let terminal_key_source = source(Account::TerminalKey);
    let mode = match state.running().await.as_ref() {
        Some(r) => r.mode.as_str().to_owned(),
        None => config.mode.map_or("demo", Mode::as_str).to_owned(),
    };
    Ok(SettingsView {
        mode,
        terminal_name: config.terminal_name,
        default_currency: config.default_currency.code().into(),
        api_url: Some(config.api_url),
        relay_url: config.relay_url,
        secret_key_saved: secret_key_source.is_some(),
        secret_key_source,
        terminal_key_saved: terminal_key_source.is_some(),
        terminal_key_source,
    })
}

#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> CmdResult<SettingsView> {
    settings_view(&state).await
}

#[derive(Clone, Debug, Deserialize)]
pub struct SettingsUpdate {
    pub mode: String,
    pub terminal_name: String,
    pub default_currency: String,
    pub api_url: Option<String>,
    pub relay_url: Option<String>,
    /// Written to the keychain, never to the config file, never echoed back.
    pub secret_key: Option<String>,
    pub terminal_key: Option<String>,
}

#[tauri::command]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    update: SettingsUpdate,
) -> CmdResult<SettingsView> {
    let mode: Mode = update.mode.parse()?;
    let currency = Currency::from_code(&update.default_currency).map_err(|e| e.to_string())?;
    let name = update.terminal_name.trim();
    if name.is_empty() {
        return Err("give the terminal a name".into());
    }
    for (account, value) in [
        (Account::SecretKey, &update.secret_key),
        (Account::TerminalKey, &update.terminal_key),
    ] {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            state
                .keychain
                .set(account, &Secret::new(v))
                .map_err(|e| e.to_string())?;
        }
    }
    let path = paydesk_core::config::default_path().map_err(|e| e.to_string())?;
    let layer = ConfigLayer::load(&path).map_err(|e| e.to_string())?;
    let changes = ConfigLayer {
        mode: Some(mode),
        terminal_name: Some(name.to_owned()),
        default_currency: Some(currency),
        api_url: update
            .api_url
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty()),
        relay_url: update
            .relay_url
            .map(|u| normalize_relay_url(&u))
            .filter(|u| !u.is_empty()),
        ..ConfigLayer::default()
    };
    changes.validate("Settings").map_err(|e| e.to_string())?;
    layer
        .overlaid(changes)
        .save(&path)
        .map_err(|e| e.to_string())?;
    crate::restart(&app).await;
    settings_view(&state).await
}

#[tauri::command]
pub async fn test_connection(state: State<'_, AppState>) -> CmdResult<Report> {
    let config =
        paydesk_core::config::Config::load(ConfigLayer::default()).map_err(|e| e.to_string())?;
    let running = state.running().await;
    let mut setup = match running.as_ref().and_then(|r| r.demo.as_ref()) {
        Some(demo) => {
            let mut s = DoctorSetup::new(demo.api_url(), Some(demo.secret_key().clone()));
            s.relay = Some(RelayEndpoint {
                base_url: demo.relay_url(),
                terminal_key: demo.terminal_key().clone(),
            });
            s
        }
        None => {
            let key = |a| {
                secrets::resolve(state.keychain.as_ref(), a)
                    .ok()
                    .flatten()
                    .map(|r| r.secret)
            };
            let mut s = DoctorSetup::new(config.api_url.clone(), key(Account::SecretKey));
            s.relay = config.relay_url.clone().zip(key(Account::TerminalKey)).map(
                |(base_url, terminal_key)| RelayEndpoint {
                    base_url: normalize_relay_url(&base_url),
                    terminal_key,
                },
            );
            s
        }
    };
    drop(running);
    setup.keychain = Some(state.keychain.clone());
    setup.relay_wait = std::time::Duration::from_secs(30);
    Ok(doctor::run(setup).await)
}

/// Opens (or brings forward) the customer display, and remembers it is open.
#[tauri::command]
pub async fn open_customer_display<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CmdResult<()> {
    open_customer_window(&app).map_err(|e| e.to_string())?;
    state.remember(&crate::state::UiMemory {
        customer_display_open: true,
    });
    Ok(())
}

pub fn open_customer_window<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    if let Some(w) = app.get_webview_window(crate::CUSTOMER_WINDOW) {
        return w.set_focus();
    }
    let window = WebviewWindowBuilder::new(
        app,
        crate::CUSTOMER_WINDOW,
        WebviewUrl::App("customer.html".into()),
    )
    .title("PayDesk — Customer display")
    .inner_size(800.0, 900.0)
    .build()?;
    let handle = app.clone();
    window.on_window_event(move |event| {
        // Closed by the cashier (not by the app exiting): forget it.
        if let tauri::WindowEvent::CloseRequested { .. } = event {
            if let Some(state) = handle.try_state::<AppState>() {
                state.remember(&crate::state::UiMemory {
                    customer_display_open: false,
                });
            }
        }
    });
    Ok(())
}
