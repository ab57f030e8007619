// Thermal monitoring: every watched asset's latest hottest pixel against its learned band
// (GET /thermal/assets), the chosen asset's trend chart over the period
// (GET /thermal/series), its alarms, and its open thermal_maintenance review items
// (GET /reviews/thermal_maintenance). Equipment temperatures are maintenance data.

import { api, lastRequestWins } from "../api.js";
import { bandChart } from "../charts.js";
import { $, badge, clear, el, empty, explain, fmtInt, fmtShort, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const RANGES = { shift: 8, day: 24, week: 24 * 7 };
const OPEN_STATES = ["new", "acknowledged", "assigned", "escalated"];
const deg = (value) => (value === null || value === undefined ? "—" : `${Number(value).toFixed(1)} °C`);

function windowQuery() {
  const hours = RANGES[document.querySelector("input[name=range]:checked").value];
  const end = new Date();
  return { start: new Date(end.getTime() - hours * 3600 * 1000).toISOString(), end: end.toISOString() };
}

const count = (n, what) => `${fmtInt(n)} ${what}${n === 1 ? "" : "s"}`;
const key = (a) => `${a.line_id}|${a.camera_id}|${a.asset}`;
// The period and asset asked for last are the ones shown, whatever order the answers come in.
const periodTurn = lastRequestWins();
const seriesTurn = lastRequestWins();

function assetCard(a, openItems) {
  const over = a.in_band === false;
  const trending = a.trend_limit_c !== null && a.trend_c !== null && a.trend_c >= a.trend_limit_c;
  const tone = over || trending || openItems ? "bad" : a.alarms ? "warn" : a.in_band ? "good" : null;
  return el(
    "article",
    { class: "card", dataset: tone ? { tone, asset: a.asset } : { asset: a.asset }, "aria-label": `Asset ${a.asset} at ${a.camera_id}` },
    el("h3", {}, `${a.asset} · ${a.line_id} / ${a.camera_id}`),
    el("div", { class: "big" }, deg(a.max_c)),
    el("div", { class: "sub" }, a.read_at ? `hottest pixel at ${fmtShort(a.read_at)}` : "no reading in this period"),
    el("div", {}, `Band ${deg(a.band_low_c)} … ${deg(a.band_high_c)} `, a.in_band === null ? null : badge(a.in_band ? "in band" : "outside band", a.in_band ? "good" : "bad")),
    el("div", {}, `Trend ${deg(a.trend_c)}` + (a.trend_limit_c === null ? "" : ` (limit ${deg(a.trend_limit_c)})`)),
    el("div", { class: "sub" }, `${count(a.alarms, "alarm")}, ${count(openItems, "open maintenance item")}`),
  );
}

function fillAssets(assets) {
  const select = $("#f-asset");
  const current = select.value;
  clear(select, assets.map((a) => el("option", { value: key(a) }, `${a.line_id} / ${a.camera_id} / ${a.asset}`)));
  if (assets.some((a) => key(a) === current)) select.value = current;
  else {
    // Start with the asset that most needs a look: outside its band, else the most alarms.
    const worst = [...assets].sort((x, y) => (x.in_band === false) - (y.in_band === false) || x.alarms - y.alarms).pop();
    if (worst) select.value = key(worst);
  }
}

const openFor = (items, a) => items.filter((i) => i.ai_proposal.asset === a.asset && i.ai_proposal.camera_id === a.camera_id && i.line_id === a.line_id);

function renderMaintenance(items) {
  clear(
    $("#maintenance"),
    items.length
      ? table(
          [
            { label: "Raised", value: (i) => fmtShort(i.raised_at) },
            { label: "Recommendation", value: (i) => i.ai_proposal.title },
            { label: "Trend", value: (i) => `${deg(i.ai_proposal.trend_c)} (limit ${deg(i.ai_proposal.limit_c)})` },
            { label: "Priority", value: (i) => (i.human_outcome?.priority || i.ai_proposal.priority) },
            { label: "State", value: (i) => badge(i.state, i.state === "new" ? "warn" : null) },
          ],
          items,
          { caption: "Open maintenance recommendations of the asset" },
        )
      : empty("No open maintenance recommendation for this asset."),
  );
}

function renderAlarms(alarms) {
  clear(
    $("#alarms"),
    alarms.length
      ? table(
          [
            { label: "Time", value: (a) => fmtShort(a.at) },
            { label: "Alarm", value: (a) => a.kind.replaceAll("_", " ") },
            { label: "Value", value: (a) => (a.value === null ? "—" : `${deg(a.value)} (limit ${deg(a.limit)})`), num: true },
            { label: "What the node said", value: (a) => a.message },
          ],
          alarms,
          { caption: "Alarms of the asset in this period" },
        )
      : empty("No alarm for this asset in this period."),
  );
}

async function loadSeries(items) {
  const value = $("#f-asset").value;
  if (!value) return;
  const [line_id, camera_id, asset] = value.split("|");
  const current = seriesTurn();
  const series = await api("/thermal/series", { query: { ...windowQuery(), line_id, camera_id, asset } });
  if (!current()) return;
  bandChart(
    $("#thermal-chart"),
    series.points.map((p) => fmtShort(p.at)),
    series.points,
    { trendLimit: series.trend_limit_c },
  );
  $("#series-note").textContent =
    series.points.length < series.readings ? `${fmtInt(series.readings)} readings, drawn as ${fmtInt(series.points.length)} points (the hottest of each run).` : `${fmtInt(series.readings)} readings.`;
  renderAlarms(series.alarms);
  renderMaintenance(openFor(items, { line_id, camera_id, asset }));
}

let openItems = [];

async function load() {
  status("");
  const current = periodTurn();
  try {
    const [assets, items] = await Promise.all([
      api("/thermal/assets", { query: windowQuery() }),
      api(`/reviews/thermal_maintenance?${OPEN_STATES.map((s) => `state=${s}`).join("&")}`, { query: { limit: 200 } }),
    ]);
    if (!current()) return;
    openItems = items;
    fillAssets(assets);
    clear(
      $("#assets"),
      assets.length ? assets.map((a) => assetCard(a, openFor(items, a).length)) : empty("No thermal reading in this period: configure a thermal camera (docs/inspection.md)."),
    );
    await loadSeries(openItems);
  } catch (error) {
    status(explain(error, "Could not load the thermal view"));
  }
}

if (await startPage("maintenance_data.read")) {
  for (const input of document.querySelectorAll("input[name=range]")) input.addEventListener("change", load);
  $("#filters").addEventListener("submit", async (event) => {
    event.preventDefault();
    status("");
    try {
      await loadSeries(openItems);
    } catch (error) {
      status(explain(error, "Could not load the asset"));
    }
  });
  await load();
}
