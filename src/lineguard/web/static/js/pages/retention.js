// Retention settings: how many days each data category is kept, the recent sweeps
// and legal holds. Data: /retention/policy and /retention/sweeps (the retention
// domain); editing appears only with retention_policy.write.

import { api, can } from "../api.js";
import { $, clear, el, empty, explain, fmtInt, fmtTime, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const LABELS = {
  inspection_events_days: "Inspection results",
  alerts_days: "Alerts",
  evidence_refs_days: "Evidence references",
  plant_data_days: "Plant data",
  assistant_questions_days: "Assistant questions and answers",
  user_sessions_days: "Sign-in sessions",
  audit_log_days: "Audit log (at least 365)",
};
let who = null;

function policyForm(policy) {
  const editable = can(who, "retention_policy.write");
  return el(
    "div",
    { class: "filters" },
    Object.entries(LABELS)
      .filter(([key]) => key in policy)
      .map(([key, label]) =>
        el(
          "div",
          {},
          el("label", { for: `p-${key}` }, `${label} (days)`),
          el("input", { id: `p-${key}`, name: key, type: "number", min: key === "audit_log_days" ? 365 : 1, max: 36500, value: policy[key], readonly: !editable, required: true }),
        ),
      ),
  );
}

async function load() {
  try {
    const policy = await api("/retention/policy");
    clear($("#policy"), policyForm(policy));
  } catch (error) {
    clear($("#policy"), empty(explain(error, "Retention policy")));
    $("#policy-save").closest("[data-needs]").hidden = true;
  }
  try {
    const sweeps = await api("/retention/sweeps", { query: { limit: 20 } });
    const counts = (obj) => Object.entries(obj || {}).filter(([, n]) => n).map(([k, n]) => `${k} ${fmtInt(n)}`).join(", ") || "—";
    clear(
      $("#sweeps"),
      sweeps.length
        ? table(
            [
              { label: "Started", value: (s) => fmtTime(s.started_at) },
              { label: "Trigger", value: (s) => s.trigger },
              { label: "Status", value: (s) => s.status },
              { label: "Deleted", value: (s) => counts(s.deleted) },
              { label: "Kept by a hold", value: (s) => counts(s.held) },
              { label: "Keys shredded", value: (s) => fmtInt(s.keys_shredded), num: true },
            ],
            sweeps,
            { caption: "Recent retention sweeps" },
          )
        : empty("No sweep has run yet."),
    );
  } catch (error) {
    clear($("#sweeps"), empty(explain(error, "Sweeps")));
  }
  try {
    const holds = await api("/retention/holds");
    clear(
      $("#holds"),
      holds.length
        ? table(
            [
              { label: "Category", value: (h) => h.category },
              { label: "Record", value: (h) => h.record_id },
              { label: "Reason", value: (h) => h.reason },
              { label: "Placed", value: (h) => `${h.placed_by}, ${fmtTime(h.placed_at)}` },
              { label: "Released", value: (h) => (h.released_at ? `${h.released_by}, ${fmtTime(h.released_at)}` : "in force") },
            ],
            holds,
            { caption: "Legal holds" },
          )
        : empty("No legal hold is in force."),
    );
  } catch (error) {
    clear($("#holds"), empty(explain(error, "Legal holds")));
  }
}

who = await startPage("retention_policy.read");
if (who) {
  $("#policy-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const input of $("#policy").querySelectorAll("input")) body[input.name] = Number(input.value);
    try {
      await api("/retention/policy", { method: "PUT", body });
      status("Retention policy saved.");
    } catch (error) {
      status(explain(error, "Not saved"));
    }
  });
  await load();
}
