// Day: this till's shift (open, the numbers so far, close), the day's report for a chosen
// date (the numbers so far, or the stored final one) and closing the day. Closing a shift or
// a day asks Crypto.com Pay about every payment of the period first and repairs what
// differs; the report then shows the totals per currency, per till and per cashier, every
// repair, and whether the reconciliation was complete — all formatted in Rust. Print and
// Save CSV act on the report shown.
import { invoke } from "../tauri.js";
import * as store from "../store.js";
import { errorText, today } from "../format.js";
import { setData, setHidden, setText } from "../dom.js";
import { withApproval } from "./staff.js";

const $ = (id) => document.getElementById(id);
let shown = null; // the ReportView on screen
let loadSeq = 0;

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function say(text, level = "") {
  setText($("day-result"), text);
  setData($("day-result"), "level", level);
}

function renderStatus(d) {
  setText($("shift-words"), d.shift_words);
  setData($("shift-words"), "open", Boolean(d.shift && d.shift.open));
  const open = Boolean(d.shift && d.shift.open);
  setHidden($("shift-open"), open);
  setHidden($("shift-report"), !open);
  setHidden($("shift-close"), !open);
  $("shift-report").dataset.shift = open ? String(d.shift.id) : "";
  store.update({ printing: d.printing });
}

/** The report the screen opens with, for someone who may see reports: the open shift's
 *  numbers so far, else the day's. A final report on screen stays. */
async function showDefault(d) {
  const s = store.get().status;
  if (!s || !s.staff.may.includes("report") || (shown && shown.closed)) return;
  const args = d.shift && d.shift.open ? { shift: d.shift.id, day: null } : { day: $("report-day").value || today(), shift: null };
  try {
    renderReport(await invoke("show_report", { ...args, approverPin: null }));
  } catch (err) {
    say(errorText(err), "error");
  }
}

export async function load() {
  const seq = ++loadSeq;
  if (!$("report-day").value) $("report-day").value = today();
  try {
    const d = await invoke("day_status");
    if (seq !== loadSeq) return;
    renderStatus(d);
    await showDefault(d);
  } catch (err) {
    if (seq !== loadSeq) return;
    setText($("shift-words"), errorText(err));
    ["shift-open", "shift-report", "shift-close"].forEach((id) => setHidden($(id), true));
  }
}

/** Runs a button's command: the button waits, the answer (or the refusal's words) shows. */
async function act(busyText, run) {
  const buttons = document.querySelectorAll("#screen-day button");
  buttons.forEach((b) => (b.disabled = true));
  say(busyText, "pending");
  try {
    await run();
  } catch (err) {
    say(errorText(err), "error");
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

function periodArgs(period) {
  return period.kind === "shift" ? { shift: period.of, day: null } : { day: period.of, shift: null };
}

function row(label, value, testid, className) {
  const r = el("div", undefined, `row${className ? ` ${className}` : ""}`);
  if (testid) r.dataset.testid = testid;
  r.append(el("span", label, "label"), el("span", value, "value"));
  return r;
}

function totalsCard(t) {
  const c = el("div", undefined, "total-card report-card");
  c.dataset.currency = t.currency;
  c.append(
    el("h3", t.currency, "report-currency"),
    row(`Paid (${t.paid_count})`, t.gross, "report-gross"),
    row("Refunds sent", t.refunds_sent, "report-refunds-sent"),
    row("Refunds requested", t.refunds_requested, "report-refunds-requested"),
    row("Net", t.net, "report-net", "net"),
  );
  if (t.tips !== null) c.append(row("Tips", t.tips, "report-tips"));
  if (t.tax !== null) c.append(row("Tax", t.tax, "report-tax"));
  const counts = [
    `${t.expired_count} expired`,
    `${t.cancelled_count} cancelled`,
    t.pending_count ? `${t.pending_count} waiting` : "",
    t.other_count ? `${t.other_count} other` : "",
  ].filter(Boolean);
  c.append(row("Not paid", counts.join(" · "), "report-unpaid"));
  return c;
}

function groupTable(title, groups, testid) {
  const wrap = el("section", undefined, "report-group");
  wrap.dataset.testid = testid;
  wrap.append(el("h3", title));
  const table = el("table", undefined, "report-table");
  const head = el("tr");
  for (const h of ["", "Paid", "Gross", "Refunds", "Net"]) {
    const th = el("th", h);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  const body = el("tbody");
  for (const g of groups) {
    for (const t of g.totals) {
      const tr = el("tr");
      tr.append(el("th", g.name), el("td", String(t.paid_count), "num"), el("td", t.gross, "num"), el("td", t.refunds, "num"), el("td", t.net, "num net"));
      tr.firstChild.scope = "row";
      body.append(tr);
    }
  }
  table.append(thead, body);
  wrap.append(table);
  return wrap;
}

function renderReport(r) {
  shown = r;
  setHidden($("report"), false);
  setData($("report"), "closed", r.closed);
  setData($("report"), "reconciled", r.reconciled);
  setText($("report-title"), r.title);
  setText($("report-heading"), `${r.heading} · ${r.payments === 1 ? "1 payment" : `${r.payments} payments`}`);
  setHidden($("report-book"), !r.book);
  setText($("report-book"), r.book ?? "");
  setData($("report-book"), "book", store.get().status ? store.get().status.mode ?? "" : "");
  setText($("report-state"), r.state_words);
  setText($("report-reconciled"), r.reconciliation_words);
  setData($("report-reconciled"), "state", r.reconciled);
  $("report-unchecked").replaceChildren(...r.unchecked.map((u) => el("li", u)));
  setHidden($("report-output"), true);
  $("report-totals").replaceChildren(
    ...(r.totals.length ? r.totals.map(totalsCard) : [el("p", "No payments in this period.", "muted")]),
  );
  const groups = [];
  if (r.tills.length) groups.push(groupTable("Per till", r.tills, "report-tills"));
  if (r.cashiers.length) groups.push(groupTable("Per cashier", r.cashiers, "report-cashiers"));
  $("report-groups").replaceChildren(...groups);
  const repairs = [el("h3", r.repairs.length ? `Repairs (${r.repairs.length})` : "Repairs: none")];
  for (const x of r.repairs) {
    const item = el("div", undefined, "repair");
    item.dataset.kind = x.kind;
    item.dataset.testid = "report-repair";
    const id = el("span", x.payment_id, "repair-id");
    item.append(el("span", x.label, "repair-label"), id, el("p", x.words, "repair-words"));
    repairs.push(item);
  }
  $("report-repairs").replaceChildren(...repairs);
  setText($("report-paper"), r.paper.text);
  const printer = store.get().printing && store.get().printing.printer;
  setHidden($("report-print"), !printer);
}

function output(text, state) {
  setHidden($("report-output"), !text);
  setText($("report-output"), text);
  setData($("report-output"), "state", state);
}

async function showReport(args, busy) {
  await act(busy, async () => {
    const r = await withApproval("report", "See the report", (approverPin) => invoke("show_report", { ...args, approverPin }));
    if (r === null) return;
    renderReport(r);
    say("");
  });
}

export function init() {
  $("report-day").value = today();
  $("shift-open").addEventListener("click", () =>
    act("Opening a shift…", async () => {
      const d = await withApproval("open-shift", "Open a shift", (approverPin) => invoke("open_shift", { approverPin }));
      if (d === null) return;
      renderStatus(d);
      say("");
      shown = null;
      await showDefault(d);
    }),
  );
  $("shift-report").addEventListener("click", () =>
    showReport({ shift: Number($("shift-report").dataset.shift), day: null }, "Adding up the shift so far…"),
  );
  $("shift-close").addEventListener("click", () =>
    act("Closing the shift: asking Crypto.com Pay about each of its payments…", async () => {
      const r = await withApproval("close-shift", "Close the shift", (approverPin) => invoke("close_shift", { approverPin }));
      if (r === null) return;
      renderReport(r);
      say("");
      await load();
    }),
  );
  $("day-report").addEventListener("click", () =>
    showReport({ day: $("report-day").value || today(), shift: null }, "Adding up the day…"),
  );
  $("day-close").addEventListener("click", () =>
    act("Closing the day: asking Crypto.com Pay about each of its payments…", async () => {
      const day = $("report-day").value || today();
      const r = await withApproval("report", `Close ${day}`, (approverPin) => invoke("close_day", { day, approverPin }));
      if (r === null) return;
      renderReport(r);
      say("");
    }),
  );
  $("report-print").addEventListener("click", async () => {
    if (!shown) return;
    output("Printing…", "pending");
    store.update({ prints: { ...(store.get().prints ?? {}), "report::": { pending: true } } });
    try {
      const asked = await withApproval("report", "Print the report", (approverPin) =>
        invoke("print_report", { ...periodArgs(shown.period), approverPin }).then(() => true),
      );
      if (asked === null) store.update({ prints: { ...(store.get().prints ?? {}), "report::": null } });
    } catch (err) {
      store.update({ prints: { ...(store.get().prints ?? {}), "report::": null } });
      output(errorText(err), "failed");
    }
  });
  $("report-csv").addEventListener("click", async () => {
    if (!shown) return;
    try {
      const saved = await withApproval("report", "Save the report", (approverPin) =>
        invoke("save_report_csv", { ...periodArgs(shown.period), approverPin }),
      );
      if (saved !== null) output(saved.message, "printed");
    } catch (err) {
      output(errorText(err), "failed");
    }
  });
  // A report's print outcome, when it arrives.
  let last = null;
  store.subscribe((state) => {
    const outcome = (state.prints ?? {})["report::"] ?? null;
    if (outcome === last) return;
    last = outcome;
    if (outcome && !outcome.pending) output(outcome.message, outcome.printed ? "printed" : "failed");
  });
}
