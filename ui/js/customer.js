// The customer display: mirrors the till's payment in progress — amount, note, QR,
// countdown — then Paid (with the amount) and a thank-you. Read-only: this window may
// listen and take a snapshot, nothing else. The till's one status tells it the mode (a
// DEMO or TEST marker the customer can see) and which payment is in progress.
import { invoke, onCoreEvent } from "./tauri.js";
import { mmss, remainingSecs } from "./format.js";
import { setData, setHidden, setText } from "./dom.js";

const $ = (id) => document.getElementById(id);
let status = null;
let payment = null;
let serverTimeMs = null;
let resetTimer = null;

const TITLES = { succeeded: "Paid", expired: "Expired", cancelled: "Cancelled" };
const THANKS = {
  succeeded: "Thank you!",
  expired: "The time to pay ran out. Please ask the cashier.",
  cancelled: "Payment cancelled.",
};

function view(name) {
  setData(document.body, "view", name);
  for (const v of ["idle", "pay", "done"]) setHidden($(`c-${v}`), v !== name);
}

function render() {
  if (status) {
    setHidden($("c-marker"), !status.marker);
    setText($("c-marker"), status.marker ? `${status.marker} — no real money` : "");
    setData($("c-marker"), "mode", status.mode ?? "");
    setText($("c-welcome"), `Welcome to ${status.terminal_name}`);
  }
  if (!payment) return view("idle");
  if (payment.status === "pending") {
    view("pay");
    setText($("c-amount"), payment.amount_display);
    setText($("c-crypto"), payment.crypto_display ?? "");
    setHidden($("c-note"), !payment.note);
    setText($("c-note"), payment.note ?? "");
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
  setText($("c-title"), TITLES[payment.status] ?? payment.status);
  setText($("c-done-amount"), payment.amount_display);
  setText($("c-thanks"), payment.unresolved ? "Your payment did not go through; Crypto.com returns the money to you." : THANKS[payment.status] ?? "");
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
    if (e.kind === "status") {
      status = e.data;
      // The cashier moved on: a finished payment leaves the screen; a pending one that
      // is no longer in progress too.
      if (payment && status.active !== payment.id && (payment.status === "pending" || status.active)) payment = null;
    } else if (e.kind === "payment") {
      const inProgress = status && status.active === e.data.id;
      if (!(inProgress || (payment && payment.id === e.data.id))) return;
      payment = e.data;
    } else if (e.kind === "clock") {
      serverTimeMs = e.data.server_time_ms;
      if (!payment || payment.status !== "pending") return;
    } else {
      return;
    }
    render();
  };
  await onCoreEvent((e) => (live ? handle(e) : queued.push(e)));
  const snap = await invoke("app_snapshot");
  status = snap.status;
  payment = snap.active ?? null;
  live = true;
  queued.forEach(handle);
  render();
  document.body.dataset.ready = "true";
}

start();
