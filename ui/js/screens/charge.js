// Charge: keypad and keyboard entry, "+" to add several amounts, one big Charge button that
// says what it charges. The amount is parsed and summed in Rust (`quote_amount`): no float
// ever touches money. An unusually large amount asks the cashier to confirm it.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText } from "../format.js";
import { setData, setText } from "../dom.js";
import * as sale from "./sale.js";

const $ = (id) => document.getElementById(id);
let parts = []; // amounts already added with "+", as typed
let quoteSeq = 0;
let quoted = null; // the last good quote of everything typed
let charging = false;
let currencyShownFor = null; // the status generation whose currency the picker shows

function entry() {
  return $("amount").value.trim();
}

function allParts() {
  return entry() ? [...parts, entry()] : [...parts];
}

function running() {
  const s = store.get().status;
  return Boolean(s && s.state === "running");
}

function showQuote(q) {
  quoted = q;
  const total = $("total");
  // A cart is in the catalog's currency: typed amounts join it in that currency.
  $("currency").disabled = sale.active();
  if (sale.active()) {
    if (sale.currency() && $("currency").value !== sale.currency()) $("currency").value = sale.currency();
    // The cart's total (from Rust); a typed amount joins it as a line on "+" or Charge.
    const cartTotal = sale.cartTotal();
    const ok = running();
    setText(total, cartTotal ?? `0 ${$("currency").value}`);
    setData(total, "empty", !cartTotal);
    const typed = q ? q.display : null;
    const label = typed ? `Add ${typed} and charge` : cartTotal ? `Charge ${cartTotal}` : "Add an item or an amount";
    setText($("charge"), ok ? label : "Cannot charge: PayDesk is not running");
    $("charge").disabled = !ok || (!typed && !cartTotal);
    return;
  }
  if (q) {
    setText(total, q.display);
    setData(total, "empty", false);
    // A till that does not run cannot charge: the banner says why, the button says so.
    const ok = running();
    setText($("charge"), ok ? `Charge ${q.display}` : "Cannot charge: PayDesk is not running");
    $("charge").disabled = !ok;
  } else {
    setText(total, `0 ${$("currency").value}`);
    setData(total, "empty", true);
    setText($("charge"), "Enter an amount");
    $("charge").disabled = true;
  }
}

async function requote() {
  const seq = ++quoteSeq;
  const list = allParts();
  $("parts").replaceChildren(
    ...parts.map((p) => {
      const li = document.createElement("li");
      li.textContent = `+ ${p}`;
      return li;
    }),
  );
  if (list.length === 0) {
    $("amount-error").textContent = "";
    showQuote(null);
    return null;
  }
  try {
    const q = await invoke("quote_amount", { parts: list, currency: $("currency").value });
    if (seq !== quoteSeq) return null;
    $("amount-error").textContent = "";
    showQuote(q);
    return q;
  } catch (err) {
    if (seq !== quoteSeq) return null;
    $("amount-error").textContent = errorText(err);
    showQuote(null);
    // What was already added still stands: show its total, not zero.
    if (parts.length) {
      const q = await invoke("quote_amount", { parts, currency: $("currency").value }).catch(() => null);
      if (q && seq === quoteSeq) {
        setText($("total"), q.display);
        setData($("total"), "empty", false);
      }
    }
    return null;
  }
}

function press(key) {
  const input = $("amount");
  switch (key) {
    case "back":
      input.value = input.value.slice(0, -1);
      break;
    case "clear":
      clear();
      return;
    case "plus":
      addPart();
      return;
    default:
      input.value += key;
  }
  requote();
}

async function addPart() {
  if (!entry()) return;
  const q = await requote();
  if (!q) return; // the error is already shown
  if (sale.active()) {
    if (await sale.addTyped(entry())) $("amount").value = "";
    requote();
    return;
  }
  parts.push(entry());
  $("amount").value = "";
  requote();
}

export function clear() {
  parts = [];
  $("amount").value = "";
  $("note").value = "";
  sale.clearCart();
  requote();
}

/** Puts an earlier sale back on the keypad ("charge again" keeps the amount). */
export function restore(last) {
  parts = [...last.parts];
  $("amount").value = "";
  $("currency").value = last.currency;
  $("note").value = last.note ?? "";
  requote();
}

function confirmLarge(display) {
  return new Promise((resolve) => {
    const dialog = $("confirm-dialog");
    $("confirm-amount").textContent = display;
    const done = (yes) => {
      $("confirm-charge").removeEventListener("click", onYes);
      $("confirm-back").removeEventListener("click", onNo);
      dialog.removeEventListener("cancel", onNo);
      dialog.close();
      resolve(yes);
    };
    const onYes = () => done(true);
    const onNo = (e) => {
      if (e) e.preventDefault();
      done(false);
    };
    $("confirm-charge").addEventListener("click", onYes);
    $("confirm-back").addEventListener("click", onNo);
    dialog.addEventListener("cancel", onNo);
    dialog.showModal();
    // "Go back" has the focus: Enter never charges a large amount by accident.
    $("confirm-back").focus();
  });
}

async function chargeCart() {
  charging = true;
  $("charge").disabled = true;
  try {
    const typed = entry();
    if (typed && !(await requote())) return;
    if (await sale.charge(typed, $("note").value.trim())) {
      $("amount").value = "";
      $("note").value = "";
    }
  } finally {
    charging = false;
    requote();
  }
}

async function charge() {
  if (charging) return;
  if (sale.active()) return chargeCart();
  const list = allParts();
  if (list.length === 0) {
    $("amount-error").textContent = "Enter an amount";
    $("amount").focus();
    return;
  }
  const q = quoted ?? (await requote());
  if (!q) return;
  let confirmed = false;
  if (q.confirm) {
    confirmed = await confirmLarge(q.display);
    if (!confirmed) return;
  }
  charging = true;
  $("charge").disabled = true;
  $("charge").textContent = "Creating payment…";
  const currency = $("currency").value;
  const note = $("note").value.trim();
  try {
    const payment = await invoke("charge", { parts: list, currency, note: note || null, confirmed });
    store.update({
      payment,
      screen: store.screenFor(payment),
      lastCharge: { parts: list, currency, note },
      toast: null,
    });
    parts = [];
    $("amount").value = "";
    $("note").value = "";
    requote();
  } catch (err) {
    $("amount-error").textContent = errorText(err);
  } finally {
    charging = false;
    showQuote(quoted);
  }
}

export function init() {
  document.querySelectorAll("#screen-charge [data-key]").forEach((b) => {
    b.addEventListener("click", () => press(b.dataset.key));
  });
  $("amount").addEventListener("input", requote);
  $("currency").addEventListener("change", requote);
  $("charge").addEventListener("click", charge);
  document.addEventListener("keydown", (e) => {
    if (store.get().screen !== "charge" || document.querySelector("dialog[open]")) return;
    if (e.key === "Enter") {
      e.preventDefault();
      charge();
    } else if (e.key === "Escape") {
      e.preventDefault();
      clear();
    } else if (e.key === "+") {
      e.preventDefault();
      addPart();
    } else if (/^[0-9.,]$/.test(e.key) && e.target !== $("amount") && e.target !== $("note")) {
      $("amount").focus();
    }
  });
}

let cartShown = null;

export function render(state) {
  if (state.cartVersion !== cartShown) {
    cartShown = state.cartVersion;
    showQuote(quoted);
  }
  const select = $("currency");
  if (select.options.length === 0 && state.currencies.length) {
    for (const code of state.currencies) select.add(new Option(code, code));
  }
  // The till's currency, as its settings say: set again whenever the till (re)starts.
  const s = state.status;
  if (s && currencyShownFor !== `${s.generation}/${s.state}` && select.options.length) {
    currencyShownFor = `${s.generation}/${s.state}`;
    if (parts.length === 0 && !entry()) select.value = s.currency;
    requote();
  }
}
