//! What the shell holds between commands: the till host (the running till and its one
//! status), and the few UI facts remembered across restarts.

use std::path::PathBuf;
use std::sync::Arc;

use paydesk_core::till::TillHost;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// Small UI facts kept across restarts (never a secret).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiMemory {
    #[serde(default)]
    pub customer_display_open: bool,
    /// The monitor the customer display goes full screen on (its name as the OS gives it).
    #[serde(default)]
    pub customer_monitor: Option<String>,
}

pub struct AppState {
    pub host: Arc<TillHost>,
    memory_path: Option<PathBuf>,
    shutdown: CancellationToken,
}

impl AppState {
    pub fn new(host: Arc<TillHost>, memory_path: Option<PathBuf>) -> Self {
        AppState {
            host,
            memory_path,
            shutdown: CancellationToken::new(),
        }
    }

    /// Cancelled when the app exits: every background task of the shell watches it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops the till and every task.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.host.shutdown().await;
    }

    pub fn memory(&self) -> UiMemory {
        self.memory_path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn remember(&self, change: impl FnOnce(&mut UiMemory)) {
        let Some(path) = &self.memory_path else {
            return;
        };
        let mut memory = self.memory();
        change(&mut memory);
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, serde_json::to_vec(&memory).unwrap_or_default())?;
            std::fs::rename(tmp, path)
        };
        if let Err(e) = write() {
            tracing::warn!(error = %e, "could not remember the UI state");
        }
    }
}
