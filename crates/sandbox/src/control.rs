//! The control API under `/sandbox/`: what a test, a benchmark or the demo does in the
//! customer's place or to the network.
//!
//! - `POST /sandbox/payments/{id}/pay` (optional `{"delay_ms": N}`): the customer pays.
//! - `POST /sandbox/payments/{id}/expire`: the payment's time runs out now.
//! - `GET|POST|DELETE /sandbox/faults`: read, change, clear injected faults.
//! - `GET /sandbox/stats`: request and webhook counters.
//! - `GET|POST /sandbox/clock` (`{"offset_ms": N}`): skew the sandbox's clock.
//! - `GET|POST /sandbox/webhooks` (`{"url": …}`): list or add webhook URLs at run time.
//!
//! No authentication: the sandbox is a test tool for loopback or a private LAN.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use paydesk_protocol::payment::{Payment, PaymentStatus};
use serde::{Deserialize, Serialize};

use crate::api::{params, PaymentId, RawBody};
use crate::error::ApiError;
use crate::faults::{Faults, FaultsUpdate, StatsSnapshot};
use crate::state::{lock, AppState};

const MAX_PAY_DELAY_MS: i64 = 3_600_000;
/// Delayed payments waiting at once; more is a runaway script, not a test.
const MAX_SCHEDULED: usize = 10_000;

/// Captures a pending payment and queues `payment.captured`.
pub fn capture(app: &AppState, id: &str) -> Result<Payment, ApiError> {
    let mut store = lock(&app.store);
    let (payment, events) = store.capture(id, app.now())?;
    app.emit(events);
    tracing::info!(payment_id = %id, "payment captured");
    Ok(payment)
}

#[tracing::instrument(skip_all, fields(payment_id = %id))]
pub async fn pay(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let delay_ms = params(&headers, &RawBody(body))?
        .integer("delay_ms")?
        .unwrap_or(0);
    if !(0..=MAX_PAY_DELAY_MS).contains(&delay_ms) {
        return Err(ApiError::invalid(
            "delay_ms",
            format!("delay_ms must be 0 to {MAX_PAY_DELAY_MS}"),
        ));
    }
    if delay_ms == 0 {
        return Ok(Json(capture(&app, &id)?).into_response());
    }
    // Refuse a payment that cannot be paid now, rather than failing silently later.
    let (payment, _) = lock(&app.store).get(&id, app.now())?;
    if payment.status != PaymentStatus::Pending {
        return Err(crate::store::StoreError::NotPending(payment.status.to_string()).into());
    }
    if app.tasks.len() >= MAX_SCHEDULED {
        return Err(ApiError::conflict(
            "too_many_scheduled",
            format!("{MAX_SCHEDULED} delayed payments are already waiting"),
        ));
    }
    let task_app = Arc::clone(&app);
    app.tasks.spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(delay_ms.unsigned_abs())) => {
                if let Err(e) = capture(&task_app, &id) {
                    tracing::info!(payment_id = %id, error = %e.message, "delayed payment not made");
                }
            }
            _ = task_app.cancel.cancelled() => {}
        }
    });
    Ok((StatusCode::ACCEPTED, Json(payment)).into_response())
}

#[tracing::instrument(skip_all, fields(payment_id = %id))]
pub async fn expire(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
) -> Result<Json<Payment>, ApiError> {
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
