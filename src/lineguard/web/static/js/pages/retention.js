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
    clear(
      $("#sweeps"),
      sweeps.length
        ? table(
            [
              { label: "Started", value: (s) => fmtTime(s.started_at) },
              { label: "Category", value: (s) => s.category },
              { label: "Deleted", value: (s) => fmtInt(s.deleted), num: true },
              { label: "Held back", value: (s) => fmtInt(s.held), num: true },
            ],
            sweeps,
            { caption: "Recent retention sweeps" },
          )
        : empty("No sweep has run yet."),
    );
  } catch (error) {
    clear($("#sweeps"), empty(explain(error, "Sweeps")));
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
