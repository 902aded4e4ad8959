// Entry point: listen first, then take the snapshot, then follow events; everything on
// screen is rendered from the store, and the till's status from Rust alone.
import { invoke, onCoreEvent } from "./tauri.js";
import * as store from "./store.js";
import { clockTime, errorText } from "./format.js";
import { setAttr, setData, setHidden, setText } from "./dom.js";
import * as charge from "./screens/charge.js";
import * as payment from "./screens/payment.js";
import * as result from "./screens/result.js";
import * as history from "./screens/history.js";
import * as settings from "./screens/settings.js";
import * as staff from "./screens/staff.js";
import * as sale from "./screens/sale.js";
import * as receipt from "./screens/receipt.js";
import * as day from "./screens/day.js";

const $ = (id) => document.getElementById(id);
const SCREENS = ["charge", "tip", "payment", "result", "history", "day", "settings"];
let shownScreen = null;
let shownFor = null; // who was signed in when the screen was last loaded

function renderChrome(state) {
  const s = state.status;
  if (!s) return;
  setText($("terminal-name"), s.terminal_name);
  setHidden($("mode-marker"), !s.marker);
  setText($("mode-marker"), s.marker ?? "");
  setData($("mode-marker"), "mode", s.mode ?? "");
  const badge = $("connection");
  setData(badge, "state", s.state === "running" ? s.connection.state : "down");
  setText($("connection").querySelector(".badge-label"), s.connection.label);
  setAttr(badge, "title", s.connection.detail ?? s.connection.advice);
  setData(document.body, "run", s.state);
  setData(document.body, "mode", s.mode ?? "");

  // One banner for the till's own state: why it does not run, that it is starting, or a
  // notice it wants read. Never two at once, never contradicting the badge.
  let level = null;
  let text = "";
  if (s.state === "failed") {
    level = "error";
    text = s.problem ?? "PayDesk could not start.";
  } else if (s.state === "starting") {
    level = "starting";
    text = "PayDesk is starting…";
  } else if (s.notice) {
    level = "info";
    text = s.notice;
  }
  setHidden($("status-banner"), level === null);
  setData($("status-banner"), "level", level ?? "");
  setText($("status-text"), text);
  setHidden($("banner-settings"), s.state !== "failed" || state.screen === "settings");

  setHidden($("toast"), !state.toast);
  if (state.toast) {
    setText($("toast"), state.toast.message);
    setData($("toast"), "level", state.toast.level);
  }
  setText($("version"), state.version ? `PayDesk ${state.version}` : "");
  if (state.serverTimeMs !== null) {
    // The exact server time rides in `datetime` (no repaint); the text shows the minute.
    setAttr($("server-clock"), "datetime", new Date(state.serverTimeMs).toISOString());
    setText($("server-clock"), clockTime(state.serverTimeMs));
  }
  setData(document.body, "ready", state.ready);
}

function renderScreen(state) {
  for (const name of SCREENS) setHidden($(`screen-${name}`), name !== state.screen);
  setData(document.body, "screen", state.screen);
  const navFor = { tip: "charge", payment: "charge", result: "charge" }[state.screen] ?? state.screen;
  document.querySelectorAll("[data-nav]").forEach((b) => {
    if (b.dataset.nav === navFor) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  });
  // Someone else signed in: a screen that depends on who it is loads again.
  const who = state.status?.staff?.signed_in?.name ?? null;
  if (shownFor !== who) {
    shownFor = who;
    if (shownScreen === state.screen && (state.screen === "settings" || state.screen === "history")) shownScreen = null;
  }
  if (shownScreen !== state.screen) {
    shownScreen = state.screen;
    if (state.screen === "history") history.load();
    if (state.screen === "settings") settings.load();
    if (state.screen === "day") day.load();
    if (state.screen === "charge") $("amount").focus();
    if (state.screen === "result") $("main").focus();
  }
}

function render(state) {
  renderChrome(state);
  staff.render(state);
  renderScreen(state);
  sale.render(state);
  if (state.screen === "charge") charge.render(state);
  if (state.screen === "payment") payment.render(state);
  if (state.screen === "result") result.render(state);
}

export function navigate(target) {
  const s = store.get();
  // A payment in progress stays one click away: "Charge" returns to it.
  if (target === "charge" && s.payment && s.payment.status === "pending") {
    store.update({ screen: "payment", toast: null });
  } else if (target === "charge" && s.tip) {
    store.update({ screen: "tip", toast: null });
  } else {
    store.update({ screen: target, toast: null });
  }
}

async function start() {
  [staff, sale, charge, payment, result, history, settings, receipt, day].forEach((m) => m.init());
  document.querySelectorAll("[data-nav]").forEach((b) => b.addEventListener("click", () => navigate(b.dataset.nav)));
  $("banner-settings").addEventListener("click", () => navigate("settings"));
  store.subscribe(render);

  // Listen before asking for the snapshot so nothing falls between the two.
  const queued = [];
  let live = false;
  await onCoreEvent((event) => {
    if (!live) return queued.push(event);
    store.apply(event);
    if (event.kind === "payment") history.onPayment();
    if (event.kind === "receipt") receipt.onPrinted(event.data);
  });
  const snap = await invoke("app_snapshot");
  store.update({
    ready: true,
    version: snap.version,
    status: snap.status,
    currencies: snap.currencies,
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
  $("toast").hidden = false;
  $("toast").textContent = `PayDesk could not start: ${errorText(err)}`;
});
