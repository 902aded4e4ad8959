// The customer display: mirrors the payment on the till — amount, QR, countdown, status,
// and a thank-you. Read-only: this window may listen and take a snapshot, nothing else.
import { invoke, onCoreEvent } from "./tauri.js";
import { mmss, remainingSecs } from "./format.js";
import { setData, setHidden, setText } from "./dom.js";

const $ = (id) => document.getElementById(id);
let payment = null;
let serverTimeMs = null;
let resetTimer = null;

const TITLES = { succeeded: "Paid", expired: "Expired", cancelled: "Cancelled" };
const THANKS = { succeeded: "Thank you!", expired: "Please ask the cashier to try again.", cancelled: "Payment cancelled." };

function view(name) {
  setData(document.body, "view", name);
  for (const v of ["idle", "pay", "done"]) setHidden($(`c-${v}`), v !== name);
}

function render() {
  if (!payment) return view("idle");
  if (payment.status === "pending") {
    view("pay");
    setText($("c-amount"), payment.amount_display);
    setText($("c-crypto"), payment.crypto_display ?? "");
    if ($("c-qr").dataset.id !== payment.id) {
      $("c-qr").src = payment.qr_data_url ?? "";
      $("c-qr").dataset.id = payment.id;
    }
    const remaining =
      payment.deadline_ms && serverTimeMs !== null ? remainingSecs(payment.deadline_ms, serverTimeMs) : payment.remaining_secs;
    setText($("c-countdown"), remaining === null || remaining === undefined ? "" : mmss(remaining));
    return;
  }
  view("done");
  $("c-result").dataset.status = TITLES[payment.status] ? payment.status : "unknown";
  $("c-title").textContent = TITLES[payment.status] ?? payment.status;
  $("c-thanks").textContent = THANKS[payment.status] ?? "";
  // The result stays while the cashier finishes the sale ("New sale" clears it); if the
  // till is left alone, back to the welcome screen after a minute.
  clearTimeout(resetTimer);
  resetTimer = setTimeout(() => {
    payment = null;
    render();
  }, 60000);
}

async function start() {
  const queued = [];
  let live = false;
  const handle = (e) => {
    if (e.kind === "payment" && (!payment || payment.id === e.data.id || e.data.status === "pending")) {
      payment = e.data;
    } else if (e.kind === "clock") {
      serverTimeMs = e.data.server_time_ms;
      if (!payment || payment.status !== "pending") return;
    } else if (e.kind === "active_cleared") {
      payment = null;
    } else {
      return;
    }
    render();
  };
  await onCoreEvent((e) => (live ? handle(e) : queued.push(e)));
  const snap = await invoke("app_snapshot");
  $("c-welcome").textContent = `Welcome to ${snap.terminal_name}`;
  payment = snap.active ?? null;
  live = true;
  queued.forEach(handle);
  render();
  document.body.dataset.ready = "true";
}

start();
