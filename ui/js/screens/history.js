// History: a day's payments, totals by currency and status, search by id or order id,
// full or partial refunds with confirmation, CSV export.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText, statusLabel, timeOfDay, today } from "../format.js";

const $ = (id) => document.getElementById(id);
let refunding = null; // the PaymentView being refunded
let loadSeq = 0;

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function row(p) {
  const tr = document.createElement("tr");
  tr.dataset.id = p.id;
  const status = document.createElement("span");
  status.className = "status-chip";
  status.dataset.status = p.status;
  status.textContent = statusLabel(p.status);
  const statusCell = document.createElement("td");
  statusCell.append(status);
  if (p.refunded_display) {
    const r = document.createElement("div");
    r.className = "muted";
    r.textContent = `Refunded ${p.refunded_display}`;
    statusCell.append(r);
  }
  const actions = document.createElement("td");
  if (p.can_refund) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = "Refund";
    b.dataset.testid = "refund";
    b.addEventListener("click", () => openRefund(p));
    actions.append(b);
  }
  tr.append(
    cell(timeOfDay(p.created_ms)),
    cell(p.amount_display, "num"),
    statusCell,
    cell(p.order_id ?? p.note ?? ""),
    cell(p.id, "id"),
    actions,
  );
  return tr;
}

function renderTotals(totals) {
  $("totals").replaceChildren(
    ...totals.map((t) => {
      const card = document.createElement("div");
      card.className = "total-card";
      card.dataset.currency = t.currency;
      card.dataset.status = t.status;
      const strong = document.createElement("strong");
      strong.textContent = t.display;
      card.append(strong, document.createTextNode(`${statusLabel(t.status)} · ${t.count}`));
      return card;
    }),
  );
}

export async function load() {
  const seq = ++loadSeq;
  const query = $("history-search").value.trim();
  try {
    const result = query
      ? { entries: await invoke("search_payments", { query }), totals: [] }
      : await invoke("history", { day: $("history-day").value || today() });
    if (seq !== loadSeq) return;
    $("history-rows").replaceChildren(...result.entries.map(row));
    $("history-empty").hidden = result.entries.length > 0;
    renderTotals(result.totals);
  } catch (err) {
    store.update({ notice: { level: "error", message: errorText(err) } });
  }
}

function openRefund(p) {
  refunding = p;
  $("refund-summary").textContent = `${p.amount_display} paid; up to ${p.refundable_display} can be refunded.`;
  $("refund-amount").value = p.refundable;
  $("refund-error").textContent = "";
  $("refund-dialog").showModal();
  $("refund-amount").focus();
}

async function confirmRefund(e) {
  e.preventDefault();
  if (!refunding) return;
  $("refund-confirm").disabled = true;
  try {
    await invoke("refund_payment", { id: refunding.id, amount: $("refund-amount").value.trim() });
    $("refund-dialog").close();
    refunding = null;
    load();
  } catch (err) {
    $("refund-error").textContent = errorText(err);
  } finally {
    $("refund-confirm").disabled = false;
  }
}

async function exportCsv() {
  try {
    const r = await invoke("export_csv", { day: $("history-day").value || today() });
    $("export-result").textContent = `Saved ${r.rows} payments to ${r.path}`;
  } catch (err) {
    $("export-result").textContent = errorText(err);
  }
}

export function init() {
  $("history-day").value = today();
  $("history-day").addEventListener("change", load);
  $("history-search").addEventListener("input", load);
  $("export-csv").addEventListener("click", exportCsv);
  $("refund-form").addEventListener("submit", confirmRefund);
  $("refund-cancel").addEventListener("click", () => $("refund-dialog").close());
}

/** A payment changed somewhere: refresh the list if it is on screen. */
export function onPayment() {
  if (store.get().screen === "history") load();
}
