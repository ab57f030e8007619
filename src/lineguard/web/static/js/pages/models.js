// Model registry: signed model versions (register, approve or reject with four eyes),
// releases (deploy an approved version to lines, roll a line back). Data: the registry
// domain's /registry/models and /registry/releases; each control appears only for a
// role that may use it, and the server re-checks (four eyes included).

import { api, can } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtTime, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const STATE_TONE = { approved: "good", registered: "warn", rejected: "bad" };
let who = null;
let deploying = null;

async function act(promise, what) {
  try {
    await promise;
    status("");
    await load();
  } catch (error) {
    status(explain(error, what));
  }
}

function versionControls(v) {
  const label = `${v.model_id} v${v.version}`;
  const buttons = [];
  if (can(who, "model_deployment.approve") && v.state === "registered") {
    buttons.push(
      el("button", { type: "button", "aria-label": `Approve ${label}`, onclick: () => act(api(`/registry/models/${v.id}/approve`, { method: "POST" }), `Approval of ${label}`) }, "Approve"),
      el("button", {
        type: "button",
        class: "secondary",
        "aria-label": `Reject ${label}`,
        onclick: () => {
          const reason = prompt(`Reject ${label}: why?`);
          if (reason) act(api(`/registry/models/${v.id}/reject`, { method: "POST", body: { reason } }), `Rejection of ${label}`);
        },
      }, "Reject"),
    );
  }
  if (can(who, "model_deployment.request") && v.state === "approved") {
    buttons.push(el("button", { type: "button", "aria-label": `Deploy ${label}`, onclick: () => openDeploy(v) }, "Deploy"));
  }
  return buttons.length ? el("div", { class: "actions" }, buttons) : "—";
}

function rollback(release) {
  const line = release.lines[0];
  const reason = prompt(`Roll line ${line} back to the previous version? Reason (recorded in the audit log):`);
  if (reason) act(api("/registry/rollbacks", { method: "POST", body: { line, reason } }), `Rollback of ${line}`);
}

function openDeploy(version) {
  deploying = version;
  $("#deploy-what").textContent = `${version.model_id} v${version.version} (${version.sha256.slice(0, 12)}…)`;
  $("#deploy-error").hidden = true;
  $("#deploy-dialog").showModal();
}

async function load() {
  try {
    const [versions, releases] = await Promise.all([api("/registry/models"), api("/registry/releases")]);
    const byId = new Map(versions.map((v) => [v.id, v]));
    // What each line runs now: the highest release that names it.
    const running = new Map();
    for (const r of [...releases].sort((a, b) => a.release - b.release)) for (const line of r.lines) running.set(line, r.model_version_id);
    const runsOn = (v) => [...running.entries()].filter(([, id]) => id === v.id).map(([line]) => line);
    const columns = [
      { label: "Model", value: (v) => el("span", {}, el("strong", {}, v.model_id), ` v${v.version}`) },
      { label: "State", value: (v) => badge(v.state, STATE_TONE[v.state]) },
      { label: "Running on", value: (v) => runsOn(v).join(", ") || "—" },
      { label: "Operating point", value: (v) => v.operating_point || "—" },
      { label: "Signing key", value: (v) => el("code", { title: v.signer_key_id }, `${v.signer_key_id.slice(0, 12)}…`) },
      { label: "Digest", value: (v) => el("code", { title: v.sha256 }, `${v.sha256.slice(0, 12)}…`) },
      { label: "Registered", value: (v) => `${fmtTime(v.registered_at)} by ${v.registered_by}` },
      { label: "Decision", value: (v) => (v.decided_by ? `${v.decided_by}, ${fmtTime(v.decided_at)}${v.reject_reason ? `: ${v.reject_reason}` : ""}` : "—") },
    ];
    if (can(who, "model_deployment.approve") || can(who, "model_deployment.request")) columns.push({ label: "Actions", value: versionControls });
    clear($("#models"), versions.length ? table(columns, versions, { caption: "Model versions" }) : empty("No model version is registered yet."));
    const releaseColumns = [
      { label: "Release", value: (r) => r.release, num: true },
      { label: "Kind", value: (r) => badge(r.kind, r.kind === "rollback" ? "warn" : "good") },
      { label: "Model", value: (r) => { const v = byId.get(r.model_version_id); return v ? `${v.model_id} v${v.version}` : r.model_version_id; } },
      { label: "Targets", value: (r) => [...r.lines.map((l) => `line ${l}`), ...r.nodes.map((n) => `node ${n}`)].join(", ") || "—" },
      { label: "By", value: (r) => `${r.created_by}, ${fmtTime(r.created_at)}` },
      { label: "Reason", value: (r) => r.reason || "—" },
    ];
    if (can(who, "model_deployment.request")) {
      releaseColumns.push({
        label: "Actions",
        value: (r) => (r.lines.length === 1 ? el("button", { type: "button", class: "secondary", "aria-label": `Roll back line ${r.lines[0]}`, onclick: () => rollback(r) }, "Roll back") : "—"),
      });
    }
    clear($("#releases"), releases.length ? table(releaseColumns, [...releases].reverse(), { caption: "Releases" }) : empty("Nothing has been deployed yet."));
  } catch (error) {
    status(explain(error, "Could not load the model registry"));
  }
}

who = await startPage("model_configuration.read");
if (who) {
  $("#deploy-cancel").addEventListener("click", () => $("#deploy-dialog").close());
  $("#deploy-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const lines = $("#d-lines").value.split(",").map((s) => s.trim()).filter(Boolean);
    try {
      await api("/registry/deployments", { method: "POST", body: { version_id: deploying.id, lines } });
      $("#deploy-dialog").close();
      await load();
    } catch (error) {
      $("#deploy-error").textContent = explain(error, "Not deployed");
      $("#deploy-error").hidden = false;
    }
  });
  $("#register-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData();
    form.append("model", $("#r-model").files[0]);
    form.append("metadata", $("#r-metadata").files[0]);
    form.append("signature", $("#r-signature").files[0]);
    try {
      // multipart upload: fetch directly (api() speaks JSON), with the same CSRF header.
      const token = (await api("/auth/csrf")).csrf_token;
      const response = await fetch("/api/v1/registry/models", { method: "POST", body: form, headers: { "X-CSRF-Token": token }, credentials: "same-origin" });
      if (!response.ok) throw new Error((await response.json()).message);
      event.target.reset();
      status("");
      await load();
    } catch (error) {
      status(`Not registered: ${error.message}`);
    }
  });
  await load();
}
