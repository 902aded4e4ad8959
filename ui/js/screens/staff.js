// Staff at the screen: the lock screen (a PIN pad; the till's status says when it shows),
// the signed-in person in the top bar with Lock, activity that keeps the till unlocked, and
// the approver's PIN pad for one action a role does not allow ("Only a supervisor can
// refund": a supervisor types their PIN on the cashier's screen). The core decides every
// action; `may` (from Rust) only chooses which way a button goes.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText } from "../format.js";
import { setData, setHidden, setText } from "../dom.js";
import { padButtons, pinPad } from "../pinpad.js";

const $ = (id) => document.getElementById(id);
const TOUCH_EVERY_MS = 15000;
let lastTouch = 0;
let approver = null; // { resolve } while the approver's pad is open

const ROLE = { cashier: "cashier", supervisor: "supervisor", owner: "owner" };
// Who may allow an action a role does not (the least role that may take it).
const WHO_ALLOWS = {
  refund: "a supervisor",
  "cancel-any": "a supervisor",
  report: "a supervisor",
  "close-shift": "a supervisor",
  unlock: "a supervisor",
  export: "the owner",
  settings: "the owner",
  keys: "the owner",
  mode: "the owner",
  staff: "the owner",
};

function staffOf(state) {
  return state.status ? state.status.staff : null;
}

/** Whether the till shows the lock screen now. */
export function locked(state = store.get()) {
  const s = staffOf(state);
  return Boolean(s && s.required && !s.signed_in);
}

/** Whether the signed-in person's role allows `action` (everything without staff). */
export function may(action, state = store.get()) {
  const s = staffOf(state);
  return !s || !s.required || s.may.includes(action);
}

/**
 * Runs `run(approverPin)` for `action`: at once when the role allows it, else after an
 * approver typed their PIN (null when the cashier gave up). `what` says what is asked for.
 */
export async function withApproval(action, what, run) {
  if (may(action)) return run(null);
  const pin = await askApprover(action, what);
  if (pin === null) return null;
  return run(pin);
}

function askApprover(action, what) {
  return new Promise((resolve) => {
    approver = { resolve };
    const who = WHO_ALLOWS[action] ?? "someone allowed to";
    setText($("pin-title"), `Ask ${who}`);
    setText($("pin-why"), `${what}: your role does not allow it. ${who[0].toUpperCase()}${who.slice(1)} types their PIN to allow it this once.`);
    setText($("pin-error"), "");
    approverPad.reset();
    $("pin-dialog").showModal();
  });
}

function closeApprover(pin) {
  const a = approver;
  approver = null;
  if ($("pin-dialog").open) $("pin-dialog").close();
  if (a) a.resolve(pin);
}

let lockPad = null;
let approverPad = null;

async function signIn(pin) {
  setText($("lock-error"), "");
  try {
    const status = await invoke("sign_in", { pin });
    store.update({ status, toast: null });
  } catch (err) {
    setText($("lock-error"), errorText(err));
  }
}

async function lockNow() {
  try {
    const status = await invoke("lock_till");
    store.update({ status });
  } catch (err) {
    store.update({ toast: { level: "error", message: errorText(err) } });
  }
}

/** Something happened at the till: the idle time starts again (at most every 15 s). */
function activity() {
  const now = Date.now();
  if (now - lastTouch < TOUCH_EVERY_MS || locked()) return;
  const s = staffOf(store.get());
  if (!s || !s.required) return;
  lastTouch = now;
  invoke("touch").catch(() => {});
}

export function init() {
  $("lock-pad").prepend(...padButtons());
  $("approver-pad").prepend(...padButtons());
  lockPad = pinPad($("lock-screen"), signIn, {
    active: () => locked() && !$("pin-dialog").open,
    onType: () => setText($("lock-error"), ""),
  });
  approverPad = pinPad($("pin-dialog"), async (pin) => closeApprover(pin), {
    active: () => $("pin-dialog").open,
    onType: () => setText($("pin-error"), ""),
  });
  $("pin-cancel").addEventListener("click", () => closeApprover(null));
  $("pin-dialog").addEventListener("cancel", (e) => {
    e.preventDefault();
    closeApprover(null);
  });
  $("who").addEventListener("click", lockNow);
  for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, activity, { capture: true, passive: true });
}

export function render(state) {
  const s = staffOf(state);
  const isLocked = locked(state);
  setHidden($("lock-screen"), !isLocked);
  setData(document.body, "locked", isLocked);
  const signed = s && s.required ? s.signed_in : null;
  setHidden($("who"), !signed);
  if (signed) {
    setText($("who-name"), signed.name);
    setText($("who-role"), ROLE[signed.role] ?? signed.role);
  }
  if (isLocked) {
    if ($("pin-dialog").open) closeApprover(null);
    setText($("lock-till"), state.status ? state.status.terminal_name : "");
    setHidden($("lock-demo"), !s.demo_pin);
    setText($("lock-demo"), s.demo_pin ? `Demo: the demo owner's PIN is ${s.demo_pin}.` : "");
    // The payment in progress is not hidden from whoever signs in next; its state is
    // said here too, so nobody hands over goods on a guess.
    const p = state.payment;
    const line = !p
      ? ""
      : p.status === "pending"
        ? `A payment of ${p.amount_display} is waiting. Sign in to follow it.`
        : p.status === "succeeded"
          ? `Paid: ${p.amount_display}. Sign in to finish the sale.`
          : `The payment of ${p.amount_display} ended: ${p.status}.`;
    setHidden($("lock-payment"), !line);
    setText($("lock-payment"), line);
  } else {
    setText($("lock-error"), "");
    if (lockPad) lockPad.reset();
  }
}
