// Result: Paid — unmistakable (colour, icon, words, a chime) and only from a confirmed
// status; Expired and Cancelled offer "charge again" (the amount kept) and "new sale".
// Enter takes the first button, Escape starts a new sale.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { chime } from "../sound.js";
import { restore, clear } from "./charge.js";
import { setHidden, setText } from "../dom.js";

const $ = (id) => document.getElementById(id);
let chimedFor = null;

const TITLES = { succeeded: "Paid", expired: "Expired", cancelled: "Cancelled" };
const DETAILS = {
  succeeded: "Confirmed by Crypto.com Pay. Hand over the goods.",
  expired: "The customer did not pay in time. Nothing was charged.",
  cancelled: "The payment was cancelled. Nothing was charged.",
};

function leave() {
  const p = store.get().payment;
  if (p) invoke("close_payment", { id: p.id }).catch(() => {});
  // The cashier moved on: late news of this payment (a confirming read still on its way)
  // must not bring it back over the next sale.
  store.update({ screen: "charge", payment: null, toast: null, dismissed: p ? p.id : null });
}

function chargeAgain() {
  const last = store.get().lastCharge;
  leave();
  if (last) restore(last);
}

function newSale() {
  leave();
  clear();
  document.getElementById("amount").focus();
}

async function checkNow() {
  const p = store.get().payment;
  if (!p) return;
  $("result-check").disabled = true;
  try {
    const payment = await invoke("check_payment", { id: p.id });
    if (store.get().dismissed === payment.id) return;
    store.update({ payment, toast: null });
  } catch (err) {
    store.update({ toast: { level: "error", message: String(err) } });
  } finally {
    $("result-check").disabled = false;
  }
}

export function init() {
  $("result-check").addEventListener("click", checkNow);
  $("charge-again").addEventListener("click", chargeAgain);
  $("new-sale").addEventListener("click", newSale);
  document.addEventListener("keydown", (e) => {
    if (store.get().screen !== "result" || document.querySelector("dialog[open]")) return;
    const p = store.get().payment;
    if (e.key === "Enter") {
      e.preventDefault();
      if (p && p.status !== "succeeded" && store.get().lastCharge) chargeAgain();
      else newSale();
    } else if (e.key === "Escape") {
      e.preventDefault();
      newSale();
    }
  });
}

export function render(state) {
  const p = state.payment;
  if (!p || state.screen !== "result") return;
  const known = TITLES[p.status] !== undefined;
  $("result").dataset.status = known ? p.status : "unknown";
  setText($("result-title"), TITLES[p.status] ?? `Status: ${p.status}`);
  setText($("result-amount"), p.amount_display);
  setHidden($("result-note"), !p.note);
  setText($("result-note"), p.note ?? "");
  // What was rung up, in one line: the tip apart, and who charged it.
  const sale = [
    p.tip_display ? `incl. tip ${p.tip_display}` : "",
    p.sale ? p.sale.taxes.map((t) => `${t.label} ${t.tax}`).join(" · ") : "",
    p.cashier ? `by ${p.cashier}` : "",
  ].filter(Boolean);
  setHidden($("result-sale"), sale.length === 0);
  setText($("result-sale"), sale.join(" · "));
  // Money that did not settle the payment has its own words: the default ones would
  // contradict them ("did not pay" while they paid, too late).
  setHidden($("result-detail"), Boolean(p.unresolved));
  setText(
    $("result-detail"),
    DETAILS[p.status] ??
      "Crypto.com Pay reported a status PayDesk does not know. Check the payment in History before handing over goods.",
  );
  setHidden($("result-unresolved"), !p.unresolved);
  setText($("result-unresolved"), p.unresolved ?? "");
  const paid = p.status === "succeeded";
  const again = !paid && Boolean(state.lastCharge);
  setHidden($("charge-again"), !again);
  // Money can arrive after the deadline: the till keeps reading, and the cashier can ask.
  setHidden($("result-check"), p.status !== "expired" || Boolean(p.unresolved));
  $("new-sale").className = again ? "secondary" : "primary";
  setText($("result-keys"), again ? "Enter: charge again · Esc: new sale" : "Enter: new sale");
  if (paid && chimedFor !== p.id) {
    chimedFor = p.id;
    chime();
  }
}
