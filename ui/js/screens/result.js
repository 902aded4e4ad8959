// Result: Paid — unmistakable (colour, icon, words, a chime) and only from a confirmed
// status; Expired and Cancelled offer "charge again" with the amount kept.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { chime } from "../sound.js";
import { restore } from "./charge.js";

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
  store.update({ screen: "charge", payment: null });
}

export function init() {
  $("charge-again").addEventListener("click", () => {
    const last = store.get().lastCharge;
    leave();
    if (last) restore(last);
  });
  $("new-sale").addEventListener("click", () => {
    leave();
    document.getElementById("amount").focus();
  });
}

export function render(state) {
  const p = state.payment;
  if (!p || state.screen !== "result") return;
  const known = TITLES[p.status] !== undefined;
  $("result").dataset.status = known ? p.status : "unknown";
  $("result-title").textContent = TITLES[p.status] ?? `Status: ${p.status}`;
  $("result-amount").textContent = p.amount_display;
  $("result-detail").textContent = DETAILS[p.status] ?? "Crypto.com Pay reported a status PayDesk does not know. Check the payment in History before handing over goods.";
  const paid = p.status === "succeeded";
  $("charge-again").hidden = paid;
  $("new-sale").hidden = !paid;
  if (paid && chimedFor !== p.id) {
    chimedFor = p.id;
    chime();
  }
}
