// Entry point: listen first, then take the snapshot, then follow events; everything on
// screen is rendered from the store.
import { invoke, onCoreEvent } from "./tauri.js";
import * as store from "./store.js";
import { age, CONNECTION_LABELS, errorText, timeOfDay } from "./format.js";
import * as charge from "./screens/charge.js";
import * as payment from "./screens/payment.js";
import * as result from "./screens/result.js";
import * as history from "./screens/history.js";
import * as settings from "./screens/settings.js";

const $ = (id) => document.getElementById(id);
const SCREENS = ["charge", "payment", "result", "history", "settings"];
let shownScreen = null;

function renderChrome(state) {
  $("terminal-name").textContent = state.terminalName;
  $("mode-marker").hidden = !state.demo;
  const conn = state.connection;
  const badge = $("connection");
  badge.dataset.state = conn.state;
  badge.querySelector(".badge-label").textContent = CONNECTION_LABELS[conn.state] ?? conn.state;
  const since = conn.last_update_ms && state.serverTimeMs ? state.serverTimeMs - conn.last_update_ms : null;
  $("connection-age").textContent = conn.state === "live" ? "" : age(since);
  $("version").textContent = state.version ? `PayDesk ${state.version}` : "";
  if (state.serverTimeMs !== null) {
    $("server-clock").textContent = timeOfDay(state.serverTimeMs);
    $("server-clock").dateTime = new Date(state.serverTimeMs).toISOString();
  }
  const n = state.notice;
  $("notice").hidden = !n;
  if (n) {
    $("notice").textContent = n.message;
    $("notice").dataset.level = n.level;
  }
  document.body.dataset.ready = String(state.ready);
}

function renderScreen(state) {
  for (const s of SCREENS) $(`screen-${s}`).hidden = s !== state.screen;
  document.body.dataset.screen = state.screen;
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
  charge.render(state);
  payment.render(state);
  result.render(state);
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
}

start().catch((err) => {
  $("notice").hidden = false;
  $("notice").textContent = `PayDesk could not start: ${errorText(err)}`;
});
