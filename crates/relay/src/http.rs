//! The HTTP surface: the router, tickets (`POST /v1/tickets`), the WebSocket upgrade
//! (`GET /v1/ws`), `/healthz`, `/metrics`, and the one error type every handler returns.
//!
//! Every check on a ticket happens before the upgrade, so a refused terminal gets a plain
//! HTTP status and never a socket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use paydesk_protocol::wire::{self, StreamPosition, TicketResponse};
use paydesk_protocol::Secret;
use tracing::{info, warn};

use crate::server::AppState;
use crate::session::{self, SessionStart};
use crate::stream::TicketGrant;
use crate::terminals::{random_token, sha256};

/// The relay's routes, in one place.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/webhooks/{merchant}", post(crate::webhook::receive))
        .route(wire::TICKETS_PATH, post(issue_ticket))
        .route(wire::WS_PATH, get(open_session))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(app)
}

/// A refused request: a status, a stable reason (also the metric label), and an optional
/// `Retry-After`. Logged and counted where it is made, by [`AppState::refuse`].
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: &'static str,
    pub retry_after: Option<Duration>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": { "code": self.reason } }));
        let mut res = (self.status, body).into_response();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

impl AppState {
    /// Logs and counts a refusal; `detail` is for the log only (never secrets).
    pub fn refuse(
        &self,
        endpoint: &'static str,
        status: StatusCode,
        reason: &'static str,
        detail: &str,
    ) -> Refusal {
        self.metrics.reject(endpoint, reason);
        warn!(
            endpoint,
            status = status.as_u16(),
            reason,
            detail,
            "refused"
        );
        Refusal {
            status,
            reason,
            retry_after: None,
        }
    }

    /// The event store or ticket store failed: counted, logged, and answered 503 so the
    /// sender retries rather than losing anything.
    pub fn backend_failed(
        &self,
        endpoint: &'static str,
        error: &impl std::fmt::Display,
    ) -> Refusal {
        self.metrics.bump(&self.metrics.backend_errors);
        self.refuse(
            endpoint,
            StatusCode::SERVICE_UNAVAILABLE,
            "backend_unavailable",
            &error.to_string(),
        )
    }

    /// The client's address: the socket peer, or the last `X-Forwarded-For` hop when the
    /// relay is configured to sit behind a proxy.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        if self.config.trust_forwarded_for {
            let last = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse::<IpAddr>().ok())
                .next_back();
            if let Some(ip) = last {
                return ip;
            }
        }
        peer.ip()
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

fn bearer(headers: &HeaderMap) -> Option<Secret> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| Secret::new(token))
}

/// `POST /v1/tickets`: a terminal key in, a single-use 30-second ticket out.
async fn issue_ticket(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    const EP: &str = "tickets";
    let now = Instant::now();
    let ip = app.client_ip(peer, &headers);
    // Per address first, so guessing keys is throttled too.
    if let Err(after) = app.addr_limiter.check(&ip, now) {
        let mut r = app.refuse(
            EP,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited_addr",
            &ip.to_string(),
        );
        r.retry_after = Some(after);
        return Err(r);
    }
    let Some(key) = bearer(&headers) else {
        return Err(app.refuse(EP, StatusCode::UNAUTHORIZED, "key_missing", ""));
    };
    let terminals = app.terminals();
    let Some((key_hash, terminal)) = terminals.authenticate(&key) else {
        return Err(app.refuse(EP, StatusCode::UNAUTHORIZED, "key_unknown", &ip.to_string()));
    };
    if let Err(after) = app.key_limiter.check(&key_hash, now) {
        let mut r = app.refuse(
            EP,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited_key",
            &terminal.name,
        );
        r.retry_after = Some(after);
        return Err(r);
    }
    let ticket = random_token();
    let grant = TicketGrant {
        merchant: terminal.merchant.to_string(),
        terminal: terminal.name.to_string(),
        key_hash,
    };
    if let Err(e) = app
        .backend
        .put_ticket(sha256(ticket.as_bytes()), grant, app.config.ticket_ttl)
        .await
    {
        return Err(app.backend_failed(EP, &e));
    }
    app.metrics.bump(&app.metrics.tickets_issued);
    info!(merchant = %terminal.merchant, terminal = %terminal.name, "ticket issued");
    let body = TicketResponse {
        ticket,
        expires_in_ms: u64::try_from(app.config.ticket_ttl.as_millis()).unwrap_or(u64::MAX),
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// Reads `?epoch=E&offset=N`; refuses anything that looks like a credential.
fn resume_position(app: &AppState, query: Option<&str>) -> Result<Option<StreamPosition>, Refusal> {
    const EP: &str = "ws";
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).map_err(|_| {
        app.refuse(
            EP,
            StatusCode::BAD_REQUEST,
            "bad_query",
            "unparseable query",
        )
    })?;
    let mut epoch = None;
    let mut offset = None;
    for (k, v) in pairs {
        let lower = k.to_ascii_lowercase();
        if wire::FORBIDDEN_QUERY_KEYS.contains(&lower.as_str()) {
            return Err(app.refuse(
                EP,
                StatusCode::BAD_REQUEST,
                "ticket_in_query",
                "credentials belong in Sec-WebSocket-Protocol",
            ));
        }
        match lower.as_str() {
            "epoch" => epoch = Some(v),
            "offset" => {
                offset =
                    Some(v.parse::<u64>().map_err(|_| {
                        app.refuse(EP, StatusCode::BAD_REQUEST, "bad_resume", "offset")
                    })?)
            }
            _ => {}
        }
    }
    match (epoch, offset) {
        (None, None) => Ok(None),
        (Some(epoch), Some(offset)) if !epoch.is_empty() && epoch.len() <= 64 => {
            Ok(Some(StreamPosition { epoch, offset }))
        }
        _ => Err(app.refuse(
            EP,
            StatusCode::BAD_REQUEST,
            "bad_resume",
            "epoch and offset go together",
        )),
    }
}

/// `GET /v1/ws`: checks the ticket, then upgrades and hands the socket to a session.
async fn open_session(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Refusal> {
    const EP: &str = "ws";
    let resume = resume_position(&app, query.as_deref())?;
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => {
            app.metrics.reject(EP, "not_websocket");
            return Ok(rejection.into_response());
        }
    };
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let Some(ticket) = wire::ticket_from_protocols(&offered) else {
        return Err(app.refuse(
            EP,
            StatusCode::UNAUTHORIZED,
            "ticket_missing",
            "offer `paydesk.v1, ticket.<ticket>`",
        ));
    };
    // The cap is checked before the ticket is spent, so a refused terminal keeps it.
    let Ok(permit) = app.sessions.clone().try_acquire_owned() else {
        let mut r = app.refuse(EP, StatusCode::SERVICE_UNAVAILABLE, "connection_cap", "");
        r.retry_after = Some(Duration::from_secs(5));
        return Err(r);
    };
    let grant = match app.backend.take_ticket(sha256(ticket.as_bytes())).await {
        Ok(Some(grant)) => grant,
        Ok(None) => {
            return Err(app.refuse(
                EP,
                StatusCode::UNAUTHORIZED,
                "ticket_invalid",
                "unknown, used or expired",
            ))
        }
        Err(e) => {
            return Err(app.backend_failed(EP, &e));
        }
    };
    // Bought with a key a reload has since removed or rotated: refused like any bad ticket.
    let terminal = app
        .terminals()
        .by_key_hash(&grant.key_hash)
        .filter(|t| *t.merchant == *grant.merchant);
    let Some(terminal) = terminal else {
        return Err(app.refuse(
            EP,
            StatusCode::UNAUTHORIZED,
            "ticket_invalid",
            "its key was revoked",
        ));
    };
    let c = &app.config;
    let largest_out = c.webhook_body_limit + 1024;
    let upgrade = upgrade
        .protocols([wire::SUBPROTOCOL])
        .read_buffer_size(c.ws_read_buffer)
        .write_buffer_size(0)
        .max_write_buffer_size(largest_out)
        .max_message_size(c.ws_max_message)
        .max_frame_size(c.ws_max_message);
    let start = SessionStart {
        app: app.clone(),
        grant,
        terminal,
        resume,
        peer,
        permit,
        owner: app.tracker.token(),
    };
    let failed = app.metrics.clone();
    Ok(upgrade
        .on_failed_upgrade(move |e| {
            failed.reject("ws", "upgrade_failed");
            warn!(error = %e, "websocket upgrade failed");
        })
        .on_upgrade(move |socket| session::run(socket, start)))
}
