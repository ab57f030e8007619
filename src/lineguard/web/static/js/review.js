// Review steps on AI findings (alerts, part verdicts) through the review routes
// (/api/v1/reviews/<kind>/<subject>/...). Every step sends the item's version as the
// page last saw it: the server answers 409 when someone else acted first, and the page
// says who and what, never overwriting their decision. A 403 means the person's roles do
// not include the step (maintenance technicians acknowledge and escalate, they do not
// confirm or overrule); both are shown in words, not as a bare status code.

import { api } from "./api.js";

export const STATE_TONE = { new: "bad", escalated: "bad", acknowledged: "warn", assigned: "warn", resolved: "good" };

export const STATE_LABEL = {
  new: "New",
  acknowledged: "Acknowledged",
  assigned: "Assigned",
  escalated: "Escalated",
  resolved: "Resolved",
};

/** Roles an item may be escalated to (the policy's roles that act on findings). */
export const ESCALATION_ROLES = [
  ["production_supervisor", "Production supervisor"],
  ["quality_engineer", "Quality engineer"],
  ["maintenance_technician", "Maintenance technician"],
];

function path(kind, subjectId, step) {
  return `/reviews/${encodeURIComponent(kind)}/${encodeURIComponent(subjectId)}/${step}`;
}

export function acknowledge(kind, item, note = "") {
  return api(path(kind, item.subject_id, "acknowledge"), { method: "POST", body: { version: item.version, note } });
}

export function escalate(kind, item, role, reason) {
  return api(path(kind, item.subject_id, "escalate"), { method: "POST", body: { version: item.version, role, reason } });
}

/** confirm, or overrule with a label (false_call / confirmed_defect / other_class) and a reason. */
export function decide(kind, item, { decision, label = null, defectClass = null, reason = "" }) {
  const body = { version: item.version, decision, reason };
  if (label) body.label = label;
  if (defectClass) body.defect_class = defectClass;
  return api(path(kind, item.subject_id, "decide"), { method: "POST", body });
}

/** What went wrong with a review step, in words a person can act on. */
export function explainStep(error, what) {
  if (error?.status === 403) {
    return `${what} refused (403): your roles do not allow this step. ${error.message || ""}`.trim();
  }
  if (error?.status === 409) {
    return `${what} not done: someone else changed this finding first. ${error.message || ""} Reload to see where it stands.`;
  }
  if (error?.status === 422 || error?.status === 400) {
    return `${what} not done: ${error.message || "the request was refused"}`;
  }
  return `${what} failed: ${error?.message || error}`;
}
