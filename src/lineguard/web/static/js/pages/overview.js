// Overview: yield and defect rate per line over the last shift, day or week, from
// GET /api/v1/dashboard/quality (hourly buckets, or daily for the week), and, where the
// server knows the truth about some parts (a validation run, the demo's synthetic line),
// the AI's part-level recall and false-reject rate against it (GET /dashboard/truth).

import { api, lastRequestWins } from "../api.js";
import { bucketLabels, percentLines, windowBuckets } from "../charts.js";
import { $, clear, el, empty, explain, fmtInt, fmtPct, status } from "../dom.js";
import { startPage } from "../layout.js";

const RANGES = {
  shift: { hours: 8, bucket: "hour" },
  day: { hours: 24, bucket: "hour" },
  week: { hours: 24 * 7, bucket: "day" },
};

function tone(yieldRate) {
  if (yieldRate === null) return null;
  return yieldRate >= 0.97 ? "good" : yieldRate >= 0.9 ? "warn" : "bad";
}

function lineCards(points) {
  const totals = new Map();
  for (const p of points) {
    const t = totals.get(p.line_id) || { inspected: 0, passed: 0, failed: 0, uncertain: 0 };
    t.inspected += p.inspected;
    t.passed += p.passed;
    t.failed += p.failed;
    t.uncertain += p.uncertain;
    totals.set(p.line_id, t);
  }
  return [...totals.entries()].sort().map(([line, t]) => {
    const y = t.inspected ? t.passed / t.inspected : null;
    const d = t.inspected ? t.failed / t.inspected : null;
    return el(
      "article",
      { class: "card", dataset: tone(y) ? { tone: tone(y) } : {}, "aria-label": `Line ${line}` },
      el("h3", {}, line),
      el("div", { class: "big" }, fmtPct(y)),
      el("div", { class: "sub" }, "yield"),
      el("div", {}, `Defect rate ${fmtPct(d)} · ${fmtInt(t.failed)} failed, ${fmtInt(t.uncertain)} uncertain`),
      el("div", { class: "sub" }, `${fmtInt(t.inspected)} parts inspected`),
    );
  });
}

// One series per line over every bucket of the window; a bucket without parts is null (a gap).
function series(points, field, buckets, bucket) {
  const lines = [...new Set(points.map((p) => p.line_id))].sort();
  const index = new Map(points.map((p) => [`${p.line_id}|${Date.parse(p.bucket_start)}`, p]));
  const at = (line, b) => index.get(`${line}|${b}`);
  return {
    labels: bucketLabels(buckets, bucket),
    series: lines.map((line) => ({
      label: line,
      values: buckets.map((b) => (at(line, b)?.inspected ? at(line, b)[field] : null)),
      counts: buckets.map((b) => at(line, b)?.inspected ?? 0),
    })),
  };
}

function truthCards(score) {
  const card = (label, value, tone, sub) =>
    el("article", { class: "card", dataset: tone ? { tone } : {}, "aria-label": label }, el("h3", {}, label), el("div", { class: "big" }, fmtPct(value)), el("div", { class: "sub" }, sub));
  const recallTone = score.recall === null ? null : score.recall >= 0.95 ? "good" : score.recall >= 0.8 ? "warn" : "bad";
  const frrTone = score.false_reject_rate === null ? null : score.false_reject_rate <= 0.02 ? "good" : score.false_reject_rate <= 0.05 ? "warn" : "bad";
  return [
    card("Part-level recall", score.recall, recallTone, `${fmtInt(score.defective_failed)} of ${fmtInt(score.defective_parts)} defective parts failed; ${fmtInt(score.defective_flagged)} failed or sent to review`),
    card("False-reject rate", score.false_reject_rate, frrTone, `${fmtInt(score.good_failed)} of ${fmtInt(score.good_parts)} good parts failed`),
    card("Good parts to review", score.review_rate, null, `${fmtInt(score.good_uncertain)} good parts judged uncertain`),
  ];
}

// The period chosen last is the one shown, whatever order the answers come back in.
const periodTurn = lastRequestWins();

async function loadTruth(start, end, current) {
  const panel = $("#truth-panel");
  const score = await api("/dashboard/truth", { query: { start: start.toISOString(), end: end.toISOString() } });
  if (!current()) return;
  panel.hidden = !score;
  if (!score) return;
  const judged = score.defective_parts + score.good_parts;
  clear($("#truth"), judged ? truthCards(score) : empty("No part with a known truth was judged in this period."));
  $("#truth-source").textContent =
    `Truth: ${score.source}. ${fmtInt(judged)} parts scored` + (score.unknown_parts ? `; ${fmtInt(score.unknown_parts)} parts of unknown truth left out.` : ".");
}

async function load() {
  const range = RANGES[document.querySelector("input[name=range]:checked").value];
  const end = new Date();
  const start = new Date(end.getTime() - range.hours * 3600 * 1000);
  status("");
  const current = periodTurn();
  try {
    const points = await api("/dashboard/quality", {
      query: { start: start.toISOString(), end: end.toISOString(), bucket: range.bucket, group_by: "line" },
    });
    if (!current()) return;
    const cards = $("#line-cards");
    if (!points.length) {
      clear(cards, empty("No parts were inspected in this period. Results appear here as soon as edge nodes send them."));
    } else {
      clear(cards, lineCards(points));
    }
    const buckets = windowBuckets(start, end, range.bucket);
    const y = series(points, "yield_rate", buckets, range.bucket);
    const d = series(points, "defect_rate", buckets, range.bucket);
    // Yield lives near the top: let the axis start where the data does, so a drop shows.
    percentLines($("#yield-chart"), y.labels, y.series, { max: 1, autoMin: true });
    percentLines($("#defect-chart"), d.labels, d.series);
    await loadTruth(start, end, current);
  } catch (error) {
    if (current()) status(explain(error, "Could not load yield"));
  }
}

if (await startPage("inspection_results.read")) {
  for (const input of document.querySelectorAll("input[name=range]")) input.addEventListener("change", load);
  await load();
}
