//! The Crypto.com Pay REST API, as the sandbox serves it under `/api`.
//!
//! `POST /payments`, `GET /payments`, `GET /payments/{id}` (with a weak ETag and 304),
//! `POST|GET /payments/{id}/cancel`, `POST /refunds`. No refund read: whether and where
//! the real API has one is unknown. Authentication and injected faults
//! are handled in front of these handlers ([`crate::faults::api_gate`]); here each request
//! is validated into the store's terms, applied, and answered in the service's shapes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use paydesk_protocol::money::Currency;

use crate::error::ApiError;
use crate::faults::Stats;
use crate::object::{Served, ServedList};
use crate::params::Params;
use crate::state::{lock, AppState};
use crate::store::{NewPayment, NewRefund, StoreError};

/// A client must send its whole body within this; a stalled upload never holds a task.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

/// A payment id from the path; a malformed one is a 404 in the service's shape.
pub struct PaymentId(pub String);

/// A refund id from the path, the same way.
pub struct RefundId(pub String);

async fn path_id<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    what: &str,
) -> Result<String, ApiError> {
    match Path::<String>::from_request_parts(parts, state).await {
        Ok(Path(id)) if !id.is_empty() && id.len() <= 200 => Ok(id),
        _ => Err(ApiError::not_found(what)),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PaymentId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_id(parts, state, "payment").await.map(PaymentId)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RefundId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_id(parts, state, "refund").await.map(RefundId)
    }
}

/// The request body, read within [`BODY_READ_TIMEOUT`] and the body size limit; every
/// failure is an [`ApiError`] (413, 408 or 400), never a framework's plain-text rejection.
pub struct RawBody(pub Bytes);

impl FromRequest<Arc<AppState>> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let read = tokio::time::timeout(BODY_READ_TIMEOUT, Bytes::from_request(req, app));
        tokio::select! {
            result = read => match result {
                Ok(Ok(bytes)) => Ok(RawBody(bytes)),
                Ok(Err(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    Err(ApiError::too_large())
                }
                Ok(Err(e)) => Err(ApiError::invalid_body(e.body_text())),
                Err(_) => Err(ApiError::body_timeout()),
            },
            // Shutting down: do not wait for a slow upload.
            _ = app.cancel.cancelled() => Err(ApiError::unavailable()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("payment"),
            StoreError::NotPending(status) => ApiError::conflict(
                "payment_not_pending",
                format!("the payment is {status}; only a pending payment can change"),
            ),
            StoreError::Unresolved(reason) => ApiError::conflict(
                "payment_unresolved",
                format!(
                    "funds already arrived for this payment and did not pay it ({reason}); \
                     Crypto.com returns them"
                ),
            ),
            StoreError::OnchainDisabled => ApiError::conflict(
                "onchain_not_enabled",
                "this payment does not take on-chain funds",
            ),
            StoreError::NotUnderpaid { due } => ApiError::invalid(
                "underpay",
                format!("an underpayment is more than nothing and less than the {due} due"),
            ),
            StoreError::TooManyRefunds => ApiError::conflict(
                "too_many_refunds",
                format!(
                    "a payment takes at most {} refunds",
                    crate::store::MAX_REFUNDS_PER_PAYMENT
                ),
            ),
            StoreError::RefundNotFound => ApiError::not_found("refund"),
            StoreError::RefundNotPending => {
                ApiError::conflict("refund_not_pending", "the refund was transferred already")
            }
            StoreError::NotRefundable(status) => ApiError::conflict(
                "payment_not_refundable",
                format!("the payment is {status}; only a succeeded payment can be refunded"),
            ),
            StoreError::RefundTooLarge { available } => ApiError::invalid(
                "amount",
                format!("the refund exceeds what is left to refund ({available})"),
            ),
            StoreError::CurrencyMismatch { expected } => {
                ApiError::invalid("currency", format!("the payment's currency is {expected}"))
            }
            StoreError::UnknownCursor => {
                ApiError::invalid("starting_after", "no payment has this id")
            }
        }
    }
}

pub(crate) fn params(headers: &HeaderMap, RawBody(body): &RawBody) -> Result<Params, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    Params::from_body(content_type, body)
}

pub async fn create_payment(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, ApiError> {
    let p = params(&headers, &body)?;
    let amount = p
        .amount("amount")?
        .ok_or_else(|| ApiError::missing("amount"))?;
    let code = p
        .text("currency", 10)?
        .ok_or_else(|| ApiError::missing("currency"))?;
    let currency = Currency::from_code(&code).map_err(|_| {
        ApiError::invalid("currency", format!("{code} is not a supported currency"))
    })?;
    let now = app.now();
    let expired_at = p.integer("expired_at")?;
    if expired_at.is_some_and(|t| t <= now) {
        return Err(ApiError::invalid(
            "expired_at",
            "expired_at must be in the future",
        ));
    }
    let new = NewPayment {
        amount,
        currency,
        description: p.text("description", 1000)?,
        order_id: p.text("order_id", 200)?,
        metadata: p.object("metadata")?,
        return_url: p.text("return_url", 2000)?,
        cancel_url: p.text("cancel_url", 2000)?,
        customer_id: p.text("customer_id", 200)?,
        sub_merchant_id: p.text("sub_merchant_id", 200)?,
        onchain_allowed: p.boolean("onchain_allowed")?,
        expired_at,
    };
    let payment = {
        let mut store = lock(&app.store);
        let (payment, events) = store.create(new, &app.terms, now);
        app.emit(events);
        payment
    };
    let id = &payment.payment.id;
    tracing::info!(payment_id = %id, order_id = ?payment.payment.order_id, "payment created");
    if lock(&app.faults).take_drop_create_response() {
        Stats::bump(&app.stats.dropped_responses);
        tracing::info!(payment_id = %id, "dropping the create response (fault)");
        return Ok(broken_response());
    }
    Ok(Json(payment).into_response())
}

/// A response whose body fails at once: the connection is cut with the answer unsent,
/// as when a network drops after the service committed.
fn broken_response() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injection: response dropped",
        ))
    });
    Response::new(Body::from_stream(stream))
}

#[tracing::instrument(skip_all, fields(payment_id = %id))]
pub async fn retrieve_payment(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (payment, version) = lock(&app.store).get(&id, app.now())?;
    let etag = format!("W/\"{version}\"");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag.trim_start_matches("W/"));
    let etag_value = HeaderValue::from_str(&etag).map_err(|_| ApiError::not_found("payment"))?;
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok(([(header::ETAG, etag_value)], Json(payment)).into_response())
}

pub async fn list_payments(
    State(app): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Json<ServedList>, ApiError> {
    let q = Params::from_query(query.as_deref())?;
    let limit = match q.integer("limit")? {
        None => DEFAULT_LIMIT,
        Some(l) => usize::try_from(l)
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| ApiError::invalid("limit", format!("limit must be 1 to {MAX_LIMIT}")))?,
    };
    let order_id = q.text("order_id", 200)?;
    let after = q.text("starting_after", 200)?;
    let page = lock(&app.store).list(order_id.as_deref(), limit, after.as_deref(), app.now())?;
    Ok(Json(ServedList {
        data: page.data,
        has_more: page.has_more,
    }))
}

#[tracing::instrument(skip_all, fields(payment_id = %id))]
pub async fn cancel_payment(
    State(app): State<Arc<AppState>>,
    PaymentId(id): PaymentId,
) -> Result<Json<Served>, ApiError> {
    let payment = lock(&app.store).cancel(&id, app.now())?;
    tracing::info!(payment_id = %id, "payment cancelled");
    Ok(Json(payment))
}

pub async fn create_refund(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, ApiError> {
    let p = params(&headers, &body)?;
    let req = NewRefund {
        payment_id: p
            .text("payment_id", 200)?
            .ok_or_else(|| ApiError::missing("payment_id"))?,
        amount: p
            .amount("amount")?
            .ok_or_else(|| ApiError::missing("amount"))?,
        currency: p.text("currency", 10)?,
        reason: p.text("reason", 500)?,
        description: p.text("description", 1000)?,
    };
    let refund = crate::control::refund(&app, req)?;
    tracing::info!(
        payment_id = %refund.payment_id,
        refund_id = %refund.id,
        status = %refund.status.as_str(),
        "refund requested"
    );
    Ok(Json(refund).into_response())
}
