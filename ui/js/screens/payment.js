// Payment: the QR, the amounts and the note, a countdown ring driven by the server's
// deadline (the API's time arrives from Rust each second, corrected by the measured clock
// offset), the status in the cashier's words — including when the connection cannot be
// trusted — "Check now", Cancel, and in demo mode the demo customer.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText, mmss, remainingSecs, statusLabel } from "../format.js";
import { setAttr, setData, setHidden, setText } from "../dom.js";
import { withApproval } from "./staff.js";

const $ = (id) => document.getElementById(id);

async function act(button, fn) {
  const p = store.get().payment;
  if (!p) return;
  button.disabled = true;
  try {
    await fn(p);
  } catch (err) {
    store.update({ toast: { level: "error", message: errorText(err) } });
  } finally {
    button.disabled = false;
  }
}

async function cancel() {
  await act($("cancel"), async (p) => {
    const payment = await withApproval("cancel-own", `Cancel ${p.amount_display}`, (approverPin) =>
      invoke("cancel_payment", { id: p.id, approverPin }),
    );
    // The cashier may have moved on while the answer travelled (the cancel's own event
    // came first and they pressed New sale): it is news of a payment they left.
    if (payment === null || store.get().dismissed === payment.id) return;
    store.update({ payment, screen: store.screenFor(payment), toast: null });
  });
}

async function checkNow() {
  await act($("check-now"), async (p) => {
    const payment = await invoke("check_payment", { id: p.id });
    if (store.get().dismissed === payment.id) return;
    store.update({ payment, screen: store.screenFor(payment), toast: null });
  });
}

function simulate(onchain) {
  const button = onchain ? $("simulate-onchain") : $("simulate");
  // The sandbox captures the payment; "Paid" appears only when the capture comes back
  // through the relay (or the API), like any real payment.
  return act(button, (p) => invoke("simulate_payment", { id: p.id, onchain }));
}

export function init() {
  $("cancel").addEventListener("click", cancel);
  $("check-now").addEventListener("click", checkNow);
  $("simulate").addEventListener("click", () => simulate(false));
  $("simulate-onchain").addEventListener("click", () => simulate(true));
}

export function render(state) {
  const p = state.payment;
  if (!p) return;
  if ($("qr").dataset.id !== p.id) {
    $("qr").src = p.qr_data_url ?? "";
    $("qr").dataset.id = p.id;
  }
  setText($("pay-amount"), p.amount_display);
  setText($("pay-crypto"), p.crypto_display ?? "");
  setHidden($("pay-note"), !p.note);
  setText($("pay-note"), p.note ?? "");
  setHidden($("pay-tip"), !p.tip_display);
  setText($("pay-tip"), p.tip_display ? `incl. tip ${p.tip_display}` : "");
  const conn = state.status ? state.status.connection : null;
  const running = state.status && state.status.state === "running";
  const trust = Boolean(running && conn && conn.trustworthy);
  // Waiting only means something while the till can see a payment arrive.
  // Money that cannot settle it means no Paid will come: the status says so, not "Waiting".
  const label =
    p.status === "pending" && p.unresolved
      ? "Not paid"
      : p.status === "pending" && !trust
        ? "No connection — do not hand over goods"
        : statusLabel(p.status);
  setText($("pay-status"), label);
  setData($("pay-status"), "trust", trust);
  setText($("pay-advice"), conn ? conn.advice : "");
  // Money that arrived but cannot settle it (too little, the wrong coin): said at once, so
  // nobody waits for a Paid that cannot come.
  setHidden($("pay-unresolved"), !p.unresolved);
  setText($("pay-unresolved"), p.unresolved ?? "");
  setData($("pay-advice"), "trust", trust);
  setHidden($("cancel"), !p.can_cancel);
  setHidden($("demo-tools"), !(state.status && state.status.demo) || p.status !== "pending");
  const remaining =
    p.deadline_ms && state.serverTimeMs !== null ? remainingSecs(p.deadline_ms, state.serverTimeMs) : p.remaining_secs;
  const total = p.total_secs || 1;
  const ring = document.querySelector(".ring-wrap");
  setData(ring, "trust", trust);
  if (remaining === null || remaining === undefined) {
    setText($("countdown"), "");
    return;
  }
  setText($("countdown"), mmss(remaining));
  setAttr($("countdown"), "aria-label", `${Math.ceil(remaining / 60)} minutes left`);
  // Whole percent: the ring moves when a pixel would, not every second.
  setAttr($("ring-fill"), "stroke-dashoffset", Math.round(100 - (100 * remaining) / total));
  setData(ring, "urgent", remaining <= 60);
}
