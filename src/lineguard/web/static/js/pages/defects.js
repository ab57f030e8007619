// Defect analysis: Pareto of defect classes, their daily rate, and yield by line and
// camera, for a chosen time range, line, camera and model release. Data: /dashboard/pareto,
// /dashboard/defects and /dashboard/quality (group_by=camera), each with the same filters;
// the releases to choose from: /dashboard/model-versions.

import { api, lastRequestWins } from "../api.js";
import { bucketLabels, pareto, percentLines, windowBuckets } from "../charts.js";
import { $, clear, el, empty, explain, fmtInt, fmtPct, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const DAY_MS = 24 * 3600 * 1000;
// The filters applied last are the ones shown, whatever order the answers come back in.
const filterTurn = lastRequestWins();

function localInput(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

function range() {
  return { start: new Date($("#f-start").value).toISOString(), end: new Date($("#f-end").value).toISOString() };
}

function fillSelect(select, values, allLabel) {
  const current = select.value;
  clear(select, el("option", { value: "" }, allLabel), values.map((v) => el("option", { value: v }, v)));
  if (values.includes(current)) select.value = current;
}

// A release is chosen as "model_id|model_version" (a model id holds no "|").
function modelFilter() {
  const value = $("#f-model").value;
  if (!value) return {};
  const at = value.lastIndexOf("|");
  return { model_id: value.slice(0, at), model_version: value.slice(at + 1) };
}

function fillModels(versions) {
  const select = $("#f-model");
  const current = select.value;
  const values = versions.map((v) => `${v.model_id}|${v.model_version}`);
  clear(
    select,
    el("option", { value: "" }, "All versions"),
    versions.map((v, i) => el("option", { value: values[i] }, `${v.model_id} v${v.model_version} (${fmtInt(v.inspected)} parts)`)),
  );
  if (values.includes(current)) select.value = current;
  $("#f-model-hint").textContent = versions.length
    ? "Every chart and table below counts only the parts the chosen release judged."
    : "No model release judged parts in this range.";
}

function renderPareto(entries) {
  pareto($("#pareto-chart"), entries);
  clear(
    $("#pareto-table"),
    entries.length
      ? table(
          [
            { label: "Defect class", value: (e) => e.defect_class },
            { label: "Parts", value: (e) => fmtInt(e.parts), num: true },
            { label: "Share", value: (e) => fmtPct(e.share), num: true },
            { label: "Cumulative", value: (e) => fmtPct(e.cumulative_share), num: true },
          ],
          entries,
          { caption: "Pareto of defect classes" },
        )
      : empty("No defects in this range and scope."),
  );
}

// Each class's daily rate over every day of the range: 0 % on a day with parts but none of
// that class, a gap on a day without parts (nothing was inspected, so no rate).
function renderTrend(points, byCamera, { start, end }) {
  const days = windowBuckets(start, end, "day");
  const inspected = new Map();
  for (const p of byCamera) {
    const day = Date.parse(p.bucket_start);
    inspected.set(day, (inspected.get(day) || 0) + p.inspected);
  }
  const classes = [...new Set(points.map((p) => p.defect_class))].sort();
  const index = new Map(points.map((p) => [`${p.defect_class}|${Date.parse(p.bucket_start)}`, p.rate]));
  percentLines(
    $("#trend-chart"),
    bucketLabels(days, "day"),
    classes.map((c) => ({
      label: c,
      values: days.map((d) => (inspected.get(d) ? index.get(`${c}|${d}`) ?? 0 : null)),
      counts: days.map((d) => inspected.get(d) ?? 0),
    })),
  );
}

function renderBreakdown(points) {
  const totals = new Map();
  for (const p of points) {
    const key = `${p.line_id}|${p.camera_id}`;
    const t = totals.get(key) || { line_id: p.line_id, camera_id: p.camera_id, inspected: 0, passed: 0, failed: 0, uncertain: 0 };
    for (const f of ["inspected", "passed", "failed", "uncertain"]) t[f] += p[f];
    totals.set(key, t);
  }
  const rows = [...totals.values()].sort((a, b) => b.failed / (b.inspected || 1) - a.failed / (a.inspected || 1));
  clear(
    $("#breakdown"),
    rows.length
      ? table(
          [
            { label: "Line", value: (r) => r.line_id },
            { label: "Camera", value: (r) => r.camera_id },
            { label: "Inspected", value: (r) => fmtInt(r.inspected), num: true },
            { label: "Yield", value: (r) => fmtPct(r.inspected ? r.passed / r.inspected : null), num: true },
            { label: "Defect rate", value: (r) => fmtPct(r.inspected ? r.failed / r.inspected : null), num: true },
            { label: "Uncertain", value: (r) => fmtInt(r.uncertain), num: true },
          ],
          rows,
          { caption: "Yield and defect rate by line and camera" },
        )
      : empty("No parts were inspected in this range and scope."),
  );
  return rows;
}

async function load() {
  status("");
  const place = { ...range(), line_id: $("#f-line").value, camera_id: $("#f-camera").value };
  const scope = { ...place, ...modelFilter() };
  const current = filterTurn();
  try {
    const [entries, trend, byCamera, versions] = await Promise.all([
      api("/dashboard/pareto", { query: scope }),
      api("/dashboard/defects", { query: { ...scope, bucket: "day" } }),
      api("/dashboard/quality", { query: { ...scope, bucket: "day", group_by: "camera" } }),
      api("/dashboard/model-versions", { query: place }),
    ]);
    if (!current()) return;
    fillModels(versions);
    renderPareto(entries);
    renderTrend(trend, byCamera, range());
    const rows = renderBreakdown(byCamera);
    if (!scope.line_id && !scope.camera_id && !scope.model_id) {
      fillSelect($("#f-line"), [...new Set(rows.map((r) => r.line_id))].sort(), "All lines");
      fillSelect($("#f-camera"), [...new Set(rows.map((r) => r.camera_id))].sort(), "All cameras");
    }
  } catch (error) {
    if (current()) status(explain(error, "Could not load defects"));
  }
}

if (await startPage("inspection_results.read")) {
  const end = new Date();
  $("#f-end").value = localInput(end);
  $("#f-start").value = localInput(new Date(end.getTime() - 7 * DAY_MS));
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await load();
}
