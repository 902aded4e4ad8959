// Receipts: the slip on screen (as the printer lays it out, with its QR), "Print receipt" on
// the Paid screen, reprints and refund slips from History, and each print's outcome in the
// cashier's words. Printing never stands in the sale's way: the outcome arrives later as a
// core event (`receipt`), and a printer that is off says so here while the sale stays Paid.
// The words all come from Rust; this module only places them.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText } from "../format.js";
import { setData, setHidden, setText } from "../dom.js";

const $ = (id) => document.getElementById(id);
let open = null; // { id, refundId } of the receipt in the dialog

/** The key a print's outcome is kept under in the store. */
function key(kind, id, refundId) {
  return `${kind}:${id ?? ""}:${refundId ?? ""}`;
}

function remember(k, outcome) {
  store.update({ prints: { ...(store.get().prints ?? {}), [k]: outcome } });
}

/** A print outcome from Rust (`CoreEvent::Receipt`). */
export function onPrinted(view) {
  remember(key(view.kind, view.payment_id, view.refund_id), view);
}

/** Asks for a print; its outcome arrives as an event. `approverPin`: a supervisor's
 *  override typed on this screen, when the signed-in person may not. */
export async function print(id, refundId = null, approverPin = null) {
  const k = key(refundId ? "refund" : "sale", id, refundId);
  remember(k, { pending: true, printed: false, title: "Printing", message: "Printing…" });
  try {
    await invoke("print_receipt", { id, refundId, approverPin });
  } catch (err) {
    remember(k, { printed: false, title: "Not printed", message: errorText(err) });
  }
}

/** Where the till prints, asked again whenever a screen needs it (a Settings save
 *  restarts the till with another printer). */
export async function refreshPrinting() {
  try {
    store.update({ printing: await invoke("printing_status") });
  } catch {
    store.update({ printing: null });
  }
}

function showOutcome(el, outcome) {
  setHidden(el, !outcome);
  if (!outcome) return;
  setText(el, outcome.message);
  setData(el, "state", outcome.pending ? "pending" : outcome.printed ? "printed" : "failed");
}

/** Opens the receipt (or a refund's slip) on screen. */
export async function show(id, refundId = null) {
  try {
    const r = await invoke("receipt_view", { id, refundId });
    open = { id, refundId };
    setText($("receipt-title"), refundId ? "Refund slip" : "Receipt");
    setText($("receipt-text"), r.receipt.text);
    setHidden($("receipt-qr"), !r.qr_data_url);
    if (r.qr_data_url) $("receipt-qr").src = r.qr_data_url;
    setText($("receipt-printer"), r.printing.words);
    setHidden($("receipt-print"), !r.printing.printer);
    render(store.get());
    if (!$("receipt-dialog").open) $("receipt-dialog").showModal();
  } catch (err) {
    store.update({ toast: { level: "error", message: errorText(err) } });
  }
}

/** A "Receipt" (or "Slip") button for a History row. */
export function button(id, refundId = null) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = refundId ? "secondary small slip" : "secondary";
  b.textContent = refundId ? "Slip" : "Receipt";
  b.dataset.testid = refundId ? "refund-slip" : "receipt";
  b.title = refundId ? "Show and print this refund's slip" : "Show and print the receipt";
  b.addEventListener("click", () => show(id, refundId));
  return b;
}

function renderResult(state) {
  const p = state.payment;
  const paid = state.screen === "result" && p && p.status === "succeeded";
  setHidden($("result-receipt"), !paid);
  const printer = state.printing && state.printing.printer;
  setHidden($("result-print"), !paid || !printer);
  if (!paid) {
    setHidden($("result-print-status"), true);
    return;
  }
  let outcome = (state.prints ?? {})[key("sale", p.id, null)] ?? null;
  if (!outcome && printer && state.printing.auto_print) {
    outcome = { pending: true, message: "Printing the receipt…" };
  }
  showOutcome($("result-print-status"), outcome);
  const again = outcome && !outcome.pending;
  setText($("result-print"), again ? "Print again" : "Print receipt");
  $("result-print").disabled = Boolean(outcome && outcome.pending);
}

function renderDialog(state) {
  if (!open || !$("receipt-dialog").open) return;
  const outcome = (state.prints ?? {})[key(open.refundId ? "refund" : "sale", open.id, open.refundId)] ?? null;
  showOutcome($("receipt-print-status"), outcome);
  setText($("receipt-print"), outcome && !outcome.pending ? "Print again" : "Print");
  $("receipt-print").disabled = Boolean(outcome && outcome.pending);
}

function render(state) {
  renderResult(state);
  renderDialog(state);
}

// The settings form's receipt part (Settings → Receipts).
export function showSettings(r) {
  if (!r) return;
  $("set-shop-name").value = r.shop_name;
  $("set-shop-address").value = r.shop_address.join("\n");
  $("set-printer-url").value = r.printer_url;
  $("set-paper").value = r.paper;
  $("set-auto-print").checked = r.auto_print;
  $("receipt-settings-state").textContent = r.summary;
}

export function readSettings() {
  return {
    shop_name: $("set-shop-name").value,
    shop_address: $("set-shop-address").value.split("\n"),
    printer_url: $("set-printer-url").value,
    paper: $("set-paper").value,
    auto_print: $("set-auto-print").checked,
  };
}

let shownFor = null;

export function init() {
  $("result-receipt").addEventListener("click", () => {
    const p = store.get().payment;
    if (p) show(p.id);
  });
  $("result-print").addEventListener("click", () => {
    const p = store.get().payment;
    if (p) print(p.id);
  });
  $("receipt-print").addEventListener("click", () => {
    if (open) print(open.id, open.refundId);
  });
  $("receipt-close").addEventListener("click", () => $("receipt-dialog").close());
  $("receipt-dialog").addEventListener("close", () => {
    open = null;
  });
  store.subscribe((state) => {
    // Where this till prints, each time a paid payment reaches the result screen.
    const p = state.payment;
    const paidHere = state.screen === "result" && p && p.status === "succeeded" ? p.id : null;
    if (paidHere !== shownFor) {
      shownFor = paidHere;
      if (paidHere) refreshPrinting();
    }
    render(state);
  });
}
