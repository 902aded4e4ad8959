// Sales: the quick keys beside the keypad, the cart (lines with their quantity, typed
// amounts as lines of their own), and the tip screen while the customer chooses on their
// display. The cart lives in Rust (the till's register); every change answers with the
// cart as it now is, amounts printed — the webview never adds up money.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText, mmss } from "../format.js";
import { setData, setHidden, setText } from "../dom.js";

const $ = (id) => document.getElementById(id);
let setup = null; // SaleSetup from Rust, for the running till
let loadedFor = null; // the status generation it was loaded for
let side = "items"; // which of quick keys / keypad the narrow layout shows
let busy = false;

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

/** Whether charges go through the cart on this till. */
export function active() {
  return Boolean(setup && setup.use_cart);
}

/** Whether the cart holds something to charge. */
export function hasLines() {
  return Boolean(setup && setup.cart.lines.length);
}

/** The catalog's currency (the cart's). */
export function currency() {
  return setup ? setup.quick_keys.currency : null;
}

export function cartTotal() {
  return setup && setup.cart.can_charge ? setup.cart.receipt.total : null;
}

function say(text) {
  setText($("amount-error"), text);
}

function showCart(cart) {
  setup = { ...setup, cart };
  renderCart();
  // The charge screen's button and total follow the cart.
  store.update({ cartVersion: (store.get().cartVersion ?? 0) + 1 });
}

async function edit(command, args) {
  try {
    showCart(await invoke(command, args));
    say("");
    return true;
  } catch (err) {
    say(errorText(err));
    return false;
  }
}

/** A typed amount becomes a line of its own. */
export function addTyped(amount) {
  return edit("cart_add_amount", { amount, label: null });
}

export function clearCart() {
  if (!active()) return Promise.resolve(true);
  return edit("cart_clear", {});
}

function renderQuickKeys() {
  const keys = setup ? setup.quick_keys.keys : [];
  $("quick-keys").replaceChildren(
    ...keys.map((k) => {
      const b = el("button", undefined, "quick-key");
      b.type = "button";
      b.dataset.sku = k.sku;
      b.dataset.testid = `key-${k.sku}`;
      if (k.colour) b.style.setProperty("--key-colour", k.colour);
      b.append(el("span", k.name, "quick-key-name"), el("span", k.price, "quick-key-price"));
      b.addEventListener("click", () => edit("cart_add_item", { sku: k.sku, quantity: 1 }));
      return b;
    }),
  );
}

function renderCart() {
  const on = active();
  setHidden($("cart"), !on);
  setHidden($("parts"), on);
  if (!on) {
    setHidden($("cart-tax"), true);
    return;
  }
  const cart = setup.cart;
  $("cart").replaceChildren(
    ...cart.lines.map((l) => {
      const li = el("li");
      li.dataset.line = String(l.id);
      li.dataset.testid = "cart-line";
      const name = el("span", l.quantity > 1 ? `${l.quantity}× ${l.name}` : l.name, "cart-name");
      const amount = el("span", l.amount, "cart-amount");
      const minus = el("button", "−", "cart-step");
      minus.type = "button";
      minus.setAttribute("aria-label", `One ${l.name} less`);
      minus.dataset.testid = "line-minus";
      minus.addEventListener("click", () => edit("cart_set_quantity", { line: l.id, quantity: l.quantity - 1 }));
      const plus = el("button", "+", "cart-step");
      plus.type = "button";
      plus.setAttribute("aria-label", `One ${l.name} more`);
      plus.dataset.testid = "line-plus";
      plus.hidden = !l.sku; // a typed amount is one line of one
      plus.addEventListener("click", () => edit("cart_set_quantity", { line: l.id, quantity: l.quantity + 1 }));
      li.append(name, amount, minus, plus);
      return li;
    }),
  );
  const taxes = cart.receipt.taxes.map((t) => `${t.label} ${t.tax}`).join(" · ");
  setHidden($("cart-tax"), !taxes);
  setText($("cart-tax"), taxes);
}

function renderSide() {
  const withKeys = active() && setup.quick_keys.keys.length > 0;
  setData($("screen-charge"), "cart", withKeys);
  setHidden($("side-tabs"), !withKeys);
  setHidden($("quick-keys"), !withKeys);
  setData($("screen-charge"), "side", withKeys ? side : "keypad");
  document.querySelectorAll("[data-side]").forEach((b) => {
    b.setAttribute("aria-selected", String(b.dataset.side === side));
  });
}

/** Loads the quick keys and the cart when the till (re)starts. */
async function load(status) {
  loadedFor = `${status.generation}/${status.state}`;
  if (status.state !== "running") {
    setup = null;
  } else {
    try {
      setup = await invoke("sale_setup");
    } catch {
      setup = null;
    }
  }
  renderQuickKeys();
  renderCart();
  renderSide();
  if (setup && setup.tip.stage !== "idle") store.update({ tip: setup.tip, tipDisplayOpen: setup.display_open, screen: "tip" });
  store.update({ cartVersion: (store.get().cartVersion ?? 0) + 1 });
}

/**
 * Charge with the cart: a typed amount first becomes a line, then the customer is asked
 * for the tip (or, when the till does not ask, the payment is created at once).
 */
export async function charge(typed, note) {
  if (busy) return false;
  busy = true;
  try {
    if (typed && !(await addTyped(typed))) return false;
    if (!hasLines()) {
      say("Add an item or an amount first");
      return false;
    }
    const started = await invoke("start_sale", { note: note || null });
    if (started.stage === "charged") {
      store.update({ payment: started.payment, screen: store.screenFor(started.payment), tip: null, toast: null });
    } else {
      store.update({ tip: started.tip, tipDisplayOpen: started.display_open, screen: "tip", toast: null });
    }
    // The cart empties once the payment exists; until then it is the sale on the tip screen.
    return true;
  } catch (err) {
    say(errorText(err));
    return false;
  } finally {
    busy = false;
  }
}

async function tipCall(command, args) {
  setText($("tip-error"), "");
  try {
    return await invoke(command, args);
  } catch (err) {
    setText($("tip-error"), errorText(err));
    return null;
  }
}

function prompt() {
  const t = store.get().tip;
  return t && t.stage !== "idle" ? t.prompt : null;
}

async function back() {
  const id = prompt();
  if (id !== null) await tipCall("tip_back", { prompt: id });
  store.update({ tip: null, screen: "charge" });
}

const OUTCOME = {
  customer: "chosen by the customer",
  cashier: "typed by the cashier",
  skipped: "no tip",
  timed_out: "the customer did not choose",
  not_asked: "no tip asked",
};

export function renderTip(state) {
  const t = state.tip;
  if (!t || t.stage === "idle") return;
  const receipt = t.receipt;
  $("tip-lines").replaceChildren(
    ...receipt.lines.map((l) => {
      const li = el("li");
      li.append(el("span", l.detail ? `${l.name} (${l.detail})` : l.name), el("span", l.amount, "num"));
      return li;
    }),
  );
  if (t.stage === "asking") {
    setText($("tip-title"), "The customer is choosing a tip");
    setText($("tip-bill"), `Bill ${receipt.total}`);
    const left = Math.max(0, Math.ceil((t.deadline_unix_ms - Date.now()) / 1000));
    setText($("tip-detail"), `On their screen: ${t.buttons.map((b) => b.label).join(" · ")}. Without a choice, no tip in ${mmss(left)}.`);
    setHidden($("tip-controls"), false);
    setHidden($("tip-retry"), true);
    setHidden($("tip-no-display"), state.tipDisplayOpen !== false);
  } else {
    const failed = state.toast && state.toast.level === "error" && !state.payment;
    setText($("tip-title"), failed ? "The payment was not created" : "Creating the payment…");
    setText($("tip-bill"), `Total ${receipt.total}`);
    setText($("tip-detail"), receipt.tip ? `Tip ${receipt.tip} (${OUTCOME[t.outcome] ?? t.outcome})` : OUTCOME[t.outcome] ?? "");
    setHidden($("tip-controls"), true);
    setHidden($("tip-retry"), !failed);
    setHidden($("tip-no-display"), true);
  }
}

async function retry() {
  const id = prompt();
  if (id === null) return;
  const payment = await tipCall("charge_decided", { prompt: id, note: $("note").value.trim() || null });
  if (payment) store.update({ payment, screen: store.screenFor(payment), tip: null, toast: null });
}

export function init() {
  document.querySelectorAll("[data-side]").forEach((b) =>
    b.addEventListener("click", () => {
      side = b.dataset.side;
      renderSide();
    }),
  );
  $("tip-skip").addEventListener("click", async () => {
    const id = prompt();
    if (id !== null) await tipCall("tip_skip", { prompt: id });
  });
  $("tip-apply").addEventListener("click", async () => {
    const id = prompt();
    const tip = $("tip-input").value.trim();
    if (id === null || !tip) return;
    if (await tipCall("tip_cashier", { prompt: id, tip })) $("tip-input").value = "";
  });
  $("tip-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      $("tip-apply").click();
    }
  });
  $("tip-back").addEventListener("click", back);
  $("tip-retry").addEventListener("click", retry);
}

let lastScreen = null;

export function render(state) {
  const s = state.status;
  if (s && loadedFor !== `${s.generation}/${s.state}`) load(s);
  // Back on the charge screen (a sale was charged, or the cashier went back): the cart as
  // the register holds it now.
  if (state.screen === "charge" && lastScreen !== null && lastScreen !== "charge" && s && s.state === "running") {
    invoke("sale_setup")
      .then((fresh) => {
        setup = fresh;
        renderCart();
        store.update({ cartVersion: (store.get().cartVersion ?? 0) + 1 });
      })
      .catch(() => {});
  }
  lastScreen = state.screen;
  if (state.screen === "tip") renderTip(state);
}
