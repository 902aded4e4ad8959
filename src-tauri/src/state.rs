//! What the shell holds between commands: the terminal's identity and its live state.

use std::sync::{Mutex, PoisonError};

use paydesk_core::clock::ServerClock;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// Everything the UI needs to render its first frame before any event arrives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppSnapshot {
    pub version: &'static str,
    pub terminal_name: String,
    pub mode: String,
    pub connection: String,
}

#[derive(Debug)]
pub struct AppState {
    terminal_name: String,
    mode: String,
    connection: Mutex<String>,
    clock: ServerClock,
    shutdown: CancellationToken,
}

impl AppState {
    pub fn new(terminal_name: impl Into<String>, mode: impl Into<String>) -> Self {
        AppState {
            terminal_name: terminal_name.into(),
            mode: mode.into(),
            connection: Mutex::new("offline".to_owned()),
            clock: ServerClock::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// The terminal as configured by the environment (`PAYDESK_TERMINAL_NAME`).
    pub fn from_env() -> Self {
        let name = std::env::var("PAYDESK_TERMINAL_NAME")
            .ok()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "Till 1".to_owned());
        AppState::new(name, "demo")
    }

    pub fn terminal_name(&self) -> &str {
        &self.terminal_name
    }

    pub fn clock(&self) -> &ServerClock {
        &self.clock
    }

    /// Cancelled when the app exits: every background task of the shell watches it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    pub fn connection(&self) -> String {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn snapshot(&self) -> AppSnapshot {
        AppSnapshot {
            version: env!("CARGO_PKG_VERSION"),
            terminal_name: self.terminal_name.clone(),
            mode: self.mode.clone(),
            connection: self.connection(),
        }
    }
}
