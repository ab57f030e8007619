// Process control: the X̄ and R charts of one measured characteristic (gauging), its
// capability (Cp, Cpk), the Western Electric rules that fired, and its settings (the rules
// tested, where the baseline starts). Data: /spc/characteristics (what is measured on the
// caller's lines) and /spc/chart. The settings form shows only with inspection_results.write
// on the chart's line and saves through PUT /spc/settings (a reason is required; audited).

import { api, lastRequestWins, linesFor } from "../api.js";
import { controlChart } from "../charts.js";
import { $, clear, el, empty, explain, fmtInt, fmtTime, status, table } from "../dom.js";
import { startPage } from "../layout.js";

// The server's Western Electric rules (server/measurements/spc.py RULES), as the form names them.
const RULES = Object.fromEntries(
  [...document.querySelectorAll('#settings-form input[name="rule"]')].map((box) => [
    Number(box.value),
    box.labels[0].textContent.trim().replace(/^Rule \d+: /, ""),
  ]),
);
let who = null;
let shown = null; // the chart on the page
const chartTurn = lastRequestWins(); // the chart asked for last is the one shown

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

function mayChange(lineId) {
  const lines = linesFor(who, "inspection_results.write");
  return lines === null || lines.includes(lineId);
}

function renderSettings(chart) {
  const rows = [
    ["Rules tested", chart.rules.map((r) => `${r}: ${RULES[r] || "rule " + r}`).join("; ") || "none"],
    ["Baseline", chart.baseline_from ? `started anew at ${fmtTime(chart.baseline_from)}` : "from the first value (never reset)"],
  ];
  clear(
    $("#spc-settings"),
    table([{ label: "Setting", value: (r) => r[0] }, { label: "Value", value: (r) => r[1] }], rows, {
      caption: `Settings of ${chart.line_id} / ${chart.station_id} / ${chart.characteristic}`,
    }),
  );
  const form = $("#settings-form");
  form.hidden = !mayChange(chart.line_id);
  for (const box of form.querySelectorAll('input[name="rule"]')) box.checked = chart.rules.includes(Number(box.value));
  $("#s-reset").checked = false;
}

async function saveSettings() {
  if (!shown) return;
  const rules = [...document.querySelectorAll('#settings-form input[name="rule"]:checked')].map((box) => Number(box.value));
  const body = {
    line_id: shown.line_id,
    station_id: shown.station_id,
    characteristic: shown.characteristic,
    rules,
    reset_baseline: $("#s-reset").checked,
    reason: $("#s-reason").value.trim(),
  };
  try {
    const saved = await api("/spc/settings", { method: "PUT", body });
    $("#s-reason").value = "";
    await loadChart();
    status(`Settings saved at ${fmtTime(saved.changed_at)}: rules ${saved.rules.join(", ")}.`);
  } catch (error) {
    status(explain(error, "Settings not saved"));
  }
}

async function loadChart() {
  const value = $("#f-characteristic").value;
  if (!value) return;
  const [line_id, station_id, characteristic] = value.split("|");
  const current = chartTurn();
  try {
    const chart = await api("/spc/chart", { query: { line_id, station_id, characteristic } });
    if (!current()) return;
    renderCharts(chart);
    renderCapability(chart);
    renderRules(chart);
    renderSettings(chart);
    shown = chart;
  } catch (error) {
    if (current()) status(explain(error, "Could not load the chart"));
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

who = await startPage("inspection_results.read");
if (who) {
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    status("");
    loadChart();
  });
  $("#settings-form").hidden = true; // until a chart of a line the caller may change is shown
  $("#settings-form").addEventListener("submit", (event) => {
    event.preventDefault();
    status("");
    saveSettings();
  });
  await load();
}
