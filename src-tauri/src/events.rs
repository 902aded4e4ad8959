//! The one event stream from Rust to the UI: every core change travels as a `CoreEvent`
//! on the `core-event` channel, so the UI has exactly one place to listen.

use std::time::Duration;

use paydesk_core::clock::ServerClock;
use serde::Serialize;
use tauri::{Emitter, Runtime};
use tokio_util::sync::CancellationToken;

pub const CORE_EVENT: &str = "core-event";

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum CoreEvent {
    Connection(String),
    /// Once a second, on the second: the server's time as this terminal measures it.
    Clock {
        server_time_ms: i64,
        offset_ms: i64,
    },
}

pub fn emit<R: Runtime>(app: &tauri::AppHandle<R>, event: &CoreEvent) {
    if let Err(e) = app.emit(CORE_EVENT, event) {
        tracing::warn!(error = %e, "could not deliver an event to the UI");
    }
}

/// Emits [`CoreEvent::Clock`] on every second boundary of the server's clock until
/// `stop` is cancelled. The delay is recomputed from the clock each time, never counted.
pub async fn clock_ticks<R: Runtime>(
    app: tauri::AppHandle<R>,
    clock: ServerClock,
    stop: CancellationToken,
) {
    loop {
        let now = clock.server_now_ms();
        let to_next = 1000 - now.rem_euclid(1000);
        let wait = Duration::from_millis(u64::try_from(to_next).unwrap_or(1000));
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        emit(
            &app,
            &CoreEvent::Clock {
                server_time_ms: clock.server_now_ms(),
                offset_ms: clock.offset_ms(),
            },
        );
    }
}
