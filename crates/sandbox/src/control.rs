//! The control API under `/sandbox/`: what a test, a benchmark or the demo does in the
//! customer's place or to the network.
//!
//! - `POST /sandbox/payments/{id}/pay` (optional `{"method": "app"|"onchain",
//!   "underpay": "<decimal>", "delay_ms": N}`): the customer pays.
//! - `POST /sandbox/payments/{id}/expire`: the payment's time runs out now.
//! - `POST /sandbox/payments/{id}/fulfill`: sends `payment.fulfill`.
//! - `GET /sandbox/refunds/{id}`: a refund as it is now.
//! - `POST /sandbox/refunds/{id}/transfer`: the customer gave an address; the refund leaves.
//! - `GET|POST|DELETE /sandbox/faults`: read, change, clear injected faults.
//! - `GET /sandbox/stats`: request and webhook counters.
//! - `GET|POST /sandbox/clock` (`{"offset_ms": N}`): skew the sandbox's clock.
//! - `GET|POST /sandbox/webhooks` (`{"url": …}`): list or add webhook URLs at run time.
//!
//! Work for later (a delayed payment, an App refund's transfer) runs in tasks the server
//! owns ([`schedule`]). No authentication: the sandbox is a test tool for loopback or a
//! private LAN.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use paydesk_protocol::money::{Currency, Money};
use paydesk_protocol::payment::Refund;
use serde::{Deserialize, Serialize};

use crate::api::{params, PaymentId, RawBody, RefundId};
use crate::error::ApiError;
use crate::faults::{Faults, FaultsUpdate, StatsSnapshot};
use crate::object::Served;
use crate::state::{lock, AppState};
use crate::store::{NewRefund, Payer, Transfer};

const MAX_PAY_DELAY_MS: i64 = 3_600_000;
/// Scheduled work waiting at once; more is a runaway script, not a test.
const MAX_SCHEDULED: usize = 10_000;

/// The customer pays now; a capture queues `payment.captured`.
pub fn pay_now(app: &AppState, id: &str, payer: Payer) -> Result<Served, ApiError> {
    let mut store = lock(&app.store);
    let (payment, events) = store.pay(id, payer, app.now())?;
    app.emit(events);
    match &payment.fund {
        Some(f) if f.is_mismatched() => tracing::info!(
            payment_id = %id,
            reason = f.mismatched_reason.as_deref().unwrap_or(""),
            "funds arrived but did not pay the payment: unresolved"
        ),
        _ => tracing::info!(payment_id = %id, ?payer, "payment captured"),
    }
    Ok(payment)
}

/// Opens a refund and arranges its transfer: at once when the App refund delay is zero,
/// after it otherwise; an on-chain payment's refund waits for [`transfer_now`].
pub fn refund(app: &Arc<AppState>, req: NewRefund) -> Result<Refund, ApiError> {
    let delay = app.app_refund_delay;
    let (refund, transfer) = {
        let mut store = lock(&app.store);
        let (refund, transfer, events) = store.refund(req, app.now())?;
        app.emit(events);
        if transfer == Transfer::Soon && delay.is_zero() {
            let (done, events) = store.transfer(&refund.id, app.now())?;
            app.emit(events);
            return Ok(done);
        }
        (refund, transfer)
    };
    if transfer == Transfer::Soon {
        let id = refund.id.clone();
        let scheduled = schedule(app, delay, move |app| {
            if let Err(e) = transfer_now(app, &id) {
                // Transferred already by the control API: nothing left to do.
                tracing::debug!(refund_id = %id, error = %e.message, "scheduled transfer not made");
            }
        });
        if !scheduled {
            // Too much waiting already: transfer now rather than never.
            transfer_now(app, &refund.id)?;
        }
    }
    Ok(refund)
}

/// The refund's money leaves now; queues `payment.refund_transferred`.
pub fn transfer_now(app: &AppState, refund_id: &str) -> Result<Refund, ApiError> {
    let mut store = lock(&app.store);
    let (refund, events) = store.transfer(refund_id, app.now())?;
    app.emit(events);
    tracing::info!(refund_id = %refund_id, payment_id = %refund.payment_id, "refund transferred");
    Ok(refund)
}

/// Runs `job` after `delay` in a task the server owns (stopped on shutdown); false when
/// [`MAX_SCHEDULED`] are already waiting.
fn schedule(
    app: &Arc<AppState>,
    delay: Duration,
    job: impl FnOnce(&AppState) + Send + 'static,
) -> bool {
    if app.tasks.len() >= MAX_SCHEDULED {
        return false;
    }
    let task_app = Arc::clone(app);
    app.tasks.spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(delay) => job(&task_app),
            _ = task_app.cancel.cancelled() => {}
        }
    });
    true
}

#[tracing::instrument(skip_all, fields(payment_id = %id))]
pub async fn pay(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, ApiError> {
    let p = params(&headers, &body)?;
    let delay_ms = p.integer("delay_ms")?.unwrap_or(0);
    if !(0..=MAX_PAY_DELAY_MS).contains(&delay_ms) {
        return Err(ApiError::invalid(
            "delay_ms",
            format!("delay_ms must be 0 to {MAX_PAY_DELAY_MS}"),
        ));
    }
    let underpay = p.text("underpay", 100)?;
    let payer = match (p.text("method", 20)?.as_deref(), underpay) {
        (None | Some("app"), None) => Payer::App,
        (None | Some("onchain"), Some(amount)) => {
            let (payment, _) = lock(&app.store).get(&id, app.now())?;
            Payer::Underpaid(parse_underpay(&amount, &payment.payment.currency)?)
        }
        (Some("onchain"), None) => Payer::Onchain,
        (Some("app"), Some(_)) => {
            return Err(ApiError::invalid(
                "method",
                "the App pays the exact amount; an underpayment is on chain",
            ))
        }
        (Some(_), _) => {
            return Err(ApiError::invalid(
                "method",
                "method must be \"app\" or \"onchain\"",
            ))
        }
    };
    if delay_ms == 0 {
        return Ok(Json(pay_now(&app, &id, payer)?).into_response());
    }
    // Refuse a payment that cannot be paid now, rather than failing silently later.
    let payment = {
        let mut store = lock(&app.store);
        store.check_payable(&id, payer, app.now())?;
        store.get(&id, app.now())?.0
    };
    let delay = Duration::from_millis(delay_ms.unsigned_abs());
    let scheduled = schedule(&app, delay, move |app| {
        if let Err(e) = pay_now(app, &id, payer) {
            tracing::info!(payment_id = %id, error = %e.message, "delayed payment not made");
        }
    });
    if !scheduled {
        return Err(ApiError::conflict(
            "too_many_scheduled",
            format!("{MAX_SCHEDULED} delayed jobs are already waiting"),
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(payment)).into_response())
}

/// `underpay`: a plain decimal ("12.00") in the payment's currency, as minor units.
fn parse_underpay(text: &str, currency: &str) -> Result<i128, ApiError> {
    let bad = || {
        ApiError::invalid(
            "underpay",
            format!("underpay must be a decimal amount of {currency}, such as \"1.00\""),
        )
    };
    let plain = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && text.matches('.').count() <= 1;
    if !plain {
        return Err(bad());
    }
    let currency = Currency::from_code(currency).map_err(|_| bad())?;
    Money::parse(text, currency)
        .map(|m| m.minor)
        .map_err(|_| bad())
}

#[tracing::instrument(skip_all, fields(payment_id = %id))]
pub async fn fulfill(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
) -> Result<Json<Served>, ApiError> {
    let mut store = lock(&app.store);
    let (payment, events) = store.fulfill(&id, app.now())?;
    app.emit(events);
    tracing::info!(payment_id = %id, "payment.fulfill sent");
    Ok(Json(payment))
}

pub async fn get_refund(
    State(app): State<Arc<AppState>>,
    RefundId(id): RefundId,
) -> Result<Json<Refund>, ApiError> {
    Ok(Json(lock(&app.store).get_refund(&id)?))
}

#[tracing::instrument(skip_all, fields(refund_id = %id))]
pub async fn transfer(
    State(app): State<Arc<AppState>>,
    RefundId(id): RefundId,
) -> Result<Json<Refund>, ApiError> {
    Ok(Json(transfer_now(&app, &id)?))
}

#[tracing::instrument(skip_all, fields(payment_id = %id))]
pub async fn expire(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
) -> Result<Json<Served>, ApiError> {
    let payment = lock(&app.store).expire(&id, app.now())?;
    tracing::info!(payment_id = %id, "payment expired by the control API");
    Ok(Json(payment))
}

pub async fn get_faults(State(app): State<Arc<AppState>>) -> Json<Faults> {
    Json(lock(&app.faults).faults.clone())
}

pub async fn set_faults(
    State(app): State<Arc<AppState>>,
    RawBody(body): RawBody,
) -> Result<Json<Faults>, ApiError> {
    let update: FaultsUpdate = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_body(format!("not a faults object: {e}")))?;
    let mut f = lock(&app.faults);
    f.apply(update)?;
    tracing::info!(faults = ?f.faults, "faults set");
    Ok(Json(f.faults.clone()))
}

pub async fn clear_faults(State(app): State<Arc<AppState>>) -> Json<Faults> {
    let mut f = lock(&app.faults);
    f.clear();
    Json(f.faults.clone())
}

pub async fn stats(State(app): State<Arc<AppState>>) -> Json<StatsSnapshot> {
    let payments = lock(&app.store).payment_count();
    Json(
        app.stats
            .snapshot(u64::try_from(payments).unwrap_or(u64::MAX)),
    )
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ClockView {
    pub now_ms: i64,
    pub offset_ms: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockUpdate {
    offset_ms: i64,
}

pub async fn get_clock(State(app): State<Arc<AppState>>) -> Json<ClockView> {
    Json(ClockView {
        now_ms: app.now_ms(),
        offset_ms: app.clock_offset_ms.load(Ordering::Relaxed),
    })
}

pub async fn set_clock(
    State(app): State<Arc<AppState>>,
    RawBody(body): RawBody,
) -> Result<Json<ClockView>, ApiError> {
    let update: ClockUpdate = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_body(format!("expected {{\"offset_ms\": N}}: {e}")))?;
    // A year either way is plenty to test skew and keeps the arithmetic far from overflow.
    if update.offset_ms.unsigned_abs() > 366 * 24 * 3_600_000 {
        return Err(ApiError::invalid("offset_ms", "at most a year either way"));
    }
    app.clock_offset_ms
        .store(update.offset_ms, Ordering::Relaxed);
    Ok(get_clock(State(app)).await)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WebhookUrls {
    pub urls: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddWebhook {
    url: String,
}

pub async fn list_webhooks(State(app): State<Arc<AppState>>) -> Json<WebhookUrls> {
    Json(WebhookUrls {
        urls: app.webhook_urls(),
    })
}

pub async fn add_webhook(
    State(app): State<Arc<AppState>>,
    RawBody(body): RawBody,
) -> Result<Json<WebhookUrls>, ApiError> {
    let add: AddWebhook = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_body(format!("expected {{\"url\": …}}: {e}")))?;
    crate::check_webhook_url(&add.url).map_err(|e| ApiError::invalid("url", e.to_string()))?;
    app.add_webhook_url(add.url);
    Ok(list_webhooks(State(app)).await)
}
