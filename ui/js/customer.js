// The customer display: mirrors the till's payment in progress — amount, note, QR,
// countdown — then Paid (with the amount) and a thank-you. Before a sale's payment it may
// ask the customer for a tip: the buttons the till offers, or an amount of their own. That
// choice is the only thing this window can send (`choose_tip`); otherwise it listens and
// takes a snapshot. The till's one status tells it the mode (a DEMO or TEST marker the
// customer can see) and which payment is in progress.
import { invoke, onCoreEvent } from "./tauri.js";
import { mmss, remainingSecs } from "./format.js";
import { setData, setHidden, setText } from "./dom.js";

const $ = (id) => document.getElementById(id);
let status = null;
let payment = null;
let serverTimeMs = null;
let resetTimer = null;
let tip = { stage: "idle" }; // CustomerTipView
let other = ""; // the customer's own tip, as typed

const TITLES = { succeeded: "Paid", expired: "Expired", cancelled: "Cancelled" };
const THANKS = {
  succeeded: "Thank you!",
  expired: "The time to pay ran out. Please ask the cashier.",
  cancelled: "Payment cancelled.",
};

function view(name) {
  setData(document.body, "view", name);
  for (const v of ["idle", "tip", "tip-done", "pay", "done"]) setHidden($(`c-${v}`), v !== name);
}

async function choose(pick) {
  if (tip.stage !== "asking") return;
  setText($("c-tip-error"), "");
  try {
    tip = await invoke("choose_tip", { prompt: tip.prompt, pick });
    render();
  } catch (err) {
    setText($("c-tip-error"), typeof err === "string" ? err : String(err));
  }
}

function renderTip() {
  if (tip.stage === "asking") {
    view("tip");
    setText($("c-bill"), tip.bill);
    setText($("c-largest"), tip.largest_tip);
    setText($("c-other-currency"), tip.currency);
    setText($("c-other-value"), other || "0");
    const key = tip.buttons.map((b) => `${b.index}:${b.label}:${b.total}`).join("|");
    if ($("c-tip-buttons").dataset.key !== key) {
      $("c-tip-buttons").dataset.key = key;
      $("c-tip-buttons").replaceChildren(
        ...tip.buttons.map((b) => {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "c-tip-button";
          button.dataset.testid = `c-tip-${b.index}`;
          const label = document.createElement("span");
          label.className = "c-tip-label";
          label.textContent = b.label;
          const amounts = document.createElement("span");
          amounts.className = "c-tip-amounts";
          amounts.textContent = b.label === "No tip" ? b.total : `+${b.tip} = ${b.total}`;
          button.append(label, amounts);
          button.addEventListener("click", () => choose({ choice: b.index }));
          return button;
        }),
      );
    }
    return true;
  }
  if (tip.stage === "decided" && !payment) {
    view("tip-done");
    setText($("c-tip-total"), tip.total);
    setText($("c-tip-amount"), tip.tip && !/^0(\.0+)? /.test(tip.tip) ? `incl. tip ${tip.tip}` : "");
    return true;
  }
  return false;
}

function otherKey(k) {
  const decimals = tip.decimals ?? 2;
  if (k === "back") other = other.slice(0, -1);
  else if (k === ".") {
    if (decimals > 0 && !other.includes(".")) other = `${other || "0"}.`;
  } else {
    const [, frac = null] = other.split(".");
    if (frac !== null && frac.length >= decimals) return;
    if (other.length < 12) other = other === "0" ? k : other + k;
  }
  setText($("c-other-value"), other || "0");
}

function render() {
  if (status) {
    setHidden($("c-marker"), !status.marker);
    setText($("c-marker"), status.marker ? `${status.marker} — no real money` : "");
    setData($("c-marker"), "mode", status.mode ?? "");
    setText($("c-welcome"), `Welcome to ${status.terminal_name}`);
  }
  if (renderTip()) return;
  if (!payment) return view("idle");
  if (payment.status === "pending") {
    view("pay");
    setText($("c-amount"), payment.amount_display);
    setText($("c-crypto"), payment.crypto_display ?? "");
    setHidden($("c-note"), !payment.note);
    setText($("c-note"), payment.note ?? "");
    if ($("c-qr").dataset.id !== payment.id) {
      $("c-qr").src = payment.qr_data_url ?? "";
      $("c-qr").dataset.id = payment.id;
    }
    const remaining =
      payment.deadline_ms && serverTimeMs !== null ? remainingSecs(payment.deadline_ms, serverTimeMs) : payment.remaining_secs;
    setText($("c-countdown"), remaining === null || remaining === undefined ? "" : mmss(remaining));
    return;
  }
  view("done");
  $("c-result").dataset.status = TITLES[payment.status] ? payment.status : "unknown";
  setText($("c-title"), TITLES[payment.status] ?? payment.status);
  setText($("c-done-amount"), payment.amount_display);
  setText($("c-thanks"), payment.unresolved ? "Your payment did not go through; Crypto.com returns the money to you." : THANKS[payment.status] ?? "");
  // The result stays while the cashier finishes the sale ("New sale" clears it); if the
  // till is left alone, back to the welcome screen after a minute.
  clearTimeout(resetTimer);
  resetTimer = setTimeout(() => {
    payment = null;
    render();
  }, 60000);
}

async function start() {
  const queued = [];
  let live = false;
  const handle = (e) => {
    if (e.kind === "status") {
      status = e.data;
      // The cashier moved on: a finished payment leaves the screen; a pending one that
      // is no longer in progress too.
      if (payment && status.active !== payment.id && (payment.status === "pending" || status.active)) payment = null;
    } else if (e.kind === "payment") {
      const inProgress = status && status.active === e.data.id;
      if (!(inProgress || (payment && payment.id === e.data.id))) return;
      payment = e.data;
    } else if (e.kind === "customer_tip") {
      tip = e.data;
      // A new sale asks: the last customer's result has no business on screen any more.
      if (tip.stage === "asking" && payment && payment.status !== "pending") payment = null;
      if (tip.stage !== "asking") {
        other = "";
        setHidden($("c-other-pad"), true);
      }
    } else if (e.kind === "clock") {
      serverTimeMs = e.data.server_time_ms;
      if (!payment || payment.status !== "pending") return;
    } else {
      return;
    }
    render();
  };
  await onCoreEvent((e) => (live ? handle(e) : queued.push(e)));
  const snap = await invoke("app_snapshot");
  status = snap.status;
  payment = snap.active ?? null;
  tip = snap.customer_tip ?? { stage: "idle" };
  live = true;
  queued.forEach(handle);
  render();
  document.body.dataset.ready = "true";
}

function init() {
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", ".", "0", "back"];
  $("c-other-keys").replaceChildren(
    ...keys.map((k) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = k === "back" ? "⌫" : k;
      if (k === "back") b.setAttribute("aria-label", "Backspace");
      b.dataset.key = k;
      b.addEventListener("click", () => otherKey(k));
      return b;
    }),
  );
  $("c-other").addEventListener("click", () => {
    other = "";
    setText($("c-other-value"), "0");
    setHidden($("c-other-pad"), !$("c-other-pad").hidden);
  });
  $("c-other-ok").addEventListener("click", () => {
    if (other) choose({ amount: other });
  });
}

init();
start();
