// Payment: the QR, the amounts, a countdown ring driven by the server's deadline (the
// server's time arrives from Rust each second, corrected by the measured clock offset),
// status, Cancel.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText, mmss, remainingSecs, statusLabel } from "../format.js";
import { setAttr, setData, setHidden, setText } from "../dom.js";

const $ = (id) => document.getElementById(id);

async function cancel() {
  const p = store.get().payment;
  if (!p) return;
  $("cancel").disabled = true;
  try {
    const payment = await invoke("cancel_payment", { id: p.id });
    store.update({ payment, screen: store.screenFor(payment) });
  } catch (err) {
    store.update({ notice: { level: "error", message: errorText(err) } });
  } finally {
    $("cancel").disabled = false;
  }
}

async function simulate() {
  const p = store.get().payment;
  if (!p) return;
  $("simulate").disabled = true;
  try {
    // The sandbox captures the payment; "Paid" appears only when the capture comes back
    // through the relay (or the API), like any real payment.
    await invoke("simulate_payment", { id: p.id });
  } catch (err) {
    store.update({ notice: { level: "error", message: errorText(err) } });
  } finally {
    $("simulate").disabled = false;
  }
}

export function init() {
  $("cancel").addEventListener("click", cancel);
  $("simulate").addEventListener("click", simulate);
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
  setText($("pay-status"), statusLabel(p.status));
  setHidden($("cancel"), !p.can_cancel);
  setHidden($("simulate"), !state.demo || p.status !== "pending");
  const remaining =
    p.deadline_ms && state.serverTimeMs !== null ? remainingSecs(p.deadline_ms, state.serverTimeMs) : p.remaining_secs;
  const total = p.total_secs || 1;
  if (remaining === null || remaining === undefined) {
    setText($("countdown"), "");
    return;
  }
  setText($("countdown"), mmss(remaining));
  setAttr($("countdown"), "aria-label", `${Math.ceil(remaining / 60)} minutes left`);
  // Whole percent: the ring moves when a pixel would, not every second.
  setAttr($("ring-fill"), "stroke-dashoffset", Math.round(100 - (100 * remaining) / total));
  setData(document.querySelector(".ring-wrap"), "urgent", remaining <= 60);
}
