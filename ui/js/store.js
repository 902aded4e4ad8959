// One store for the whole UI: state in, renders out. Fed by the first snapshot and then by
// core events, in that order ("first render, then push"). Money arrives from Rust already
// formatted: the UI never does arithmetic on amounts.

const listeners = new Set();
let state = {
  ready: false,
  version: "",
  terminalName: "",
  mode: "",
  demo: false,
  defaultCurrency: "EUR",
  currencies: [],
  connection: { state: "offline", last_update_ms: null },
  serverTimeMs: null,
  screen: "charge",
  payment: null, // the payment on screen (PaymentView)
  lastCharge: null, // { parts, currency, note } to "charge again"
  notice: null, // { level, message }
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

/** The screen that shows a payment in this status. */
export function screenFor(payment) {
  if (!payment) return "charge";
  return payment.status === "pending" ? "payment" : "result";
}

/** Folds one core event into the state. */
export function apply(event) {
  const d = event.data;
  switch (event.kind) {
    case "connection":
      update({ connection: d });
      break;
    case "clock":
      update({ serverTimeMs: d.server_time_ms });
      break;
    case "payment": {
      // Only the payment on screen drives the screen; others update History when shown.
      if (state.payment && state.payment.id === d.id) {
        const onPaymentFlow = state.screen === "payment" || state.screen === "result";
        update({ payment: d, screen: onPaymentFlow ? screenFor(d) : state.screen });
      }
      break;
    }
    case "notice":
      update({ notice: d });
      break;
    default:
      break;
  }
}
