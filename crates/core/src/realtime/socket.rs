//! The relay connection: ticket, WebSocket, hello, pushes, heartbeats, reconnects.
//!
//! Each connection fetches a fresh single-use ticket with the terminal key, offers it in
//! `Sec-WebSocket-Protocol` beside `paydesk.v1` (never in the URL, never logged: see
//! [`super::handshake`]), and resumes from the last `{epoch, offset}` it holds. The relay
//! heartbeats; we answer and keep a watchdog: silence longer than the hello's interval +
//! timeout (at most `max_silence`, probing with a WebSocket ping first when the relay's
//! heartbeat is slower) means the link is dead even if TCP never said so (a half-open,
//! blackholed link). Lost links reconnect with exponential backoff and full jitter; a
//! relay restart (close 1012) after a short random delay. Every hello triggers a resync:
//! one API read per pending payment.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

use super::config::RelayEndpoint;
use super::handshake::{self, ConnectError, Ws};
use super::session::{Counters, Shared};
use crate::backoff::{full_jitter, random_between};
use crate::clock::ClockSample;
use crate::payment::EventObject;
use crate::secrets::Secret;
use crate::tracker::{Applied, Source};
use crate::wire::{
    self, ClientMessage, Hello, Pong, Recovery, ServerMessage, StreamPosition, TicketResponse,
};

/// A session live at least this long counts as having held (the backoff starts over).
const STABLE_SESSION: Duration = Duration::from_secs(10);

/// How a connection ended.
enum End {
    Cancelled,
    /// The relay said it is restarting (1012).
    Restart,
    Lost {
        was_live: bool,
        reason: String,
    },
    /// The relay asked us to wait (429/503 with `Retry-After`).
    Busy {
        retry_after: Option<Duration>,
    },
}

/// Connects and reconnects until the session is cancelled.
pub(crate) async fn run(shared: Arc<Shared>, relay: RelayEndpoint) {
    // reqwest's own TLS needs rustls's process-wide crypto provider.
    crate::init_tls();
    // One trust store and proxy setting for the ticket request and the WebSocket.
    let transport = match super::tls::RelayTransport::new(&relay) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "no TLS setup for the relay; polling only");
            shared.set_detail(format!("relay TLS: {e}"));
            return;
        }
    };
    let http = match transport.http_client(shared.config.connect_timeout) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for the relay; polling only");
            shared.set_detail("relay client could not start".into());
            return;
        }
    };
    let cancel = shared.cancel.clone();
    let mut position: Option<StreamPosition> = None;
    let mut attempt: u32 = 0;
    loop {
        let span = tracing::info_span!("relay", attempt);
        let end = tracing::Instrument::instrument(
            connect_once(&shared, &relay, &transport, &http, &mut position),
            span,
        )
        .await;
        let delay = match end {
            End::Cancelled => return,
            End::Restart => {
                shared.set_ws_live(false, Some("relay restarting".into()));
                attempt = 0;
                let (lo, hi) = shared.config.restart_delay;
                random_between(lo, hi)
            }
            End::Busy { retry_after } => {
                shared.set_ws_live(false, Some("relay busy".into()));
                let d = full_jitter(
                    shared.config.backoff_base,
                    shared.config.backoff_cap,
                    attempt,
                );
                attempt = attempt.saturating_add(1);
                // Honour the relay's own wait, jittered upwards so tills spread out.
                retry_after.map_or(d, |ra| ra + d.min(ra / 2 + Duration::from_millis(1)))
            }
            End::Lost { was_live, reason } => {
                shared.set_ws_live(false, Some(reason));
                // Back off afresh only after a session that held: one that drops right
                // after its hello keeps growing the delay instead of hammering the relay.
                if was_live && shared.live_for() >= STABLE_SESSION {
                    attempt = 0;
                }
                let d = full_jitter(
                    shared.config.backoff_base,
                    shared.config.backoff_cap,
                    attempt,
                );
                attempt = attempt.saturating_add(1);
                d
            }
        };
        tracing::debug!(delay_ms = delay.as_millis() as u64, "reconnecting after");
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

async fn connect_once(
    shared: &Arc<Shared>,
    relay: &RelayEndpoint,
    transport: &super::tls::RelayTransport,
    http: &reqwest::Client,
    position: &mut Option<StreamPosition>,
) -> End {
    let cfg = &shared.config;
    let local = shared.tracker.local_clock();
    let cancel = shared.cancel.clone();
    let handshake = async {
        let ticket = fetch_ticket(shared, http, relay).await?;
        let url = ws_url(&relay.base_url, position.as_ref())?;
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(cfg.read_buffer_bytes)
            .write_buffer_size(0)
            .max_message_size(Some(cfg.max_message_bytes))
            .max_frame_size(Some(cfg.max_message_bytes));
        let sent_ms = local.now_ms();
        let offered = wire::offered_protocols(ticket.expose());
        let ws = tokio::time::timeout(
            cfg.connect_timeout,
            handshake::connect(&url, &offered, ws_config, transport),
        )
        .await
        .map_err(|_| ConnectError::Timeout(cfg.connect_timeout.as_millis()))??;
        Ok::<_, ConnectError>((ws, sent_ms))
    };
    let (mut ws, sent_ms) = tokio::select! {
        _ = cancel.cancelled() => return End::Cancelled,
        r = handshake => match r {
            Ok(v) => v,
            Err(ConnectError::Busy { retry_after }) => {
                tracing::info!(?retry_after, "relay busy");
                return End::Busy { retry_after };
            }
            Err(e) => {
                tracing::info!(error = %e, "relay connection failed");
                return End::Lost { was_live: false, reason: e.to_string() };
            }
        },
    };

    // The hello, within the connect deadline.
    let hello = tokio::select! {
        _ = cancel.cancelled() => { close(&mut ws, CloseCode::Normal, cfg.write_timeout).await; return End::Cancelled }
        r = tokio::time::timeout(cfg.connect_timeout, first_message(shared, &mut ws)) => match r {
            Ok(Ok(ServerMessage::Hello(h))) => h,
            Ok(Ok(_)) => return End::Lost { was_live: false, reason: "relay spoke before hello".into() },
            // Lost before the hello: not a session that was ever live.
            Ok(Err(End::Lost { reason, .. })) => return End::Lost { was_live: false, reason },
            Ok(Err(end)) => return end,
            Err(_) => return End::Lost { was_live: false, reason: "no hello from relay".into() },
        },
    };
    let received_ms = local.now_ms();
    // The hello was stamped between our request leaving and its arrival: a bracketed sample.
    shared.relay_clock.observe(ClockSample {
        server_ms: hello.server_time_ms,
        resolution_ms: 1,
        sent_local_ms: sent_ms,
        received_local_ms: received_ms,
    });
    let one_way_bound_ms = (received_ms - sent_ms).max(1);
    let watchdog = cfg
        .watchdog_override
        .unwrap_or_else(|| watchdog_from(&hello, cfg.max_silence));
    // Probe this long before the watchdog runs out (only a link silent that long).
    let probe_lead = (watchdog / 3).min(Duration::from_secs(5));
    let mut probed_silence: Option<Instant> = None;
    on_hello(shared, &hello, position);

    loop {
        let heard = shared.last_heard();
        let silent_until = heard + watchdog;
        let probe_at = silent_until - probe_lead;
        let may_probe = probed_silence != Some(heard);
        let msg = tokio::select! {
            _ = cancel.cancelled() => {
                close(&mut ws, CloseCode::Normal, cfg.write_timeout).await;
                return End::Cancelled;
            }
            _ = tokio::time::sleep_until(probe_at), if may_probe => {
                // The relay heartbeats less often than we need: ask. Its WebSocket layer
                // answers a ping with a pong, which counts as hearing from it.
                probed_silence = Some(heard);
                tracing::debug!("relay silent; probing");
                match tokio::time::timeout(cfg.write_timeout, ws.send(Message::Ping(Default::default()))).await {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => return End::Lost { was_live: true, reason: format!("relay link broke: {e}") },
                    // A write that cannot even be queued: the watchdog decides.
                    Err(_) => continue,
                }
            }
            _ = tokio::time::sleep_until(silent_until) => {
                Counters::add(&shared.counters.watchdog_fired, 1);
                tracing::warn!(silent_ms = watchdog.as_millis() as u64, "relay silent; link presumed dead");
                // No close handshake: on a half-open link it would only wait.
                return End::Lost { was_live: true, reason: format!("no heartbeat for {} s", watchdog.as_secs()) };
            }
            m = next_message(shared, &mut ws) => m,
        };
        match msg {
            Err(end) => return end,
            Ok(None) => {}
            Ok(Some(ServerMessage::Hello(_))) => {
                tracing::warn!("second hello on one session; ignored");
            }
            Ok(Some(ServerMessage::Ping(ping))) => {
                shared.relay_clock.observe(ClockSample::pushed(
                    ping.server_time_ms,
                    local.now_ms(),
                    one_way_bound_ms,
                ));
                let pong = ClientMessage::Pong(Pong { seq: ping.seq }).to_json();
                match tokio::time::timeout(cfg.write_timeout, ws.send(Message::text(pong))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        return End::Lost {
                            was_live: true,
                            reason: format!("relay link broke: {e}"),
                        }
                    }
                    Err(_) => {
                        return End::Lost {
                            was_live: true,
                            reason: "relay link stalled".into(),
                        }
                    }
                }
            }
            Ok(Some(ServerMessage::Event(ev))) => {
                // A hole in this session's own events (the relay names a till's previous
                // event; a merchant-wide session sees every offset) means events were lost
                // between the relay's storage and here, and a new epoch means the storage
                // itself was replaced. Either way, ask the API.
                let missed = match position.as_ref() {
                    Some(pos) if pos.epoch == ev.epoch => {
                        if ev.offset <= pos.offset {
                            tracing::debug!(offset = ev.offset, "event already applied; skipped");
                            continue;
                        }
                        ev.missed_after(pos.offset, hello.scope)
                            .then(|| format!("offset jumped from {} to {}", pos.offset, ev.offset))
                    }
                    Some(_) => Some("the relay's stream has a new epoch".to_owned()),
                    None => None,
                };
                apply_event(shared, &ev.event.data.object).await;
                *position = Some(StreamPosition {
                    epoch: ev.epoch,
                    offset: ev.offset,
                });
                if let Some(why) = missed {
                    tracing::warn!(%why, "events were missed; resyncing from the API");
                    resync(shared);
                }
            }
        }
    }
}

/// Hands one pushed payment or refund to the tracker.
async fn apply_event(shared: &Shared, object: &EventObject) {
    let id = object.payment_id().to_owned();
    let span = tracing::debug_span!("push", payment_id = %id);
    let res = tracing::Instrument::instrument(
        async {
            match object {
                EventObject::Payment(p) => {
                    shared
                        .tracker
                        .apply(p.clone(), Source::RelayedWebhook)
                        .await
                }
                EventObject::Refund(r) => {
                    shared
                        .tracker
                        .apply_refund(r.clone(), Source::RelayedWebhook)
                        .await
                }
            }
        },
        span,
    )
    .await;
    match res {
        // A refund of a payment the tracker had not yet merged: the API has it all.
        Ok(Applied::NeedsConfirmation) => shared.queue.request(&id),
        Ok(_) => {}
        Err(e) => {
            // Not shown because not written: fetch the truth again once the journal can
            // take it.
            tracing::warn!(error = %e, "pushed update not recorded; reading it from the API");
            shared.etags().remove(&id);
            shared.queue.request(&id);
        }
    }
}

fn on_hello(shared: &Shared, hello: &Hello, position: &mut Option<StreamPosition>) {
    tracing::info!(session = %hello.session_id, recovery = ?hello.recovery,
        replayed = hello.replayed, "relay session live");
    Counters::add(&shared.counters.sessions, 1);
    *shared.scope() = hello.scope;
    if !hello.terminal_id.is_empty() {
        // Written into every new payment's metadata: the relay routes by it.
        shared.terminal_id.send_if_modified(|t| {
            t.replace(hello.terminal_id.clone()).as_ref() != Some(&hello.terminal_id)
        });
    }
    match hello.recovery {
        // Our position stands; the missed events follow.
        Recovery::Recovered => {}
        Recovery::Fresh | Recovery::NotRecovered => {
            *position = Some(StreamPosition {
                epoch: hello.epoch.clone(),
                offset: hello.offset,
            });
        }
    }
    shared.heard_from_relay();
    shared.set_ws_live(true, None);
    // Reconcile: whatever happened while we were away (or before we first connected), one
    // read per pending payment tells us. Webhooks that never reached the relay included.
    resync(shared);
}

/// One API read per pending payment.
fn resync(shared: &Shared) {
    let pending = shared.tracker.pending_ids();
    if !pending.is_empty() {
        Counters::add(&shared.counters.resyncs, 1);
        for id in pending {
            shared.queue.request(&id);
        }
    }
}

/// The relay's own dead-link rule (interval + timeout), capped at `max_silence`.
fn watchdog_from(hello: &Hello, max_silence: Duration) -> Duration {
    let ms = hello
        .heartbeat_interval_ms
        .saturating_add(hello.heartbeat_timeout_ms);
    if ms == 0 {
        max_silence
    } else {
        Duration::from_millis(ms).min(max_silence)
    }
}

/// The first protocol message (the hello), skipping control frames.
async fn first_message(shared: &Shared, ws: &mut Ws) -> Result<ServerMessage, End> {
    loop {
        if let Some(m) = next_message(shared, ws).await? {
            return Ok(m);
        }
    }
}

/// The next frame: a protocol message, or `None` for anything else heard (a control frame,
/// an unreadable message) — the caller re-arms its watchdog either way.
async fn next_message(shared: &Shared, ws: &mut Ws) -> Result<Option<ServerMessage>, End> {
    let frame = match ws.next().await {
        None => {
            return Err(End::Lost {
                was_live: true,
                reason: "relay closed the connection".into(),
            })
        }
        Some(Err(e)) => {
            return Err(End::Lost {
                was_live: true,
                reason: format!("relay link broke: {e}"),
            })
        }
        Some(Ok(f)) => f,
    };
    shared.heard_from_relay();
    Counters::add(&shared.counters.ws_messages, 1);
    Counters::add(&shared.counters.ws_bytes, frame.len() as u64);
    match frame {
        Message::Text(text) => match ServerMessage::from_json(text.as_str()) {
            Ok(m) => Ok(Some(m)),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable relay message; ignored");
                Ok(None)
            }
        },
        Message::Close(frame) => {
            let code = frame.as_ref().map(|f| u16::from(f.code));
            tracing::info!(?code, "relay closed the session");
            Err(if code == Some(wire::close::SERVICE_RESTART) {
                End::Restart
            } else {
                End::Lost {
                    was_live: true,
                    reason: format!("relay closed the session ({})", code.unwrap_or(1005)),
                }
            })
        }
        // tungstenite answers pings itself; binary frames are not part of paydesk.v1.
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
        Message::Binary(_) => {
            tracing::warn!("binary relay message; ignored");
            Ok(None)
        }
    }
}

async fn close(ws: &mut Ws, code: CloseCode, deadline: Duration) {
    let frame = CloseFrame {
        code,
        reason: "".into(),
    };
    let _ = tokio::time::timeout(deadline.min(Duration::from_secs(1)), ws.close(Some(frame))).await;
}

async fn fetch_ticket(
    shared: &Shared,
    http: &reqwest::Client,
    relay: &RelayEndpoint,
) -> Result<Secret, ConnectError> {
    Counters::add(&shared.counters.tickets, 1);
    let url = format!(
        "{}{}",
        relay.base_url.trim_end_matches('/'),
        wire::TICKETS_PATH
    );
    let started = Instant::now();
    let response = http
        .post(&url)
        .bearer_auth(relay.terminal_key.expose())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                ConnectError::Timeout(shared.config.connect_timeout.as_millis())
            } else {
                ConnectError::Unreachable(with_causes(&e.without_url()))
            }
        })?;
    match response.status() {
        s if s.is_success() => {}
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => return Err(ConnectError::Unauthorized),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(300)));
            return Err(ConnectError::Busy { retry_after });
        }
        s => {
            return Err(ConnectError::Protocol(format!(
                "ticket request answered {s}"
            )))
        }
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| ConnectError::Unreachable(e.without_url().to_string()))?;
    let ticket: TicketResponse = serde_json::from_slice(&body)
        .map_err(|_| ConnectError::Protocol("ticket answer unreadable".into()))?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "ticket obtained");
    Ok(Secret::new(ticket.ticket))
}

fn ws_url(base: &str, position: Option<&StreamPosition>) -> Result<String, ConnectError> {
    let base = base.trim_end_matches('/');
    let ws_base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if base.starts_with("ws://") || base.starts_with("wss://") {
        base.to_owned()
    } else {
        return Err(ConnectError::Protocol(format!(
            "relay URL must start with http(s)://, got '{base}'"
        )));
    };
    let mut url = format!("{ws_base}{}", wire::WS_PATH);
    if let Some(p) = position {
        let query = serde_urlencoded::to_string([
            ("epoch", p.epoch.clone()),
            ("offset", p.offset.to_string()),
        ])
        .map_err(|e| ConnectError::Protocol(e.to_string()))?;
        url.push('?');
        url.push_str(&query);
    }
    Ok(url)
}

/// An error with the causes under it ("error sending request: … Connection refused"):
/// reqwest's own words name neither.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_position_goes_in_the_url_and_nothing_else() {
        assert_eq!(
            ws_url("http://127.0.0.1:9/", None).unwrap(),
            "ws://127.0.0.1:9/v1/ws"
        );
        let pos = StreamPosition {
            epoch: "e 1&x".into(),
            offset: 42,
        };
        assert_eq!(
            ws_url("https://relay.example", Some(&pos)).unwrap(),
            "wss://relay.example/v1/ws?epoch=e+1%26x&offset=42"
        );
        assert!(ws_url("relay.example", None).is_err());
    }
}
