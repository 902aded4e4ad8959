// One store for the whole UI: state in, renders out. Fed by the first snapshot and then by
// core events, in that order ("first render, then push"). The till's status (mode,
// running or failed, currency, connection, the payment in progress) comes from Rust as one
// value: no screen keeps its own copy. Money arrives already formatted: the UI never does
// arithmetic on amounts.

const listeners = new Set();
let state = {
  ready: false,
  version: "",
  status: null, // StatusView from Rust
  currencies: [],
  serverTimeMs: null,
  screen: "charge",
  payment: null, // the payment on screen (PaymentView)
  lastCharge: null, // { parts, currency, note } to "charge again"
  toast: null, // { level, message }: the answer to something the cashier just did
  tip: null, // CashierTipView while a sale waits for the customer's tip
  cartVersion: 0, // bumped whenever the cart changes (the cart itself lives in Rust)
  dismissed: null, // the finished payment the cashier just left ("New sale")
};

export function get() {
  return state;
}

export function update(patch) {
  state = { ...state, ...patch };
  for (const fn of listeners) fn(state);
}

export function subscribe(fn) {
  listeners.add(fn);
  fn(state);
  return () => listeners.delete(fn);
}

export const FINISHED = new Set(["succeeded", "expired", "cancelled"]);

/** The screen that shows a payment in this status. */
export function screenFor(payment) {
  if (!payment) return "charge";
  return payment.status === "pending" ? "payment" : "result";
}

/** Folds one core event into the state. */
export function apply(event) {
  const d = event.data;
  switch (event.kind) {
    case "status": {
      const patch = { status: d };
      // The payment in progress was closed elsewhere (another window, a restart).
      if (state.payment && state.payment.status === "pending" && d.active !== state.payment.id) {
        patch.payment = null;
        if (state.screen === "payment") patch.screen = "charge";
      }
      update(patch);
      break;
    }
    case "clock":
      update({ serverTimeMs: d.server_time_ms });
      break;
    case "payment": {
      if (d.id === state.dismissed) break;
      const mine = (state.payment && state.payment.id === d.id) || (state.status && state.status.active === d.id);
      if (!mine) break;
      const patch = { payment: d };
      // The sale's payment exists: the tip screen's work is done.
      if (state.screen === "tip") patch.tip = null;
      // A finished payment always reaches the cashier, whatever screen they are on.
      if (FINISHED.has(d.status)) patch.screen = "result";
      else if (["charge", "tip", "result"].includes(state.screen)) patch.screen = "payment";
      update(patch);
      break;
    }
    case "notice":
      update({ toast: d });
      break;
    case "tip": {
      // The sale waiting for its tip: decided by the customer (then charged by Rust), by
      // the cashier, or withdrawn.
      const patch = { tip: d.stage === "idle" ? null : d };
      if (d.stage === "idle" && state.screen === "tip") patch.screen = "charge";
      else if (d.stage !== "idle" && state.screen === "charge") patch.screen = "tip";
      update(patch);
      break;
    }
    default:
      break;
  }
}
