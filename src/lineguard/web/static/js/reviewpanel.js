// The record page's review panel: where the finding stands (state, who acknowledged,
// escalated or decided it, the AI's call beside the person's), its timeline, and the
// steps the signed-in person may take. Buttons a person's roles do not include are shown
// disabled with the reason beside them (a maintenance technician sees why they cannot
// overrule); the server refuses the same steps (403), and any refusal or conflict it
// answers is shown in the panel's alert line.

import { can } from "./api.js";
import { $, badge, clear, el, fmtTime } from "./dom.js";
import { ESCALATION_ROLES, STATE_LABEL, STATE_TONE, acknowledge, decide, escalate, explainStep } from "./review.js";

const STEP_TEXT = {
  propose: "proposed by the AI",
  acknowledge: "acknowledged",
  assign: "assigned",
  escalate: "escalated",
  decide: "decided",
  resolve: "resolved",
};

function outcomeText(item) {
  const ai = item.ai_proposal || {};
  const aiText = ai.verdict ? `AI: ${ai.verdict}${ai.defect_class ? ` (${ai.defect_class})` : ""}` : "AI: no verdict";
  if (!item.human_outcome) return aiText;
  const h = item.human_outcome;
  return `${aiText} · person: ${h.verdict}${h.defect_class ? ` (${h.defect_class})` : ""}, ${String(h.label).replaceAll("_", " ")}`;
}

function stepLine(step) {
  const detail = step.detail || {};
  const extra = [
    detail.role ? `to ${String(detail.role).replaceAll("_", " ")}` : null,
    detail.assignee ? `to ${detail.assignee}` : null,
    detail.decision ? `${detail.decision}${detail.label ? ` (${String(detail.label).replaceAll("_", " ")})` : ""}` : null,
  ].filter(Boolean);
  return el(
    "li",
    { dataset: { action: step.action } },
    el("strong", {}, `${STEP_TEXT[step.action] || step.action}`),
    extra.length ? ` ${extra.join(", ")}` : "",
    el("div", { class: "meta" }, `${step.actor} · ${fmtTime(step.at)}${step.reason ? ` · “${step.reason}”` : ""}`),
  );
}

/** Show `detail` ({item, steps}) of review kind `kind` (alert, part_verdict) and wire its steps. */
export function reviewPanel(who, kind, detail) {
  const panel = $("#review-panel");
  panel.hidden = false;
  let item = detail.item;
  const mayTriage = can(who, "inspection_results.acknowledge");
  const mayDecide = can(who, "inspection_results.write");

  function showError(error, what) {
    const node = $("#review-error");
    node.textContent = explainStep(error, what);
    node.hidden = false;
  }

  function render(current) {
    item = current.item;
    const open = item.state !== "resolved";
    panel.dataset.state = item.state;
    clear(
      $("#review-state"),
      el(
        "p",
        {},
        badge(STATE_LABEL[item.state] || item.state, STATE_TONE[item.state]),
        " ",
        item.state === "escalated" && item.escalated_to ? `to ${item.escalated_to.replaceAll("_", " ")}` : "",
        item.decided_by ? ` by ${item.decided_by}, ${fmtTime(item.decided_at)}` : item.acknowledged_by ? ` by ${item.acknowledged_by}, ${fmtTime(item.acknowledged_at)}` : "",
      ),
      el("p", { class: "hint", id: "review-outcome" }, outcomeText(item)),
    );
    clear($("#review-timeline"), current.steps.map(stepLine));
    const judged = item.ai_proposal?.judged !== false;
    $("#act-acknowledge").hidden = !(open && (item.state === "new" || item.state === "escalated"));
    $("#act-acknowledge").disabled = !mayTriage;
    $("#act-escalate").hidden = !open;
    $("#act-escalate").disabled = !mayTriage;
    for (const id of ["#act-confirm", "#act-overrule"]) {
      $(id).hidden = !(open && judged);
      $(id).disabled = !mayDecide;
    }
    $("#act-confirm").textContent = item.ai_proposal?.verdict === "fail" ? "Confirm defect" : "Confirm verdict";
    const rights = $("#review-rights");
    rights.hidden = mayDecide || !open;
    rights.textContent = mayTriage
      ? "Your roles may acknowledge and escalate this finding; confirming or overruling the AI's verdict needs a quality engineer or a production supervisor."
      : "Your roles may read this finding but not act on it.";
    if (!mayDecide) {
      $("#act-confirm").setAttribute("aria-describedby", "review-rights");
      $("#act-overrule").setAttribute("aria-describedby", "review-rights");
    }
    if (!open) {
      $("#overrule-form").hidden = true;
      $("#escalate-form").hidden = true;
    }
  }

  async function step(what, run, button) {
    $("#review-error").hidden = true;
    if (button) button.disabled = true;
    try {
      render(await run());
      $("#review-announce").textContent = `${what}: done.`;
      return true;
    } catch (error) {
      showError(error, what);
      if (button) button.disabled = false;
      return false;
    }
  }

  clear($("#escalate-role"), ESCALATION_ROLES.map(([value, label]) => el("option", { value }, label)));
  const toggleForm = (button, form) => {
    const show = form.hidden;
    form.hidden = !show;
    button.setAttribute("aria-expanded", String(show));
    if (show) form.querySelector("select, input")?.focus();
  };
  $("#act-acknowledge").addEventListener("click", (e) => step("Acknowledge", () => acknowledge(kind, item), e.currentTarget));
  $("#act-confirm").addEventListener("click", (e) => step("Confirm", () => decide(kind, item, { decision: "confirm" }), e.currentTarget));
  $("#act-overrule").addEventListener("click", (e) => toggleForm(e.currentTarget, $("#overrule-form")));
  $("#act-escalate").addEventListener("click", (e) => toggleForm(e.currentTarget, $("#escalate-form")));
  for (const cancel of panel.querySelectorAll("[data-cancel]")) {
    cancel.addEventListener("click", () => {
      cancel.closest("form").hidden = true;
    });
  }
  $("#overrule-label").addEventListener("change", () => {
    $("#overrule-class-row").hidden = $("#overrule-label").value === "false_call";
  });
  $("#overrule-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const label = $("#overrule-label").value;
    const defectClass = label === "false_call" ? null : $("#overrule-class").value.trim() || null;
    const ok = await step("Overrule", () => decide(kind, item, { decision: "overrule", label, defectClass, reason: $("#overrule-reason").value }));
    if (ok) $("#overrule-form").hidden = true;
  });
  $("#escalate-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const ok = await step("Escalate", () => escalate(kind, item, $("#escalate-role").value, $("#escalate-reason").value));
    if (ok) $("#escalate-form").hidden = true;
  });
  render(detail);
}
