// Process control: the X̄ and R charts of one measured characteristic (gauging), its
// capability (Cp, Cpk) and the Western Electric rules that fired. Data:
// /spc/characteristics (what is measured on the caller's lines) and /spc/chart.

import { api } from "../api.js";
import { controlChart } from "../charts.js";
import { $, clear, el, empty, explain, fmtInt, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const fmt = (value, digits = 4) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));

function key(c) {
  return `${c.line_id}|${c.station_id}|${c.characteristic}`;
}

function fillCharacteristics(found) {
  const select = $("#f-characteristic");
  const current = select.value;
  clear(
    select,
    found.map((c) =>
      el("option", { value: key(c) }, `${c.line_id} / ${c.station_id} / ${c.characteristic} (${fmtInt(c.measurements)})`),
    ),
  );
  if (found.some((c) => key(c) === current)) select.value = current;
}

function renderCharts(chart) {
  const labels = chart.subgroups.map((s) => String(s.index + 1));
  const flagged = new Set();
  const position = new Map(chart.subgroups.map((s, i) => [s.index, i]));
  for (const hit of chart.rule_hits) if (position.has(hit.subgroup)) flagged.add(position.get(hit.subgroup));
  controlChart(
    $("#xbar-chart"),
    labels,
    { label: `${chart.characteristic} mean`, values: chart.subgroups.map((s) => s.mean), flagged },
    [
      { label: "Centre", value: chart.centre },
      { label: "UCL", value: chart.ucl, dashed: true },
      { label: "LCL", value: chart.lcl, dashed: true },
      { label: "Upper tolerance", value: chart.upper_limit, dashed: true },
      { label: "Lower tolerance", value: chart.lower_limit, dashed: true },
    ],
    { unit: chart.unit },
  );
  controlChart(
    $("#range-chart"),
    labels,
    { label: `${chart.characteristic} range`, values: chart.subgroups.map((s) => s.range) },
    [
      { label: "Mean range", value: chart.mean_range },
      { label: "UCL", value: chart.r_ucl, dashed: true },
    ],
    { unit: chart.unit },
  );
}

function renderCapability(chart) {
  const rows = [
    ["Measurements", fmtInt(chart.measurements)],
    ["Subgroups (size)", `${chart.subgroups.length} (${chart.subgroup_size})`],
    ["Baseline subgroups", String(chart.baseline_subgroups)],
    ["Tolerance", `${fmt(chart.lower_limit)} … ${fmt(chart.upper_limit)} ${chart.unit}`],
    ["Centre (x̿)", `${fmt(chart.centre)} ${chart.unit}`],
    ["Process sigma (R̄/d₂)", `${fmt(chart.sigma, 5)} ${chart.unit}`],
    ["Cp", fmt(chart.cp, 2)],
    ["Cpk", fmt(chart.cpk, 2)],
  ];
  clear($("#capability"), table([{ label: "Figure", value: (r) => r[0] }, { label: "Value", value: (r) => r[1], num: true }], rows));
}

function renderRules(chart) {
  clear(
    $("#rules"),
    chart.rule_hits.length
      ? table(
          [
            { label: "Subgroup", value: (h) => String(h.subgroup + 1), num: true },
            { label: "Rule", value: (h) => `${h.rule}: ${h.description}` },
            { label: "Side", value: (h) => h.side },
          ],
          chart.rule_hits,
        )
      : empty(chart.baseline_subgroups < 20 ? "The baseline is not complete yet (20 subgroups)." : "No rule fired: the process is in control."),
  );
}

async function loadChart() {
  const value = $("#f-characteristic").value;
  if (!value) return;
  const [line_id, station_id, characteristic] = value.split("|");
  try {
    const chart = await api("/spc/chart", { query: { line_id, station_id, characteristic } });
    renderCharts(chart);
    renderCapability(chart);
    renderRules(chart);
  } catch (error) {
    status(explain(error, "Could not load the chart"));
  }
}

async function load() {
  status("");
  try {
    const found = (await api("/spc/characteristics")).filter((c) => c.unit !== "count");
    fillCharacteristics(found);
    if (!found.length) {
      clear($("#capability"), empty("Nothing is measured on your lines yet: configure a gauging stage (docs/inspection.md)."));
      return;
    }
    await loadChart();
  } catch (error) {
    status(explain(error, "Could not load the characteristics"));
  }
}

if (await startPage("inspection_results.read")) {
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    status("");
    loadChart();
  });
  await load();
}
