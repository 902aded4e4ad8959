//! What the shell holds between commands: the running till, the journal, the keychain,
//! and which payment is on the cashier's screen.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use paydesk_core::journal::Journal;
use paydesk_core::secrets::SecretStore;
use serde::{Deserialize, Serialize};
use tokio::sync::{RwLock, RwLockReadGuard};
use tokio_util::sync::CancellationToken;

use crate::runtime::Running;

/// Small UI facts kept across restarts (never a secret).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiMemory {
    pub customer_display_open: bool,
}

pub struct AppState {
    pub journal: Arc<Journal>,
    pub keychain: Arc<dyn SecretStore>,
    running: RwLock<Option<Running>>,
    /// Cancels the running till's event forwarder; replaced on every restart.
    forwarder_stop: Mutex<CancellationToken>,
    /// The payment on the cashier's screen, if any.
    active: Mutex<Option<String>>,
    /// Why the till could not start, in words for the cashier.
    start_error: Mutex<Option<String>>,
    memory_path: Option<PathBuf>,
    shutdown: CancellationToken,
}

impl AppState {
    pub fn new(
        journal: Arc<Journal>,
        keychain: Arc<dyn SecretStore>,
        memory_path: Option<PathBuf>,
    ) -> Self {
        AppState {
            journal,
            keychain,
            running: RwLock::new(None),
            forwarder_stop: Mutex::new(CancellationToken::new()),
            active: Mutex::new(None),
            start_error: Mutex::new(None),
            memory_path,
            shutdown: CancellationToken::new(),
        }
    }

    pub async fn running(&self) -> RwLockReadGuard<'_, Option<Running>> {
        self.running.read().await
    }

    /// Replaces the running till (stopping the old one first) and returns the token its
    /// event forwarder must watch.
    pub async fn replace(&self, next: Result<Running, String>) -> CancellationToken {
        let stop = CancellationToken::new();
        let old_stop = std::mem::replace(&mut *lock(&self.forwarder_stop), stop.clone());
        old_stop.cancel();
        let mut slot = self.running.write().await;
        if let Some(old) = slot.take() {
            old.shutdown().await;
        }
        match next {
            Ok(running) => {
                *slot = Some(running);
                *lock(&self.start_error) = None;
            }
            Err(e) => *lock(&self.start_error) = Some(e),
        }
        stop
    }

    pub fn start_error(&self) -> Option<String> {
        lock(&self.start_error).clone()
    }

    pub fn active(&self) -> Option<String> {
        lock(&self.active).clone()
    }

    pub fn set_active(&self, id: Option<String>) {
        *lock(&self.active) = id;
    }

    /// Cancelled when the app exits: every background task of the shell watches it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops the till and every task.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        lock(&self.forwarder_stop).cancel();
        if let Some(running) = self.running.write().await.take() {
            running.shutdown().await;
        }
    }

    pub fn memory(&self) -> UiMemory {
        self.memory_path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn remember(&self, memory: &UiMemory) {
        let Some(path) = &self.memory_path else {
            return;
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, serde_json::to_vec(memory).unwrap_or_default())?;
            std::fs::rename(tmp, path)
        };
        if let Err(e) = write() {
            tracing::warn!(error = %e, "could not remember the UI state");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
