// Chart helpers over the vendored Chart.js (window.Chart, loaded by the page before
// this module runs). Colours stay the same for a line across charts, percentages are
// labelled as such, and animations are off so a glance shows the final picture.

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Every bucket start (ms, UTC hours or UTC days, as the server buckets) from the one
 * holding `start` up to `end`: a chart's time axis is the window chosen, and buckets
 * without parts are drawn as gaps, never left out.
 */
export function windowBuckets(start, end, bucket) {
  const step = bucket === "day" ? DAY_MS : HOUR_MS;
  const first = Math.floor(new Date(start).getTime() / step) * step;
  const last = new Date(end).getTime();
  const out = [];
  for (let t = first; t < last && out.length < 2000; t += step) out.push(t);
  return out;
}

/** Axis labels for bucket starts: date and hour for hourly buckets, the date for daily ones. */
export function bucketLabels(buckets, bucket) {
  const format = new Intl.DateTimeFormat(undefined, bucket === "day" ? { month: "short", day: "numeric", timeZone: "UTC" } : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return buckets.map((t) => format.format(new Date(t)));
}

const PALETTE = ["#0b5cad", "#d1495b", "#2e933c", "#8e44ad", "#e07a00", "#1b998b", "#5c6b7a", "#b5179e"];
const charts = new WeakMap();

export function colour(index) {
  return PALETTE[index % PALETTE.length];
}

/** With no data, a chart becomes a sentence saying so (axes with nothing on them mislead). */
function emptyInstead(canvas, isEmpty, message = "No data for this period and scope.") {
  canvas.dataset.points = "0";
  charts.get(canvas)?.destroy();
  charts.delete(canvas);
  const box = canvas.parentElement;
  let note = box.querySelector(".chart-empty");
  if (isEmpty && !note) {
    note = document.createElement("p");
    note.className = "empty chart-empty";
    note.textContent = message;
    box.append(note);
  }
  if (!isEmpty && note) note.remove();
  canvas.hidden = isEmpty;
  return isEmpty;
}

function draw(canvas, config) {
  const values = config.data.datasets.flatMap((d) => d.data).filter((v) => v !== null && v !== undefined);
  if (emptyInstead(canvas, config.data.labels.length === 0 || values.length === 0)) return null;
  // What the chart shows, for tests and assistive checks: buckets on the axis, points drawn.
  canvas.dataset.buckets = String(config.data.labels.length);
  canvas.dataset.points = String(values.length);
  const chart = new window.Chart(canvas, {
    ...config,
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      ...config.options,
    },
  });
  charts.set(canvas, chart);
  return chart;
}

const percentAxis = (max) => ({
  min: 0,
  max,
  ticks: { callback: (v) => `${Math.round(v * 1000) / 10} %` },
});

/**
 * One line per series over shared labels; values are fractions shown as percent.
 * A series may carry `counts` (parts per point): the tooltip shows them, so a 100 %
 * from three parts is not mistaken for a trend.
 */
export function percentLines(canvas, labels, series, { max, autoMin = false } = {}) {
  return draw(canvas, {
    type: "line",
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: s.label,
        data: s.values,
        borderColor: colour(i),
        backgroundColor: colour(i),
        pointRadius: labels.length > 60 ? 1 : 2,
        borderWidth: 2,
        // A bucket without parts is a gap in the line, not a straight line across it.
        spanGaps: false,
        tension: 0.15,
      })),
    },
    options: {
      scales: { y: { ...percentAxis(max), min: autoMin ? undefined : 0 }, x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 } } },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: {
            label: (c) => {
              const value = c.parsed.y === null ? "—" : `${(c.parsed.y * 100).toFixed(1)} %`;
              const n = series[c.datasetIndex].counts?.[c.dataIndex];
              return `${c.dataset.label}: ${value}${n === undefined ? "" : ` of ${n} parts`}`;
            },
          },
        },
      },
    },
  });
}

/** Pareto: bars of counts, largest first, and the cumulative share as a line. */
export function pareto(canvas, entries) {
  return draw(canvas, {
    type: "bar",
    data: {
      labels: entries.map((e) => e.defect_class),
      datasets: [
        { type: "bar", label: "Defective parts", data: entries.map((e) => e.parts), backgroundColor: "#0b5cad", yAxisID: "y", order: 2 },
        {
          type: "line",
          label: "Cumulative share",
          data: entries.map((e) => e.cumulative_share),
          borderColor: "#d1495b",
          backgroundColor: "#d1495b",
          yAxisID: "share",
          pointRadius: 3,
          order: 1, // drawn over the bars
        },
      ],
    },
    options: {
      scales: {
        y: { beginAtZero: true, title: { display: true, text: "parts" } },
        share: { position: "right", grid: { drawOnChartArea: false }, ...percentAxis(1) },
      },
    },
  });
}

/**
 * A control chart: one point per subgroup, with horizontal reference lines (centre,
 * control limits, and the tolerance limits when given) drawn dashed across it.
 * `references` is a list of { label, value, dashed }; a null value is left out.
 */
export function controlChart(canvas, labels, series, references, { unit = "" } = {}) {
  const flat = (value) => labels.map(() => value);
  const lines = references
    .filter((r) => r.value !== null && r.value !== undefined)
    .map((r, i) => ({
      label: r.label,
      data: flat(r.value),
      borderColor: colour(i + 1),
      backgroundColor: colour(i + 1),
      borderDash: r.dashed ? [6, 4] : [],
      borderWidth: 1,
      pointRadius: 0,
    }));
  return draw(canvas, {
    type: "line",
    data: {
      labels,
      datasets: [
        {
          label: series.label,
          data: series.values,
          borderColor: colour(0),
          backgroundColor: series.values.map((_, i) => (series.flagged?.has(i) ? "#d1495b" : colour(0))),
          pointRadius: series.values.map((_, i) => (series.flagged?.has(i) ? 5 : 2)),
          borderWidth: 2,
          tension: 0,
        },
        ...lines,
      ],
    },
    options: {
      scales: { y: { title: { display: Boolean(unit), text: unit } }, x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } } },
    },
  });
}

/**
 * A thermal asset over time: its hottest pixel against the learned band of each hour
 * (drawn dashed, stepping where the hour's band changes) on the °C axis, and its trend
 * (the smoothed rise over normal) with the trend limit on a second axis.
 */
export function bandChart(canvas, labels, points, { trendLimit = null } = {}) {
  const line = (label, data, index, extra = {}) => ({
    label,
    data,
    borderColor: colour(index),
    backgroundColor: colour(index),
    pointRadius: labels.length > 120 ? 0 : 2,
    borderWidth: 2,
    spanGaps: false,
    tension: 0,
    ...extra,
  });
  const datasets = [
    line("Hottest pixel", points.map((p) => p.max_c), 0),
    line("Band high", points.map((p) => p.band_high_c), 1, { borderDash: [6, 4], borderWidth: 1, pointRadius: 0, stepped: true }),
    line("Band low", points.map((p) => p.band_low_c), 2, { borderDash: [6, 4], borderWidth: 1, pointRadius: 0, stepped: true }),
    line("Trend (rise over normal)", points.map((p) => p.trend_c), 3, { yAxisID: "trend", borderWidth: 1 }),
  ];
  if (trendLimit !== null && trendLimit !== undefined) {
    datasets.push(line("Trend limit", points.map(() => trendLimit), 4, { yAxisID: "trend", borderDash: [2, 3], borderWidth: 1, pointRadius: 0 }));
  }
  return draw(canvas, {
    type: "line",
    data: { labels, datasets },
    options: {
      scales: {
        y: { title: { display: true, text: "°C" } },
        trend: { position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "°C over normal" } },
        x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 } },
      },
    },
  });
}
