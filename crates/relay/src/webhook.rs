//! `POST /webhooks/{merchant}`: a signed Crypto.com Pay webhook in, an event stored.
//!
//! Order matters: size and signature first (cheap, and nothing unauthenticated gets
//! further), then the body's shape, then its route (which till created the payment), then
//! the replay check and storage, which the backend does as one atomic step. The answer is
//! 2xx once the event is stored; fan-out to sockets happens afterwards in the sessions, so
//! the sender never waits on a terminal. A storage failure answers 503 and leaves either
//! nothing behind or (a stalled Redis that runs the step later) the event stored once; the
//! sender's retry is then stored, or acknowledged as the duplicate it is (200,
//! `"duplicate": true`), never refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use paydesk_protocol::payment::WebhookEvent;
use paydesk_protocol::signature;
use tracing::{info, Instrument as _};

use crate::http::Refusal;
use crate::server::AppState;
use crate::stream::{NewEvent, RouteBy, Stored};
use crate::terminals::sha256;

const EP: &str = "webhook";

pub async fn receive(
    State(app): State<Arc<AppState>>,
    Path(merchant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, Refusal> {
    let span = tracing::info_span!("webhook", %merchant, %peer, event = tracing::field::Empty);
    handle(app, merchant, headers, body).instrument(span).await
}

async fn handle(
    app: Arc<AppState>,
    merchant: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, Refusal> {
    let Some(m) = app.config.merchants.get(&merchant) else {
        return Err(app.refuse(
            EP,
            StatusCode::NOT_FOUND,
            "unknown_merchant",
            "no such merchant",
        ));
    };
    let limit = app.config.webhook_body_limit;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(app.refuse(
            EP,
            StatusCode::PAYLOAD_TOO_LARGE,
            "oversized",
            "content-length",
        ));
    }
    let bytes = match tokio::time::timeout(
        app.config.request_timeout,
        axum::body::to_bytes(body, limit),
    )
    .await
    {
        Err(_) => {
            return Err(app.refuse(
                EP,
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "body too slow",
            ))
        }
        Ok(Err(_)) => {
            return Err(app.refuse(
                EP,
                StatusCode::PAYLOAD_TOO_LARGE,
                "oversized",
                "body over the limit or broken",
            ))
        }
        Ok(Ok(b)) => b,
    };

    let header = match headers.get(signature::HEADER).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            return Err(app.refuse(
                EP,
                StatusCode::UNAUTHORIZED,
                "signature_malformed",
                "non-ASCII header",
            ))
        }
    };
    let secrets: Vec<&[u8]> = m
        .webhook_secrets
        .iter()
        .map(|s| s.expose().as_bytes())
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let tolerance = app.config.signature_tolerance.as_secs() as i64;
    if let Err(e) = signature::verify(&secrets, header, &bytes, now, tolerance) {
        return Err(app.refuse(EP, StatusCode::UNAUTHORIZED, e.reason(), &e.to_string()));
    }

    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(app.refuse(
            EP,
            StatusCode::BAD_REQUEST,
            "malformed",
            "body is not UTF-8",
        ));
    };
    let event = match WebhookEvent::from_json(text.as_bytes()) {
        Ok(e) => e,
        Err(e) => return Err(app.refuse(EP, StatusCode::BAD_REQUEST, "malformed", &e.to_string())),
    };
    // An event without an id is identified by its body.
    let key = if event.id.is_empty() {
        format!("sha256:{}", hex::encode(sha256(&bytes)))
    } else {
        event.id.clone()
    };
    tracing::Span::current().record("event", key.as_str());
    let route = {
        let terminals = app.terminals();
        RouteBy::of(&event, |id| terminals.till_of(&merchant, id))
    };
    let new = NewEvent {
        key: &key,
        body: text,
        route,
        window: app.config.replay_window,
    };
    match app.backend.append(&merchant, new).await {
        Ok(Stored::New(at)) => {
            app.metrics.bump(&app.metrics.events_in);
            info!(kind = %event.kind, payment = %event.payment_id(), offset = at.offset,
                till = at.till.as_deref().unwrap_or("-"), "event stored");
            Ok(Json(
                serde_json::json!({ "received": true, "epoch": at.epoch, "offset": at.offset }),
            ))
        }
        Ok(Stored::Duplicate(at)) => {
            // A retry (our answer was lost, or was a 503 while Redis stalled and ran the
            // step later) or a replay: either way it is stored once already.
            app.metrics.bump(&app.metrics.duplicate_events);
            info!(kind = %event.kind, payment = %event.payment_id(), "duplicate event acknowledged");
            let mut body = serde_json::json!({ "received": true, "duplicate": true });
            if let Some(at) = at {
                body["epoch"] = at.epoch.into();
                body["offset"] = at.offset.into();
            }
            Ok(Json(body))
        }
        Err(e) => Err(app.backend_failed(EP, &e)),
    }
}
