// Entry point: listen first, then take the snapshot, then follow events; everything on
// screen is rendered from the store.
import { invoke, onCoreEvent } from "./tauri.js";
import * as store from "./store.js";
import { age, clockTime, CONNECTION_LABELS, errorText } from "./format.js";
import { setAttr, setData, setHidden, setText } from "./dom.js";
import * as charge from "./screens/charge.js";
import * as payment from "./screens/payment.js";
import * as result from "./screens/result.js";
import * as history from "./screens/history.js";
import * as settings from "./screens/settings.js";

const $ = (id) => document.getElementById(id);
const SCREENS = ["charge", "payment", "result", "history", "settings"];
let shownScreen = null;

function renderChrome(state) {
  setText($("terminal-name"), state.terminalName);
  setHidden($("mode-marker"), !state.demo);
  const conn = state.connection;
  const badge = $("connection");
  setData(badge, "state", conn.state);
  setText(badge.querySelector(".badge-label"), CONNECTION_LABELS[conn.state] ?? conn.state);
  const since = conn.last_update_ms && state.serverTimeMs ? state.serverTimeMs - conn.last_update_ms : null;
  setText($("connection-age"), conn.state === "live" ? "" : age(since));
  setText($("version"), state.version ? `PayDesk ${state.version}` : "");
  if (state.serverTimeMs !== null) {
    // The exact server time rides in `datetime` (no repaint); the text shows the minute.
    setAttr($("server-clock"), "datetime", new Date(state.serverTimeMs).toISOString());
    setText($("server-clock"), clockTime(state.serverTimeMs));
  }
  const n = state.notice;
  setHidden($("notice"), !n);
  if (n) {
    setText($("notice"), n.message);
    setData($("notice"), "level", n.level);
  }
  setData(document.body, "ready", state.ready);
}

function renderScreen(state) {
  for (const s of SCREENS) setHidden($(`screen-${s}`), s !== state.screen);
  setData(document.body, "screen", state.screen);
  const navFor = { payment: "charge", result: "charge" }[state.screen] ?? state.screen;
  document.querySelectorAll("[data-nav]").forEach((b) => {
    if (b.dataset.nav === navFor) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  });
  if (shownScreen !== state.screen) {
    shownScreen = state.screen;
    if (state.screen === "history") history.load();
    if (state.screen === "settings") settings.load();
    if (state.screen === "charge") $("amount").focus();
  }
}

function render(state) {
  renderChrome(state);
  renderScreen(state);
  if (state.screen === "charge") charge.render(state);
  if (state.screen === "payment") payment.render(state);
  if (state.screen === "result") result.render(state);
}

function navigate(target) {
  const s = store.get();
  // A payment in progress stays one click away: "Charge" returns to it.
  if (target === "charge" && s.payment && s.payment.status === "pending") {
    store.update({ screen: "payment" });
  } else {
    store.update({ screen: target });
  }
}

async function start() {
  [charge, payment, result, history, settings].forEach((m) => m.init());
  document.querySelectorAll("[data-nav]").forEach((b) => b.addEventListener("click", () => navigate(b.dataset.nav)));
  $("open-customer").addEventListener("click", () =>
    invoke("open_customer_display").catch((err) => store.update({ notice: { level: "error", message: errorText(err) } })),
  );
  store.subscribe(render);

  // Listen before asking for the snapshot so nothing falls between the two.
  const queued = [];
  let live = false;
  await onCoreEvent((event) => {
    if (!live) return queued.push(event);
    store.apply(event);
    if (event.kind === "payment") history.onPayment();
  });
  const snap = await invoke("app_snapshot");
  store.update({
    ready: true,
    version: snap.version,
    terminalName: snap.terminal_name,
    mode: snap.mode,
    demo: snap.demo,
    defaultCurrency: snap.default_currency,
    currencies: snap.currencies,
    connection: snap.connection,
    notice: snap.notice ?? null,
    payment: snap.active ?? null,
    screen: store.screenFor(snap.active ?? null),
  });
  live = true;
  queued.forEach(store.apply);
  // When the first real frame is on screen (the frame after the snapshot's render), for
  // the start-up benchmark: wall-clock ms, comparable with the process's start time.
  requestAnimationFrame(() => setTimeout(() => (document.body.dataset.paintedAt = String(Date.now()))));
}

start().catch((err) => {
  $("notice").hidden = false;
  $("notice").textContent = `PayDesk could not start: ${errorText(err)}`;
});
