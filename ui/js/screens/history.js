// History: this book's payments of a day (demo, test and live sales are kept apart),
// totals per currency with refunds netted, search by note, order id or payment id, refunds
// (requested or sent, with a reason) with confirmation, CSV export.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText, shortId, statusLabel, timeOfDay, today } from "../format.js";
import { withApproval } from "./staff.js";
import * as receipt from "./receipt.js";

const $ = (id) => document.getElementById(id);
let refunding = null; // the PaymentView being refunded
let loadSeq = 0;

const BOOKS = {
  demo: "Demo book: sales made in demo mode. No real money; never in the test or live books.",
  test: "Test book: sales made with Crypto.com Pay test keys. No real money.",
};

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function row(p) {
  const tr = document.createElement("tr");
  tr.dataset.id = p.id;
  const status = el("span", statusLabel(p.status), "status-chip");
  status.dataset.status = p.status;
  const statusCell = el("td");
  statusCell.append(status);
  for (const r of p.refunds) {
    const line = el("div", `Refund ${r.amount_display} · ${r.label}${r.reason ? ` · ${r.reason}` : ""}`, "refund-line");
    line.dataset.state = r.state;
    line.dataset.refundId = r.id;
    line.title = r.customer_sees;
    line.append(" ", receipt.button(p.id, r.id));
    statusCell.append(line);
  }
  if (p.unresolved) statusCell.append(el("div", p.unresolved, "refund-line"));
  const note = el("td", "", "note");
  note.append(el("div", p.note ?? ""));
  if (p.order_id) note.append(el("div", p.order_id, "muted"));
  const id = el("td", shortId(p.id), "id");
  id.title = p.id;
  const actions = el("td");
  if (p.can_refund) {
    const b = el("button", "Refund", "secondary");
    b.type = "button";
    b.dataset.testid = "refund";
    b.addEventListener("click", () => openRefund(p));
    actions.append(b);
  }
  if (p.status === "succeeded") actions.append(receipt.button(p.id));
  const time = el("td");
  time.append(el("div", timeOfDay(p.created_ms)));
  if (p.cashier) time.append(el("div", p.cashier, "muted cashier"));
  const amount = el("td", undefined, "num");
  amount.append(el("div", p.amount_display));
  if (p.tip_display) amount.append(el("div", `incl. tip ${p.tip_display}`, "muted tip-line"));
  tr.append(time, amount, statusCell, note, id, actions);
  return tr;
}

function line(label, value, testid, className) {
  const row = el("div", undefined, `row${className ? ` ${className}` : ""}`);
  row.dataset.testid = testid;
  row.append(el("span", label, className ? "label" : "label muted"), el("span", value, "value"));
  return row;
}

function card(t) {
  const c = el("div", undefined, "total-card");
  c.dataset.currency = t.currency;
  c.append(
    line(`Paid (${t.paid_count})`, t.paid_display, "total-paid"),
    line("Refunds sent", t.refunded_display, "total-refunded"),
    line("Refunds requested", t.refund_requested_display, "total-requested"),
  );
  const other = [
    t.pending_count ? `${t.pending_count} waiting` : "",
    t.expired_count ? `${t.expired_count} expired` : "",
    t.cancelled_count ? `${t.cancelled_count} cancelled` : "",
  ].filter(Boolean);
  if (other.length) c.append(line("Not paid", other.join(" · "), "total-unpaid"));
  c.append(line("Net", t.net_display, "total-net", "net"));
  return c;
}

export async function load() {
  const seq = ++loadSeq;
  const query = $("history-search").value.trim();
  try {
    const result = query
      ? { entries: await invoke("search_payments", { query }), totals: [], book: null }
      : await invoke("history", { day: $("history-day").value || today() });
    if (seq !== loadSeq) return;
    $("history-rows").replaceChildren(...result.entries.map(row));
    $("history-empty").hidden = result.entries.length > 0;
    $("totals").replaceChildren(...result.totals.map(card));
    const book = result.book ?? (store.get().status && store.get().status.mode);
    $("history-book").hidden = !BOOKS[book];
    $("history-book").dataset.book = book ?? "";
    $("history-book").textContent = BOOKS[book] ?? "";
  } catch (err) {
    if (seq !== loadSeq) return;
    $("history-rows").replaceChildren();
    $("totals").replaceChildren();
    $("history-empty").hidden = false;
    $("history-empty").textContent = errorText(err);
  }
}

function openRefund(p) {
  refunding = p;
  $("refund-summary").textContent = `${p.amount_display} paid${p.note ? ` · ${p.note}` : ""}; up to ${p.refundable_display} can be refunded.`;
  $("refund-amount").value = p.refundable;
  $("refund-currency").textContent = p.currency;
  $("refund-reason").value = "";
  $("refund-customer").textContent = "";
  $("refund-error").textContent = "";
  $("refund-confirm").textContent = `Refund ${p.refundable_display}`;
  $("refund-dialog").showModal();
  $("refund-amount").focus();
}

async function confirmRefund() {
  if (!refunding) return;
  $("refund-confirm").disabled = true;
  try {
    const amount = $("refund-amount").value.trim();
    const what = `Refund ${amount} ${refunding.currency}`;
    const after = await withApproval("refund", what, (approverPin) =>
      invoke("refund_payment", {
        id: refunding.id,
        amount,
        reason: $("refund-reason").value.trim() || null,
        approverPin,
      }),
    );
    if (after === null) return; // nobody allowed it: the dialog stays, nothing was asked
    $("refund-dialog").close();
    const last = after.refunds[after.refunds.length - 1];
    $("export-result").textContent = last
      ? `Refund ${last.amount_display}: ${last.label}. ${last.customer_sees}`
      : "Refund asked for.";
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
    const day = $("history-day").value || today();
    const r = await withApproval("export", `Export ${day}`, (approverPin) => invoke("export_csv", { day, approverPin }));
    if (r === null) return;
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
  $("refund-confirm").addEventListener("click", confirmRefund);
  // Enter in the refund dialog never refunds: the cashier presses the Refund button.
  $("refund-form").addEventListener("submit", (e) => e.preventDefault());
  $("refund-form").addEventListener("keydown", (e) => {
    if (e.key === "Enter") e.preventDefault();
  });
  $("refund-amount").addEventListener("input", () => {
    const a = $("refund-amount").value.trim();
    $("refund-confirm").textContent = a ? `Refund ${a} ${$("refund-currency").textContent}` : "Refund";
  });
  $("refund-cancel").addEventListener("click", () => $("refund-dialog").close());
}

/** A payment changed somewhere: refresh the list if it is on screen. */
export function onPayment() {
  if (store.get().screen === "history") load();
}
