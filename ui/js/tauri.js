// The only door to Rust: invoke a command, follow the core event stream.
// Tauri injects window.__TAURI__ (withGlobalTauri); outside Tauri we fail loudly.

const tauri = window.__TAURI__;

export function available() {
  return Boolean(tauri && tauri.core && tauri.event);
}

export async function invoke(command, args = {}) {
  if (!available()) throw new Error("PayDesk must run inside its desktop app");
  return tauri.core.invoke(command, args);
}

/** Calls `handler(event)` for every core event; returns a function that stops it. */
export async function onCoreEvent(handler) {
  if (!available()) throw new Error("PayDesk must run inside its desktop app");
  return tauri.event.listen("core-event", (e) => handler(e.payload));
}
