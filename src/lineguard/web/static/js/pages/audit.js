// Audit log viewer for auditors: the chain-verification status (hash chain and signed
// checkpoints, verified by the server's audit domain) and the entries, newest first, to
// the second. Filters: name prefix, names to leave out, actor, a time range (all applied
// by the server, so paging stays right). Machine entries (actors node:… and system:…)
// that follow one another with the same name are folded into one row that opens on
// demand, so people's actions are not buried under one row per ingest batch.
// Data: GET /audit/verification and GET /audit/entries (owned by the audit domain).

import { api } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtSeconds, status, table } from "../dom.js";
import { startPage } from "../layout.js";

let oldest = null;
let rows = [];

async function verify() {
  const box = $("#chain-status");
  box.dataset.state = "unknown";
  box.textContent = "Verifying the chain…";
  try {
    const report = await api("/audit/verification");
    if (report.ok === false) {
      // A log with no signed checkpoint yet cannot rule out truncation: not a break, not a pass.
      const early = /no signed checkpoint/i.test(report.error || "");
      box.dataset.state = early ? "warn" : "bad";
      box.textContent = early
        ? `Not verifiable yet: ${report.error}. The server signs a checkpoint every few minutes.`
        : `Chain verification FAILED: ${report.error || report.message}`;
      return;
    }
    const unanchored = report.unanchored ?? report.last_seq - report.last_checkpoint_seq;
    box.dataset.state = unanchored > 0 ? "warn" : "ok";
    box.textContent =
      `Chain verified: ${report.entries} entries (seq ${report.first_seq}–${report.last_seq}), ` +
      `${report.checkpoints} signed checkpoint${report.checkpoints === 1 ? "" : "s"}, last at seq ${report.last_checkpoint_seq}` +
      (unanchored > 0 ? `; ${unanchored} newer entries not yet covered by a checkpoint.` : ".");
  } catch (error) {
    box.dataset.state = "bad";
    box.textContent = error.status === 422 || error.code === "audit_chain_invalid" || error.code === "signature_invalid"
      ? `Chain verification FAILED: ${error.message}`
      : explain(error, "Verification unavailable");
  }
}

function summary(payload) {
  if (!payload || typeof payload !== "object") return String(payload ?? "");
  return Object.entries(payload)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
    .join(" · ");
}

const MACHINE = /^(node|system):/;
const opened = new Set(); // folds the auditor opened (by their first seq)

// Runs of machine entries with the same name become one fold; people's entries stay rows.
function fold(entries) {
  const out = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if ($("#f-fold").checked && MACHINE.test(e.actor) && last?.fold && last.name === e.name) last.entries.push(e);
    else if ($("#f-fold").checked && MACHINE.test(e.actor)) out.push({ fold: true, name: e.name, entries: [e] });
    else out.push({ fold: false, entry: e });
  }
  // A run of one is just a row.
  return out.flatMap((r) => (r.fold && r.entries.length === 1 ? [{ fold: false, entry: r.entries[0] }] : [r]));
}

function foldRow(run) {
  const first = run.entries[run.entries.length - 1];
  const last = run.entries[0];
  const actors = [...new Set(run.entries.map((e) => e.actor))];
  const key = last.seq;
  const toggle = el(
    "button",
    { type: "button", class: "secondary", "aria-expanded": String(opened.has(key)) },
    opened.has(key) ? "Fold" : `Show ${run.entries.length}`,
  );
  toggle.addEventListener("click", () => {
    if (opened.has(key)) opened.delete(key);
    else opened.add(key);
    render();
  });
  return {
    seq: `${first.seq}–${last.seq}`,
    recorded_at: null,
    time: `${fmtSeconds(first.recorded_at)} – ${fmtSeconds(last.recorded_at)}`,
    name: run.name,
    actor: actors.length > 3 ? `${actors.slice(0, 3).join(", ")} +${actors.length - 3}` : actors.join(", "),
    outcome: run.entries.every((e) => e.outcome === "success") ? "success" : "mixed",
    detail: el("span", { class: "payload" }, `${run.entries.length} machine entries folded `, toggle),
    folded: true,
  };
}

function render() {
  const shown = [];
  for (const r of fold(rows)) {
    if (!r.fold) shown.push(r.entry);
    else {
      shown.push(foldRow(r));
      if (opened.has(r.entries[0].seq)) shown.push(...r.entries);
    }
  }
  clear(
    $("#entries"),
    shown.length
      ? table(
          [
            { label: "Seq", value: (e) => e.seq, num: true },
            { label: "Time", value: (e) => (e.folded ? e.time : el("time", { datetime: e.recorded_at }, fmtSeconds(e.recorded_at))) },
            { label: "Event", value: (e) => el("code", {}, e.name) },
            { label: "Actor", value: (e) => e.actor },
            { label: "Outcome", value: (e) => badge(e.outcome, e.outcome === "success" ? "good" : "bad") },
            { label: "Details", value: (e) => (e.folded ? e.detail : el("span", { class: "payload" }, summary(e.payload))) },
          ],
          shown,
          { caption: "Audit entries" },
        )
      : empty("No audit entries match."),
  );
  $("#entries").querySelectorAll("tbody tr").forEach((tr, i) => {
    if (shown[i].folded) tr.classList.add("folded");
  });
}

function isoOrNull(value) {
  return value ? new Date(value).toISOString() : null;
}

async function load(more = false) {
  try {
    const query = new URLSearchParams({ limit: "100" });
    const put = (key, value) => value && query.append(key, value);
    put("before_seq", more ? oldest : null);
    put("name_prefix", $("#f-event").value.trim());
    put("actor", $("#f-actor").value.trim());
    put("since", isoOrNull($("#f-since").value));
    put("until", isoOrNull($("#f-until").value));
    for (const prefix of $("#f-exclude").value.split(",")) put("exclude", prefix.trim());
    const answer = await api(`/audit/entries?${query}`);
    const entries = Array.isArray(answer) ? answer : answer.entries;
    rows = more ? rows.concat(entries) : entries;
    oldest = entries.length ? entries[entries.length - 1].seq : oldest;
    $("#older").hidden = entries.length < 100;
    render();
    status("");
  } catch (error) {
    status(explain(error, "Could not load the audit log"));
  }
}

if (await startPage("audit_log.read")) {
  $("#verify-again").addEventListener("click", verify);
  $("#older").addEventListener("click", () => load(true));
  $("#audit-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    load(false);
  });
  $("#f-fold").addEventListener("change", render);
  // One after the other: reading entries is itself audited (an append), and a verification
  // running beside an append can see the chain head move under it.
  await verify();
  await load(false);
}
