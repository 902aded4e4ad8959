//! Tauri commands: parse, call the core, map the error. Nothing else lives here.

use tauri::State;

use crate::state::{AppSnapshot, AppState};

/// The current state, for the UI's first render ("first render, then push").
#[tauri::command]
pub fn app_snapshot(state: State<'_, AppState>) -> AppSnapshot {
    state.snapshot()
}
