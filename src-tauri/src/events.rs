//! The one event stream from Rust to the UI: every change travels as a `CoreEvent` on the
//! `core-event` channel, so each window has exactly one place to listen.
//!
//! One long-lived forwarder follows the till host (which survives restarts): the till's
//! status whenever it changes, every payment change as a display-ready view, and once a
//! second the payment API's time as this till measures it.

use std::time::Duration;

use paydesk_core::clock::ServerClock;
use paydesk_core::sale::{CashierTipView, CustomerTipView};
use paydesk_core::till::{HostEvent, TillHost};
use paydesk_core::tracker::TrackerEvent;
use serde::Serialize;
use tauri::{Emitter, Runtime};
use tokio_util::sync::CancellationToken;

use crate::view::{PaymentView, StatusView};

pub const CORE_EVENT: &str = "core-event";

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum CoreEvent {
    /// The till's one status: every window renders mode, health, connection and the
    /// payment in progress from it.
    Status(StatusView),
    /// A payment changed (status or refunds); only ever after the journal has it.
    Payment(PaymentView),
    /// Once a second, on the second: the payment API's time as this terminal measures it.
    /// The UI's countdowns are `deadline_ms - server_time_ms`: the server's deadline and the
    /// measured clock offset, never counted ticks.
    Clock { server_time_ms: i64, offset_ms: i64 },
    /// A receipt, refund slip or report printed, or why not (never about the sale).
    Receipt(crate::day::PrintView),
    /// Something the cashier must read.
    Notice {
        level: &'static str,
        message: String,
    },
    /// The sale waiting for its tip, as the cashier's window shows it (main window only).
    Tip(CashierTipView),
    /// The same, as the customer display shows it: the bill and the buttons, nothing else
    /// (customer display only).
    CustomerTip(CustomerTipView),
}

pub fn emit<R: Runtime>(app: &tauri::AppHandle<R>, event: &CoreEvent) {
    if let Err(e) = app.emit(CORE_EVENT, event) {
        tracing::warn!(error = %e, "could not deliver an event to the UI");
    }
}

/// An event for one window only.
fn emit_to<R: Runtime>(app: &tauri::AppHandle<R>, window: &str, event: &CoreEvent) {
    if let Err(e) = app.emit_to(window, CORE_EVENT, event) {
        tracing::warn!(error = %e, window, "could not deliver an event to the UI");
    }
}

/// The running till's view of a payment: live while it follows it, else as journaled;
/// the sale and the cashier always as journaled.
pub async fn payment_view(host: &TillHost, id: &str) -> Option<PaymentView> {
    let till = host.till().await;
    let till = till.as_ref()?;
    let tracker = till.terminal.tracker();
    let live = PaymentView::tracked(tracker, id, till.plan.config.qr_content);
    let lookup = id.to_owned();
    let entry = till
        .terminal
        .journal()
        .call(move |j| j.entry(&lookup))
        .await
        .ok()
        .flatten();
    match (live, entry) {
        (Some(v), Some(e)) => Some(v.with_journal(&e)),
        (Some(v), None) => Some(v),
        (None, Some(e)) => Some(PaymentView::journaled(&e)),
        (None, None) => None,
    }
}

async fn clock_of(host: &TillHost) -> ServerClock {
    match host.till().await.as_ref() {
        Some(t) => t.terminal.tracker().server_clock().clone(),
        None => ServerClock::new(),
    }
}

/// Forwards the host's events to every window, and ticks the clock once a second on the
/// API's second boundary (recomputed each time, never counted), until `stop`.
pub async fn forward<R: Runtime>(
    app: tauri::AppHandle<R>,
    host: std::sync::Arc<TillHost>,
    stop: CancellationToken,
) {
    let mut events = host.subscribe();
    let mut tips = host.register().tips().changes();
    let mut generation = host.status().generation;
    let mut active = host.status().active;
    let mut clock = clock_of(&host).await;
    emit(&app, &CoreEvent::Status(StatusView::from(&host.status())));
    loop {
        let to_next_second = 1000 - clock.server_now_ms().rem_euclid(1000);
        let tick = tokio::time::sleep(Duration::from_millis(
            u64::try_from(to_next_second).unwrap_or(1000),
        ));
        tokio::select! {
            () = stop.cancelled() => return,
            changed = tips.changed() => {
                if !changed {
                    return;
                }
                let desk = host.register().tips();
                emit_to(&app, crate::MAIN_WINDOW, &CoreEvent::Tip(desk.cashier_view()));
                emit_to(&app, crate::CUSTOMER_WINDOW, &CoreEvent::CustomerTip(desk.customer_view()));
            }
            () = tick => emit(&app, &CoreEvent::Clock {
                server_time_ms: clock.server_now_ms(),
                offset_ms: clock.offset_ms(),
            }),
            event = events.recv() => match event {
                None => return,
                Some(HostEvent::Status(s)) => {
                    if s.generation != generation {
                        generation = s.generation;
                        clock = clock_of(&host).await;
                    }
                    emit(&app, &CoreEvent::Status(StatusView::from(&s)));
                    // A payment just became the one in progress: every window gets it,
                    // whichever window charged it and whenever its first change was sent.
                    if s.active != active {
                        active = s.active.clone();
                        if let Some(id) = &active {
                            if let Some(view) = payment_view(&host, id).await {
                                emit(&app, &CoreEvent::Payment(view));
                            }
                        }
                    }
                }
                Some(HostEvent::Tracker(TrackerEvent::Transition(t))) => {
                    if let Some(view) = payment_view(&host, &t.payment_id).await {
                        emit(&app, &CoreEvent::Payment(view));
                    }
                }
                Some(HostEvent::Tracker(TrackerEvent::Receipt(r))) => {
                    emit(&app, &CoreEvent::Receipt(crate::day::PrintView::of(&r)));
                }
                Some(HostEvent::Tracker(TrackerEvent::JournalFailed { error, .. })) => emit(&app, &CoreEvent::Notice {
                    level: "error",
                    message: format!("A payment update could not be saved on this till ({error}); PayDesk will read it again from Crypto.com Pay."),
                }),
                Some(HostEvent::Resnapshot | HostEvent::Tracker(TrackerEvent::Resnapshot { .. })) => {
                    emit(&app, &CoreEvent::Status(StatusView::from(&host.status())));
                    let ids = match host.till().await.as_ref() {
                        Some(t) => t.terminal.tracker().tracked_ids(),
                        None => Vec::new(),
                    };
                    for id in ids {
                        if let Some(v) = payment_view(&host, &id).await {
                            emit(&app, &CoreEvent::Payment(v));
                        }
                    }
                }
                // The status carries the connection; the UI computes the countdown from
                // the deadline and the clock it gets each second.
                Some(HostEvent::Tracker(_)) => {}
            },
        }
    }
}
