// Audit log viewer for auditors: the chain-verification status (hash chain and signed
// checkpoints, verified by the server's audit domain) and the entries, newest first.
// Data: GET /audit/verification and GET /audit/entries (owned by the audit domain).

import { api } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtTime, status, table } from "../dom.js";
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

function render() {
  clear(
    $("#entries"),
    rows.length
      ? table(
          [
            { label: "Seq", value: (e) => e.seq, num: true },
            { label: "Time", value: (e) => fmtTime(e.recorded_at) },
            { label: "Event", value: (e) => el("code", {}, e.name) },
            { label: "Actor", value: (e) => e.actor },
            { label: "Outcome", value: (e) => badge(e.outcome, e.outcome === "success" ? "good" : "bad") },
            { label: "Details", value: (e) => el("span", { class: "payload" }, summary(e.payload)) },
          ],
          rows,
          { caption: "Audit entries" },
        )
      : empty("No audit entries match."),
  );
}

async function load(more = false) {
  try {
    const answer = await api("/audit/entries", {
      query: {
        limit: 100,
        before_seq: more ? oldest : null,
        name_prefix: $("#f-event").value.trim(),
        actor: $("#f-actor").value.trim(),
      },
    });
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
  // One after the other: reading entries is itself audited (an append), and a verification
  // running beside an append can see the chain head move under it.
  await verify();
  await load(false);
}
