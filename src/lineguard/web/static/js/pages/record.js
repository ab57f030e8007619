// Inspection record detail, opened from an alert (?alert=ID) or a record (?event=ID).
// The evidence panel exists only for roles with evidence_images.read; opening the
// evidence posts an audited request (with a purpose) to the server, which answers
// with the image when it can reach it, or says which node holds it.

import { api, ApiError, can } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtTime, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const VERDICT_TONE = { pass: "good", fail: "bad", uncertain: "warn" };

function field(label, value) {
  return [el("dt", {}, label), el("dd", {}, value instanceof Node ? value : String(value ?? "—"))];
}

function renderRecord(record) {
  clear(
    $("#record-fields"),
    field("Verdict", badge(record.verdict, VERDICT_TONE[record.verdict])),
    field("Anomaly score", `${record.anomaly_score.toFixed(3)} (threshold ${record.threshold.toFixed(3)})`),
    field("Captured", fmtTime(record.captured_at)),
    field("Received", fmtTime(record.received_at)),
    field("Line / station", `${record.line_id} / ${record.station_id}`),
    field("Camera", record.camera_id),
    field("Edge node", record.node_id),
    field("Part", record.part_id),
    field("Model", `${record.model_id} v${record.model_version}`),
    field("Model digest", el("code", { class: "wrap" }, record.model_sha256)),
    field("Decision latency", `${record.latency_ms.toFixed(1)} ms`),
    field("Evidence", record.has_evidence ? `kept encrypted on node ${record.node_id}` : "none recorded"),
    field("Record id", el("code", { class: "wrap" }, record.event_id)),
  );
  clear(
    $("#regions"),
    record.regions.length
      ? table(
          [
            { label: "Defect class", value: (r) => r.defect_class },
            { label: "Score", value: (r) => r.score.toFixed(3), num: true },
            { label: "Box (x, y, w × h)", value: (r) => `${r.bbox.x}, ${r.bbox.y}, ${r.bbox.width} × ${r.bbox.height}` },
          ],
          record.regions,
          { caption: "Defect regions" },
        )
      : empty("No defect regions on this part."),
  );
}

function renderAlert(alert) {
  clear(
    $("#alert-summary"),
    el(
      "p",
      { class: "notice" },
      el("strong", {}, `${alert.severity} alert: `),
      alert.message,
      el("br"),
      `raised ${fmtTime(alert.raised_at)} on line ${alert.line_id}${alert.camera_id ? `, camera ${alert.camera_id}` : ""}`,
    ),
  );
}

function renderEvidence(answer) {
  const box = $("#evidence-result");
  const audit = el("p", { class: "hint" }, `Your request was recorded in the audit log (${fmtTime(answer.audited_at)}, purpose: ${answer.purpose}).`);
  if (answer.status === "available" && answer.image_base64) {
    const bytes = Uint8Array.from(atob(answer.image_base64), (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([bytes], { type: answer.media_type || "image/jpeg" }));
    clear(box, el("img", { class: "evidence-image", src: url, alt: `Redacted evidence image of record ${answer.event_id}` }), audit);
    return;
  }
  clear(
    box,
    el(
      "div",
      { class: "notice", id: "evidence-held" },
      el("strong", {}, `Evidence held on node ${answer.node_id}`),
      el("p", {}, answer.message),
      el("p", {}, "Reference: ", el("code", { class: "wrap" }, answer.evidence_ref || "—")),
    ),
    audit,
  );
}

async function openEvidence(record) {
  const button = $("#evidence-open");
  button.disabled = true;
  try {
    const answer = await api(`/dashboard/records/${encodeURIComponent(record.event_id)}/evidence`, {
      method: "POST",
      body: { purpose: $("#evidence-purpose").value },
    });
    renderEvidence(answer);
  } catch (error) {
    clear($("#evidence-result"), el("p", { class: "form-error", role: "alert" }, explain(error, "Evidence not opened")));
  } finally {
    button.disabled = false;
  }
}

async function load() {
  const params = new URLSearchParams(location.search);
  const alertId = params.get("alert");
  const eventId = params.get("event");
  let record = null;
  if (alertId) {
    const detail = await api(`/dashboard/alerts/${encodeURIComponent(alertId)}`);
    renderAlert(detail.alert);
    record = detail.record;
  } else if (eventId) {
    record = await api(`/dashboard/records/${encodeURIComponent(eventId)}`);
  }
  if (!record) {
    clear($("#record-fields"), empty(alertId ? "This alert is not linked to an inspection record." : "No record chosen."));
    $("#evidence-panel").hidden = true;
    return;
  }
  renderRecord(record);
  if (!record.has_evidence) {
    $("#evidence-form").hidden = true;
    clear($("#evidence-result"), empty("No evidence image was kept for this part."));
  }
  $("#evidence-form").addEventListener("submit", (event) => {
    event.preventDefault();
    openEvidence(record);
  });
}

const who = await startPage("inspection_results.read");
if (who) {
  $("#evidence-note").hidden = can(who, "evidence_images.read");
  try {
    await load();
  } catch (error) {
    status(explain(error, error instanceof ApiError && error.status === 404 ? "Not found" : "Could not load the record"));
  }
}
