// A PIN pad: digits typed (on screen or on the keyboard) live only in this closure and are
// handed to `submit` once; the page shows one dot per digit and nothing else. No input
// element ever holds a PIN, so the DOM never does.

const MAX = 6;

/**
 * Wires a pad. `root` holds `[data-pin]` buttons (digits, "back", "clear"), an element
 * `[data-pin-dots]` and a submit button `[data-pin-submit]`. `submit(pin)` resolves when
 * done; the digits are forgotten before it is called.
 */
export function pinPad(root, submit, { active = () => true, onType = null } = {}) {
  let digits = "";
  let busy = false;
  const dots = root.querySelector("[data-pin-dots]");
  const submitButton = root.querySelector("[data-pin-submit]");

  function show() {
    dots.textContent = digits.length ? "●".repeat(digits.length) : "";
    dots.dataset.count = String(digits.length);
    submitButton.disabled = busy || digits.length < 4;
  }

  function press(key) {
    if (busy) return;
    if (onType) onType();
    if (key === "back") digits = digits.slice(0, -1);
    else if (key === "clear") digits = "";
    else if (/^[0-9]$/.test(key) && digits.length < MAX) digits += key;
    show();
  }

  async function go() {
    if (busy || digits.length < 4) return;
    const pin = digits;
    digits = "";
    busy = true;
    show();
    try {
      await submit(pin);
    } finally {
      busy = false;
      show();
    }
  }

  root.querySelectorAll("[data-pin]").forEach((b) => b.addEventListener("click", () => press(b.dataset.pin)));
  submitButton.addEventListener("click", go);
  // Capture phase: while the pad is up, no other screen's keys see a digit or Enter.
  document.addEventListener("keydown", (e) => {
    if (!active()) return;
    if (/^[0-9]$/.test(e.key)) press(e.key);
    else if (e.key === "Backspace") press("back");
    else if (e.key === "Escape") press("clear");
    else if (e.key === "Enter") go();
    else return;
    e.preventDefault();
    e.stopPropagation();
  }, true);
  show();
  return {
    reset() {
      digits = "";
      show();
    },
  };
}

/** The pad's buttons, for a container: 1–9, clear, 0, back. */
export function padButtons() {
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "back"];
  const labels = { clear: "C", back: "⌫" };
  const aria = { clear: "Clear", back: "Backspace" };
  return keys.map((k) => {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.pin = k;
    b.textContent = labels[k] ?? k;
    if (aria[k]) b.setAttribute("aria-label", aria[k]);
    return b;
  });
}
