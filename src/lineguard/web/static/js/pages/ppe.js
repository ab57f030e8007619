// PPE compliance: per zone and hour, people seen (sightings) and how many lacked each
// required item, small counts suppressed by node and server. Data: /ppe/counts
// (safety_compliance.read). No person, frame or crop exists to show: only these counts.

import { api } from "../api.js";
import { $, clear, empty, explain, fmtInt, fmtPct, fmtShort, status, table } from "../dom.js";
import { startPage } from "../layout.js";

const SUPPRESSED = "suppressed";
const LABELS = { helmet: "No helmet", hi_vis_vest: "No hi-vis vest" };

const count = (value) => (value === null || value === undefined ? SUPPRESSED : fmtInt(value));

function lackingCell(hour, item) {
  if (!(item in hour.lacking)) return "—"; // not required in this zone
  const n = hour.lacking[item];
  if (n === null || hour.people_seen === null) return SUPPRESSED;
  return hour.people_seen ? `${fmtInt(n)} (${fmtPct(n / hour.people_seen)})` : fmtInt(n);
}

function render(report) {
  $("#ppe-note").textContent = `${report.note} Minimum count: ${report.min_count}.`;
  const items = [...new Set(report.hours.flatMap((h) => Object.keys(h.lacking)))].sort();
  clear(
    $("#ppe-hours"),
    report.hours.length
      ? table(
          [
            { label: "Hour (UTC)", value: (h) => fmtShort(h.hour_start) },
            { label: "Line / station", value: (h) => `${h.line_id} / ${h.station_id}` },
            { label: "Camera", value: (h) => h.camera_id },
            { label: "Zone", value: (h) => h.zone },
            { label: "Frames", value: (h) => fmtInt(h.sampled_frames), num: true },
            { label: "People seen", value: (h) => count(h.people_seen), num: true },
            ...items.map((item) => ({ label: LABELS[item] || `No ${item}`, value: (h) => lackingCell(h, item), num: true })),
          ],
          report.hours,
          { caption: "PPE counts per zone and hour" },
        )
      : empty(
          "No PPE counts in this period. PPE counting is off unless a camera enables it (docs/inspection.md); " +
            "where it is on, an hour's counts arrive when the hour is over (a node restart continues the hour; " +
            "a demo node also sends them when it stops).",
        ),
  );
}

async function load() {
  status("");
  try {
    render(await api("/ppe/counts", { query: { hours: $("#f-hours").value } }));
  } catch (error) {
    status(explain(error, "Could not load the PPE counts"));
  }
}

if (await startPage("safety_compliance.read")) {
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await load();
}
