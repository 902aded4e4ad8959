//! Tauri commands: parse, call the core, map the error to words a cashier understands.
//! Nothing else lives here. Errors travel to the UI as plain strings; keys never do.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use paydesk_core::config::{ConfigLayer, Mode};
use paydesk_core::doctor::{self, Report};
use paydesk_core::gateway::{Gateway, GatewayConfig, GatewayError, ListPayments};
use paydesk_core::money::{Currency, Money};
use paydesk_core::secrets::{Account, Secret};
use paydesk_core::staff::{Action, Context as GateContext, Operator};
use paydesk_core::terminal::{normalize_relay_url, ChargeRequest};
use paydesk_core::till::{DemoPayment, Till, TillHost};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime, State};
use tokio::sync::RwLockReadGuard;

use crate::events::payment_view;
use crate::state::AppState;
use crate::view::{quote, PaymentView, Quote, StatusView, TotalView};

type CmdResult<T> = Result<T, String>;

/// The running till, or the status's own words for why there is none.
pub(crate) async fn running(host: &TillHost) -> CmdResult<RwLockReadGuard<'_, Option<Till>>> {
    let guard = host.till().await;
    if guard.is_none() {
        let status = host.status();
        return Err(status.problem.unwrap_or_else(|| {
            "PayDesk is not connected to a payment service yet; check Settings".into()
        }));
    }
    Ok(guard)
}

/// The operator for one gated action: the person signed in at the screen, or — when an
/// approver's PIN was typed on their screen for this one action — that override. The core
/// decides (the role's rules, the payment's owner, lockouts); the words come back as the
/// error. Every command that changes money, the books or the settings goes through here.
pub async fn gate(
    host: &TillHost,
    action: Action,
    ctx: GateContext,
    approver_pin: Option<String>,
) -> CmdResult<Operator> {
    let pin = approver_pin
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .map(Secret::new);
    let decided = match pin {
        Some(pin) => host.override_operator(pin, action, ctx).await,
        None => host.operator(action, ctx).await,
    };
    decided.map_err(|e| e.to_string())
}

/// The gate's context for an action on one payment: who created it, as the journal knows.
async fn payment_context(host: &TillHost, id: &str) -> CmdResult<GateContext> {
    let guard = running(host).await?;
    let Some(till) = guard.as_ref() else {
        return Err("PayDesk is not running".into());
    };
    till.terminal
        .payment_context(id)
        .await
        .map_err(|e| e.to_string())
}

/// Signs in the person whose PIN was typed on the lock screen. The PIN is not kept.
#[tauri::command]
pub async fn sign_in(state: State<'_, AppState>, pin: String) -> CmdResult<StatusView> {
    state.host.sign_in(Secret::new(pin)).await?;
    Ok(StatusView::from(&state.host.status()))
}

/// The Lock button: the till asks for a PIN again.
#[tauri::command]
pub async fn lock_till(state: State<'_, AppState>) -> CmdResult<StatusView> {
    state.host.lock().await;
    Ok(StatusView::from(&state.host.status()))
}

/// The cashier is at the till (a key, a tap): the idle time starts again.
#[tauri::command]
pub async fn touch(state: State<'_, AppState>) -> CmdResult<()> {
    state.host.touch().await;
    Ok(())
}

/// Everything the UI needs for its first render ("first render, then push").
#[derive(Clone, Debug, Serialize)]
pub struct AppSnapshot {
    pub version: &'static str,
    pub status: StatusView,
    pub currencies: Vec<&'static str>,
    /// The payment in progress, as it stands.
    pub active: Option<PaymentView>,
    /// The tip the customer display asks for, if a sale waits for one.
    pub customer_tip: paydesk_core::sale::CustomerTipView,
}

fn fiat_codes() -> Vec<&'static str> {
    Currency::all()
        .filter(|c| !c.is_crypto())
        .map(|c| c.code())
        .collect()
}

#[tauri::command]
pub async fn app_snapshot(state: State<'_, AppState>) -> CmdResult<AppSnapshot> {
    let status = state.host.status();
    let active = match &status.active {
        Some(id) => payment_view(&state.host, id).await,
        None => None,
    };
    Ok(AppSnapshot {
        version: env!("CARGO_PKG_VERSION"),
        status: StatusView::from(&status),
        currencies: fiat_codes(),
        active,
        customer_tip: crate::sale::customer_tip(&state.host),
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
    confirmed: Option<bool>,
) -> CmdResult<PaymentView> {
    let (money, q) = quote(&parts, &currency)?;
    if q.confirm && confirmed != Some(true) {
        return Err(format!("Confirm the amount first: {}", q.display));
    }
    let by = gate(&state.host, Action::Charge, GateContext::none(), None).await?;
    let guard = running(&state.host).await?;
    let Some(till) = guard.as_ref() else {
        return Err("PayDesk is not running".into());
    };
    let mut request = ChargeRequest::new(money);
    request.description = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let payment = till
        .terminal
        .charge_as(by, request)
        .await
        .map_err(|e| e.to_string())?;
    state.host.set_active(Some(payment.id.clone()));
    drop(guard);
    payment_view(&state.host, &payment.id)
        .await
        .ok_or_else(|| "the new payment was not tracked".into())
}

#[tauri::command]
pub async fn cancel_payment(
    state: State<'_, AppState>,
    id: String,
    approver_pin: Option<String>,
) -> CmdResult<PaymentView> {
    {
        // Their own payment, or (a supervisor) anyone's: the terminal checks which.
        let ctx = payment_context(&state.host, &id).await?;
        let by = gate(&state.host, Action::CancelOwn, ctx, approver_pin).await?;
        let guard = running(&state.host).await?;
        if let Some(till) = guard.as_ref() {
            till.terminal
                .cancel_as(by, &id)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    payment_view(&state.host, &id)
        .await
        .ok_or_else(|| "the payment is no longer on this till".into())
}

/// "Check now": one read of the payment from Crypto.com Pay, at once.
#[tauri::command]
pub async fn check_payment(state: State<'_, AppState>, id: String) -> CmdResult<PaymentView> {
    {
        let guard = running(&state.host).await?;
        if let Some(till) = guard.as_ref() {
            till.terminal
                .refresh(&id)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    payment_view(&state.host, &id)
        .await
        .ok_or_else(|| "the payment is no longer on this till".into())
}

/// Demo mode only: the sandbox's customer pays. "Paid" still arrives the real way.
#[tauri::command]
pub async fn simulate_payment(
    state: State<'_, AppState>,
    id: String,
    onchain: Option<bool>,
) -> CmdResult<()> {
    let guard = running(&state.host).await?;
    let demo = guard
        .as_ref()
        .and_then(|t| t.demo.as_ref())
        .ok_or("simulated payments exist only in demo mode")?;
    let how = if onchain == Some(true) {
        DemoPayment::Onchain
    } else {
        DemoPayment::App
    };
    demo.simulate_payment(&id, how).await
}

/// The cashier moved on from a finished payment.
#[tauri::command]
pub async fn close_payment(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    let guard = state.host.till().await;
    if let Some(till) = guard.as_ref() {
        let finished = till
            .terminal
            .tracker()
            .get(&id)
            .is_some_and(|t| t.status.is_terminal());
        if finished {
            till.terminal.dismiss(&id);
        } else if till.terminal.tracker().get(&id).is_some() {
            return Err("this payment is still waiting: cancel it first".into());
        }
    }
    state.host.clear_active(&id);
    Ok(())
}

#[derive(Clone, Debug, Serialize)]
pub struct History {
    pub entries: Vec<PaymentView>,
    pub totals: Vec<TotalView>,
    /// The book shown: demo, test or live.
    pub book: &'static str,
}

pub(crate) fn parse_day(day: &str) -> CmdResult<NaiveDate> {
    NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").map_err(|_| format!("'{day}' is not a date"))
}

#[tauri::command]
pub async fn history(state: State<'_, AppState>, day: String) -> CmdResult<History> {
    let day = parse_day(&day)?;
    let guard = running(&state.host).await?;
    let Some(till) = guard.as_ref() else {
        return Err("PayDesk is not running".into());
    };
    let book = till.mode().as_str();
    till.terminal
        .journal()
        .call(move |j| {
            let entries = j.history(day, &chrono::Local)?;
            let totals = paydesk_core::journal::summarize(&entries)?;
            Ok(History {
                entries: entries.iter().rev().map(PaymentView::journaled).collect(),
                totals: totals.iter().map(TotalView::from).collect(),
                book,
            })
        })
        .await
        .map_err(|e| e.to_string())
}

#[tauri::command]
pub async fn search_payments(
    state: State<'_, AppState>,
    query: String,
) -> CmdResult<Vec<PaymentView>> {
    let guard = running(&state.host).await?;
    let Some(till) = guard.as_ref() else {
        return Err("PayDesk is not running".into());
    };
    till.terminal
        .journal()
        .call(move |j| {
            j.find(&query)
                .map(|found| found.iter().map(PaymentView::journaled).collect())
        })
        .await
        .map_err(|e| e.to_string())
}

#[tauri::command]
pub async fn refund_payment(
    state: State<'_, AppState>,
    id: String,
    amount: Option<String>,
    reason: Option<String>,
    approver_pin: Option<String>,
) -> CmdResult<PaymentView> {
    {
        let ctx = payment_context(&state.host, &id).await?;
        let by = gate(&state.host, Action::Refund, ctx, approver_pin).await?;
        let guard = running(&state.host).await?;
        let Some(till) = guard.as_ref() else {
            return Err("PayDesk is not running".into());
        };
        // The currency from this book's journal; the terminal re-reads the payment itself.
        let lookup = id.clone();
        let known = till
            .terminal
            .journal()
            .call(move |j| j.get(&lookup))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("this payment is not in this till's history")?;
        let currency = Currency::from_code(&known.currency).map_err(|e| e.to_string())?;
        let amount = amount
            .filter(|a| !a.trim().is_empty())
            .map(|a| Money::parse(&a, currency))
            .transpose()
            .map_err(|e| e.to_string())?;
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .or_else(|| Some("requested at the till".into()));
        till.terminal
            .refund_as(by, &id, amount, reason)
            .await
            .map_err(|e| e.to_string())?;
    }
    payment_view(&state.host, &id)
        .await
        .ok_or_else(|| "the refunded payment is not in the journal".into())
}

#[derive(Clone, Debug, Serialize)]
pub struct Export {
    pub path: String,
    pub rows: usize,
}

/// Where exports go: the Downloads folder, else beside the journal.
pub(crate) fn save_dir(till: &Till) -> CmdResult<std::path::PathBuf> {
    directories::UserDirs::new()
        .and_then(|d| d.download_dir().map(|p| p.to_path_buf()))
        .or_else(|| till.plan.journal_path.parent().map(|p| p.to_path_buf()))
        .ok_or_else(|| "no folder to save the export in".into())
}

#[tauri::command]
pub async fn export_csv(
    state: State<'_, AppState>,
    day: String,
    approver_pin: Option<String>,
) -> CmdResult<Export> {
    let date = parse_day(&day)?;
    let by = gate(
        &state.host,
        Action::Export,
        GateContext::subject(date.to_string()),
        approver_pin,
    )
    .await?;
    let guard = running(&state.host).await?;
    let Some(till) = guard.as_ref() else {
        return Err("PayDesk is not running".into());
    };
    let book = till.mode();
    let dir = save_dir(till)?;
    // Test and demo books never share a file name with the real one.
    let name = match book {
        Mode::Live => format!("paydesk-{date}.csv"),
        other => format!("paydesk-{other}-{date}.csv"),
    };
    let path = dir.join(name);
    let target = path.clone();
    let rows = till
        .terminal
        .journal()
        .call(move |j| {
            std::fs::create_dir_all(&dir)?;
            let file = std::fs::File::create(&target)?;
            j.export_csv(date, &chrono::Local, std::io::BufWriter::new(file))
        })
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if let Err(e) = till
        .terminal
        .record_operation(by, Action::Export, Some(format!("{rows} payments as CSV")))
        .await
    {
        tracing::warn!(error = %e, "the export was not journaled");
    }
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
    pub qr_content: String,
    pub secret_key_saved: bool,
    pub secret_key_source: String,
    pub terminal_key_saved: bool,
    pub terminal_key_source: String,
    /// Kiosk mode: full screen, one instance, started at login, no closing mid-payment.
    pub kiosk: bool,
    /// Whether PayDesk starts at login on this machine now.
    pub starts_at_login: bool,
    /// Minutes without activity before a till with staff locks; 0: only with Lock.
    pub lock_after_minutes: u64,
    /// The shop's header and the receipt printer.
    pub receipts: crate::day::ReceiptSettings,
}

async fn settings_view(host: &Arc<TillHost>) -> CmdResult<SettingsView> {
    let assembly = host.assembly().clone();
    let plan = tokio::task::spawn_blocking(move || {
        let config = assembly.settings().map_err(|e| e.to_string())?;
        let demo = config.mode.is_none_or(|m| m == Mode::Demo);
        let look =
            |account| match paydesk_core::secrets::resolve(assembly.keychain.as_ref(), account) {
                Ok(Some(r)) => (true, format!("Saved ({})", r.source)),
                Ok(None) | Err(_) if demo => {
                    (false, "Not set (not needed in demo mode)".to_owned())
                }
                Ok(None) => (false, "Not set".to_owned()),
                Err(paydesk_core::secrets::SecretsError::Unavailable { .. }) => (
                    false,
                    "No OS keychain on this machine: set PAYDESK_SECRET_KEY and \
                     PAYDESK_TERMINAL_KEY instead"
                        .to_owned(),
                ),
                Err(_) => (
                    false,
                    "The OS keychain is locked: log in to the desktop session to unlock it"
                        .to_owned(),
                ),
            };
        Ok::<_, String>((config, look(Account::SecretKey), look(Account::TerminalKey)))
    })
    .await
    .map_err(|e| e.to_string())??;
    let (config, secret, terminal) = plan;
    let status = host.status();
    let mode = status
        .mode
        .or(config.mode)
        .map_or("demo", Mode::as_str)
        .to_owned();
    let receipts = crate::day::ReceiptSettings::of(&config);
    Ok(SettingsView {
        mode,
        terminal_name: config.terminal_name,
        default_currency: config.default_currency.code().into(),
        api_url: Some(config.api_url),
        relay_url: config.relay_url,
        qr_content: match config.qr_content {
            paydesk_core::config::QrContent::PaymentUrl => "payment_url".into(),
            paydesk_core::config::QrContent::QrCode => "qr_code".into(),
        },
        secret_key_saved: secret.0,
        secret_key_source: secret.1,
        terminal_key_saved: terminal.0,
        terminal_key_source: terminal.1,
        kiosk: config.kiosk,
        starts_at_login: host.kiosk().is_ok_and(|k| k.starts_at_login),
        lock_after_minutes: config.lock_after.map_or(0, |d| d.as_secs().div_ceil(60)),
        receipts,
    })
}

/// The Settings screen: the owner's (anyone's on a till without staff).
#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> CmdResult<SettingsView> {
    let allowed = gate(&state.host, Action::Settings, GateContext::none(), None).await?;
    drop(allowed);
    settings_view(&state.host).await
}

#[derive(Clone, Debug, Deserialize)]
pub struct SettingsUpdate {
    pub mode: String,
    pub terminal_name: String,
    pub default_currency: String,
    pub api_url: Option<String>,
    pub relay_url: Option<String>,
    pub qr_content: Option<String>,
    /// Written to the keychain, never to the config file, never echoed back.
    pub secret_key: Option<String>,
    pub terminal_key: Option<String>,
    #[serde(default)]
    pub kiosk: Option<bool>,
    #[serde(default)]
    pub lock_after_minutes: Option<u64>,
    /// The shop's header and the printer; absent: unchanged.
    #[serde(default)]
    pub receipts: Option<crate::day::ReceiptSettingsUpdate>,
}

/// What Save did, in the cashier's words.
#[derive(Clone, Debug, Serialize)]
pub struct Saved {
    pub settings: SettingsView,
    /// Whether the till runs after the restart.
    pub running: bool,
    pub message: String,
}

/// Asks Crypto.com Pay whether it accepts `key`: `Err` only when it refuses it.
async fn key_accepted(api_url: &str, key: &Secret) -> Result<Option<String>, String> {
    let clock = paydesk_core::clock::ServerClock::new();
    let mut config = GatewayConfig::new(
        paydesk_core::config::normalize_api_url(api_url),
        key.clone(),
    );
    config.max_attempts = 1;
    let gateway = Gateway::new(config, clock).map_err(|e| e.cashier_message())?;
    let checked = tokio::time::timeout(
        Duration::from_secs(10),
        gateway.list_payments(&ListPayments {
            limit: Some(1),
            ..ListPayments::default()
        }),
    )
    .await;
    match checked {
        Ok(Ok(_)) => Ok(None),
        Ok(Err(GatewayError::Unauthorized)) => Err(
            "Crypto.com Pay refused this secret key. Nothing was saved: check the key and try again."
                .into(),
        ),
        Ok(Err(e)) => Ok(Some(format!(
            "The key could not be checked ({}).",
            e.cashier_message()
        ))),
        Err(_) => Ok(Some(
            "The key could not be checked: Crypto.com Pay did not answer in time.".into(),
        )),
    }
}

#[tauri::command]
pub async fn save_settings(state: State<'_, AppState>, update: SettingsUpdate) -> CmdResult<Saved> {
    let by = gate(
        &state.host,
        Action::Settings,
        GateContext::subject("settings"),
        None,
    )
    .await?;
    let mode: Mode = update.mode.parse()?;
    let currency = Currency::from_code(&update.default_currency).map_err(|e| e.to_string())?;
    let name = update.terminal_name.trim();
    if name.is_empty() {
        return Err("give the terminal a name".into());
    }
    let qr_content = update.qr_content.as_deref().map(str::parse).transpose()?;
    let api_url = update
        .api_url
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty());
    let (shop, printer) = update
        .receipts
        .map(crate::day::ReceiptSettingsUpdate::layers)
        .unwrap_or_default();
    let changes = ConfigLayer {
        mode: Some(mode),
        terminal_name: Some(name.to_owned()),
        default_currency: Some(currency),
        api_url: api_url.clone(),
        relay_url: update
            .relay_url
            .map(|u| normalize_relay_url(&u))
            .filter(|u| !u.is_empty()),
        qr_content,
        kiosk: update.kiosk,
        lock_after_secs: update.lock_after_minutes.map(|m| m.saturating_mul(60)),
        shop,
        printer,
        ..ConfigLayer::default()
    };
    changes.validate("Settings").map_err(|e| e.to_string())?;
    let secret_key = update
        .secret_key
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(Secret::new);
    let terminal_key = update
        .terminal_key
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(Secret::new);
    // Keys and the mode are gated on their own (the owner's, like the settings today).
    if secret_key.is_some() || terminal_key.is_some() {
        let keys = gate(&state.host, Action::Keys, GateContext::none(), None).await?;
        drop(keys);
    }
    if state.host.status().mode != Some(mode) {
        let switch = gate(&state.host, Action::Mode, GateContext::none(), None).await?;
        drop(switch);
    }
    let mut caveat = None;
    if let Some(key) = &secret_key {
        if mode != Mode::Demo {
            let kind = if key.expose().starts_with("sk_live_") {
                Some(Mode::Live)
            } else if key.expose().starts_with("sk_test_") {
                Some(Mode::Test)
            } else {
                None
            };
            if kind.is_some_and(|k| k != mode) {
                return Err(format!(
                    "This is not a {mode} key (it should start with sk_{mode}_). Nothing was saved."
                ));
            }
            let url = api_url
                .clone()
                .unwrap_or_else(|| paydesk_core::config::DEFAULT_API_URL.to_owned());
            caveat = key_accepted(&url, key).await?;
        }
    }
    let kiosk = update.kiosk;
    let assembly = state.host.assembly().clone();
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        for (account, value) in [
            (Account::SecretKey, secret_key),
            (Account::TerminalKey, terminal_key),
        ] {
            if let Some(v) = value {
                assembly
                    .keychain
                    .set(account, &v)
                    .map_err(|e| e.to_string())?;
            }
        }
        let layer = ConfigLayer::load(&assembly.config_path).map_err(|e| e.to_string())?;
        layer
            .overlaid(changes)
            .save(&assembly.config_path)
            .map_err(|e| e.to_string())?;
        // Kiosk mode starts PayDesk at login; without it, PayDesk no longer does.
        if let Some(enabled) = kiosk {
            let exe =
                paydesk_core::kiosk::autostart::app_executable().map_err(|e| e.to_string())?;
            let entry = paydesk_core::kiosk::autostart::for_this_platform(exe)
                .map_err(|e| e.to_string())?;
            paydesk_core::kiosk::apply(enabled, entry.as_ref())
                .map_err(|e| format!("Saved, but PayDesk cannot start at login: {e}"))?;
        }
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())??;
    // Who changed what, in the book the till ran on (never the keys themselves).
    if let Some(till) = state.host.till().await.as_ref() {
        let detail = format!("mode {mode}, terminal name {name}, currency {currency}");
        if let Err(e) = till
            .terminal
            .record_operation(by, Action::Settings, Some(detail))
            .await
        {
            tracing::warn!(error = %e, "the settings change was not journaled");
        }
    }
    let restarted = state.host.restart().await;
    let status = state.host.status();
    let message = match (&restarted, status.mode) {
        (Ok(()), Some(m)) => {
            let mut m = format!("Saved. PayDesk restarted in {m} mode.");
            if let Some(c) = caveat {
                m.push(' ');
                m.push_str(&c);
            }
            m
        }
        (Ok(()), None) => "Saved.".to_owned(),
        (Err(why), _) => format!("Saved. {why}"),
    };
    Ok(Saved {
        settings: settings_view(&state.host).await?,
        running: restarted.is_ok(),
        message,
    })
}

#[tauri::command]
pub async fn test_connection(state: State<'_, AppState>) -> CmdResult<Report> {
    let host = &state.host;
    let allowed = gate(host, Action::Settings, GateContext::none(), None).await?;
    drop(allowed);
    let mut setup = {
        let guard = host.till().await;
        match guard.as_ref() {
            // The running till (its demo shop too): exactly what it uses.
            Some(till) => till
                .plan
                .doctor_setup(Some(host.assembly().keychain.clone())),
            None => {
                let plan = host.assembly().plan().await.map_err(|e| e.to_string())?;
                plan.doctor_setup(Some(host.assembly().keychain.clone()))
            }
        }
    };
    setup.relay_wait = Duration::from_secs(30);
    Ok(doctor::run(setup).await)
}

/// Opens (or brings forward) the customer display, and remembers it is open.
#[tauri::command]
pub async fn open_customer_display<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    monitor: Option<String>,
) -> CmdResult<()> {
    if let Some(name) = monitor.clone().filter(|m| !m.trim().is_empty()) {
        // The installer's pick is a setting (provisionable, kept across reinstalls).
        let allowed = gate(&state.host, Action::Settings, GateContext::none(), None).await?;
        drop(allowed);
        let assembly = state.host.assembly().clone();
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let changes = ConfigLayer {
                customer_display: Some(name),
                ..ConfigLayer::default()
            };
            changes.validate("Settings").map_err(|e| e.to_string())?;
            let layer = ConfigLayer::load(&assembly.config_path).map_err(|e| e.to_string())?;
            layer
                .overlaid(changes)
                .save(&assembly.config_path)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
    }
    crate::customer::open(&app).map_err(|e| e.to_string())?;
    state.remember(|m| m.customer_display_open = true);
    Ok(())
}

/// The monitors the customer display can go to.
#[tauri::command]
pub async fn list_monitors<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CmdResult<crate::customer::Monitors> {
    crate::customer::monitors(&app, crate::customer::remembered(&state)).map_err(|e| e.to_string())
}

/// The till's `[catalog]` as the owner edits it in Settings: the section's TOML text.
#[derive(Clone, Debug, Serialize)]
pub struct CatalogText {
    pub text: String,
    /// "6 items, 2 tax rates, tips asked" — what the till runs with now.
    pub summary: String,
}

fn catalog_summary(catalog: &paydesk_core::sale::Catalog) -> String {
    let items = catalog.items().len();
    let rates = catalog.taxes().len();
    let tips = if catalog.tips().ask_customer {
        "the customer is asked for a tip"
    } else {
        "no tip asked"
    };
    format!(
        "{items} item{} in {}, {rates} tax rate{}; {tips}",
        if items == 1 { "" } else { "s" },
        catalog.currency().code(),
        if rates == 1 { "" } else { "s" },
    )
}

#[tauri::command]
pub async fn get_catalog(state: State<'_, AppState>) -> CmdResult<CatalogText> {
    let allowed = gate(&state.host, Action::Settings, GateContext::none(), None).await?;
    drop(allowed);
    let assembly = state.host.assembly().clone();
    let (text, summary) = tokio::task::spawn_blocking(move || -> CmdResult<(String, String)> {
        let layer = ConfigLayer::load(&assembly.config_path).map_err(|e| e.to_string())?;
        let text = match layer.catalog {
            Some(section) => ConfigLayer {
                catalog: Some(section),
                ..ConfigLayer::default()
            }
            .to_toml()
            .map_err(|e| e.to_string())?,
            None => String::new(),
        };
        let config = assembly.settings().map_err(|e| e.to_string())?;
        let summary = config
            .catalog()
            .map(|c| catalog_summary(&c))
            .unwrap_or_else(|e| e.to_string());
        Ok((text, summary))
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(CatalogText { text, summary })
}

/// Saves the `[catalog]` section the owner typed: checked first (every problem with its
/// line, prices in the till's currency), then written to the config file, and the till
/// restarts with it (the cart in progress keeps the catalog it was opened with). An empty
/// text removes the catalog.
#[tauri::command]
pub async fn save_catalog(state: State<'_, AppState>, text: String) -> CmdResult<CatalogText> {
    let by = gate(
        &state.host,
        Action::Settings,
        GateContext::subject("catalog"),
        None,
    )
    .await?;
    let assembly = state.host.assembly().clone();
    let summary = tokio::task::spawn_blocking(move || -> CmdResult<String> {
        let typed = ConfigLayer::parse(&text, std::path::Path::new("the catalog"))
            .map_err(|e| e.to_string())?;
        let section = typed.catalog.clone();
        if (ConfigLayer {
            catalog: None,
            ..typed
        }) != ConfigLayer::default()
        {
            return Err(
                "Only the [catalog] section belongs here (its tables: [catalog.tips], \
                 [[catalog.tax]], [[catalog.category]], [[catalog.item]])."
                    .into(),
            );
        }
        let mut layer = ConfigLayer::load(&assembly.config_path).map_err(|e| e.to_string())?;
        layer.catalog = section;
        let config = paydesk_core::config::Config::from_layer(layer.clone(), &assembly.config_path)
            .map_err(|e| e.to_string())?;
        // Checked as typed first, so each problem names its line in the editor.
        paydesk_core::sale::Catalog::from_toml(&text, config.default_currency)
            .map_err(|e| format!("The catalog is not valid: {e}. Nothing was saved."))?;
        let catalog = config.catalog().map_err(|e| e.to_string())?;
        layer
            .save(&assembly.config_path)
            .map_err(|e| e.to_string())?;
        Ok(catalog_summary(&catalog))
    })
    .await
    .map_err(|e| e.to_string())??;
    if let Some(till) = state.host.till().await.as_ref() {
        if let Err(e) = till
            .terminal
            .record_operation(by, Action::Settings, Some(format!("catalog: {summary}")))
            .await
        {
            tracing::warn!(error = %e, "the catalog change was not journaled");
        }
    }
    state.host.restart().await?;
    get_catalog(state).await
}
