// Model registry: every registered model package with its signature state and where it
// runs; register (model_configuration.write), approve (model_deployment.approve),
// deploy and roll back (model_deployment.request). Data: /registry/models (the model
// registry domain); each control appears only for a role that may use it.

import { api, can } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtTime, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const STATE_TONE = { approved: "good", deployed: "good", registered: "warn", pending: "warn", rejected: "bad", rolled_back: "bad" };
let who = null;

async function act(model, action, body = {}) {
  try {
    await api(`/registry/models/${encodeURIComponent(model.model_id)}/versions/${model.version}/${action}`, { method: "POST", body });
    await load();
  } catch (error) {
    status(explain(error, `Could not ${action.replace("-", " ")} ${model.model_id} v${model.version}`));
  }
}

function controls(model) {
  const buttons = [];
  const label = `${model.model_id} v${model.version}`;
  if (can(who, "model_deployment.approve") && ["registered", "pending"].includes(model.state)) {
    buttons.push(el("button", { type: "button", "aria-label": `Approve ${label}`, onclick: () => act(model, "approve") }, "Approve"));
  }
  if (can(who, "model_deployment.request") && model.state === "approved") {
    buttons.push(el("button", { type: "button", "aria-label": `Deploy ${label}`, onclick: () => act(model, "deploy", { line_id: model.line_id }) }, "Deploy"));
  }
  if (can(who, "model_deployment.request") && model.state === "deployed") {
    buttons.push(el("button", { type: "button", class: "danger", "aria-label": `Roll back ${label}`, onclick: () => act(model, "rollback", { line_id: model.line_id }) }, "Roll back"));
  }
  return buttons.length ? el("div", { class: "actions" }, buttons) : "—";
}

async function load() {
  try {
    const answer = await api("/registry/models");
    const models = Array.isArray(answer) ? answer : answer.models;
    const columns = [
      { label: "Model", value: (m) => el("span", {}, el("strong", {}, m.model_id), ` v${m.version}`) },
      { label: "Line", value: (m) => m.line_id || "—" },
      { label: "State", value: (m) => badge(m.state, STATE_TONE[m.state]) },
      { label: "Signature", value: (m) => (m.signature_verified === false ? badge("invalid", "bad") : badge(m.signer || "verified", "good")) },
      { label: "Digest", value: (m) => el("code", { class: "wrap" }, (m.sha256 || "").slice(0, 16)) },
      { label: "Registered", value: (m) => fmtTime(m.registered_at) },
    ];
    if (["model_deployment.approve", "model_deployment.request"].some((a) => can(who, a))) columns.push({ label: "Actions", value: controls });
    clear($("#models"), models.length ? table(columns, models, { caption: "Registered models" }) : empty("No model is registered yet."));
    status("");
  } catch (error) {
    clear($("#models"), empty(explain(error, "Model registry")));
  }
}

who = await startPage("model_configuration.read");
if (who) {
  $("#register-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData();
    form.append("package", $("#r-file").files[0]);
    form.append("signature", $("#r-signature").files[0]);
    form.append("line_id", $("#r-line").value.trim());
    form.append("notes", $("#r-notes").value.trim());
    try {
      const token = (await api("/auth/csrf")).csrf_token;
      const response = await fetch("/api/v1/registry/models", { method: "POST", body: form, headers: { "X-CSRF-Token": token }, credentials: "same-origin" });
      if (!response.ok) throw new Error((await response.json()).message);
      event.target.reset();
      await load();
    } catch (error) {
      status(`Not registered: ${error.message}`);
    }
  });
  await load();
}
