// Display helpers. Amounts are formatted in Rust; here only time and labels.

export const CONNECTION_LABELS = {
  connecting: "Connecting",
  live: "Live",
  reconnecting: "Reconnecting",
  polling: "Polling",
  offline: "Offline",
  closed: "Closed",
};

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

/** "12 s ago", "3 min ago" — the age of the last update the badge shows. */
export function age(ms) {
  if (ms === null || ms === undefined || ms < 0) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s ago`;
  return `${Math.round(s / 60)} min ago`;
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
