//! Sales in the app: the quick keys, the cart and the tip the customer chooses on their
//! display, as Tauri commands over the core's `Register` (held by the till host).
//!
//! The flow: the cashier rings up items (and typed amounts) into the cart; "Charge" is
//! [`start_sale`], which checks the staff gate first, then totals the cart and asks the
//! customer for a tip. While they choose, a task owned by the app waits for the decision —
//! the customer's pick, the cashier's own tip, "No tip", or the deadline — and then creates
//! the payment with the operator the gate gave when Charge was pressed. The payment reaches
//! every window the usual way (the status's active payment, then its events). The customer
//! display may only [`choose_tip`]; nothing else of the till is open to it.

use std::sync::Arc;

use paydesk_core::money::Money;
use paydesk_core::sale::{
    AmountTax, CartView, CashierTipView, Catalog, CustomerPick, CustomerTipView, LineId, PromptId,
    QuickKeysView, Tip, TipFlowError,
};
use paydesk_core::staff::{Action, Context as GateContext, Operator};
use paydesk_core::till::TillHost;
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime, State};
use tokio_util::sync::CancellationToken;

use crate::cmd::gate;
use crate::events::{emit, payment_view, CoreEvent};
use crate::state::AppState;
use crate::view::PaymentView;

type CmdResult<T> = Result<T, String>;

/// What the Charge screen needs to draw the quick keys and decide which way it charges.
#[derive(Clone, Debug, Serialize)]
pub struct SaleSetup {
    pub quick_keys: QuickKeysView,
    /// Charges go through the cart (items, or tips asked on the customer display); else
    /// the keypad's typed amount is charged as it is.
    pub use_cart: bool,
    pub cart: CartView,
    /// The sale waiting for its tip, if one is open (after a window reload).
    pub tip: CashierTipView,
    /// Whether the customer display is open to ask for the tip.
    pub display_open: bool,
}

async fn catalog(host: &TillHost) -> CmdResult<Arc<Catalog>> {
    host.catalog()
        .await
        .ok_or_else(|| "PayDesk is not running: the quick keys come with the till".to_owned())
}

#[tauri::command]
pub async fn sale_setup<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CmdResult<SaleSetup> {
    let catalog = catalog(&state.host).await?;
    let register = state.host.register();
    Ok(SaleSetup {
        quick_keys: QuickKeysView::of(&catalog),
        use_cart: !catalog.items().is_empty() || catalog.tips().ask_customer,
        cart: register.view(&catalog).map_err(|e| e.to_string())?,
        tip: register.tips().cashier_view(),
        display_open: app.get_webview_window(crate::CUSTOMER_WINDOW).is_some(),
    })
}

#[tauri::command]
pub async fn cart_add_item(
    state: State<'_, AppState>,
    sku: String,
    quantity: Option<u32>,
) -> CmdResult<CartView> {
    let catalog = catalog(&state.host).await?;
    state
        .host
        .register()
        .add_item(&catalog, &sku, quantity.unwrap_or(1))
        .map_err(|e| e.to_string())
}

/// A typed amount as a line of its own, at the catalog's default tax rate.
#[tauri::command]
pub async fn cart_add_amount(
    state: State<'_, AppState>,
    amount: String,
    label: Option<String>,
) -> CmdResult<CartView> {
    let catalog = catalog(&state.host).await?;
    let money = Money::parse(amount.trim(), catalog.currency()).map_err(|e| e.to_string())?;
    let label = label.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
    state
        .host
        .register()
        .add_amount(&catalog, money, label.as_deref(), AmountTax::Default)
        .map_err(|e| e.to_string())
}

/// Changes a line's quantity; 0 removes it.
#[tauri::command]
pub async fn cart_set_quantity(
    state: State<'_, AppState>,
    line: LineId,
    quantity: u32,
) -> CmdResult<CartView> {
    let catalog = catalog(&state.host).await?;
    state
        .host
        .register()
        .set_quantity(&catalog, line, quantity)
        .map_err(|e| e.to_string())
}

#[tauri::command]
pub async fn cart_clear(state: State<'_, AppState>) -> CmdResult<CartView> {
    let catalog = catalog(&state.host).await?;
    let register = state.host.register();
    register.clear();
    register.view(&catalog).map_err(|e| e.to_string())
}

/// What "Charge" did: the payment is created, or the customer is choosing a tip.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Started {
    Charged {
        payment: PaymentView,
    },
    Asking {
        tip: CashierTipView,
        /// Whether the customer display is open to ask on (else the cashier types the tip).
        display_open: bool,
    },
}

/// Charge: the gate first (a locked till or a role without Charge asks nobody for a tip),
/// then the customer is asked for the tip — or, when the till does not ask, the payment is
/// created at once.
#[tauri::command]
pub async fn start_sale<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    note: Option<String>,
) -> CmdResult<Started> {
    let by = gate(&state.host, Action::Charge, GateContext::none(), None).await?;
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let tip = state
        .host
        .register()
        .propose_tip(paydesk_core::sale::tips::DEFAULT_TIP_TIMEOUT)
        .map_err(|e| e.to_string())?;
    match tip {
        CashierTipView::Decided { prompt, .. } => {
            let payment = charge(&state.host, by, prompt, note).await?;
            Ok(Started::Charged { payment })
        }
        CashierTipView::Asking { prompt, .. } => {
            let host = state.host.clone();
            let stop = state.shutdown_token();
            let display_open = app.get_webview_window(crate::CUSTOMER_WINDOW).is_some();
            tauri::async_runtime::spawn(charge_when_decided(app, host, by, prompt, note, stop));
            Ok(Started::Asking { tip, display_open })
        }
        CashierTipView::Idle => Err("the sale is no longer open".into()),
    }
}

/// Creates the payment of decided prompt `prompt` as `by`, and shows it.
async fn charge(
    host: &TillHost,
    by: Operator,
    prompt: PromptId,
    note: Option<String>,
) -> CmdResult<PaymentView> {
    let payment = host.charge_sale(by, prompt, note).await?;
    payment_view(host, &payment.id)
        .await
        .ok_or_else(|| "the new payment was not tracked".into())
}

/// Waits for the customer's (or the cashier's) decision, then charges. Withdrawn ("Back")
/// or replaced: nothing is charged. A failed charge leaves the sale decided, for "Try
/// again", and says why.
async fn charge_when_decided<R: Runtime>(
    app: AppHandle<R>,
    host: Arc<TillHost>,
    by: Operator,
    prompt: PromptId,
    note: Option<String>,
    stop: CancellationToken,
) {
    let decided = tokio::select! {
        () = stop.cancelled() => return,
        d = host.register().tips().decision(prompt) => d,
    };
    match decided {
        Ok(_) => {
            if let Err(message) = charge(&host, by, prompt, note).await {
                tracing::warn!(prompt = prompt.0, error = %message, "the sale was not charged");
                emit(
                    &app,
                    &CoreEvent::Notice {
                        level: "error",
                        message: format!("The payment was not created: {message}"),
                    },
                );
            }
        }
        Err(TipFlowError::NotOpen) => {}
        Err(e) => tracing::warn!(prompt = prompt.0, error = %e, "no decision on the tip"),
    }
}

/// "Try again" after a failed charge of a decided sale (the customer is not asked twice).
#[tauri::command]
pub async fn charge_decided(
    state: State<'_, AppState>,
    prompt: PromptId,
    note: Option<String>,
) -> CmdResult<PaymentView> {
    let by = gate(&state.host, Action::Charge, GateContext::none(), None).await?;
    charge(&state.host, by, prompt, note).await
}

/// The cashier types the tip (an amount, or "15%") instead of the customer.
#[tauri::command]
pub async fn tip_cashier(
    state: State<'_, AppState>,
    prompt: PromptId,
    tip: String,
) -> CmdResult<CashierTipView> {
    let catalog = catalog(&state.host).await?;
    let tip = Tip::parse(&tip, catalog.currency()).map_err(|e| e.to_string())?;
    state
        .host
        .register()
        .tips()
        .cashier_tip(prompt, &tip)
        .map_err(|e| e.to_string())
}

/// The cashier goes on without a tip.
#[tauri::command]
pub async fn tip_skip(state: State<'_, AppState>, prompt: PromptId) -> CmdResult<CashierTipView> {
    state
        .host
        .register()
        .tips()
        .skip(prompt)
        .map_err(|e| e.to_string())
}

/// Back to the cart: the customer's screen goes back to the welcome, nothing is charged.
#[tauri::command]
pub async fn tip_back(state: State<'_, AppState>, prompt: PromptId) -> CmdResult<()> {
    state
        .host
        .register()
        .tips()
        .withdraw(prompt)
        .map_err(|e| e.to_string())
}

/// The customer display's only command: the customer's pick for the open prompt.
#[tauri::command]
pub async fn choose_tip(
    state: State<'_, AppState>,
    prompt: PromptId,
    pick: CustomerPick,
) -> CmdResult<CustomerTipView> {
    state
        .host
        .register()
        .tips()
        .choose(prompt, &pick)
        .map_err(|e| e.to_string())
}

/// The customer display's view of the tip, for its first render.
pub fn customer_tip(host: &TillHost) -> CustomerTipView {
    host.register().tips().customer_view()
}
