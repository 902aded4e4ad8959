// Settings: mode, keys (write-only: saved to the OS keychain, never shown back, never read
// into this webview), relay and API URLs, currency, terminal name, and "Test connection".
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText } from "../format.js";

const $ = (id) => document.getElementById(id);

function show(s) {
  $("set-mode").value = s.mode;
  $("set-terminal").value = s.terminal_name;
  $("set-api-url").value = s.api_url ?? "";
  $("set-relay-url").value = s.relay_url ?? "";
  const cur = $("set-currency");
  if (cur.options.length === 0) for (const c of store.get().currencies) cur.add(new Option(c, c));
  cur.value = s.default_currency;
  $("set-secret-key").value = "";
  $("set-terminal-key").value = "";
  $("set-secret-key").placeholder = s.secret_key_saved ? "saved in the keychain — type to replace" : "not set";
  $("set-terminal-key").placeholder = s.terminal_key_saved ? "saved in the keychain — type to replace" : "not set";
  $("secret-key-state").textContent = s.secret_key_saved ? `Saved (${s.secret_key_source})` : "Not set";
  $("terminal-key-state").textContent = s.terminal_key_saved ? `Saved (${s.terminal_key_source})` : "Not set";
}

export async function load() {
  try {
    show(await invoke("get_settings"));
  } catch (err) {
    $("settings-result").textContent = errorText(err);
  }
}

async function save(e) {
  e.preventDefault();
  const secretKey = $("set-secret-key").value;
  const terminalKey = $("set-terminal-key").value;
  // Clear the fields at once: a key must not linger in the DOM.
  $("set-secret-key").value = "";
  $("set-terminal-key").value = "";
  try {
    const saved = await invoke("save_settings", {
      update: {
        mode: $("set-mode").value,
        terminal_name: $("set-terminal").value,
        default_currency: $("set-currency").value,
        api_url: $("set-api-url").value.trim() || null,
        relay_url: $("set-relay-url").value.trim() || null,
        secret_key: secretKey || null,
        terminal_key: terminalKey || null,
      },
    });
    show(saved);
    $("settings-result").textContent = "Saved. PayDesk reconnected with the new settings.";
  } catch (err) {
    $("settings-result").textContent = errorText(err);
  }
}

async function testConnection() {
  $("test-connection").disabled = true;
  $("settings-result").textContent = "Testing…";
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
    $("settings-result").textContent = report.ok ? "All checks passed." : "Some checks failed: see below.";
  } catch (err) {
    $("settings-result").textContent = errorText(err);
  } finally {
    $("test-connection").disabled = false;
  }
}

export function init() {
  $("settings-form").addEventListener("submit", save);
  $("test-connection").addEventListener("click", testConnection);
}
