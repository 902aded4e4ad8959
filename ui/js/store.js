// One store for the whole UI: state in, renders out. Fed by the first snapshot and then by
// core events, in that order ("first render, then push").

const listeners = new Set();
let state = {
  ready: false,
  version: "",
  terminalName: "",
  mode: "",
  connection: "offline",
  serverTimeMs: null,
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

/** Folds one core event into the state. */
export function apply(event) {
  switch (event.kind) {
    case "connection":
      update({ connection: event.data });
      break;
    case "clock":
      update({ serverTimeMs: event.data.server_time_ms });
      break;
    default:
      break;
  }
}
