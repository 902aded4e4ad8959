// Settings: mode, keys (write-only: saved to the OS keychain, never shown back, never read
// into this webview), relay and API URLs, currency, terminal name, the QR's content,
// "Test connection", where the customer display goes, kiosk mode and the idle lock. Save
// answers in Rust's words: whether PayDesk restarted, and if not, why. The owner's screen:
// anyone else is told so (the core refuses them anyway).
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText } from "../format.js";
import { may } from "./staff.js";
import { readSettings as readReceipts, showSettings as showReceipts } from "./receipt.js";

const $ = (id) => document.getElementById(id);

// The verdict sits under Save; on a small screen that is below the fold, so a verdict is
// brought into view (with what follows it, the check table, when `top`). Clearing it, as
// opening Settings does, leaves the page where it is.
function say(text, ok, top = false) {
  const result = $("settings-result");
  result.textContent = text;
  result.dataset.ok = ok === undefined ? "" : String(ok);
  if (text) result.scrollIntoView({ block: top ? "start" : "nearest" });
}

function show(s) {
  $("set-mode").value = s.mode;
  $("set-terminal").value = s.terminal_name;
  $("set-api-url").value = s.api_url ?? "";
  $("set-relay-url").value = s.relay_url ?? "";
  $("set-qr").value = s.qr_content;
  const cur = $("set-currency");
  if (cur.options.length === 0) for (const c of store.get().currencies) cur.add(new Option(c, c));
  cur.value = s.default_currency;
  $("set-secret-key").value = "";
  $("set-terminal-key").value = "";
  $("set-kiosk").checked = s.kiosk;
  $("kiosk-state").textContent = s.starts_at_login ? "PayDesk starts at login on this computer." : "";
  $("set-lock-after").value = String(s.lock_after_minutes);
  $("set-secret-key").placeholder = s.secret_key_saved ? "saved — type to replace" : "not set";
  $("set-terminal-key").placeholder = s.terminal_key_saved ? "saved — type to replace" : "not set";
  $("secret-key-state").textContent = s.secret_key_source;
  $("terminal-key-state").textContent = s.terminal_key_source;
  showReceipts(s.receipts);
}

async function loadMonitors() {
  try {
    const m = await invoke("list_monitors");
    const select = $("set-monitor");
    select.replaceChildren(
      ...m.monitors.map((x) => {
        const label = `${x.name} (${x.size}${x.till ? ", this till's screen" : ""}${x.primary ? ", primary" : ""})`;
        return new Option(label, x.name);
      }),
    );
    const other = m.monitors.find((x) => !x.till);
    select.value = m.chosen ?? (other ? other.name : m.monitors[0]?.name ?? "");
  } catch (err) {
    say(errorText(err), false);
  }
}

/** Settings are the owner's: anyone else sees why, and how the owner gets in. */
function denied() {
  const no = !may("settings");
  $("settings-denied").hidden = !no;
  $("settings-body").hidden = no;
  if (no) {
    const who = store.get().status?.staff?.signed_in;
    $("settings-denied-text").textContent = `Only the owner can change the settings${who ? `; ${who.name} is signed in as ${who.role}` : ""}.`;
  }
  return no;
}

export async function load() {
  // Tests and people alike must not edit a form that is about to be filled in again.
  $("settings-form").dataset.loaded = "false";
  say("");
  $("doctor").hidden = true;
  if (denied()) return;
  try {
    show(await invoke("get_settings"));
  } catch (err) {
    say(errorText(err), false);
  }
  await Promise.all([loadMonitors(), loadCatalog()]);
  $("settings-form").dataset.loaded = "true";
}

async function loadCatalog() {
  $("catalog-result").textContent = "";
  try {
    const c = await invoke("get_catalog");
    $("set-catalog").value = c.text;
    $("catalog-summary").textContent = `— ${c.summary}`;
  } catch (err) {
    $("catalog-result").textContent = errorText(err);
    $("catalog-result").dataset.ok = "false";
  }
}

async function saveCatalog() {
  $("save-catalog").disabled = true;
  $("catalog-result").dataset.ok = "";
  $("catalog-result").textContent = "Checking and saving…";
  try {
    const c = await invoke("save_catalog", { text: $("set-catalog").value });
    $("set-catalog").value = c.text;
    $("catalog-summary").textContent = `— ${c.summary}`;
    $("catalog-result").textContent = `Saved: ${c.summary}. The next sale uses it.`;
    $("catalog-result").dataset.ok = "true";
  } catch (err) {
    $("catalog-result").textContent = errorText(err);
    $("catalog-result").dataset.ok = "false";
  } finally {
    $("save-catalog").disabled = false;
  }
}

async function save(e) {
  e.preventDefault();
  const secretKey = $("set-secret-key").value;
  const terminalKey = $("set-terminal-key").value;
  // Clear the fields at once: a key must not linger in the DOM.
  $("set-secret-key").value = "";
  $("set-terminal-key").value = "";
  $("save-settings").disabled = true;
  say("Saving and restarting…");
  try {
    const saved = await invoke("save_settings", {
      update: {
        mode: $("set-mode").value,
        terminal_name: $("set-terminal").value,
        default_currency: $("set-currency").value,
        api_url: $("set-api-url").value.trim() || null,
        relay_url: $("set-relay-url").value.trim() || null,
        qr_content: $("set-qr").value,
        secret_key: secretKey || null,
        terminal_key: terminalKey || null,
        kiosk: $("set-kiosk").checked,
        lock_after_minutes: Math.max(0, Math.floor(Number($("set-lock-after").value) || 0)),
        receipts: readReceipts(),
      },
    });
    show(saved.settings);
    say(saved.message, saved.running);
  } catch (err) {
    say(errorText(err), false);
  } finally {
    $("save-settings").disabled = false;
  }
}

async function testConnection() {
  $("test-connection").disabled = true;
  say("Testing the connection…");
  try {
    const report = await invoke("test_connection");
    $("doctor-rows").replaceChildren(
      ...report.checks.map((c) => {
        const tr = document.createElement("tr");
        const name = document.createElement("td");
        name.textContent = c.name;
        const ok = document.createElement("td");
        ok.dataset.ok = String(c.ok);
        ok.textContent = c.ok ? "Pass" : "Fail";
        const detail = document.createElement("td");
        detail.textContent = c.detail;
        tr.append(name, ok, detail);
        return tr;
      }),
    );
    $("doctor").hidden = false;
    const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
    say(
      report.ok ? "All checks passed." : `Failed: ${failed.join(", ")}. See below.`,
      report.ok,
      true,
    );
  } catch (err) {
    say(errorText(err), false);
  } finally {
    $("test-connection").disabled = false;
  }
}

async function openCustomerDisplay() {
  try {
    await invoke("open_customer_display", { monitor: $("set-monitor").value || null });
  } catch (err) {
    say(errorText(err), false);
  }
}

export function init() {
  $("settings-lock").addEventListener("click", () => invoke("lock_till").then((status) => store.update({ status })).catch(() => {}));
  $("settings-form").addEventListener("submit", save);
  $("save-catalog").addEventListener("click", saveCatalog);
  $("test-connection").addEventListener("click", testConnection);
  $("open-customer").addEventListener("click", openCustomerDisplay);
}
