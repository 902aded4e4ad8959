// Charge: keypad and keyboard entry, "+" to add several amounts, one big Charge button.
// The amount is parsed and summed in Rust (`quote_amount`): no float ever touches money.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText } from "../format.js";

const $ = (id) => document.getElementById(id);
let parts = []; // amounts already added with "+", as typed
let quoteSeq = 0;
let charging = false;

function entry() {
  return $("amount").value.trim();
}

function allParts() {
  return entry() ? [...parts, entry()] : [...parts];
}

async function requote() {
  const seq = ++quoteSeq;
  const list = allParts();
  $("parts").replaceChildren(
    ...parts.map((p) => {
      const li = document.createElement("li");
      li.textContent = p;
      return li;
    }),
  );
  if (list.length === 0) {
    $("total").textContent = "";
    $("amount-error").textContent = "";
    return null;
  }
  try {
    const q = await invoke("quote_amount", { parts: list, currency: $("currency").value });
    if (seq !== quoteSeq) return null;
    $("total").textContent = parts.length ? `Total ${q.display}` : q.display;
    $("amount-error").textContent = "";
    return q;
  } catch (err) {
    if (seq !== quoteSeq) return null;
    $("total").textContent = "";
    $("amount-error").textContent = errorText(err);
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
  parts.push(entry());
  $("amount").value = "";
  requote();
}

export function clear() {
  parts = [];
  $("amount").value = "";
  $("note").value = "";
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

async function charge() {
  if (charging) return;
  const list = allParts();
  if (list.length === 0) {
    $("amount-error").textContent = "Enter an amount";
    $("amount").focus();
    return;
  }
  charging = true;
  $("charge").disabled = true;
  $("charge").textContent = "Creating payment…";
  const currency = $("currency").value;
  const note = $("note").value.trim();
  try {
    const payment = await invoke("charge", { parts: list, currency, note: note || null });
    store.update({
      payment,
      screen: store.screenFor(payment),
      lastCharge: { parts: list, currency, note },
      notice: null,
    });
    parts = [];
    $("amount").value = "";
    $("note").value = "";
    requote();
  } catch (err) {
    $("amount-error").textContent = errorText(err);
  } finally {
    charging = false;
    $("charge").disabled = false;
    $("charge").textContent = "Charge";
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
    if (store.get().screen !== "charge" || e.target.closest("dialog")) return;
    if (e.key === "Enter") {
      e.preventDefault();
      charge();
    } else if (e.key === "Escape") {
      e.preventDefault();
      clear();
    } else if (e.key === "+" ) {
      e.preventDefault();
      addPart();
    } else if (/^[0-9.,]$/.test(e.key) && e.target !== $("amount") && e.target !== $("note")) {
      $("amount").focus();
    }
  });
}

export function render(state) {
  const select = $("currency");
  if (select.options.length === 0 && state.currencies.length) {
    for (const code of state.currencies) select.add(new Option(code, code));
    select.value = state.defaultCurrency;
  }
}
