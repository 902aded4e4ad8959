//! One WebSocket session: hello, missed events, live events, heartbeats, close codes.
//!
//! One task per socket. It subscribes to its live events (its till's ring, or the
//! merchant's for a merchant-scope terminal) *before* reading the history, then skips live
//! events at or below the last offset it sent, so nothing falls between the two. Outgoing
//! messages wait in a small per-session queue; a terminal that lets it fill is closed with
//! 4001 instead of growing memory. The server pings every interval; a terminal silent for
//! interval + timeout is closed with 4000. Frames that break RFC 6455 get the close code
//! the RFC names (1002, 1007), never a silent drop.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, StreamExt as _};
use futures_util::SinkExt as _;
use paydesk_protocol::wire::{
    close, ClientMessage, Hello, Ping, Recovery, ServerMessage, StreamPosition,
};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tracing::{debug, info, Instrument as _};

use crate::server::AppState;
use crate::stream::{Audience, TicketGrant};
use crate::terminals::Terminal;

/// What a session needs, gathered before the upgrade.
pub struct SessionStart {
    pub app: Arc<AppState>,
    pub grant: TicketGrant,
    /// The terminal the ticket's key belongs to (checked at the upgrade).
    pub terminal: Terminal,
    pub resume: Option<StreamPosition>,
    pub peer: SocketAddr,
    /// Holds a place under the connection cap for the session's lifetime.
    pub permit: OwnedSemaphorePermit,
    /// Keeps shutdown waiting until the session has said goodbye.
    pub owner: TaskTrackerToken,
}

/// Why the loop ended, and so which close code the terminal gets.
enum End {
    Shutdown,
    SlowConsumer,
    Silent,
    Policy(&'static str),
    /// RFC 6455 broken (1002).
    Protocol,
    /// Text that is not UTF-8 (1007).
    InvalidData,
    TooBig,
    ClientClosed,
    Gone,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Frees the session's fan-out ring when it ends, if it was the ring's last listener
/// (declared before the receiver, so it drops after it).
struct Subscribed {
    app: Arc<AppState>,
    merchant: String,
    audience: Audience,
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.app.hub.release(&self.merchant, &self.audience);
    }
}

/// Counts the session in the connections gauge for exactly its lifetime.
struct Live(Arc<AppState>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.metrics.gauge(&self.0.metrics.connections, -1);
    }
}

pub async fn run(socket: WebSocket, start: SessionStart) {
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!(
        "session",
        session = %session_id,
        merchant = %start.grant.merchant,
        terminal = %start.grant.terminal,
        terminal_id = %start.terminal.id,
        peer = %start.peer,
    );
    serve(socket, start, session_id).instrument(span).await
}

async fn serve(socket: WebSocket, start: SessionStart, session_id: String) {
    let SessionStart {
        app,
        grant,
        terminal,
        resume,
        permit: _permit,
        owner: _owner,
        ..
    } = start;
    app.metrics.gauge(&app.metrics.connections, 1);
    app.metrics.add(&app.metrics.sessions_total, 1);
    let _live = Live(app.clone());
    let cfg = &app.config;
    let (mut sink, mut stream) = socket.split();

    // Live first, history second: an event stored in between arrives on both and the
    // offset check below drops the copy.
    let audience = Audience::new(terminal.scope, &terminal.id);
    let _subscribed = Subscribed {
        app: app.clone(),
        merchant: grant.merchant.clone(),
        audience: audience.clone(),
    };
    let Some(live) = app.hub.subscribe(&grant.merchant, &audience) else {
        return;
    };
    let revisions = app.terminals_revision.subscribe();
    let since = match tokio::time::timeout(
        cfg.request_timeout,
        app.backend
            .since(&grant.merchant, resume.as_ref(), &audience),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            app.metrics.bump(&app.metrics.backend_errors);
            tracing::warn!(error = %e, "history unavailable; closing 1011");
            let _ = tokio::time::timeout(
                cfg.close_timeout,
                close_with(&mut sink, 1011, "backend unavailable"),
            )
            .await;
            return;
        }
        Err(_) => {
            app.metrics.bump(&app.metrics.backend_errors);
            let _ = tokio::time::timeout(
                cfg.close_timeout,
                close_with(&mut sink, 1011, "backend timeout"),
            )
            .await;
            return;
        }
    };
    if resume.is_some() {
        app.metrics.bump(&app.metrics.resumes);
        match since.recovery {
            Recovery::Recovered => app.metrics.bump(&app.metrics.resumes_recovered),
            _ => app.metrics.bump(&app.metrics.resumes_not_recovered),
        }
    }
    let hello = ServerMessage::Hello(Hello {
        session_id,
        merchant: grant.merchant.clone(),
        terminal: grant.terminal.clone(),
        server_time_ms: now_ms(),
        heartbeat_interval_ms: cfg.heartbeat_interval.as_millis() as u64,
        heartbeat_timeout_ms: cfg.heartbeat_timeout.as_millis() as u64,
        epoch: since.epoch.to_string(),
        offset: since.offset,
        recovery: since.recovery,
        replayed: since.events.len() as u64,
        terminal_id: terminal.id.to_string(),
        scope: terminal.scope,
    });
    info!(recovery = ?since.recovery, offset = since.offset, replayed = since.events.len(), "session open");
    let mut epoch = since.epoch.clone();
    let mut last_offset = since.offset;
    let replayed = since.events.len() as u64;

    // Hello and the replay go out with back-pressure (bounded by the history size and a
    // deadline) before live traffic starts.
    let greeting = async {
        sink.feed(Message::Text(hello.to_json().into())).await?;
        for e in since.events {
            sink.feed(Message::Text(e.text)).await?;
        }
        sink.flush().await
    };
    match tokio::time::timeout(cfg.request_timeout, greeting).await {
        Ok(Ok(())) => {}
        _ => {
            debug!("could not send the greeting");
            return;
        }
    }
    app.metrics.add(&app.metrics.replayed_events, replayed);
    app.metrics.add(&app.metrics.pushes_out, replayed);

    let interval = cfg.heartbeat_interval;
    let dead_after = cfg.heartbeat_interval + cfg.heartbeat_timeout;
    let mut last_heard = Instant::now();
    let mut next_ping = last_heard + interval;
    let mut seq: u64 = 0;
    let mut outbox: VecDeque<Message> = VecDeque::new();
    let mut flushing = false;
    let timer = tokio::time::sleep_until(next_ping);
    tokio::pin!(timer);
    // Registered once: a fresh `cancelled()` per wake-up would lock the token's waiter list
    // twice per event per session.
    let shutdown = app.cancel.cancelled();
    tokio::pin!(shutdown);
    // Long-lived futures, polled in place: re-creating them on every wake-up would
    // register and unregister this session in shared waiter lists (the fan-out ring's,
    // the reload channel's) twice per event, under their locks.
    let live = futures_util::stream::unfold(live, |mut rx| async move {
        let next = rx.recv().await;
        Some((next, rx))
    });
    tokio::pin!(live);
    let revoked = revoked(&app, &grant, revisions);
    tokio::pin!(revoked);

    let end = loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break End::Shutdown,
            _ = &mut revoked => break End::Policy("terminal revoked"),
            r = std::future::poll_fn(|cx| drive(cx, &mut sink, &mut outbox, &mut flushing)),
                if flushing || !outbox.is_empty() =>
            {
                if let Err(e) = r {
                    debug!(error = %e, "write failed");
                    break End::Gone;
                }
            }
            msg = stream.next() => match msg {
                None => break End::Gone,
                Some(Err(e)) => break read_error(e),
                Some(Ok(Message::Text(t))) => {
                    last_heard = Instant::now();
                    if ClientMessage::from_json(&t).is_err() {
                        break End::Policy("unknown message");
                    }
                }
                Some(Ok(Message::Binary(_))) => break End::Policy("binary frames are not part of paydesk.v1"),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => last_heard = Instant::now(),
                Some(Ok(Message::Close(_))) => break End::ClientClosed,
            },
            ev = live.next() => match ev {
                None => break End::Shutdown,
                Some(Ok(p)) => {
                    if p.epoch != epoch {
                        // The stream's storage was replaced: the event says so itself.
                        epoch = p.epoch.clone();
                    } else if p.offset <= last_offset {
                        continue;
                    }
                    last_offset = p.offset;
                    outbox.push_back(Message::Text(p.text));
                    app.metrics.add(&app.metrics.pushes_out, 1);
                    if outbox.len() > cfg.send_queue {
                        break End::SlowConsumer;
                    }
                }
                Some(Err(RecvError::Lagged(_))) => break End::SlowConsumer,
                Some(Err(RecvError::Closed)) => break End::Shutdown,
            },
            _ = &mut timer => {
                let now = Instant::now();
                if now >= last_heard + dead_after {
                    break End::Silent;
                }
                if now >= next_ping {
                    seq += 1;
                    let ping = ServerMessage::Ping(Ping { seq, server_time_ms: now_ms() });
                    outbox.push_back(Message::Text(ping.to_json().into()));
                    next_ping = now + interval;
                    if outbox.len() > cfg.send_queue {
                        break End::SlowConsumer;
                    }
                }
                timer.as_mut().reset(next_ping.min(last_heard + dead_after));
            }
        }
    };

    let (code, reason): (u16, &str) = match end {
        End::Shutdown => (close::SERVICE_RESTART, "relay restarting"),
        End::SlowConsumer => {
            app.metrics.bump(&app.metrics.slow_consumers_closed);
            // What it did not read is dropped; it resumes from its last offset.
            outbox.clear();
            (close::SLOW_CONSUMER, "send queue full")
        }
        End::Silent => {
            app.metrics.bump(&app.metrics.heartbeat_timeouts);
            (close::HEARTBEAT_TIMEOUT, "heartbeat timeout")
        }
        End::Policy(why) => (close::POLICY, why),
        End::Protocol => (close::PROTOCOL_ERROR, "protocol error"),
        End::InvalidData => (close::INVALID_DATA, "invalid UTF-8"),
        End::TooBig => (close::TOO_BIG, "message too big"),
        End::ClientClosed => {
            // tungstenite has queued the close reply; flush it.
            let _ =
                tokio::time::timeout(cfg.close_timeout, flush_all(&mut sink, &mut outbox)).await;
            info!("session closed by the terminal");
            return;
        }
        End::Gone => {
            info!("session gone");
            return;
        }
    };
    info!(code, reason, "closing session");
    let _ = tokio::time::timeout(cfg.close_timeout, async {
        flush_all(&mut sink, &mut outbox).await?;
        close_with(&mut sink, code, reason).await
    })
    .await;
}

/// Resolves when a reload of the terminals file removes the session's key (the terminal
/// was removed, or its key rotated; never, if the reload channel closes: shutdown handles
/// that case). By key hash: a terminal re-added under the same name with a new key does
/// not keep the old key's sessions.
async fn revoked(app: &AppState, grant: &TicketGrant, mut revisions: watch::Receiver<u64>) {
    loop {
        // Checked first too: a reload may land between the upgrade and this task.
        if !app.terminals().has_key(&grant.key_hash) {
            return;
        }
        if revisions.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

type Sink = SplitSink<WebSocket, Message>;

/// Moves queued messages into the socket and flushes; cancel-safe (nothing is taken from
/// the queue until the sink has accepted it).
fn drive(
    cx: &mut Context<'_>,
    sink: &mut Sink,
    outbox: &mut VecDeque<Message>,
    flushing: &mut bool,
) -> Poll<Result<(), axum::Error>> {
    while !outbox.is_empty() {
        ready!(sink.poll_ready_unpin(cx))?;
        if let Some(m) = outbox.pop_front() {
            sink.start_send_unpin(m)?;
            *flushing = true;
        }
    }
    if *flushing {
        ready!(sink.poll_flush_unpin(cx))?;
        *flushing = false;
    }
    Poll::Ready(Ok(()))
}

async fn flush_all(sink: &mut Sink, outbox: &mut VecDeque<Message>) -> Result<(), axum::Error> {
    let mut flushing = true;
    std::future::poll_fn(|cx| drive(cx, sink, outbox, &mut flushing)).await
}

async fn close_with(sink: &mut Sink, code: u16, reason: &str) -> Result<(), axum::Error> {
    sink.send(Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    })))
    .await?;
    sink.close().await
}

/// The close a read error deserves (RFC 6455 §7.4.1); a broken connection gets none.
fn read_error(e: axum::Error) -> End {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => End::TooBig,
        // A text message, or a close frame's reason, that is not UTF-8.
        Some(tungstenite::Error::Utf8(_)) => End::InvalidData,
        Some(tungstenite::Error::Protocol(p)) => match p {
            // The peer is gone; there is no one to tell.
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake => End::Gone,
            _ => End::Protocol,
        },
        _ => End::Gone,
    }
}
