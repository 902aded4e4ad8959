//! The one event stream from Rust to the UI: every core change travels as a `CoreEvent`
//! on the `core-event` channel, so each window has exactly one place to listen.

use std::time::Duration;

use paydesk_core::tracker::{Tracker, TrackerEvent};
use serde::Serialize;
use tauri::{Emitter, Runtime};
use tokio_util::sync::CancellationToken;

use crate::view::{ConnectionView, PaymentView};

pub const CORE_EVENT: &str = "core-event";

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum CoreEvent {
    Connection(ConnectionView),
    /// A payment changed (status or refunds); only ever after the journal has it.
    Payment(PaymentView),
    /// Once a second, on the second: the server's time as this terminal measures it. The
    /// UI's countdowns are `deadline_ms - server_time_ms`: the server's deadline and the
    /// measured clock offset, never counted ticks.
    Clock {
        server_time_ms: i64,
        offset_ms: i64,
    },
    /// Something the cashier must read.
    Notice {
        level: &'static str,
        message: String,
    },
    /// The cashier moved on from the payment on screen.
    ActiveCleared,
}

pub fn emit<R: Runtime>(app: &tauri::AppHandle<R>, event: &CoreEvent) {
    if let Err(e) = app.emit(CORE_EVENT, event) {
        tracing::warn!(error = %e, "could not deliver an event to the UI");
    }
}

fn payment_event(tracker: &Tracker, id: &str) -> Option<CoreEvent> {
    PaymentView::tracked(tracker, id).map(CoreEvent::Payment)
}

/// Forwards the tracker's events to every window, and ticks the clock once a second on
/// the server's second boundary (recomputed each time, never counted), until `stop`.
pub async fn forward<R: Runtime>(
    app: tauri::AppHandle<R>,
    tracker: Tracker,
    stop: CancellationToken,
) {
    let mut events = tracker.subscribe();
    let clock = tracker.server_clock().clone();
    emit(
        &app,
        &CoreEvent::Connection(ConnectionView::from(&tracker.connection())),
    );
    loop {
        let to_next_second = 1000 - clock.server_now_ms().rem_euclid(1000);
        let tick = tokio::time::sleep(Duration::from_millis(
            u64::try_from(to_next_second).unwrap_or(1000),
        ));
        tokio::select! {
            () = stop.cancelled() => return,
            () = tick => emit(&app, &CoreEvent::Clock {
                server_time_ms: clock.server_now_ms(),
                offset_ms: clock.offset_ms(),
            }),
            event = events.recv() => match event {
                None => return,
                Some(TrackerEvent::Transition(t)) => {
                    if let Some(e) = payment_event(&tracker, &t.payment_id) {
                        emit(&app, &e);
                    }
                }
                Some(TrackerEvent::Connection(c)) => emit(&app, &CoreEvent::Connection(ConnectionView::from(&c))),
                // The UI derives the countdown from the deadline and the clock event it
                // already gets each second: one event a second, not two.
                Some(TrackerEvent::Tick(_)) => {}
                Some(TrackerEvent::JournalFailed { error, .. }) => emit(&app, &CoreEvent::Notice {
                    level: "error",
                    message: format!("A payment update could not be saved on this till ({error}); PayDesk will read it again from Crypto.com Pay."),
                }),
                Some(TrackerEvent::Resnapshot { .. }) => {
                    emit(&app, &CoreEvent::Connection(ConnectionView::from(&tracker.connection())));
                    for id in tracker.tracked_ids() {
                        if let Some(e) = payment_event(&tracker, &id) {
                            emit(&app, &e);
                        }
                    }
                }
                Some(TrackerEvent::Expired { .. } | TrackerEvent::Untracked { .. }) => {}
            },
        }
    }
}
