// Label checks: each label station's checks in the chosen period by outcome (read,
// mismatch, unreadable, upside down, not judged) with the fields that differed, and the
// latest checks, each linked to its part's inspection record. Data:
// /label-checks/stations and /label-checks/recent (what a label said never leaves the node).

import { api, lastRequestWins } from "../api.js";
import { $, badge, clear, el, empty, explain, fmtInt, fmtPct, fmtShort, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const RANGES = { shift: 8, day: 24, week: 24 * 7 };
const OUTCOMES = {
  read: ["Read", "good"],
  mismatch: ["Mismatch", "bad"],
  unreadable: ["Unreadable", "bad"],
  upside_down: ["Upside down", "bad"],
  not_judged: ["Not judged", "warn"],
};

function windowQuery() {
  const hours = RANGES[document.querySelector("input[name=range]:checked").value];
  const end = new Date();
  return { start: new Date(end.getTime() - hours * 3600 * 1000).toISOString(), end: end.toISOString() };
}

const key = (s) => `${s.line_id}|${s.station_id}`;
// The period and station asked for last are the ones shown, whatever order the answers come in.
const periodTurn = lastRequestWins();
const checksTurn = lastRequestWins();

function stationCard(s) {
  const readRate = s.checks ? s.read / s.checks : null;
  const wrong = s.mismatch + s.unreadable + s.upside_down;
  const fields = Object.entries(s.fields);
  return el(
    "article",
    { class: "card", dataset: { tone: wrong ? "bad" : "good", station: s.station_id }, "aria-label": `Label station ${s.station_id}` },
    el("h3", {}, `${s.line_id} / ${s.station_id}`),
    el("div", { class: "big" }, fmtPct(readRate)),
    el("div", { class: "sub" }, `read and matched, of ${fmtInt(s.checks)} checks`),
    el(
      "dl",
      { class: "fields" },
      Object.entries(OUTCOMES).flatMap(([name, [label]]) => [el("dt", {}, label), el("dd", { dataset: { outcome: name } }, fmtInt(s[name]))]),
    ),
    el("div", { class: "sub" }, fields.length ? `Fields that differed: ${fields.map(([f, n]) => `${f} (${n})`).join(", ")}` : "No field differed."),
  );
}

function fillStations(stations) {
  const select = $("#f-station");
  const current = select.value;
  clear(
    select,
    el("option", { value: "" }, "All label stations"),
    stations.map((s) => el("option", { value: key(s) }, `${s.line_id} / ${s.station_id}`)),
  );
  if (stations.some((s) => key(s) === current)) select.value = current;
}

function outcomeBadge(outcome) {
  const [label, tone] = OUTCOMES[outcome] || [outcome, null];
  return badge(label, tone);
}

function renderChecks(checks) {
  clear(
    $("#checks"),
    checks.length
      ? table(
          [
            { label: "Time", value: (c) => fmtShort(c.captured_at) },
            { label: "Station", value: (c) => `${c.line_id} / ${c.station_id}` },
            { label: "Outcome", value: (c) => outcomeBadge(c.outcome) },
            { label: "Field that differs", value: (c) => c.reasons.map((r) => `${r.subject} (${r.code.replaceAll("_", " ")})`).join(", ") || "—" },
            {
              label: "Part",
              value: (c) => (c.record_event_id ? el("a", { href: `/record?event=${encodeURIComponent(c.record_event_id)}` }, "Open record") : "—"),
            },
          ],
          checks,
          { caption: "Latest label checks" },
        )
      : empty("No label check in this period matches."),
  );
}

async function loadChecks() {
  const [line_id, station_id] = ($("#f-station").value || "|").split("|");
  const query = { ...windowQuery(), failed_only: $("#f-failed").checked, limit: 100 };
  if (line_id) Object.assign(query, { line_id, station_id });
  const current = checksTurn();
  const checks = await api("/label-checks/recent", { query });
  if (current()) renderChecks(checks);
}

async function load() {
  status("");
  const current = periodTurn();
  try {
    const stations = await api("/label-checks/stations", { query: windowQuery() });
    if (!current()) return;
    fillStations(stations);
    clear(
      $("#stations"),
      stations.length ? stations.map(stationCard) : empty("No label was checked in this period: configure a label stage (docs/inspection.md)."),
    );
    await loadChecks();
  } catch (error) {
    status(explain(error, "Could not load the label checks"));
  }
}

if (await startPage("inspection_results.read")) {
  for (const input of document.querySelectorAll("input[name=range]")) input.addEventListener("change", load);
  $("#filters").addEventListener("submit", async (event) => {
    event.preventDefault();
    status("");
    try {
      await loadChecks();
    } catch (error) {
      status(explain(error, "Could not load the label checks"));
    }
  });
  await load();
}
