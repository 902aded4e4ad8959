// Display helpers. Amounts and cashier words come formatted from Rust; here only time and
// status labels.

export const STATUS_LABELS = {
  pending: "Waiting for payment",
  succeeded: "Paid",
  cancelled: "Cancelled",
  expired: "Expired",
};

export function statusLabel(status) {
  return STATUS_LABELS[status] ?? `Unknown status: ${status}`;
}

/** Whole seconds left until the server's deadline, by the server's clock (both from Rust:
 *  the deadline from the payment, the time from the measured clock offset). */
export function remainingSecs(deadlineMs, serverTimeMs) {
  return Math.max(0, Math.ceil((deadlineMs - serverTimeMs) / 1000));
}

/** "9:41" from seconds. */
export function mmss(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** "14:05": the footer's server clock. Minutes only, so the chrome repaints once a minute;
 *  the countdown is the only thing on screen that changes every second. */
export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function timeOfDay(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Turns an error from a command into words for the cashier. */
export function errorText(err) {
  if (!err) return "Something went wrong.";
  if (typeof err === "string") return err;
  return err.message ?? String(err);
}

/** The first 8 characters of an id, for a table cell (the whole id in its title). */
export function shortId(id) {
  return id.length > 8 ? `${id.slice(0, 8)}…` : id;
}
