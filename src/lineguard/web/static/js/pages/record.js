// The inspection record as a workstation, opened from an alert (?alert=ID) or a record
// (?event=ID): the result and its regions, the review of the finding (acknowledge,
// confirm, overrule with a reason, escalate; see reviewpanel.js), the part the record
// was a frame of with its other frames and its stage results (gauging measurements with
// value, uncertainty and tolerance; label fields that differ; reason codes), and the evidence image with the regions drawn
// over it (viewer.js). The evidence panel exists only for roles with
// evidence_images.read; opening the evidence posts an audited request (with a purpose):
// the server asks the edge node holding the image, and this page polls the view it was
// given until the redacted image arrives (once) or the reason it cannot be shown.

import { api, ApiError, apiImage, can } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtTime, status, table } from "../dom.js";
import { startPage } from "../layout.js";
import { reviewPanel } from "../reviewpanel.js";
import { evidenceViewer } from "../viewer.js";

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
            { label: "#", value: (r) => record.regions.indexOf(r) + 1, num: true },
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

// A part judged on fewer frames than its camera expects (frames dropped under load) says so:
// its verdict rests on fewer views than usual.
function framesText(part) {
  const text = `seen in ${part.frames_seen}, ${part.frames_fused} fused into the verdict`;
  if (part.frames_expected == null) return text;
  if (!part.views_short) return `${text} (${part.frames_expected} expected)`;
  return el(
    "span",
    { id: "part-views-short" },
    `${text} — `,
    badge(`views short: ${part.frames_fused} of ${part.frames_expected} expected`, "warn"),
  );
}

function renderPart(part, record) {
  $("#part-panel").hidden = false;
  clear(
    $("#part-fields"),
    field("Part verdict", badge(part.verdict, VERDICT_TONE[part.verdict])),
    field("Part score", `${part.anomaly_score.toFixed(3)} (threshold ${part.threshold.toFixed(3)})`),
    field("Part", part.part_id ? `${part.part_id} (id from ${part.id_source})` : `no id (${part.id_source})`),
    field("Frames", framesText(part)),
    field("Seen", `${fmtTime(part.first_seen_at)} – ${fmtTime(part.last_seen_at)}`),
  );
  const rows = part.frames.map((f) => ({ ...f, current: f.event_id === record.event_id }));
  const wrap = table(
    [
      { label: "Frame", value: (f) => (f.current ? `${f.frame_id} (this one)` : el("a", { href: `/record?event=${encodeURIComponent(f.event_id)}` }, String(f.frame_id))), num: true },
      { label: "Captured", value: (f) => fmtTime(f.captured_at) },
      { label: "Verdict", value: (f) => badge(f.verdict, VERDICT_TONE[f.verdict]) },
      { label: "Score", value: (f) => f.anomaly_score.toFixed(3), num: true },
      { label: "", value: (f) => [f.decisive ? "decided the part" : "", f.has_evidence ? "evidence kept" : ""].filter(Boolean).join(" · ") },
    ],
    rows,
    { caption: "Frames of this part" },
  );
  wrap.querySelectorAll("tbody tr").forEach((tr, i) => {
    if (rows[i].current) tr.setAttribute("aria-current", "true");
  });
  clear($("#part-frames"), rows.length ? wrap : empty("The part's frames are no longer stored."));
  renderStages(part.stages ?? []);
}

function num(v) {
  return Number(v.toFixed(4)).toString();
}

function tolerance(m) {
  const limits =
    m.lower_limit != null && m.upper_limit != null
      ? `${num(m.lower_limit)} – ${num(m.upper_limit)}`
      : m.upper_limit != null
        ? `≤ ${num(m.upper_limit)}`
        : m.lower_limit != null
          ? `≥ ${num(m.lower_limit)}`
          : "";
  if (m.nominal != null) return limits ? `${num(m.nominal)} (${limits})` : num(m.nominal);
  return limits || "—";
}

// One block per stage: its verdict, why it did not pass (code · field or characteristic:
// message) and what it measured. Values read off a label never leave the node, so a
// label stage shows only which field differed or was unreadable.
function renderStages(stages) {
  $("#part-stages-block").hidden = stages.length === 0;
  const blocks = stages.map((s) => {
    const reasons = s.reasons.length
      ? el("ul", { class: "stage-reasons" }, s.reasons.map((r) => el("li", {}, el("code", {}, r.code), ` · ${r.subject}: ${r.message}`)))
      : null;
    const measurements = s.measurements.length
      ? table(
          [
            { label: "Characteristic", value: (m) => m.characteristic },
            { label: "Value", value: (m) => `${num(m.value)} ± ${num(m.uncertainty)} ${m.unit}`, num: true },
            { label: "Nominal (tolerance)", value: (m) => tolerance(m), num: true },
            { label: "In tolerance", value: (m) => badge(m.in_tolerance ? "yes" : "no", m.in_tolerance ? "good" : "bad") },
          ],
          s.measurements,
          { caption: `Measurements of ${s.stage}` },
        )
      : null;
    return el(
      "div",
      { class: "stage-result", dataset: { stage: s.stage, kind: s.kind } },
      el("h4", {}, `${s.stage} (${s.kind}) `, badge(s.verdict, VERDICT_TONE[s.verdict])),
      el(
        "p",
        { class: "stage-frames hint" },
        s.frame_ids.length > 1
          ? `Rests on frames ${s.frame_ids.join(", ")} (${s.kind === "gauging" ? "lengths averaged, most centred first" : "in the order used"}); the part's decisive frame is ${s.frame_id}.`
          : `Rests on frame ${s.frame_ids[0]}.`,
      ),
      reasons,
      measurements,
    );
  });
  clear($("#part-stages"), ...blocks);
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

const POLL_LIMIT_MS = 90_000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Ask the server for the view until the node has answered: 202 means "still asking",
// 200 is the image (handed out once), anything else is the reason it cannot be shown.
async function fetchEvidence(answer) {
  const until = Date.now() + POLL_LIMIT_MS;
  while (Date.now() < until) {
    const result = await apiImage(answer.view_url);
    if (result.status === 200) return result;
    await sleep(Math.min(Math.max(result.body?.retry_after_ms || 500, 200), 2000));
  }
  throw new ApiError(504, { message: `node ${answer.node_id} did not answer in time` });
}

function auditNote(answer) {
  return el("p", { class: "hint" }, `Your request was recorded in the audit log (${fmtTime(answer.audited_at)}, purpose: ${answer.purpose}).`);
}

function renderWaiting(answer) {
  clear($("#evidence-result"), el("p", { id: "evidence-waiting", class: "hint" }, answer.message), auditNote(answer));
}

// What the node signed about the image besides its hash (v2 evidence): the frame region it
// shows, and whether privacy redaction hid part of a defect in it.
function evidenceNotes(headers) {
  const notes = [];
  if (headers?.get("X-Evidence-Defect-Hidden") === "true") {
    notes.push(
      el(
        "p",
        { class: "notice", id: "evidence-defect-hidden", role: "alert" },
        el("strong", {}, "Defect partly hidden by privacy redaction. "),
        "A person-like shape overlapped the defect region and was hidden before the image was stored: the defect may be larger than it looks. The defect boxes above were measured before redaction.",
      ),
    );
  }
  const region = headers?.get("X-Evidence-Region");
  if (region) {
    const [x, y, w, h] = region.split(",");
    notes.push(
      el("p", { class: "hint", id: "evidence-region" }, `The image shows only the inspected part of the frame: x ${x}, y ${y}, ${w} × ${h} px. The table's boxes are in frame coordinates; the boxes drawn on the image are shifted by (${x}, ${y}) to match it.`),
    );
  }
  return notes;
}

function renderImage(answer, result, record) {
  const url = URL.createObjectURL(result.blob);
  const img = el("img", { id: "evidence-image", class: "evidence-image", src: url, alt: `Redacted evidence image of record ${answer.event_id}` });
  const holder = el("div", { id: "evidence-view" }, img);
  // The image is handed out once: the object URL lives as long as this page shows it.
  img.addEventListener(
    "load",
    () => {
      const viewer = evidenceViewer(img, { regions: record.regions, threshold: record.threshold, headers: result.headers });
      clear(holder, viewer.node);
      img.setAttribute("data-loaded", "true");
    },
    { once: true },
  );
  clear(
    $("#evidence-result"),
    holder,
    ...evidenceNotes(result.headers),
    el("p", { class: "hint" }, `Redacted image from edge node ${answer.node_id}; signature and hash checked by the server. Shown once: open it again to see it later.`),
    auditNote(answer),
  );
}

function renderRefusal(answer, error) {
  const reasons = {
    410: "The image was already shown once, or its time ran out. Open the evidence again.",
    504: `Edge node ${answer.node_id} did not answer in time. Is it online, with evidence.remote_view on?`,
    409: "The edge node refused.",
    502: "The edge node's upload failed the server's checks; nothing was shown.",
  };
  clear(
    $("#evidence-result"),
    el(
      "div",
      { class: "notice", id: "evidence-error", role: "alert" },
      el("strong", {}, reasons[error?.status] || "The evidence could not be shown."),
      el("p", {}, explain(error, "Reason")),
    ),
    auditNote(answer),
  );
}

async function openEvidence(record) {
  const button = $("#evidence-open");
  button.disabled = true;
  let answer = null;
  try {
    answer = await api(`/dashboard/records/${encodeURIComponent(record.event_id)}/evidence`, {
      method: "POST",
      body: { purpose: $("#evidence-purpose").value },
    });
    if (answer.status !== "pending") {
      clear($("#evidence-result"), empty(answer.message), auditNote(answer));
      return;
    }
    renderWaiting(answer);
    renderImage(answer, await fetchEvidence(answer), record);
  } catch (error) {
    if (answer) renderRefusal(answer, error);
    else clear($("#evidence-result"), el("p", { class: "form-error", role: "alert" }, explain(error, "Evidence not opened")));
  } finally {
    button.disabled = false;
  }
}

// The review of what this page shows: the alert's when opened from one, else the part's
// verdict when the node asked a person to look at it (an uncertain part).
async function loadReview(who, alertId, part) {
  if (alertId) {
    try {
      reviewPanel(who, "alert", await api(`/reviews/alert/${encodeURIComponent(alertId)}`));
    } catch (error) {
      if (error?.status !== 404) status(explain(error, "Could not load the review"));
    }
  } else if (part?.review) {
    reviewPanel(who, "part_verdict", await api(`/reviews/part_verdict/${encodeURIComponent(part.part_verdict_id)}`));
  }
}

async function load(who) {
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
    await loadReview(who, alertId, null);
    return;
  }
  renderRecord(record);
  // Before anything else is awaited: a click on "Open evidence" while the part and its review
  // load must not submit the form as a plain GET (which reloads the page with no record). The
  // button arrives disabled (the panel shows as soon as the person's roles are known, before
  // the record has come) and takes a click only from here on.
  $("#evidence-form").addEventListener("submit", (event) => {
    event.preventDefault();
    openEvidence(record);
  });
  $("#evidence-open").disabled = false;
  if (!record.has_evidence) {
    $("#evidence-form").hidden = true;
    clear($("#evidence-result"), empty("No evidence image was kept for this part."));
  }
  const part = await api(`/dashboard/records/${encodeURIComponent(record.event_id)}/part`);
  if (part) renderPart(part, record);
  await loadReview(who, alertId, part);
}

const who = await startPage("inspection_results.read");
if (who) {
  $("#evidence-note").hidden = can(who, "evidence_images.read");
  try {
    await load(who);
  } catch (error) {
    status(explain(error, error instanceof ApiError && error.status === 404 ? "Not found" : "Could not load the record"));
  }
}
