// Entry point: snapshot first, then follow events; render from the store only.
import { invoke, onCoreEvent } from "./tauri.js";
import * as store from "./store.js";

const LABELS = {
  connecting: "Connecting",
  live: "Live",
  reconnecting: "Reconnecting",
  polling: "Polling",
  offline: "Offline",
  closed: "Closed",
};

function render(state) {
  document.getElementById("terminal-name").textContent = state.terminalName;
  const marker = document.getElementById("mode-marker");
  marker.hidden = state.mode !== "demo";
  marker.textContent = "DEMO";
  const badge = document.getElementById("connection");
  badge.dataset.state = state.connection;
  badge.querySelector(".badge-label").textContent = LABELS[state.connection] ?? state.connection;
  document.getElementById("version").textContent = state.version ? `PayDesk ${state.version}` : "";
  const clock = document.getElementById("server-clock");
  if (state.serverTimeMs !== null) {
    const t = new Date(state.serverTimeMs);
    clock.textContent = t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    clock.dateTime = t.toISOString();
  }
  document.body.dataset.ready = String(state.ready);
}

async function start() {
  store.subscribe(render);
  // Listen before asking for the snapshot so nothing falls between the two.
  const pending = [];
  let snapshotTaken = false;
  await onCoreEvent((event) => (snapshotTaken ? store.apply(event) : pending.push(event)));
  const snap = await invoke("app_snapshot");
  store.update({
    ready: true,
    version: snap.version,
    terminalName: snap.terminal_name,
    mode: snap.mode,
    connection: snap.connection,
  });
  snapshotTaken = true;
  pending.forEach(store.apply);
}

start().catch((err) => {
  document.getElementById("main").textContent = `PayDesk could not start: ${err}`;
});
