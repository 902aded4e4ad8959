// Payment: the QR, the amounts, a countdown ring driven by the server's deadline (ticks come
// from Rust, computed from the deadline and the measured clock offset), status, Cancel.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText, mmss, statusLabel } from "../format.js";

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
  $("pay-amount").textContent = p.amount_display;
  $("pay-crypto").textContent = p.crypto_display ?? "";
  $("pay-status").textContent = statusLabel(p.status);
  $("cancel").hidden = !p.can_cancel;
  $("simulate").hidden = !state.demo || p.status !== "pending";
  const c = state.countdown && state.countdown.id === p.id ? state.countdown : null;
  const remaining = c ? c.remaining_secs : p.remaining_secs;
  const total = (c ? c.total_secs : p.total_secs) || 1;
  if (remaining === null || remaining === undefined) {
    $("countdown").textContent = "";
    return;
  }
  $("countdown").textContent = mmss(remaining);
  $("countdown").setAttribute("aria-label", `${Math.ceil(remaining / 60)} minutes left`);
  $("ring-fill").setAttribute("stroke-dashoffset", String(100 - (100 * remaining) / total));
  document.querySelector(".ring-wrap").dataset.urgent = String(remaining <= 60);
}
